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
 * Further policies (`also`) are counted too, each on its own counter: a request over any of them
 * is refused with 429; the headers report the first policy.
 */
export function rateLimit(
  policy: RateLimitPolicy,
  ...also: readonly RateLimitPolicy[]
): { rateLimitPolicy: RateLimitPolicy; rateLimitAlso?: readonly RateLimitPolicy[] } {
  return also.length === 0 ? { rateLimitPolicy: policy } : { rateLimitPolicy: policy, rateLimitAlso: also };
}

/** Route config that exempts a route from rate limiting (health probes hit them constantly). */
export const noRateLimit = { rateLimit: false } as const;

export interface RateLimitOptions {
  readonly max: number;
  readonly windowMs: number;
  /** Shared counters across nodes; per-process memory when absent. */
  readonly redis: Redis | undefined;
}

/** Where a request stands against its route's policy, once counted. */
export interface RateLimitState {
  readonly policy: RateLimitPolicy;
  /** Requests left in the window (0 once it is used up). */
  readonly remaining: number;
  /** Seconds until the window starts over. */
  readonly resetSeconds: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's rate-limit standing, set when its policy counted it (null on exempt routes). */
    rateLimit: RateLimitState | null;
  }
}

/** A policy's name as a structured-field token (letters, digits, `_.-`). */
function headerName(policy: RateLimitPolicy): string {
  return policy.name.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

/**
 * Registers rate limiting for every route: a default per-IP policy, overridable per route with
 * `rateLimit()`, counted in @fastify/rate-limit's store (Redis or memory) through its
 * `createRateLimit`. Answers 429 problems with `Retry-After`, and reports `RateLimit-Policy` and
 * `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) on every limited response, written
 * once from `request.rateLimit`.
 */
export async function registerRateLimit(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  const defaultPolicy: RateLimitPolicy = { name: 'default', max: options.max, windowMs: options.windowMs, by: 'ip' };
  await app.register(fastifyRateLimit, {
    // Routes are counted by the hooks below, not by the plugin's own (which add headers only to
    // have them rewritten).
    global: false,
    // Fail open: an unreachable Redis must not take the whole API down; it is logged and
    // reported by /readyz.
    skipOnError: true,
    nameSpace: 'ballast:ratelimit:',
    ...(options.redis === undefined ? {} : { redis: options.redis }),
  });
  app.decorateRequest('rateLimit', null);

  /** One counter per policy (or group of policies), shared by every route that uses it. */
  const limiters = new Map<string, ReturnType<FastifyInstance['createRateLimit']>>();
  function limiterFor(policy: RateLimitPolicy) {
    const counter = policy.group ?? policy.name;
    let limiter = limiters.get(counter);
    if (limiter === undefined) {
      limiter = app.createRateLimit({
        max: policy.max,
        timeWindow: policy.windowMs,
        keyGenerator: (request) => `${counter}|${keyFor(policy, request)}`,
      });
      limiters.set(counter, limiter);
    }
    return limiter;
  }

  app.addHook('onRoute', (route) => {
    if (route.config?.rateLimit === false) return;
    const primary = route.config?.rateLimitPolicy ?? defaultPolicy;
    for (const policy of [...(route.config?.rateLimitAlso ?? []), primary]) {
      const limiter = limiterFor(policy);
      const reports = policy === primary;
      const count = async (request: FastifyRequest): Promise<void> => {
        const result = await limiter(request);
        if (result.isAllowed) return;
        const resetSeconds = result.ttlInSeconds;
        if (reports || result.isExceeded) request.rateLimit = { policy, remaining: result.remaining, resetSeconds };
        if (!result.isExceeded) return;
        const seconds = Math.max(1, resetSeconds);
        throw new AppError('rate_limited', 'http.rate_limited', `Too many requests; retry in ${seconds} s`, {
          details: { limit: result.max, retryAfterSeconds: seconds },
          headers: { 'retry-after': String(seconds) },
        });
      };
      // Keys from the body need it parsed, and valid-only counts need it checked: count in
      // preHandler (after validation and the route's own preHandler) instead of onRequest.
      const hook =
        policy.by === 'email' || policy.by === 'ip+email' || policy.countValidOnly === true
          ? 'preHandler'
          : 'onRequest';
      const existing = route[hook];
      route[hook] = existing === undefined ? [count] : [...(Array.isArray(existing) ? existing : [existing]), count];
    }
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    const state = request.rateLimit;
    if (state !== null) {
      const name = headerName(state.policy);
      void reply.header(
        'ratelimit-policy',
        `"${name}";q=${state.policy.max};w=${Math.ceil(state.policy.windowMs / 1000)}`,
      );
      void reply.header('ratelimit', `"${name}";r=${state.remaining};t=${state.resetSeconds}`);
    }
    done(null, payload);
  });
}
