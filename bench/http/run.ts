// bench/http: the same small JSON route served by (a) Ballast's full stack, (b) bare Fastify and
// (c) Express 5 + helmet + cors and (c2) Express 5 with the same features as Ballast, loaded by
// autocannon one after another in one run. Each ratio is the median of its per-round ratios.
// Usage: node bench/http/run.ts [--seconds 5] [--rounds 5] [--connections 50] [--json]
import { parseArgs } from 'node:util';
import {
  benchPostgres,
  fixed,
  load,
  median,
  medianOf,
  startReport,
  startServer,
  type BenchServer,
  type LoadResult,
} from '../support/harness.ts';
import { makeTempDir } from '../../platform/src/testing/temp.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const report = startReport(values.json);
const postgres = await benchPostgres();
const databases = [await postgres.createDatabase('bench_http'), await postgres.createDatabase('bench_http')];
const options = {
  seconds: Number(values.seconds),
  connections: Number(values.connections),
  warmupSeconds: Number(values.warmup),
  rounds: Number(values.rounds),
};
const results = new Map<string, LoadResult>();
const path = '/api/bench/hello?name=ballast';

const targets: { key: string; label: string; script: string; env?: Record<string, string> }[] = [
  {
    key: 'a',
    label: 'Ballast (full stack)',
    script: 'bench/http/ballast-server.ts',
    env: {
      DATA_DIR: makeTempDir('ballast-bench-'),
      DATABASE_URL: databases[0]!.url,
      LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
    },
  },
  {
    key: 'a2',
    label: 'Ballast, request log off (LOG_LEVEL=warn)',
    script: 'bench/http/ballast-server.ts',
    env: {
      DATA_DIR: makeTempDir('ballast-bench-'),
      DATABASE_URL: databases[1]!.url,
      LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
      LOG_LEVEL: 'warn',
    },
  },
  { key: 'b', label: 'bare Fastify', script: 'bench/http/fastify-server.ts' },
  { key: 'c', label: 'Express 5 + helmet + cors', script: 'bench/http/express-server.ts' },
  {
    key: 'c2',
    label: 'Express 5, same features (helmet, cors, request id, pino-http, rate limit, metrics, zod)',
    script: 'bench/http/express-full-server.ts',
  },
];

// All three run at once (idle while not measured) and are measured in interleaved rounds, so a
// noisy neighbour or CPU boost drift hits each of them alike; each figure is a median of rounds.
const servers = new Map<string, BenchServer>();
let perRound = new Map<string, LoadResult[]>();
try {
  for (const target of targets) {
    const server = await startServer(target.script, target.env);
    const check = await fetch(`${server.url}${path}`);
    if (!check.ok) throw new Error(`${target.label} answered ${check.status}`);
    servers.set(target.key, server);
  }
  const rounds = new Map<string, LoadResult[]>(targets.map((t) => [t.key, []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of targets) {
      process.stderr.write(`round ${round}/${options.rounds}: ${target.label}...\n`);
      const warm = round === 1 ? options.warmupSeconds : 0;
      rounds.get(target.key)!.push(await load(servers.get(target.key)!, path, { ...options, warmupSeconds: warm }));
    }
  }
  for (const target of targets) results.set(target.key, median(rounds.get(target.key)!));
  perRound = rounds;
} finally {
  for (const server of servers.values()) await server.stop();
  for (const database of databases) await database.drop();
  await postgres.stop();
}

/**
 * A ratio as the median of its per-round ratios: each round measures both servers minutes apart
 * at most, so a slow stretch of a shared machine hits both sides of a round's ratio, where it
 * would move one median and not the other.
 */
function pairedRatio(top: string, bottom: string): { median: number; rounds: number[] } {
  const tops = perRound.get(top)!;
  const bottoms = perRound.get(bottom)!;
  const ratios = tops.map((result, index) => result.requestsPerSecond / bottoms[index]!.requestsPerSecond);
  return { median: medianOf(ratios), rounds: ratios };
}
const ratios = {
  a_over_b: pairedRatio('a', 'b'),
  a2_over_b: pairedRatio('a2', 'b'),
  a_over_c: pairedRatio('a', 'c'),
  a_over_c2: pairedRatio('a', 'c2'),
};
const listed = (ratio: { rounds: number[] }) => ratio.rounds.map((value) => fixed(value)).join(', ');

const a = results.get('a')!;
const a2 = results.get('a2')!;
const b = results.get('b')!;
const c = results.get('c')!;
const c2 = results.get('c2')!;
const lines = [
  `bench/http: GET ${path}, ${options.connections} connections, median of ${options.rounds} interleaved rounds of ${options.seconds} s (after ${options.warmupSeconds} s warm-up)`,
  '',
  '| server | requests/s | server CPU µs/request | p50 ms | p99 ms | errors | non-2xx |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...targets.map((t) => {
    const r = results.get(t.key)!;
    return `| (${t.key}) ${t.label} | ${fixed(r.requestsPerSecond, 0)} | ${fixed(r.cpuMicrosPerRequest, 1)} | ${fixed(r.p50Ms, 1)} | ${fixed(r.p99Ms, 1)} | ${r.errors} | ${r.non2xx} |`;
  }),
  '',
  `throughput, median of the per-round ratios: a/b = ${fixed(ratios.a_over_b.median)} (aim >= 0.45)   a2/b = ${fixed(ratios.a2_over_b.median)} (aim >= 0.6)   a/c = ${fixed(ratios.a_over_c.median)}   a/c2 = ${fixed(ratios.a_over_c2.median)} (aim >= 2.5)`,
  `  per round: a/b ${listed(ratios.a_over_b)}; a2/b ${listed(ratios.a2_over_b)}; a/c ${listed(ratios.a_over_c)}; a/c2 ${listed(ratios.a_over_c2)}`,
  `  ratio of the medians above: a/b = ${fixed(a.requestsPerSecond / b.requestsPerSecond)}   a2/b = ${fixed(a2.requestsPerSecond / b.requestsPerSecond)}   a/c = ${fixed(a.requestsPerSecond / c.requestsPerSecond)}   a/c2 = ${fixed(a.requestsPerSecond / c2.requestsPerSecond)}`,
  `server CPU per request (inverse, higher is better): b/a = ${fixed(b.cpuMicrosPerRequest / a.cpuMicrosPerRequest)}   c/a = ${fixed(c.cpuMicrosPerRequest / a.cpuMicrosPerRequest)}   c2/a = ${fixed(c2.cpuMicrosPerRequest / a.cpuMicrosPerRequest)}`,
  'Load generator and servers share the machine; on few cores the CPU-per-request figures are the fairer comparison.',
];
report.finish(lines, {
  bench: 'http',
  servers: Object.fromEntries(
    targets.map((t) => {
      const r = results.get(t.key)!;
      return [
        t.key,
        {
          label: t.label,
          requests_per_s: r.requestsPerSecond,
          cpu_us_per_request: r.cpuMicrosPerRequest,
          p50_ms: r.p50Ms,
          p99_ms: r.p99Ms,
          errors: r.errors,
          non_2xx: r.non2xx,
        },
      ];
    }),
  ),
  a_over_b: ratios.a_over_b.median,
  a2_over_b: ratios.a2_over_b.median,
  a_over_c: ratios.a_over_c.median,
  a_over_c2: ratios.a_over_c2.median,
  per_round: Object.fromEntries(Object.entries(ratios).map(([name, ratio]) => [name, ratio.rounds])),
  of_medians: {
    a_over_b: a.requestsPerSecond / b.requestsPerSecond,
    a2_over_b: a2.requestsPerSecond / b.requestsPerSecond,
    a_over_c: a.requestsPerSecond / c.requestsPerSecond,
    a_over_c2: a.requestsPerSecond / c2.requestsPerSecond,
  },
});
