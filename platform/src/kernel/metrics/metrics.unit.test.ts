import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';

describe('the HTTP latency histogram', () => {
  it("exports exactly what prom-client's Histogram exports for the same observations", async () => {
    const metrics = createMetrics({ role: 'web' });
    const reference = new client.Histogram({
      name: 'reference_seconds',
      help: 'the same observations',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [metrics.registry],
    });
    const observations = [
      ['GET', '/api/a/:id', 200, 0.0004],
      ['GET', '/api/a/:id', 200, 0.001],
      ['GET', '/api/a/:id', 200, 0.0031],
      ['GET', '/api/a/:id', 200, 20],
      ['GET', '/api/a/:id', 404, 0.2],
      ['POST', '/api/b', 429, 0.0025],
      ['HEAD', 'unmatched', 404, 10],
    ] as const;
    for (const [method, route, status, seconds] of observations) {
      metrics.httpDuration.observe(method, route, status, seconds);
      reference.observe({ method, route, status_code: String(status) }, seconds);
    }
    const text = await metrics.registry.metrics();
    const lines = (exported: string, name: string) =>
      exported
        .split('\n')
        .filter((line) => line.startsWith(`${name}_`))
        .map((line) => line.slice(name.length));
    const ours = lines(text, 'http_request_duration_seconds');
    // Four label sets, each with 13 buckets, +Inf, sum and count.
    expect(ours).toHaveLength(4 * 16);
    expect(ours).toEqual(lines(text, 'reference_seconds'));
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="0.001",role="web",method="GET",route="/api/a/:id",status_code="200"} 2',
    );

    // And the JSON form (every label on each value), as prom-client gives it.
    const json = await metrics.registry.getMetricsAsJSON();
    const valuesOf = (name: string) =>
      json
        .find((metric) => metric.name === name)!
        .values.map((entry) => ({
          suffix: (entry as { metricName?: string }).metricName?.slice(name.length),
          labels: entry.labels,
          value: entry.value,
        }));
    expect(valuesOf('http_request_duration_seconds')).toEqual(valuesOf('reference_seconds'));

    metrics.registry.resetMetrics();
    expect(lines(await metrics.registry.metrics(), 'http_request_duration_seconds')).toEqual([]);
  });
});
