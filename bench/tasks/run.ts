// bench/tasks: drain rate for N no-op tasks and serial enqueue-to-start latency, for (a) Ballast's
// task API, (b) bare pg-boss 12, (c) graphile-worker, each on its own fresh database, same concurrency.
// Usage: node bench/tasks/run.ts [--tasks 20000] [--latency-samples 200] [--concurrency 16]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { makeWorkerUtils, run as runGraphile } from 'graphile-worker';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { createBallast, defineApp, defineTask, z } from '@ballast/platform';
import { makeTempDir } from '../../platform/src/testing/temp.ts';
import { describeMachine, fixed } from '../support/harness.ts';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '20000' },
    'latency-samples': { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
  },
});
const total = Number(values.tasks);
const samples = Number(values['latency-samples']);
const concurrency = Number(values.concurrency);
const adminUrl =
  process.env['BENCH_DATABASE_URL'] ?? process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function withDatabase<T>(run: (url: string) => Promise<T>): Promise<T> {
  const name = `bench_tasks_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    return await run(url.toString());
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

/** Counts handler starts; `next()` resolves at the next start (for latency). */
function probe() {
  let started = 0;
  let waiter: (() => void) | undefined;
  let allDone: (() => void) | undefined;
  let target = Number.POSITIVE_INFINITY;
  return {
    hit() {
      started++;
      waiter?.();
      waiter = undefined;
      if (started >= target) allDone?.();
    },
    next: () => new Promise<void>((resolve) => (waiter = resolve)),
    waitFor(count: number) {
      target = count;
      return started >= count ? Promise.resolve() : new Promise<void>((resolve) => (allDone = resolve));
    },
    get started() {
      return started;
    },
  };
}

interface Result {
  readonly label: string;
  readonly enqueueSeconds: number;
  readonly drainPerSecond: number;
  readonly p50: number;
  readonly p95: number;
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

async function benchBallast(url: string): Promise<Result> {
  const counter = probe();
  const noop = defineTask({
    name: 'bench.noop',
    payload: z.object({ n: z.number() }),
    handler: async () => counter.hit(),
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
      TASKS_POOL_MAX: String(concurrency + 4),
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
    const t1 = performance.now();
    await ballast.start();
    await counter.waitFor(total);
    const drainPerSecond = total / ((performance.now() - t1) / 1000);
    const latency = await measureLatency(() => ballast.tasks.enqueue(noop, { n: -1 }), counter);
    return { label: "Ballast's task API", enqueueSeconds, drainPerSecond, ...latency };
  } finally {
    await ballast.stop();
  }
}

async function benchPgBoss(url: string): Promise<Result> {
  const counter = probe();
  const boss = new PgBoss({
    connectionString: url,
    max: concurrency + 4,
    useListenNotify: true,
    monitorIntervalSeconds: 10,
    queueCacheIntervalSeconds: 10,
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
    const t1 = performance.now();
    // The same worker options Ballast uses (batches of two, burst while fetches come back full).
    await boss.work(
      'noop',
      {
        localConcurrency: Math.ceil(concurrency / 2),
        batchSize: 2,
        pollingIntervalSeconds: 2,
        notifyPollingIntervalSeconds: 2,
        burstWhenBatchFull: true,
      },
      async (jobs) => {
        for (let index = 0; index < jobs.length; index++) counter.hit();
      },
    );
    const progress = setInterval(() => process.stderr.write(`  pg-boss: ${counter.started}/${total}\n`), 5000);
    await counter.waitFor(total);
    clearInterval(progress);
    const drainPerSecond = total / ((performance.now() - t1) / 1000);
    const latency = await measureLatency(() => boss.send('noop', { n: -1 }), counter);
    return { label: 'bare pg-boss 12', enqueueSeconds, drainPerSecond, ...latency };
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

async function benchGraphile(url: string): Promise<Result> {
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
  const t1 = performance.now();
  const runner = await runGraphile({
    pgPool,
    concurrency,
    noHandleSignals: true,
    pollInterval: 2000,
    taskList: { noop: async () => counter.hit() },
    // graphile-worker's batching on: fetch and lock jobs in batches, complete them in batches.
    preset: { worker: { localQueue: { size: 100 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    logger: new (await import('graphile-worker')).Logger(() => () => {}),
  });
  try {
    await counter.waitFor(total);
    const drainPerSecond = total / ((performance.now() - t1) / 1000);
    const latency = await measureLatency(() => utils.addJob('noop', { n: -1 }), counter);
    return { label: 'graphile-worker 0.18 (batching on)', enqueueSeconds, drainPerSecond, ...latency };
  } finally {
    await runner.stop();
    await utils.release();
    await pgPool.end();
  }
}

const results: Result[] = [];
for (const bench of [benchBallast, benchPgBoss, benchGraphile]) {
  process.stderr.write(`running ${bench.name}...\n`);
  results.push(await withDatabase(bench));
}
const [a, b, c] = results as [Result, Result, Result];
const lines = [
  `bench/tasks: ${total} no-op tasks drained by one process with concurrency ${concurrency}; ${samples} serial enqueue-to-start samples`,
  `machine: ${describeMachine()}`,
  '',
  '| system | enqueue of all (s) | drain (tasks/s) | enqueue→start p50 ms | p95 ms |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...results.map(
    (r) =>
      `| ${r.label} | ${fixed(r.enqueueSeconds, 1)} | ${fixed(r.drainPerSecond, 0)} | ${fixed(r.p50, 1)} | ${fixed(r.p95, 1)} |`,
  ),
  '',
  `drain: Ballast/pg-boss = ${fixed(a.drainPerSecond / b.drainPerSecond)}   Ballast/graphile-worker = ${fixed(a.drainPerSecond / c.drainPerSecond)}`,
  `latency p50: Ballast/pg-boss = ${fixed(a.p50 / b.p50)}   Ballast/graphile-worker = ${fixed(a.p50 / c.p50)} (lower is better)`,
  'Enqueue: all three insert 1,000 tasks per statement (Ballast through enqueueMany, which validates each payload first).',
];
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(0);
