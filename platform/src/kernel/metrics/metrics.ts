import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import client from 'prom-client';

/**
 * Prometheus metrics of one process. Each Ballast instance owns a registry (several can live in
 * one test process); modules add their own metrics to it.
 */
export interface Metrics {
  readonly registry: client.Registry;
  readonly httpDuration: client.Histogram<'method' | 'route' | 'status_code'>;
}

export interface CreateMetricsOptions {
  readonly pool?: pg.Pool;
  readonly poolMax?: number;
  readonly role: string;
}

/** Creates the registry with process defaults (including event loop lag) and pool usage. */
export function createMetrics(options: CreateMetricsOptions): Metrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ role: options.role });
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const pool = options.pool;
  if (pool !== undefined) {
    new client.Gauge({
      name: 'db_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting clients)',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
    new client.Gauge({
      name: 'db_pool_max_connections',
      help: 'Most connections the pool may open',
      registers: [registry],
      collect() {
        this.set(options.poolMax ?? 0);
      },
    });
  }
  return { registry, httpDuration };
}

/** Records the latency of every request, labelled by its route pattern (never the raw URL). */
export function instrumentHttp(app: FastifyInstance, metrics: Metrics): void {
  // Each label set's series looked up once (prom-client hashes the labels on every `observe`).
  const series = new Map<string, client.Histogram.Internal<'method' | 'route' | 'status_code'>>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let observer = series.get(key);
    if (observer === undefined) {
      observer = metrics.httpDuration.labels({
        method: request.method,
        route,
        status_code: String(reply.statusCode),
      });
      series.set(key, observer);
    }
    observer.observe(reply.elapsedTime / 1000);
    done();
  });
}
