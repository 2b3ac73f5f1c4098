import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { normalizeIP, type FastifyRateLimitStore } from '@fastify/rate-limit';
import LocalStore from '@fastify/rate-limit/store/LocalStore.js';
import RedisStore from '@fastify/rate-limit/store/RedisStore.js';
import type { Redis } from 'ioredis';
import type { Logger } from '#platform/kernel/logging/logger.ts';
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
      return `ip:${clientOf(request)}`;
    case 'user':
      return userId === undefined ? `ip:${clientOf(request)}` : `user:${userId}`;
    case 'ip+user':
      return `ip:${clientOf(request)}|user:${userId ?? '-'}`;
    case 'email':
      return `email:${emailOf(request)}`;
    case 'ip+email':
      return `ip:${clientOf(request)}|email:${emailOf(request)}`;
  }
}

/**
 * The client a request is counted against: its IPv4 address, or its IPv6 /64 (one customer
 * commonly holds a whole /64, and would otherwise get a fresh budget from each address in it).
 */
function clientOf(request: FastifyRequest): string {
  return normalizeIP(request.ip, IPV6_PREFIX);
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
  readonly log: Logger;
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

/** What the memory store keeps per counter: the most recent clients, least recent dropped first. */
const LOCAL_STORE_KEYS = 5000;
/** An IPv6 client is counted by its /64, the block one customer is usually given. */
const IPV6_PREFIX = 64;
/** How long a request waits for Redis to count it before going on uncounted. */
const REDIS_COUNT_DEADLINE_MS = 1000;
const WARN_EVERY_MS = 10_000;

type Counter = Pick<FastifyRateLimitStore, 'incr'>;

/**
 * A store whose answer is given up after `deadlineMs`: a Redis that went silent (a failover that
 * leaves the connection open to nothing) would otherwise hold every request forever. The late
 * answer, if any, is ignored.
 */
function withDeadline(store: Counter, deadlineMs: number, onLate: () => void): Counter {
  return {
    incr(key, callback, timeWindow, max) {
      let answered = false;
      const timer = setTimeout(() => {
        answered = true;
        onLate();
        callback(new Error(`the rate-limit store did not answer within ${deadlineMs} ms`));
      }, deadlineMs);
      store.incr(
        key,
        (error, result) => {
          if (answered) return;
          answered = true;
          clearTimeout(timer);
          callback(error, result);
        },
        timeWindow,
        max,
      );
    },
  };
}

/**
 * Registers rate limiting for every route: a default per-IP policy, overridable per route with
 * `rateLimit()`. Counts go to @fastify/rate-limit's stores (Redis's atomic script when `redis` is
 * given, process memory otherwise), one counter per policy or `group`, by route hooks in Fastify's
 * callback form: no promise per request. Answers 429 problems with `Retry-After`, and reports
 * `RateLimit-Policy` and `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) on every
 * limited response, written once from `request.rateLimit`. If Redis fails, or does not answer
 * within a second, the request goes through uncounted: an outage of the limiter must not become
 * an outage of the product (/readyz reports Redis).
 */
export function registerRateLimit(app: FastifyInstance, options: RateLimitOptions): void {
  const defaultPolicy: RateLimitPolicy = { name: 'default', max: options.max, windowMs: options.windowMs, by: 'ip' };
  app.decorateRequest('rateLimit', null);

  let lastWarning = 0;
  const late = () => {
    if (Date.now() - lastWarning < WARN_EVERY_MS) return;
    lastWarning = Date.now();
    options.log.warn(
      { deadlineMs: REDIS_COUNT_DEADLINE_MS },
      'rate limits: Redis did not answer; requests go uncounted',
    );
  };
  /** One counter per policy (or group of policies), shared by every route that uses it. */
  const stores = new Map<string, Counter>();
  function storeFor(counter: string): Counter {
    let store = stores.get(counter);
    if (store === undefined) {
      store =
        options.redis === undefined
          ? new LocalStore(false, false, LOCAL_STORE_KEYS)
          : withDeadline(
              new RedisStore(false, false, options.redis, `ballast:ratelimit:${counter}|`),
              REDIS_COUNT_DEADLINE_MS,
              late,
            );
      stores.set(counter, store);
    }
    return store;
  }

  app.addHook('onRoute', (route) => {
    if (route.config?.rateLimit === false) return;
    const primary = route.config?.rateLimitPolicy ?? defaultPolicy;
    for (const policy of [...(route.config?.rateLimitAlso ?? []), primary]) {
      const store = storeFor(policy.group ?? policy.name);
      const reports = policy === primary;
      const count: onRequestHookHandler = (request, _reply, done) => {
        store.incr(
          keyFor(policy, request),
          (error, result) => {
            if (error !== null || result === undefined) {
              done();
              return;
            }
            const remaining = Math.max(0, policy.max - result.current);
            const resetSeconds = Math.ceil(result.ttl / 1000);
            const exceeded = result.current > policy.max;
            if (reports || exceeded) request.rateLimit = { policy, remaining, resetSeconds };
            if (!exceeded) {
              done();
              return;
            }
            const seconds = Math.max(1, resetSeconds);
            done(
              new AppError('rate_limited', 'http.rate_limited', `Too many requests; retry in ${seconds} s`, {
                details: { limit: policy.max, retryAfterSeconds: seconds },
                headers: { 'retry-after': String(seconds) },
              }),
            );
          },
          policy.windowMs,
          policy.max,
        );
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
