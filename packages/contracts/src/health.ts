import { z } from 'zod';

/** One readiness check's outcome and how long it took. */
export const checkResult = z.object({
  status: z.enum(['ok', 'fail']),
  latencyMs: z.number(),
  detail: z.string().optional(),
});

export const livenessAnswer = z.object({ status: z.literal('ok'), version: z.string(), uptimeSeconds: z.number() });
export const livenessFailure = z.object({ status: z.literal('fail'), detail: z.string() });

export const readinessAnswer = z.object({ status: z.enum(['ok', 'fail']), checks: z.record(z.string(), checkResult) });
export const readinessFailure = z.object({
  status: z.enum(['ok', 'fail', 'draining']),
  detail: z.string().optional(),
  checks: z.record(z.string(), checkResult),
});

/** Prometheus' text exposition format. */
export const metricsAnswer = { content: { 'text/plain': { schema: z.string() } } };
