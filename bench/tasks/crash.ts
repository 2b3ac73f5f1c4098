// bench/tasks/crash.ts: what a worker killed mid-drain costs, for each claim mode. A worker process
// drains N short tasks; at a quarter of the way it is killed with SIGKILL and a second worker
// starts. Reports the tasks the dead worker held (claimed, not settled), how many of them had
// already run (and so ran again), and how long from the kill until every one of them completed,
// against the documented bound (heartbeat + monitor interval + retry delay + poll).
// Usage: node bench/tasks/crash.ts [--tasks 20000] [--concurrency 16] [--prefetch 0,200] [--json]
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createBallast, loadConfig } from '@ballast/platform/host';
import { makeTempDir } from '../../platform/src/testing/temp.ts';
import { benchPostgres, fixed, projectRoot, startReport } from '../support/harness.ts';
import { crashApp, recordTask } from './crash-app.ts';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '16' },
    prefetch: { type: 'string', default: '0,200' },
    json: { type: 'boolean', default: false },
  },
});
const total = Number(values.tasks);
const concurrency = Number(values.concurrency);
const modes = values.prefetch.split(',').map(Number);
const report = startReport(values.json);
const postgres = await benchPostgres();
// The defaults a deployment runs with, read from the settings themselves.
const defaults = loadConfig({ env: { NODE_ENV: 'test', DATA_DIR: makeTempDir('ballast-bench-') } }).tasks;

function startWorker(url: string, prefetch: number): ChildProcess {
  return spawn(process.execPath, [path.join(projectRoot, 'bench/tasks/crash-worker.ts')], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      DATABASE_URL: url,
      DATA_DIR: makeTempDir('ballast-bench-'),
      TASKS_CONCURRENCY: String(concurrency),
      TASKS_PREFETCH: String(prefetch),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50));
}

interface CrashResult {
  readonly prefetch: number;
  readonly held: number;
  readonly ranBeforeKill: number;
  readonly reran: number;
  readonly recoverySeconds: number;
}

async function crash(prefetch: number): Promise<CrashResult> {
  const database = await postgres.createDatabase('bench_crash');
  const control = await createBallast({
    apps: [crashApp],
    roles: [],
    env: { NODE_ENV: 'test', DATABASE_URL: database.url, DATA_DIR: makeTempDir('ballast-bench-'), LOG_LEVEL: 'warn' },
  });
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  const count = async (query: string, params: unknown[] = []) =>
    Number((await db.query<{ count: string }>(query, params)).rows[0]?.count ?? 0);
  const workers: ChildProcess[] = [];
  try {
    await db.query('create schema if not exists bench; create table bench.run (n int not null, pid int not null)');
    await control.tasks.enqueueMany(
      recordTask,
      Array.from({ length: total }, (_, n) => ({ n })),
    );
    const first = startWorker(database.url, prefetch);
    workers.push(first);
    await until(async () => (await count('select count(*) from bench.run')) >= total / 4);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const killedAt = performance.now();
    const held = (
      await db.query<{ id: string; n: number }>(
        `select id::text, (data->>'n')::int as n from pgboss.job where name = $1 and state = 'active'`,
        [recordTask.name],
      )
    ).rows;
    const ranBeforeKill = await count('select count(distinct n) from bench.run where n = any($1)', [
      held.map((row) => row.n),
    ]);
    workers.push(startWorker(database.url, prefetch));
    await until(
      async () =>
        (await count(`select count(*) from pgboss.job where id = any($1::uuid[]) and state = 'completed'`, [
          held.map((row) => row.id),
        ])) === held.length,
    );
    const recoverySeconds = (performance.now() - killedAt) / 1000;
    await until(async () => (await count('select count(distinct n) from bench.run')) === total);
    const reran = await count('select count(*) from (select n from bench.run group by n having count(*) > 1) again');
    return { prefetch, held: held.length, ranBeforeKill, reran, recoverySeconds };
  } finally {
    for (const worker of workers) worker.kill('SIGKILL');
    await db.end();
    await control.stop();
    await database.drop();
  }
}

const results: CrashResult[] = [];
try {
  for (const prefetch of modes) {
    process.stderr.write(`killing a worker mid-drain with TASKS_PREFETCH=${prefetch}...\n`);
    results.push(await crash(prefetch));
  }
} finally {
  await postgres.stop();
}

const bound =
  defaults.heartbeatSeconds +
  defaults.monitorIntervalSeconds +
  2 * recordTask.retryDelaySeconds +
  defaults.pollIntervalSeconds;
report.finish(
  [
    `bench/tasks/crash: ${total} short tasks (one insert each), one worker with concurrency ${concurrency} killed with SIGKILL a quarter of the way, a second started at once`,
    `PostgreSQL: ${postgres.description}; heartbeat ${defaults.heartbeatSeconds} s, monitor ${defaults.monitorIntervalSeconds} s, poll ${defaults.pollIntervalSeconds} s, retry delay ${recordTask.retryDelaySeconds} s: documented bound ${bound} s`,
    '',
    '| claim mode | held by the dead worker | of which had run | ran twice | kill → all held completed (s) |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.prefetch === 0 ? 'free slots only (TASKS_PREFETCH=0)' : `claim ahead (TASKS_PREFETCH=${r.prefetch})`} | ${r.held} | ${r.ranBeforeKill} | ${r.reran} | ${fixed(r.recoverySeconds, 1)} |`,
    ),
    '',
    'Held: claimed (running, waiting in the local queue, or finished but not yet settled) when the worker died; they wait for their heartbeat to lapse.',
  ],
  {
    bench: 'tasks-crash',
    tasks: total,
    concurrency,
    bound_s: bound,
    modes: results.map((r) => ({
      prefetch: r.prefetch,
      held: r.held,
      ran_before_kill: r.ranBeforeKill,
      reran: r.reran,
      recovery_s: r.recoverySeconds,
    })),
  },
);
process.exit(0);
