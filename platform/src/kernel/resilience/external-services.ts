import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import { createExternalService, type ExternalService } from './external-service.ts';

/**
 * One resilience wrapper per external service of a process (its circuit breaker is shared by
 * every caller of that service): a 15 s timeout, no automatic retry (callers retry only what is
 * safe to repeat), and a breaker that opens after 5 consecutive failures for 30 s.
 */
export function externalServices(deps: { readonly metrics: Metrics; readonly log: Logger }) {
  const services = new Map<string, ExternalService>();
  return (name: string): ExternalService => {
    let service = services.get(name);
    if (service === undefined) {
      service = createExternalService(
        { name, timeoutMs: 15_000, retries: 0, breaker: { consecutiveFailures: 5, halfOpenAfterMs: 30_000 } },
        deps,
      );
      services.set(name, service);
    }
    return service;
  };
}
