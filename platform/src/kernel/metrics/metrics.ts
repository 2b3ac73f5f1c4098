import type pg from 'pg';
import client from 'prom-client';

/**
 * Prometheus metrics of one process. Each Ballast instance owns a registry (several can live in
 * one test process); modules add their own metrics to it.
 */
export interface Metrics {
  readonly registry: client.Registry;
  readonly httpDuration: RequestLatency;
}

interface ExportedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly values: readonly object[];
  readonly aggregator: string;
}

interface Series {
  readonly labels: { readonly method: string; readonly route: string; readonly status_code: string };
  /** Observations per bucket (not cumulative); above the last bound only in `count`. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * `http_request_duration_seconds`, a Prometheus histogram by method, route pattern and status,
 * exported through prom-client's registry in the same form as its `Histogram`. It counts in plain
 * arrays found through maps of interned strings: prom-client's `observe` hashes the labels into a
 * string and looks each bucket up by a number-to-string key on every call, a microsecond of every
 * request in bench/http.
 */
export class RequestLatency {
  readonly name = 'http_request_duration_seconds';
  readonly help = 'HTTP request latency by route and status';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #byRoute = new Map<string, Map<string, Map<number, Series>>>();

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.#byRoute.get(route);
    if (byMethod === undefined) this.#byRoute.set(route, (byMethod = new Map<string, Map<number, Series>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, Series>()));
    let series = byStatus.get(status);
    if (series === undefined) {
      series = {
        labels: { method, route, status_code: String(status) },
        counts: this.#bounds.map(() => 0),
        sum: 0,
        count: 0,
      };
      byStatus.set(status, series);
    }
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
    if (bucket < bounds.length) series.counts[bucket]!++;
    series.sum += seconds;
    series.count++;
  }

  /** What prom-client's registry reads for the text format: the series' labels kept apart, as its Histogram does. */
  getForPromString(): ExportedMetric {
    return this.#export((labels, series) => ({ labels, sharedLabels: series.labels }));
  }

  /** The same values with every label on each (prom-client's JSON form). */
  get(): ExportedMetric {
    return this.#export((labels, series) => ({ labels: { ...labels, ...series.labels } }));
  }

  #export(labelled: (labels: Record<string, string | number>, series: Series) => object): ExportedMetric {
    const values: object[] = [];
    const value = (suffix: string, labels: Record<string, string | number>, series: Series, amount: number) =>
      values.push({ metricName: `${this.name}${suffix}`, ...labelled(labels, series), value: amount });
    for (const byMethod of this.#byRoute.values()) {
      for (const byStatus of byMethod.values()) {
        for (const series of byStatus.values()) {
          let cumulative = 0;
          this.#bounds.forEach((bound, index) => {
            cumulative += series.counts[index]!;
            value('_bucket', { le: bound }, series, cumulative);
          });
          value('_bucket', { le: '+Inf' }, series, series.count);
          value('_sum', {}, series, series.sum);
          value('_count', {}, series, series.count);
        }
      }
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#byRoute.clear();
  }
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
  const httpDuration = new RequestLatency([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  registry.registerMetric(httpDuration as unknown as client.Metric);
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
