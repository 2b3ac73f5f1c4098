import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  livenessAnswer,
  livenessFailure,
  metricsAnswer,
  readinessAnswer,
  readinessFailure,
} from '@ballast/contracts/health';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import { noRateLimit } from '#platform/kernel/http/rate-limit.ts';
import { constantTimeEqual } from '#platform/kernel/security/crypto.ts';
import type { ReadinessCheck } from '#platform/kernel/lifecycle/module.ts';
import { findFatal, runChecks } from '#platform/kernel/lifecycle/checks.ts';

export interface HealthRoutesOptions {
  readonly checks: readonly ReadinessCheck[];
  readonly metrics: Metrics;
  readonly metricsToken: string | undefined;
  readonly version: string;
  readonly isShuttingDown: () => boolean;
}

/** `/healthz` (the process is alive), `/readyz` (it can serve), `/metrics` (Prometheus). */
export async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions): Promise<void> {
  const router = app.withTypeProvider<ZodTypeProvider>();
  const startedAt = Date.now();
  const probeConfig = { ...noRateLimit, shedLoad: false };

  router.get(
    '/healthz',
    {
      config: probeConfig,
      logLevel: 'warn',
      schema: {
        summary: 'Liveness: the process is up, its event loop answers, and nothing it needs is dead for good',
        tags: ['health'],
        response: { 200: livenessAnswer, 503: livenessFailure },
      },
    },
    async (_request, reply) => {
      const fatal = findFatal(options.checks);
      if (fatal !== undefined) return reply.code(503).send({ status: 'fail' as const, detail: fatal });
      return {
        status: 'ok' as const,
        version: options.version,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      };
    },
  );

  router.get(
    '/readyz',
    {
      config: probeConfig,
      logLevel: 'warn',
      schema: {
        summary:
          'Readiness: database, migrations, live-updates listener, task queue, Redis (when configured) and disk, with per-check latency',
        tags: ['health'],
        response: { 200: readinessAnswer, 503: readinessFailure },
      },
    },
    async (_request, reply) => {
      if (options.isShuttingDown()) {
        return reply.code(503).send({ status: 'draining' as const, detail: 'shutting down', checks: {} });
      }
      const report = await runChecks(options.checks);
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    },
  );

  router.get(
    '/metrics',
    {
      config: probeConfig,
      logLevel: 'warn',
      schema: {
        summary: 'Prometheus metrics (bearer METRICS_TOKEN when set)',
        tags: ['health'],
        response: { 200: metricsAnswer },
      },
    },
    async (request, reply) => {
      if (
        options.metricsToken !== undefined &&
        !constantTimeEqual(request.headers.authorization ?? '', `Bearer ${options.metricsToken}`)
      ) {
        throw new AppError('unauthenticated', 'metrics.token_required', 'A valid metrics bearer token is required');
      }
      const body = await options.metrics.registry.metrics();
      return reply.type(options.metrics.registry.contentType).send(body);
    },
  );
}
