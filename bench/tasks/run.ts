// bench/tasks: drain rate for N no-op tasks and serial enqueue-to-start latency, for (a) Ballast's
// task API, (b) bare pg-boss 12, (c) graphile-worker, each on its own fresh database, same concurrency.
// After each bulk insert the database is analysed (a table with history has statistics; a fresh one
// without them gets a plan that scans every ready row per claim); --no-analyze adds rows without it.
// Each system runs --rounds times (default 3), the systems taking turns in a rotating order, each
// round on a fresh database; every figure is the median of its rounds (each round is listed too).
// Usage: node bench/tasks/run.ts [--tasks 20000] [--latency-samples 200] [--concurrency 16]
//        [--prefetch <TASKS_PREFETCH>] [--rounds 3] [--no-analyze] [--json]
import { parseArgs } from 'node:util';
import { makeWorkerUtils, run as runGraphile, Logger as GraphileLogger } from 'graphile-worker';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { defineApp, defineTask, z } from '@ballast/platform';
import { createBallast } from '@ballast/platform/host';
import { makeTempDir } from '../../platform/src/testing/temp.ts';
import { benchPostgres, fixed, medianOf, startReport } from '../support/harness.ts';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '20000' },
    'latency-samples': { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
    prefetch: { type: 'string' },
    'no-analyze': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const total = Number(values.tasks);
const samples = Number(values['latency-samples']);
const concurrency = Number(values.concurrency);
const rounds = Math.max(1, Number(values.rounds));
const report = startReport(values.json);
const postgres = await benchPostgres();

/** Counts handler starts and the most handlers running at once; `next()` resolves at the next start. */
function probe() {
  let started = 0;
  let running = 0;
  let maxRunning = 0;
  let waiter: (() => void) | undefined;
  let allDone: (() => void) | undefined;
  let target = Number.POSITIVE_INFINITY;
  let firstAt = Number.NaN;
  return {
    /** The no-op every system runs: count, yield once to the event loop (as any I/O would), return. */
    async run() {
      if (started === 0) firstAt = performance.now();
      started++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      waiter?.();
      waiter = undefined;
      if (started >= target) allDone?.();
      await new Promise(setImmediate);
      running--;
    },
    next: () => new Promise<void>((resolve) => (waiter = resolve)),
    waitFor(count: number) {
      target = count;
      return started >= count ? Promise.resolve() : new Promise<void>((resolve) => (allDone = resolve));
    },
    get started() {
      return started;
    },
    get maxRunning() {
      return maxRunning;
    },
    /** When the first task started (performance.now()). */
    get firstAt() {
      return firstAt;
    },
  };
}

interface Result {
  readonly label: string;
  readonly analyzed: boolean;
  readonly enqueueSeconds: number;
  readonly drainPerSecond: number;
  /** From the worker's start to its first task (ms): included in the drain rate. */
  readonly firstTaskMs: number;
  readonly p50: number;
  readonly p95: number;
  readonly maxRunning: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measureLatency(enqueue: () => Promise<unknown>, counter: ReturnType<typeof probe>) {
  const latencies: number[] = [];
  for (let index = 0; index < samples; index++) {
    const started = counter.next();
    const t0 = performance.now();
    await enqueue();
    await started;
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}

/** ANALYZE of the whole bench database, after the bulk insert and before the drain. */
async function analyze(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('analyze');
  await client.end();
}

async function benchBallast(url: string, analyzed: boolean): Promise<Omit<Result, 'analyzed'>> {
  const counter = probe();
  const noop = defineTask({
    name: 'bench.noop',
    payload: z.object({ n: z.number() }),
    handler: () => counter.run(),
  });
  const app = defineApp({ name: 'bench', title: 'Bench', summary: 'Bench tasks.', status: 'available', tasks: [noop] });
  const ballast = await createBallast({
    apps: [app],
    roles: ['worker'],
    env: {
      NODE_ENV: 'test',
      DATABASE_URL: url,
      DATA_DIR: makeTempDir('ballast-bench-'),
      LOG_LEVEL: 'warn',
      TASKS_CONCURRENCY: String(concurrency),
      ...(values.prefetch === undefined ? {} : { TASKS_PREFETCH: values.prefetch }),
      DATABASE_POOL_MAX: '20',
    },
  });
  try {
    const t0 = performance.now();
    await ballast.tasks.enqueueMany(
      noop,
      Array.from({ length: total }, (_, n) => ({ n })),
    );
    const enqueueSeconds = (performance.now() - t0) / 1000;
    if (analyzed) await analyze(url);
    const t1 = performance.now();
    await ballast.start();
    await counter.waitFor(total);
    const drainPerSecond = total / ((performance.now() - t1) / 1000);
    const firstTaskMs = counter.firstAt - t1;
    const latency = await measureLatency(() => ballast.tasks.enqueue(noop, { n: -1 }), counter);
    return {
      label: "Ballast's task API",
      enqueueSeconds,
      drainPerSecond,
      firstTaskMs,
      ...latency,
      maxRunning: counter.maxRunning,
    };
  } finally {
    await ballast.stop();
  }
}

async function benchPgBoss(url: string, analyzed: boolean): Promise<Omit<Result, 'analyzed'>> {
  const counter = probe();
  const boss = new PgBoss({
    connectionString: url,
    max: concurrency + 4,
    useListenNotify: true,
    monitorIntervalSeconds: 10,
  });
  boss.on('error', () => {});
  await boss.start();
  try {
    await boss.createQueue('noop', { notify: true, retryLimit: 5, retryBackoff: true });
    const t0 = performance.now();
    for (let start = 0; start < total; start += 1000) {
      await boss.insert(
        'noop',
        Array.from({ length: Math.min(1000, total - start) }, (_, index) => ({ data: { n: start + index } })),
      );
    }
    const enqueueSeconds = (performance.now() - t0) / 1000;
    if (analyzed) await analyze(url);
    const t1 = performance.now();
    // pg-boss's own batching at its best: one worker fetching `concurrency` jobs at a time, running
    // them together and completing the batch in one statement, fetching again at once while full.
    await boss.work(
      'noop',
      { batchSize: concurrency, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 2, burstWhenBatchFull: true },
      async (jobs) => {
        await Promise.all(jobs.map(() => counter.run()));
      },
    );
    const progress = setInterval(() => process.stderr.write(`  pg-boss: ${counter.started}/${total}\n`), 5000);
    await counter.waitFor(total);
    clearInterval(progress);
    const drainPerSecond = total / ((performance.now() - t1) / 1000);
    const firstTaskMs = counter.firstAt - t1;
    const latency = await measureLatency(() => boss.send('noop', { n: -1 }), counter);
    return {
      label: 'bare pg-boss 12',
      enqueueSeconds,
      drainPerSecond,
      firstTaskMs,
      ...latency,
      maxRunning: counter.maxRunning,
    };
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

async function benchGraphile(url: string, analyzed: boolean): Promise<Omit<Result, 'analyzed'>> {
  const counter = probe();
  const pgPool = new pg.Pool({ connectionString: url, max: concurrency + 4 });
  pgPool.on('error', () => {});
  const utils = await makeWorkerUtils({ pgPool });
  await utils.migrate();
  const t0 = performance.now();
  for (let start = 0; start < total; start += 1000) {
    await utils.addJobs(
      Array.from({ length: Math.min(1000, total - start) }, (_, index) => ({
        identifier: 'noop',
        payload: { n: start + index },
      })),
    );
  }
  const enqueueSeconds = (performance.now() - t0) / 1000;
  if (analyzed) await analyze(url);
  const t1 = performance.now();
  const runner = await runGraphile({
    pgPool,
    concurrency,
    noHandleSignals: true,
    pollInterval: 2000,
    taskList: { noop: () => counter.run() },
    // graphile-worker's batching on: fetch and lock jobs in batches, complete them in batches.
    preset: { worker: { localQueue: { size: 100 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    logger: new GraphileLogger(() => () => {}),
  });
  try {
    await counter.waitFor(total);
    const drainPerSecond = total / ((performance.now() - t1) / 1000);
    const firstTaskMs = counter.firstAt - t1;
    const latency = await measureLatency(() => utils.addJob('noop', { n: -1 }), counter);
    return {
      label: 'graphile-worker 0.18 (batching on)',
      enqueueSeconds,
      drainPerSecond,
      firstTaskMs,
      ...latency,
      maxRunning: counter.maxRunning,
    };
  } finally {
    await runner.stop();
    await utils.release();
    await pgPool.end();
  }
}

/** One system's rounds and their medians. */
interface Summary extends Result {
  readonly rounds: readonly Result[];
}

const results: Summary[] = [];
const autovacuum = await postgres.autovacuum();
try {
  const benches = [benchBallast, benchPgBoss, benchGraphile];
  for (const analyzed of values['no-analyze'] ? [true, false] : [true]) {
    const runs: Result[][] = benches.map(() => []);
    for (let round = 0; round < rounds; round++) {
      // A rotating order: no system always runs first (a cold cache) or last (a warm machine).
      for (let turn = 0; turn < benches.length; turn++) {
        const index = (round + turn) % benches.length;
        const bench = benches[index]!;
        process.stderr.write(`round ${round + 1}/${rounds}: ${bench.name}${analyzed ? '' : ' without ANALYZE'}...\n`);
        const database = await postgres.createDatabase('bench_tasks');
        try {
          runs[index]!.push({ ...(await bench(database.url, analyzed)), analyzed });
        } finally {
          await database.drop();
        }
      }
    }
    for (const list of runs) {
      results.push({
        label: list[0]!.label,
        analyzed,
        enqueueSeconds: medianOf(list.map((r) => r.enqueueSeconds)),
        drainPerSecond: medianOf(list.map((r) => r.drainPerSecond)),
        firstTaskMs: medianOf(list.map((r) => r.firstTaskMs)),
        p50: medianOf(list.map((r) => r.p50)),
        p95: medianOf(list.map((r) => r.p95)),
        maxRunning: Math.max(...list.map((r) => r.maxRunning)),
        rounds: list,
      });
    }
  }
} finally {
  await postgres.stop();
}

const [a, b, c] = results as [Summary, Summary, Summary];
const prefetch = values.prefetch ?? 'default';
report.finish(
  [
    `bench/tasks: ${total} no-op tasks drained by one process with concurrency ${concurrency} (Ballast TASKS_PREFETCH ${prefetch}); ${samples} serial enqueue-to-start samples; medians of ${rounds} rounds, the systems taking turns`,
    `PostgreSQL: ${postgres.description}, autovacuum ${autovacuum}; each system on a fresh database, analysed after the bulk insert unless labelled`,
    '',
    '| system | enqueue of all (s) | drain (tasks/s) | drain per round | start → first task (ms) | enqueue→start p50 ms | p95 ms | most running at once |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.label}${r.analyzed ? '' : ' (--no-analyze: no ANALYZE by the bench)'} | ${fixed(r.enqueueSeconds, 1)} | ${fixed(r.drainPerSecond, 0)} | ${r.rounds.map((round) => fixed(round.drainPerSecond, 0)).join(', ')} | ${fixed(r.firstTaskMs, 0)} | ${fixed(r.p50, 1)} | ${fixed(r.p95, 1)} | ${r.maxRunning} |`,
    ),
    '',
    `drain: Ballast/pg-boss = ${fixed(a.drainPerSecond / b.drainPerSecond)}   Ballast/graphile-worker = ${fixed(a.drainPerSecond / c.drainPerSecond)} (aim >= 0.8)`,
    `latency p50: Ballast/pg-boss = ${fixed(a.p50 / b.p50)}   Ballast/graphile-worker = ${fixed(a.p50 / c.p50)} (lower is better)`,
    'Enqueue: all three insert 1,000 tasks per statement (Ballast through enqueueMany, which validates each payload first).',
    'Without --no-analyze, rows are analysed; Ballast analyses a never-analysed job table itself after an enqueueMany of 10,000 or more.',
  ],
  {
    bench: 'tasks',
    tasks: total,
    concurrency,
    prefetch,
    autovacuum,
    systems: results.map((r) => ({
      system: r.label,
      analyzed: r.analyzed,
      enqueue_s: r.enqueueSeconds,
      drain_per_s: r.drainPerSecond,
      first_task_ms: r.firstTaskMs,
      p50_ms: r.p50,
      p95_ms: r.p95,
      max_running: r.maxRunning,
      drain_per_s_rounds: r.rounds.map((round) => round.drainPerSecond),
    })),
    drain_vs_graphile: a.drainPerSecond / c.drainPerSecond,
    rounds,
    drain_vs_pgboss: a.drainPerSecond / b.drainPerSecond,
    p50_ms: a.p50,
    max_running: a.maxRunning,
  },
);
process.exit(0);
