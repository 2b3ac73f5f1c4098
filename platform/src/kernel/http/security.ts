import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import helmet, { type HelmetOptions } from 'helmet';
import { AppError } from '#platform/kernel/errors/errors.ts';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Sources beyond the site's own that pages may use, added to their CSP: a module's (Google
 * Identity Services for "Sign in with Google", Razorpay Checkout) or an app's (a voice agent).
 */
export interface ContentSources {
  readonly script?: readonly string[];
  readonly style?: readonly string[];
  readonly frame?: readonly string[];
  readonly connect?: readonly string[];
}

export interface SecurityOptions {
  readonly production: boolean;
  /** Origins allowed to call the API from a browser, besides the site's own. */
  readonly corsOrigins: readonly string[];
  readonly publicOrigin: string;
  /** What the modules and apps add to the pages' CSP. */
  readonly contentSources?: readonly ContentSources[];
}

/**
 * The headers helmet sets for these options, computed once. Without nonces they are the same for
 * every response, and @fastify/helmet rebuilding the middleware per request cost 5% of a request.
 */
export function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {});
  return headers;
}

/**
 * Routes that answer whatever Host they are called with: load balancers and probes often call
 * `/healthz`, `/readyz` and `/metrics` by the node's IP. They serve nothing a page could steal.
 */
const anyHostRoutes = new Set(['/healthz', '/readyz', '/metrics']);
const hostPattern = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/;

/** The name in a Host header (lower case, no port, no trailing dot), or undefined when it is malformed. */
function hostnameOf(host: string): string | undefined {
  const match = hostPattern.exec(host.toLowerCase());
  return match?.[1]?.replace(/\.$/, '');
}

function isLoopbackName(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    hostname === '[::1]' ||
    (isIPv4(hostname) && hostname.startsWith('127.'))
  );
}

/**
 * Whether a request's host (the Host header, or X-Forwarded-Host from a trusted proxy) names this
 * site: PUBLIC_URL's host, and outside production also the loopback names a developer uses
 * (localhost, *.localhost, 127.0.0.1, [::1]). A DNS-rebinding page reaches a developer's server
 * under its own name, so its requests carry a foreign Host even where its Origin passes.
 */
export function hostChecker(options: Pick<SecurityOptions, 'production' | 'publicOrigin'>): (host: string) => boolean {
  const publicHost = new URL(options.publicOrigin).hostname;
  // Nearly every request names the same host: the last one accepted is known without parsing.
  let lastAccepted: string | undefined;
  return (host) => {
    if (host === lastAccepted) return true;
    const hostname = hostnameOf(host);
    if (hostname === undefined) return false;
    const accepted = hostname === publicHost || (!options.production && isLoopbackName(hostname));
    if (accepted) lastAccepted = host;
    return accepted;
  };
}

function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** The origins a browser may act from besides the site's own: `CORS_ORIGINS` and `PUBLIC_URL`'s. */
export function allowedOrigins(options: Pick<SecurityOptions, 'corsOrigins' | 'publicOrigin'>): ReadonlySet<string> {
  return new Set([...options.corsOrigins, options.publicOrigin]);
}

/**
 * True when a request may act on this site: it carries no `Origin` (not a browser), or an
 * allowed origin, or the site's own.
 */
export function isOriginAllowed(request: FastifyRequest, allowed: ReadonlySet<string>): boolean {
  const origin = request.headers.origin;
  return origin === undefined || allowed.has(origin) || origin === ownOrigin(request);
}

/**
 * The security headers of HTML documents: helmet's full set, with a CSP the apps' pages pass
 * (scripts and styles from our origin only, no inline script, no framing).
 */
export function pageSecurityHeaders(
  production: boolean,
  sources: readonly ContentSources[] = [],
): Record<string, string> {
  const all = (kind: keyof ContentSources) => [...new Set(sources.flatMap((source) => source[kind] ?? []))];
  const frames = all('frame');
  return helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'", ...all('script')],
        styleSrc: ["'self'", ...all('style')],
        ...(frames.length > 0 ? { frameSrc: frames } : {}),
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'", ...all('connect')],
        mediaSrc: ["'self'", 'blob:'],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        ...(production ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    hsts: production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    frameguard: { action: 'deny' },
    // Not no-referrer: browsers then send `Origin: null` on same-origin writes, which the origin
    // check must be able to tell apart from a foreign page.
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
}

/**
 * The security headers of API answers (JSON, problems, assets), after OWASP's REST cheat sheet:
 * nothing may run or frame, nosniff, no caching unless the route says otherwise. The HTML-only
 * headers would only add bytes to every answer.
 */
export function apiSecurityHeaders(production: boolean): Record<string, string> {
  return {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
    ...(production ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
  };
}

/** What a browser on an allowed origin may do across origins (answered to its preflight). */
const cors = {
  methods: 'GET, HEAD, POST, PUT, PATCH, DELETE',
  allowedHeaders: 'content-type, authorization, x-request-id, x-csrf-token, idempotency-key',
  exposedHeaders: 'x-request-id, ratelimit, ratelimit-policy, retry-after, location',
  maxAgeSeconds: 600,
} as const;

/**
 * The Host check (`hostChecker`; 400 `http.host_not_allowed`, except for the health probes),
 * security headers (helmet's set for pages, OWASP's API set for everything else; HSTS in
 * production) and CORS from an explicit origin list. A cross-origin preflight or write from an
 * origin not on the list is refused with 403 before any handler runs; a cross-origin read just
 * gets no CORS headers, so the browser withholds the answer.
 *
 * Cheap on the common path: the API's headers are one block computed at boot and written as the
 * request arrives (a route or plugin that sets its own header overrides it), an HTML answer swaps
 * in the page set when it is sent, and a request without `Origin` does no CORS work.
 */
export async function registerSecurity(app: FastifyInstance, options: SecurityOptions): Promise<void> {
  // `Vary: Origin` on every answer: a cache must not hand one origin's answer to another.
  const apiBlock: Record<string, string> = { ...apiSecurityHeaders(options.production), vary: 'Origin' };
  const pageBlock = pageSecurityHeaders(options.production, options.contentSources);
  const pageEntries = Object.entries(pageBlock);
  const apiOnly = Object.keys(apiBlock).filter((name) => !(name in pageBlock) && name !== 'vary');
  const marker = 'x-content-type-options';

  const isOwnHost = hostChecker(options);
  const hostHint = options.production
    ? 'use the address in PUBLIC_URL'
    : 'use localhost, 127.0.0.1 or the host of PUBLIC_URL';
  // Hooks that never wait take Fastify's callback form: no promise and no extra microtask per
  // request (bench/http).
  const allowed = allowedOrigins(options);
  // Not a browser, or a browser's same-origin read (no `Origin`): no CORS work.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(apiBlock);
    if (!isOwnHost(request.host) && !anyHostRoutes.has(request.routeOptions.url ?? '')) {
      done(
        new AppError(
          'invalid_input',
          'http.host_not_allowed',
          `This server does not answer for the host ${JSON.stringify(request.host)}; ${hostHint}`,
        ),
      );
    } else if (request.headers.origin === undefined) done();
    // Answered here (a preflight) or refused: `done` only when the request goes on.
    else crossOrigin(request, reply).then(() => (reply.sent ? undefined : done()), done);
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    // Answered before the hook above ran (load shedding, a framework error): the block now.
    if (reply.getHeader(marker) === undefined) {
      for (const [name, value] of Object.entries(apiBlock)) if (!reply.hasHeader(name)) void reply.header(name, value);
    }
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('text/html')) {
      // A page gets the page set, except where its route chose its own value (a docs page's CSP).
      for (const [name, value] of pageEntries) {
        const current = reply.getHeader(name);
        if (current === undefined || current === apiBlock[name]) void reply.header(name, value);
      }
      for (const name of apiOnly) if (reply.getHeader(name) === apiBlock[name]) void reply.removeHeader(name);
    }
    done(null, payload);
  });

  async function crossOrigin(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const origin = request.headers.origin!;
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    if (allowed.has(origin)) {
      void reply.headers({
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        'access-control-expose-headers': cors.exposedHeaders,
      });
      if (!preflight) return;
      return reply
        .code(204)
        .headers({
          'access-control-allow-methods': cors.methods,
          'access-control-allow-headers': cors.allowedHeaders,
          'access-control-max-age': String(cors.maxAgeSeconds),
          'content-length': '0',
        })
        .send();
    }
    if (origin === ownOrigin(request)) return;
    if (preflight || !safeMethods.has(request.method)) {
      throw new AppError('forbidden', 'http.origin_not_allowed', `Origin ${origin} is not allowed to call this API`);
    }
    return undefined;
  }
  // Preflights to any path reach the hook above (which answers them) through a route; any other
  // OPTIONS request is a 404.
  app.options('*', { schema: { hide: true } }, async (_request, reply) => reply.callNotFound());
}
