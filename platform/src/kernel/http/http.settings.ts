import { z } from 'zod';
import type { StartupProblem } from '#platform/kernel/errors/errors.ts';
import { booleanSetting, defineSettings, integerSetting, listSetting } from '#platform/kernel/config/settings.ts';
import { parseTrustProxy } from './trust-proxy.ts';

const MiB = 1024 * 1024;

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value.replace(/\/$/, '');
  } catch {
    return false;
  }
}

/** The HTTP server: where it listens, who may call it cross-origin, and its limits. */
export const httpSettings = defineSettings('http', {
  schema: z.object({
    HOST: z
      .string()
      .min(1)
      .optional()
      .describe('Address to listen on (default: localhost in development, 0.0.0.0 in production)'),
    PORT: integerSetting(3000, 0, 65535).describe('Port to listen on'),
    LISTEN_BACKLOG: integerSetting(4096, 1, 65535).describe(
      "New connections the kernel holds until the server accepts them (capped by the system's net.core.somaxconn); beyond it a client's connection attempt is dropped and retried a second or more later",
    ),
    PUBLIC_URL: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe(
        'The URL users reach Ballast at, used in links and emails (required in production); only its host is answered, besides loopback names outside production and the health probes',
      ),
    CORS_ORIGINS: listSetting()
      .optional()
      .describe('Comma-separated origins allowed to call the API from a browser; "*" is refused in production'),
    TRUST_PROXY: z
      .string()
      .optional()
      .transform((value, ctx) => {
        const { trust, problems } = parseTrustProxy(value);
        for (const message of problems) ctx.addIssue({ code: 'custom', message });
        return trust;
      })
      .describe(
        'Behind a reverse proxy: a hop count (1 = the nearest proxy), true (every hop), or comma-separated proxy addresses/CIDRs (default: off)',
      ),
    BODY_LIMIT_BYTES: integerSetting(1 * MiB, 1024, 1024 * MiB).describe('Largest request body for ordinary routes'),
    UPLOAD_LIMIT_BYTES: integerSetting(25 * MiB, 1024, 4096 * MiB).describe(
      "Largest file one streamed upload request may carry, whatever an app's use allows; larger files go to the bucket directly (S3 mode)",
    ),
    SHUTDOWN_TIMEOUT_MS: integerSetting(10_000, 1000, 600_000).describe(
      'Longest a graceful shutdown may take before the process exits anyway',
    ),
    SHUTDOWN_DRAIN_DELAY_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(300_000)
      .optional()
      .describe(
        'On SIGTERM, how long /readyz fails while requests are still served, so a load balancer stops sending first (default: 5000 in production, 0 otherwise)',
      ),
    LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: integerSetting(1000, 0, 60_000).describe(
      'Answer 503 with Retry-After while the event loop lags more than this (0 turns load shedding off)',
    ),
    RATE_LIMIT_MAX: integerSetting(600, 1, 10_000_000).describe(
      'Default rate limit for every route without its own policy: requests per window per client',
    ),
    RATE_LIMIT_WINDOW_MS: integerSetting(60_000, 1000, 86_400_000).describe('Window of the default rate limit'),
    API_DOCS: booleanSetting(true).describe('Serve the OpenAPI docs at /docs'),
    METRICS_TOKEN: z
      .string()
      .min(16)
      .optional()
      .describe('Bearer token required to read /metrics (unset: /metrics is open; keep it off the public internet)'),
  }),
  resolve: (values, ctx) => {
    const port = values.PORT;
    const publicUrl = new URL(values.PUBLIC_URL ?? `http://localhost:${port}`);
    const corsOrigins = values.CORS_ORIGINS ?? (ctx.env === 'production' ? [] : [publicUrl.origin]);
    return {
      host: values.HOST ?? (ctx.env === 'production' ? '0.0.0.0' : 'localhost'),
      port,
      listenBacklog: values.LISTEN_BACKLOG,
      publicUrl: publicUrl.origin + publicUrl.pathname.replace(/\/$/, ''),
      publicOrigin: publicUrl.origin,
      corsOrigins: corsOrigins.map((origin) => origin.replace(/\/$/, '')),
      trustProxy: values.TRUST_PROXY,
      bodyLimitBytes: values.BODY_LIMIT_BYTES,
      uploadLimitBytes: values.UPLOAD_LIMIT_BYTES,
      shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_MS,
      shutdownDrainDelayMs: values.SHUTDOWN_DRAIN_DELAY_MS ?? (ctx.env === 'production' ? 5000 : 0),
      maxEventLoopDelayMs: values.LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS,
      rateLimit: { max: values.RATE_LIMIT_MAX, windowMs: values.RATE_LIMIT_WINDOW_MS },
      apiDocs: values.API_DOCS,
      metricsToken: values.METRICS_TOKEN,
    };
  },
  checkProduction: (values) => {
    const problems: StartupProblem[] = [];
    const origins = values.CORS_ORIGINS;
    if (origins === undefined || origins.length === 0) {
      problems.push({
        setting: 'CORS_ORIGINS',
        message: 'is missing; production needs an explicit list of allowed origins',
        fix: 'set CORS_ORIGINS=https://app.example.com (comma-separated for several)',
      });
    } else if (origins.includes('*')) {
      problems.push({
        setting: 'CORS_ORIGINS',
        message: 'is "*"; a wildcard with credentials lets any site act as your users',
        fix: 'list the exact origins, e.g. CORS_ORIGINS=https://app.example.com',
      });
    } else {
      for (const origin of origins.filter((o) => !isOrigin(o))) {
        problems.push({
          setting: 'CORS_ORIGINS',
          message: `"${origin}" is not an origin (scheme://host[:port])`,
          fix: 'write each origin as https://host, without a path',
        });
      }
    }
    const drain = values.SHUTDOWN_DRAIN_DELAY_MS ?? 5000;
    if (drain + 1000 > values.SHUTDOWN_TIMEOUT_MS) {
      problems.push({
        setting: 'SHUTDOWN_DRAIN_DELAY_MS',
        message: `(${drain} ms) leaves no time within SHUTDOWN_TIMEOUT_MS (${values.SHUTDOWN_TIMEOUT_MS} ms) to finish requests`,
        fix: 'keep SHUTDOWN_DRAIN_DELAY_MS at least a few seconds below SHUTDOWN_TIMEOUT_MS',
      });
    }
    if (values.PUBLIC_URL === undefined) {
      problems.push({
        setting: 'PUBLIC_URL',
        message: 'is missing; links in emails and redirects would point at localhost',
        fix: 'set PUBLIC_URL=https://app.example.com',
      });
    }
    return problems;
  },
});
