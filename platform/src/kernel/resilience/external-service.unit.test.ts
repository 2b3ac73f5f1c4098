import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createLogger } from '#platform/kernel/logging/logger.ts';
import { createMetrics } from '#platform/kernel/metrics/metrics.ts';
import { captureLogs } from '#platform/testing/logs.ts';
import {
  CancelledCallError,
  PermanentExternalError,
  TransientExternalError,
  createExternalService,
  retryAfterMs,
  type ExternalServiceOptions,
} from './external-service.ts';

function setup(overrides: Partial<ExternalServiceOptions> = {}) {
  const metrics = createMetrics({ role: 'test' });
  const logs = captureLogs();
  const log = createLogger({ level: 'info', pretty: false, destination: logs.stream });
  const service = createExternalService(
    {
      name: 'probe',
      timeoutMs: 200,
      retries: 3,
      retryDelayMs: 20,
      maxRetryDelayMs: 200,
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 300 },
      ...overrides,
    },
    { metrics, log },
  );
  const metricLine = async (pattern: RegExp) => (await metrics.registry.metrics()).match(pattern)?.[0];
  return { service, metrics, metricLine, logs };
}

const failing = async (): Promise<never> => {
  throw new Error('connection refused');
};

describe('circuit breaker', () => {
  it('opens after repeated failures, fails fast while open, and closes after the half-open probe succeeds', async () => {
    const { service, metricLine } = setup({ retries: 0 });
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(service.call(failing, { idempotent: false })).rejects.toThrow('connection refused');
    }
    expect(service.state).toBe('open');
    expect(await metricLine(/circuit_breaker_state\{service="probe".*\} \d/)).toMatch(/ 2$/);

    let called = 0;
    await expect(
      service.call(
        async () => {
          called++;
          return 'ok';
        },
        { idempotent: false },
      ),
    ).rejects.toMatchObject({ kind: 'unavailable', code: 'external.circuit_open' });
    expect(called).toBe(0);
    expect(await metricLine(/external_calls_total\{service="probe",outcome="rejected_open".*\} \d+/)).toMatch(/ 1$/);

    await sleep(350);
    expect(await service.call(async () => 'recovered', { idempotent: false })).toBe('recovered');
    expect(service.state).toBe('closed');
    expect(await metricLine(/circuit_breaker_state\{service="probe".*\} \d/)).toMatch(/ 0$/);
  });

  it('reopens when the half-open probe fails', async () => {
    const { service } = setup({ retries: 0 });
    for (let attempt = 0; attempt < 3; attempt++) await service.call(failing, { idempotent: false }).catch(() => {});
    expect(service.state).toBe('open');
    await sleep(350);
    await expect(service.call(failing, { idempotent: false })).rejects.toThrow('connection refused');
    expect(service.state).toBe('open');
  });

  it('does not count permanent refusals against the service', async () => {
    const { service } = setup({ retries: 0 });
    for (let attempt = 0; attempt < 5; attempt++) {
      await expect(
        service.call(
          async () => {
            throw new PermanentExternalError('probe', 'invalid phone number', { status: 400 });
          },
          { idempotent: true },
        ),
      ).rejects.toBeInstanceOf(PermanentExternalError);
    }
    expect(service.state).toBe('closed');
  });
});

describe('timeouts and retries', () => {
  it('aborts a call that outlives its timeout', async () => {
    const { service, metricLine } = setup({ retries: 0 });
    let aborted = false;
    await expect(
      service.call(
        (signal) =>
          new Promise((resolve) => {
            signal.addEventListener('abort', () => (aborted = true));
            setTimeout(resolve, 2000);
          }),
        { idempotent: false },
      ),
    ).rejects.toThrow('probe did not answer within 200 ms');
    expect(aborted).toBe(true);
    expect(await metricLine(/external_calls_total\{service="probe",outcome="timeout".*\} \d+/)).toMatch(/ 1$/);
  });

  it('retries an idempotent call with backoff until it succeeds', async () => {
    const { service, metricLine } = setup({ breaker: { consecutiveFailures: 10, halfOpenAfterMs: 300 } });
    const attempts: number[] = [];
    const result = await service.call(
      async () => {
        attempts.push(performance.now());
        if (attempts.length < 4) throw new Error('503 from provider');
        return 'done';
      },
      { idempotent: true },
    );
    expect(result).toBe('done');
    expect(attempts).toHaveLength(4);
    // The backoff is decorrelated jitter (random): no order of the gaps is guaranteed, only that
    // each retry waited (no timing is asserted beyond that).
    for (let index = 1; index < attempts.length; index++)
      expect(attempts[index]!).toBeGreaterThan(attempts[index - 1]!);
    expect(await metricLine(/external_calls_total\{service="probe",outcome="retry".*\} \d+/)).toMatch(/ 3$/);
  });

  it('never retries a call that is not idempotent', async () => {
    const { service } = setup();
    let attempts = 0;
    await expect(
      service.call(
        async () => {
          attempts++;
          throw new Error('connection reset after the request was sent');
        },
        { idempotent: false },
      ),
    ).rejects.toThrow('connection reset');
    expect(attempts).toBe(1);
  });

  it('waits at least the Retry-After a rate-limited service asked for before trying again', async () => {
    const { service, logs } = setup({ retryDelayMs: 5, maxRetryDelayMs: 2000 });
    let attempts = 0;
    const result = await service.call(
      async () => {
        attempts++;
        if (attempts === 1) throw new TransientExternalError('probe', 'rate limited (429)', { retryAfterMs: 700 });
        return 'done';
      },
      { idempotent: true },
    );
    expect(result).toBe('done');
    const retried = logs.lines().find((line) => line['msg'] === 'retrying after a transient failure');
    // The decided delay, not a measured one: exponential backoff alone would wait about 5 ms.
    expect(retried).toMatchObject({ retryAfterMs: 700, attempt: 1 });
    expect(retried!['delayMs']).toBeGreaterThanOrEqual(700);
  });

  it('gives up at once when the Retry-After is longer than it is willing to wait', async () => {
    const { service } = setup({ maxRetryDelayMs: 200 });
    let attempts = 0;
    await expect(
      service.call(
        async () => {
          attempts++;
          throw new TransientExternalError('probe', 'rate limited (429)', { retryAfterMs: 60_000 });
        },
        { idempotent: true },
      ),
    ).rejects.toThrow('rate limited');
    expect(attempts).toBe(1);
  });
});

describe('cancellation by the caller', () => {
  it('aborts the attempt, stops retrying, and counts neither a failure nor against the breaker', async () => {
    const { service, metricLine } = setup({ breaker: { consecutiveFailures: 1, halfOpenAfterMs: 300 } });
    const controller = new AbortController();
    let attempts = 0;
    let aborted = false;
    const call = service.call(
      (signal) =>
        new Promise<never>((_, reject) => {
          attempts++;
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('request aborted'));
          });
        }),
      { idempotent: true, signal: controller.signal },
    );
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(CancelledCallError);
    expect({ attempts, aborted }).toEqual({ attempts: 1, aborted: true });
    expect(service.state).toBe('closed');
    expect(await metricLine(/external_calls_total\{service="probe",outcome="cancelled".*\} \d+/)).toMatch(/ 1$/);
    expect(await metricLine(/external_calls_total\{service="probe",outcome="failure".*\} \d+/)).toBeUndefined();
  });

  it('refuses at once a call whose signal is already aborted', async () => {
    const { service } = setup();
    let attempts = 0;
    await expect(
      service.call(
        async () => {
          attempts++;
          return 'never';
        },
        { idempotent: true, signal: AbortSignal.abort() },
      ),
    ).rejects.toBeInstanceOf(CancelledCallError);
    expect(attempts).toBe(0);
  });
});

describe('Retry-After', () => {
  it.each([
    [{ 'retry-after': '3' }, 3000],
    [{ 'Retry-After': '1.5' }, 1500],
    [{ 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    [{ 'retry-after': 'Thu, 03 Dec 2026 00:00:10 GMT' }, 10_000],
    [{ 'retry-after': 'soon' }, undefined],
    [{}, undefined],
  ])('reads %j as %s ms', (headers, expected) => {
    expect(retryAfterMs(headers, Date.parse('2026-12-03T00:00:00Z'))).toBe(expected);
    expect(retryAfterMs(new Headers(headers as Record<string, string>), Date.parse('2026-12-03T00:00:00Z'))).toBe(
      expected,
    );
  });
});
