import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import { AppError } from '#platform/kernel/errors/errors.ts';

/**
 * A named rate-limit policy: at most `max` requests per `windowMs`, counted per client IP, per
 * signed-in user (IP for anonymous callers), or per IP and user together.
 */
export interface RateLimitPolicy {
  readonly name: string;
  readonly max: number;
  readonly windowMs: number;
  /** `email` and `ip+email` count by the `email` field of the JSON body (sign-in, password reset). */
  readonly by: 'ip' | 'user' | 'ip+user' | 'email' | 'ip+email';
  /** Routes that share a group share one counter (e.g. sign-in and its JSON twin). */
  readonly group?: string;
  /**
   * Count only requests that pass validation and the route's own `preHandler` checks, so refused
   * input (a typo, a weak password) does not use up the budget. The count is still taken before
   * the handler runs, atomically in the store, so racing requests cannot exceed `max`.
   */
  readonly countValidOnly?: boolean;
}

function keyFor(policy: Pick<RateLimitPolicy, 'by'>, request: FastifyRequest): string {
  const userId = request.user?.id;
  switch (policy.by) {
    case 'ip':
      return `ip:${request.ip}`;
    case 'user':
      return userId === undefined ? `ip:${request.ip}` : `user:${userId}`;
    case 'ip+user':
      return `ip:${request.ip}|user:${userId ?? '-'}`;
    case 'email':
      return `email:${emailOf(request)}`;
    case 'ip+email':
      return `ip:${request.ip}|email:${emailOf(request)}`;
  }
}

function emailOf(request: FastifyRequest): string {
  const email = (request.body as { email?: unknown } | undefined)?.email;
  return typeof email === 'string' ? email.trim().toLowerCase() : '-';
}

/**
 * Route config for a rate-limit policy. Spread it into a route's `config`:
 * `config: { ...rateLimit({ name: 'chat', max: 10, windowMs: 60_000, by: 'user' }) }`.
 */
export function rateLimit(policy: RateLimitPolicy) {
  return {
    rateLimitPolicy: policy,
    rateLimit: {
      max: policy.max,
      timeWindow: policy.windowMs,
      keyGenerator: (request: FastifyRequest) => `${policy.name}|${keyFor(policy, request)}`,
      // Keys from the body need it parsed, and valid-only counts need it checked: count in
      // preHandler (after validation and the route's own preHandler) instead of onRequest.
      ...(policy.by === 'email' || policy.by === 'ip+email' || policy.countValidOnly === true
        ? { hook: 'preHandler' as const }
        : {}),
      ...(policy.group === undefined ? {} : { groupId: policy.group }),
    },
  };
}

/** Route config that exempts a route from rate limiting (health probes hit them constantly). */
export const noRateLimit = { rateLimit: false } as const;

export interface RateLimitOptions {
  readonly max: number;
  readonly windowMs: number;
  /** Shared counters across nodes; per-process memory when absent. */
  readonly redis: Redis | undefined;
}

/**
 * Registers rate limiting for every route: a default per-IP policy, overridable per route with
 * `rateLimit()`. Answers 429 problems with `Retry-After`, and reports `RateLimit-Policy` and
 * `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) on every limited response.
 */
export async function registerRateLimit(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  const defaultPolicy: RateLimitPolicy = { name: 'default', max: options.max, windowMs: options.windowMs, by: 'ip' };
  await app.register(fastifyRateLimit, {
    global: true,
    max: options.max,
    timeWindow: options.windowMs,
    keyGenerator: (request) => `default|${keyFor(defaultPolicy, request)}`,
    enableDraftSpec: true,
    // Fail open: an unreachable Redis must not take the whole API down; it is logged and
    // reported by /readyz.
    skipOnError: true,
    nameSpace: 'ballast:ratelimit:',
    ...(options.redis === undefined ? {} : { redis: options.redis }),
    errorResponseBuilder: (_request, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new AppError('rate_limited', 'http.rate_limited', `Too many requests; retry in ${context.after}`, {
        details: { limit: context.max, retryAfterSeconds: seconds },
      });
    },
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const limit = reply.getHeader('ratelimit-limit');
    if (limit === undefined) return payload;
    const remaining = reply.getHeader('ratelimit-remaining') ?? 0;
    const reset = reply.getHeader('ratelimit-reset') ?? 0;
    const policy = request.routeOptions.config.rateLimitPolicy ?? defaultPolicy;
    const name = policy.name.replace(/[^a-zA-Z0-9_.-]/g, '_');
    void reply.header('RateLimit-Policy', `"${name}";q=${String(limit)};w=${Math.ceil(policy.windowMs / 1000)}`);
    void reply.header('RateLimit', `"${name}";r=${String(remaining)};t=${String(reset)}`);
    void reply.removeHeader('ratelimit-limit');
    void reply.removeHeader('ratelimit-remaining');
    void reply.removeHeader('ratelimit-reset');
    return payload;
  });
}
