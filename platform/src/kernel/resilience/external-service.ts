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
  type IBackoffFactory,
  type IRetryBackoffContext,
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

/**
 * A failure worth trying again (the provider is overloaded, rate-limits us, or failed), with how
 * long it asked us to wait (`Retry-After`), if it said. The wrapper waits at least that long
 * before the next attempt, and gives up at once when the wait exceeds `maxRetryDelayMs`.
 */
export class TransientExternalError extends Error {
  readonly service: string;
  readonly status: number | undefined;
  /** Milliseconds the provider asked us to wait before trying again. */
  readonly retryAfterMs: number | undefined;
  constructor(
    service: string,
    message: string,
    options: { status?: number; retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'TransientExternalError';
    this.service = service;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The wait a response asks for, in milliseconds: `retry-after-ms` (OpenAI, Anthropic), else
 * `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3). Undefined when absent or unreadable.
 */
export function retryAfterMs(
  headers: { get(name: string): string | null } | Readonly<Record<string, string | undefined>> | undefined,
  nowMs = Date.now(),
): number | undefined {
  if (headers === undefined) return undefined;
  const read = (name: string): string | undefined => {
    if (typeof headers.get === 'function')
      return (headers as { get(name: string): string | null }).get(name) ?? undefined;
    const record = headers as Readonly<Record<string, string | undefined>>;
    return record[name] ?? Object.entries(record).find(([key]) => key.toLowerCase() === name)?.[1];
  };
  const milliseconds = Number(read('retry-after-ms'));
  if (read('retry-after-ms') !== undefined && Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds;
  const value = read('retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function requestedWait(error: unknown): number | undefined {
  return error instanceof TransientExternalError ? error.retryAfterMs : undefined;
}

export interface ExternalServiceOptions {
  /** Short stable name, used in metrics and errors: `smtp`, `twilio`, `gemini`. */
  readonly name: string;
  /** Longest one attempt may take. */
  readonly timeoutMs: number;
  /** Extra attempts for idempotent calls (non-idempotent calls are never retried here). */
  readonly retries: number;
  /**
   * First retry delay; each later one doubles (decorrelated jitter), up to `maxRetryDelayMs`. A
   * `Retry-After` the service sent (`TransientExternalError.retryAfterMs`) is waited in full;
   * one longer than `maxRetryDelayMs` is not retried at all.
   */
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
  /**
   * The caller's own cancellation (the user left): aborts the attempt's signal, stops retrying and
   * rejects with `CancelledCallError`, which counts neither as a failure nor against the breaker.
   */
  readonly signal?: AbortSignal;
}

/** An attempt outlived its timeout and was aborted. */
export class ExternalTimeoutError extends Error {
  readonly service: string;
  constructor(service: string, timeoutMs: number, options: { cause?: unknown } = {}) {
    super(`${service} did not answer within ${timeoutMs} ms`, options);
    this.name = 'ExternalTimeoutError';
    this.service = service;
  }
}

/** The caller cancelled the call (`CallOptions.signal`); the service did nothing wrong. */
export class CancelledCallError extends Error {
  readonly service: string;
  constructor(service: string, options: { cause?: unknown } = {}) {
    super(`${service} call cancelled by the caller`, options);
    this.name = 'CancelledCallError';
    this.service = service;
  }
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
      help: 'Calls to external services by outcome (success, failure, timeout, rejected_open, retry, permanent, cancelled)',
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

/**
 * One attempt that also ends when the caller cancels: its signal aborts, and it rejects with a
 * `CancelledCallError` at once (inside the breaker and the timeout, so neither counts it).
 */
function attemptCancellable<T>(
  name: string,
  fn: (signal: AbortSignal) => Promise<T>,
  attempt: AbortSignal,
  caller: AbortSignal,
): Promise<T> {
  if (caller.aborted) return Promise.reject(new CancelledCallError(name, { cause: caller.reason }));
  return new Promise<T>((resolve, reject) => {
    const cancel = () => reject(new CancelledCallError(name, { cause: caller.reason }));
    caller.addEventListener('abort', cancel, { once: true });
    fn(AbortSignal.any([attempt, caller]))
      .then(resolve, (error: unknown) => {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the attempt's own error, passed on as it came
        reject(caller.aborted ? new CancelledCallError(name, { cause: error }) : error);
      })
      .finally(() => caller.removeEventListener('abort', cancel));
  });
}

/** Exponential backoff, but never shorter than the `Retry-After` the last failure carried. */
function honouringRetryAfter(
  inner: IBackoffFactory<IRetryBackoffContext<unknown>>,
): IBackoffFactory<IRetryBackoffContext<unknown>> {
  return {
    next(context) {
      const next = inner.next(context);
      const asked = 'error' in context.result ? requestedWait(context.result.error) : undefined;
      return {
        duration: Math.max(next.duration, asked ?? 0),
        next: (following) => honouringRetryAfter(next).next(following),
      };
    },
  };
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
  const transient = handleWhen(
    (error) => !(error instanceof PermanentExternalError) && !(error instanceof CancelledCallError),
  );
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
  const maxDelay = options.maxRetryDelayMs ?? 10_000;
  // A wait longer than we are willing to sleep is surfaced now rather than retried early.
  const retryable = handleWhen(
    (error) =>
      !(error instanceof PermanentExternalError) &&
      !(error instanceof CancelledCallError) &&
      (requestedWait(error) ?? 0) <= maxDelay,
  );
  const retrying = retry(retryable, {
    maxAttempts: options.retries,
    backoff: honouringRetryAfter(new ExponentialBackoff({ initialDelay: options.retryDelayMs ?? 200, maxDelay })),
  });
  retrying.onRetry((event) => {
    recorded.calls.inc({ service: name, outcome: 'retry' });
    const reason = 'error' in event ? event.error : undefined;
    log.info(
      {
        delayMs: Math.round(event.delay),
        attempt: event.attempt,
        retryAfterMs: requestedWait(reason),
        reason: reason instanceof Error ? reason.message : undefined,
      },
      'retrying after a transient failure',
    );
  });
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
        const caller = callOptions.signal;
        const result = await policy.execute(({ signal }) =>
          caller === undefined ? fn(signal) : attemptCancellable(name, fn, signal, caller),
        );
        recorded.calls.inc({ service: name, outcome: 'success' });
        return result;
      } catch (error) {
        if (error instanceof CancelledCallError) {
          recorded.calls.inc({ service: name, outcome: 'cancelled' });
          throw error;
        }
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
          throw new ExternalTimeoutError(name, options.timeoutMs, { cause: error });
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
