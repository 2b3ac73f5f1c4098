import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
} from 'cockatiel';
import client from 'prom-client';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';

/**
 * A failure that will not go away by trying again (the provider refused the request: bad number,
 * invalid credentials, 4xx). Never retried, and it does not count against the service's health:
 * the service answered, correctly.
 */
export class PermanentExternalError extends Error {
  readonly service: string;
  readonly status: number | undefined;
  constructor(service: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'PermanentExternalError';
    this.service = service;
    this.status = options.status;
  }
}

export interface ExternalServiceOptions {
  /** Short stable name, used in metrics and errors: `smtp`, `twilio`, `gemini`. */
  readonly name: string;
  /** Longest one attempt may take. */
  readonly timeoutMs: number;
  /** Extra attempts for idempotent calls (non-idempotent calls are never retried here). */
  readonly retries: number;
  /** First retry delay; each later one doubles (decorrelated jitter), up to `maxRetryDelayMs`. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  readonly breaker: {
    /** Consecutive failures that open the circuit. */
    readonly consecutiveFailures: number;
    /** How long the circuit stays open before one probe call is let through. */
    readonly halfOpenAfterMs: number;
  };
}

export interface CallOptions {
  /** True for calls that are safe to repeat (reads, or writes the provider deduplicates). */
  readonly idempotent: boolean;
}

/** One external dependency, called through timeout, retry (if idempotent) and a circuit breaker. */
export interface ExternalService {
  readonly name: string;
  call<T>(fn: (signal: AbortSignal) => Promise<T>, options: CallOptions): Promise<T>;
  /** `closed`, `half-open` or `open`. */
  readonly state: 'closed' | 'half-open' | 'open';
}

interface ResilienceMetrics {
  readonly calls: client.Counter<'service' | 'outcome'>;
  readonly duration: client.Histogram<'service'>;
  readonly breakerState: client.Gauge<'service'>;
}

const metricsByRegistry = new WeakMap<client.Registry, ResilienceMetrics>();

function resilienceMetrics(metrics: Metrics): ResilienceMetrics {
  const existing = metricsByRegistry.get(metrics.registry);
  if (existing !== undefined) return existing;
  const registers = [metrics.registry];
  const created: ResilienceMetrics = {
    calls: new client.Counter({
      name: 'external_calls_total',
      help: 'Calls to external services by outcome (success, failure, timeout, rejected_open, retry, permanent)',
      labelNames: ['service', 'outcome'] as const,
      registers,
    }),
    duration: new client.Histogram({
      name: 'external_call_duration_seconds',
      help: 'Duration of external service calls, retries included',
      labelNames: ['service'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    breakerState: new client.Gauge({
      name: 'circuit_breaker_state',
      help: 'Circuit breaker state per external service: 0 closed, 1 half-open, 2 open',
      labelNames: ['service'] as const,
      registers,
    }),
  };
  metricsByRegistry.set(metrics.registry, created);
  return created;
}

const stateValue = { closed: 0, 'half-open': 1, open: 2 } as const;

function stateName(state: CircuitState): 'closed' | 'half-open' | 'open' {
  if (state === CircuitState.HalfOpen) return 'half-open';
  if (state === CircuitState.Closed) return 'closed';
  return 'open';
}

/**
 * Creates the one way Ballast calls an external service (cockatiel): each attempt under a timeout
 * (its signal aborted), retries with exponential backoff and jitter for idempotent calls only, and
 * a circuit breaker shared by every call to the service that opens after consecutive failures,
 * fails fast while open, and lets one probe through after `halfOpenAfterMs`.
 */
export function createExternalService(
  options: ExternalServiceOptions,
  deps: { readonly metrics: Metrics; readonly log: Logger },
): ExternalService {
  const { name } = options;
  const log = deps.log.child({ service: name });
  const recorded = resilienceMetrics(deps.metrics);
  // Permanent errors are answers, not outages: they neither retry nor trip the breaker.
  const transient = handleWhen((error) => !(error instanceof PermanentExternalError));
  const breaker = circuitBreaker(transient, {
    halfOpenAfter: options.breaker.halfOpenAfterMs,
    breaker: new ConsecutiveBreaker(options.breaker.consecutiveFailures),
  });
  recorded.breakerState.set({ service: name }, 0);
  breaker.onStateChange((state) => {
    recorded.breakerState.set({ service: name }, stateValue[stateName(state)]);
    if (state === CircuitState.Open) log.warn('circuit opened: failing fast');
    else if (state === CircuitState.HalfOpen) log.info('circuit half-open: letting a probe through');
    else if (state === CircuitState.Closed) log.info('circuit closed: service recovered');
  });
  const perAttempt = timeout(options.timeoutMs, TimeoutStrategy.Aggressive);
  const retrying = retry(transient, {
    maxAttempts: options.retries,
    backoff: new ExponentialBackoff({
      initialDelay: options.retryDelayMs ?? 200,
      maxDelay: options.maxRetryDelayMs ?? 10_000,
    }),
  });
  retrying.onRetry(() => recorded.calls.inc({ service: name, outcome: 'retry' }));
  const once = wrap(breaker, perAttempt);
  const withRetries = wrap(retrying, breaker, perAttempt);

  return {
    name,
    get state() {
      return stateName(breaker.state);
    },
    async call(fn, callOptions) {
      const started = performance.now();
      const policy = callOptions.idempotent && options.retries > 0 ? withRetries : once;
      try {
        const result = await policy.execute(({ signal }) => fn(signal));
        recorded.calls.inc({ service: name, outcome: 'success' });
        return result;
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          recorded.calls.inc({ service: name, outcome: 'rejected_open' });
          throw new AppError('unavailable', 'external.circuit_open', `${name} is unavailable; try again shortly`, {
            details: { service: name },
            headers: { 'retry-after': String(Math.ceil(options.breaker.halfOpenAfterMs / 1000)) },
            cause: error,
          });
        }
        if (error instanceof TaskCancelledError) {
          recorded.calls.inc({ service: name, outcome: 'timeout' });
          throw new Error(`${name} did not answer within ${options.timeoutMs} ms`, { cause: error });
        }
        recorded.calls.inc({
          service: name,
          outcome: error instanceof PermanentExternalError ? 'permanent' : 'failure',
        });
        throw error;
      } finally {
        recorded.duration.observe({ service: name }, (performance.now() - started) / 1000);
      }
    },
  };
}
