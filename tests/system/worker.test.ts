import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ballast/platform';
import { createBallast, type Ballast } from '@ballast/platform/host';
import { createTestDatabase, makeTempDir, type TestDatabase } from '@ballast/platform/testing';
import { chaosApp, workTask } from '../fixtures/chaos-app.ts';
import { runNode, type TestProcess } from '../support/process.ts';

let database: TestDatabase;
/** An in-test Ballast without web or worker: it migrates, enqueues and reads results. */
let control: Ballast;

/**
 * Longest a task whose worker died waits before it runs again (decision 012): its heartbeat lapses
 * (TASKS_HEARTBEAT_SECONDS), the next monitor pass fails it (TASKS_MONITOR_INTERVAL_SECONDS), its
 * first retry waits up to twice its retryDelaySeconds, and a poll claims it (TASKS_POLL_INTERVAL_SECONDS).
 */
const recoveryBoundSeconds = 10 + 2 + 2 * workTask.retryDelaySeconds + 1;

const workerEnv = () => ({
  DATABASE_URL: database.url,
  DATA_DIR: makeTempDir(),
  NODE_ENV: 'test',
  TASKS_CONCURRENCY: '4',
  TASKS_HEARTBEAT_SECONDS: '10',
  TASKS_MONITOR_INTERVAL_SECONDS: '2',
  TASKS_POLL_INTERVAL_SECONDS: '1',
  SHUTDOWN_TIMEOUT_MS: '10000',
});

/** Every worker a test started, so a failing test cannot leave one behind to steal the next test's tasks. */
const started: TestProcess[] = [];

async function startWorker(): Promise<TestProcess> {
  const worker = runNode('tests/fixtures/serve-chaos-worker.ts', [], workerEnv());
  started.push(worker);
  await worker.waitFor(/"msg":"task worker started"/);
  return worker;
}

async function count(query: ReturnType<typeof sql<{ count: string }>>): Promise<number> {
  return Number((await query.execute(control.database.db)).rows[0]?.count ?? 0);
}

async function waitUntil(read: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await read())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  database = await createTestDatabase();
  control = await createBallast({
    apps: [chaosApp],
    roles: [],
    env: { NODE_ENV: 'test', DATABASE_URL: database.url, DATA_DIR: makeTempDir(), LOG_LEVEL: 'warn' },
  });
});

afterEach(async () => {
  for (const worker of started.splice(0)) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker.exited;
  }
});

afterAll(async () => {
  await control.stop();
  await database.drop();
});

describe('ballast worker', () => {
  it('loses no task when workers are killed with SIGKILL mid-task, again and again', async () => {
    // About 10 s of work for 3 workers × 4 slots, so the kills land while tasks run.
    const total = 300;
    for (let index = 0; index < total; index++) {
      await control.tasks.enqueue(workTask, { key: `job-${index}`, ms: 200 + ((index * 37) % 400) });
    }
    const workers: TestProcess[] = await Promise.all([startWorker(), startWorker(), startWorker()]);
    let kills = 0;
    // Kill a random worker every ~1.5 s while the queue drains, and start a fresh one in its place.
    for (let round = 0; round < 6; round++) {
      await sleep(1500);
      const victim = Math.floor(Math.random() * workers.length);
      const worker = workers[victim]!;
      worker.child.kill('SIGKILL');
      await worker.exited;
      kills++;
      workers[victim] = await startWorker();
    }
    await waitUntil(
      async () => (await count(sql`select count(*)::text as count from chaos.done`)) === total,
      90_000,
      'every task to complete',
    );
    const lost = total - (await count(sql`select count(*)::text as count from chaos.done`));
    const ranMoreThanOnce = await count(
      sql`select count(*)::text as count from (select key from chaos.run group by key having count(*) > 1) as again`,
    );
    const deadLetters = (await control.tasks.deadLetters('chaos.work')).length;
    console.info(
      `no-lost-tasks: ${total} tasks, 3 workers, ${kills} SIGKILLs: lost ${lost}, ran more than once ${ranMoreThanOnce}, dead letters ${deadLetters}`,
    );
    expect(lost).toBe(0);
    expect(deadLetters).toBe(0);
    // Kills landed mid-task (at-least-once delivery shows as re-runs), yet each key completed once.
    expect(ranMoreThanOnce).toBeGreaterThan(0);
    for (const worker of workers) worker.child.kill('SIGTERM');
    for (const worker of workers) expect((await worker.exited).code).toBe(0);
  }, 180_000);

  it('runs the task of a worker killed with SIGKILL again on another worker, within the documented bound', async () => {
    const workers = await Promise.all([startWorker(), startWorker()]);
    await control.tasks.enqueue(workTask, { key: 'orphaned', ms: 30_000 });
    await waitUntil(
      async () => (await count(sql`select count(*)::text as count from chaos.run where key = 'orphaned'`)) === 1,
      30_000,
      'the task to start',
    );
    const pid = (
      await sql<{ pid: number }>`select pid from chaos.run where key = 'orphaned'`.execute(control.database.db)
    ).rows[0]!.pid;
    const victim = workers.find((worker) => worker.child.pid === pid)!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    // Loosely: twice the bound, as the machine may be busy; the figure is printed.
    await waitUntil(
      async () => (await count(sql`select count(*)::text as count from chaos.run where key = 'orphaned'`)) === 2,
      2 * recoveryBoundSeconds * 1000,
      `the task to run again within twice the ${recoveryBoundSeconds} s bound`,
    );
    console.info(
      `recovery after SIGKILL: ran again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (bound ${recoveryBoundSeconds} s)`,
    );
    const rerun = await sql<{ pid: number }>`select pid from chaos.run where key = 'orphaned' order by at`.execute(
      control.database.db,
    );
    expect(rerun.rows[1]?.pid).not.toBe(pid);
  }, 90_000);

  it('on SIGTERM stops claiming, finishes the running task and exits 0', async () => {
    const worker = await startWorker();
    await control.tasks.enqueue(workTask, { key: 'graceful-running', ms: 3000 });
    await worker.waitFor(/"key":"graceful-running","msg":"chaos work started"/);
    worker.child.kill('SIGTERM');
    await worker.waitFor(/signal received: shutting down gracefully/);
    // Enqueued after the signal: this worker must not claim it.
    await control.tasks.enqueue(workTask, { key: 'graceful-later', ms: 10 });
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(await count(sql`select count(*)::text as count from chaos.done where key = 'graceful-running'`)).toBe(1);
    expect(await count(sql`select count(*)::text as count from chaos.run where key = 'graceful-later'`)).toBe(0);

    // A fresh worker picks up what was left.
    const next = await startWorker();
    await waitUntil(
      async () => (await count(sql`select count(*)::text as count from chaos.done where key = 'graceful-later'`)) === 1,
      30_000,
      'the later task to run on the next worker',
    );
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  }, 60_000);

  it('on a second signal exits at once, and the aborted task runs again on another worker', async () => {
    const worker = await startWorker();
    await control.tasks.enqueue(workTask, { key: 'aborted', ms: 8000 });
    await worker.waitFor(/"key":"aborted","msg":"chaos work started"/);
    worker.child.kill('SIGTERM');
    await worker.waitFor(/signal received/);
    worker.child.kill('SIGINT');
    expect((await worker.exited).code).toBe(1);
    expect(await count(sql`select count(*)::text as count from chaos.done where key = 'aborted'`)).toBe(0);

    const next = await startWorker();
    await waitUntil(
      async () => (await count(sql`select count(*)::text as count from chaos.done where key = 'aborted'`)) === 1,
      60_000,
      'the aborted task to run again',
    );
    expect(await count(sql`select count(*)::text as count from chaos.run where key = 'aborted'`)).toBe(2);
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  }, 90_000);
});
