import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineApp, defineTask, sql, z, type Kysely } from '@ballast/platform';
import { startTestBallast, waitFor, type TestBallast } from '@ballast/platform/testing';

type Tables = {
  run: { task: string; key: string; attempt: number; at: Date };
  switch: { name: string; on: boolean };
};

/** Every run is recorded in the app's own table, so the test reads what really happened. */
let db: Kysely<Tables>;

async function record(task: string, key: string, attempt: number): Promise<void> {
  await db.insertInto('run').values({ task, key, attempt, at: new Date() }).execute();
}

const recordTask = defineTask({
  name: 'probe.record',
  payload: z.object({ key: z.string().min(1) }),
  retries: 2,
  retryDelaySeconds: 1,
  handler: async (payload, ctx) => {
    ctx.log.info({ key: payload.key }, 'recording');
    await record('probe.record', payload.key, ctx.attempt);
  },
});

const receiptTask = defineTask({
  name: 'probe.send-receipt',
  payload: z.object({ paymentId: z.string() }),
  dedupeKey: (payload) => `payment:${payload.paymentId}`,
  handler: async (payload, ctx) => {
    await record('probe.send-receipt', payload.paymentId, ctx.attempt);
  },
});

/** Fails while its switch is off; records each attempt. */
const flakyTask = defineTask({
  name: 'probe.flaky',
  payload: z.object({ key: z.string() }),
  retries: 3,
  retryDelaySeconds: 1,
  handler: async (payload, ctx) => {
    await record('probe.flaky', payload.key, ctx.attempt);
    const row = await db.selectFrom('switch').select('on').where('name', '=', payload.key).executeTakeFirst();
    if (row?.on !== true) throw new Error(`downstream refused ${payload.key}`);
  },
});

const probeApp = defineApp({
  name: 'probe',
  title: 'Probe',
  summary: 'Tasks under test.',
  status: 'available',
  tasks: [recordTask, receiptTask, flakyTask],
});

let server: TestBallast;

async function runsOf(task: string, key: string) {
  return db.selectFrom('run').selectAll().where('task', '=', task).where('key', '=', key).orderBy('at').execute();
}

beforeAll(async () => {
  server = await startTestBallast({ apps: [probeApp], roles: ['web', 'worker'] });
  db = server.ballast.database.view<Tables>('probe');
  await sql`create schema if not exists probe`.execute(server.ballast.database.db);
  await sql`create table probe.run (task text not null, key text not null, attempt int not null, at timestamptz not null)`.execute(
    server.ballast.database.db,
  );
  await sql`create table probe.switch (name text primary key, "on" boolean not null)`.execute(
    server.ballast.database.db,
  );
});

afterAll(async () => {
  await server.close();
});

describe('enqueue', () => {
  it('runs a task enqueued in a transaction that commits, with a logger bound to the task id', async () => {
    const id = await server.ballast.database.transaction(async (tx) => {
      await sql`insert into probe.switch (name, "on") values ('committed', true)`.execute(tx.view('probe'));
      return server.ballast.tasks.enqueue('probe.record', { key: 'committed' }, { tx });
    });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(
      () => runsOf('probe.record', 'committed'),
      (runs) => runs.length === 1,
    );
    const line = server.logs.lines().find((entry) => entry['msg'] === 'recording' && entry['key'] === 'committed');
    expect(line).toMatchObject({ task: 'probe.record', taskId: id, attempt: 1 });
  });

  it('never runs a task enqueued in a transaction that rolls back', async () => {
    await expect(
      server.ballast.database.transaction(async (tx) => {
        await server.ballast.tasks.enqueue('probe.record', { key: 'rolled-back' }, { tx });
        throw new Error('business write failed');
      }),
    ).rejects.toThrow('business write failed');
    // A committed marker enqueued afterwards runs; by then the rolled-back one would have too.
    await server.ballast.tasks.enqueue('probe.record', { key: 'marker-after-rollback' });
    await waitFor(
      () => runsOf('probe.record', 'marker-after-rollback'),
      (runs) => runs.length === 1,
    );
    expect(await runsOf('probe.record', 'rolled-back')).toHaveLength(0);
    const stored = await sql<{
      count: string;
    }>`select count(*)::text as count from pgboss.job where data->>'key' = 'rolled-back'`.execute(
      server.ballast.database.db,
    );
    expect(stored.rows[0]?.count).toBe('0');
  });

  it('refuses a payload that does not match the task schema, naming the field', async () => {
    await expect(server.ballast.tasks.enqueue('probe.record', { key: '' })).rejects.toMatchObject({
      kind: 'invalid_input',
      code: 'tasks.invalid_payload',
      errors: [expect.objectContaining({ field: 'key' })],
    });
    await expect(server.ballast.tasks.enqueue('probe.unknown', {})).rejects.toThrow('unknown task probe.unknown');
  });

  it('runs a task enqueued twice with the same dedupe key once, even after the first completed', async () => {
    const first = await server.ballast.tasks.enqueue(receiptTask, { paymentId: 'pay_1' });
    expect(first).not.toBeNull();
    await waitFor(
      () => runsOf('probe.send-receipt', 'pay_1'),
      (runs) => runs.length === 1,
    );
    expect(await server.ballast.tasks.enqueue(receiptTask, { paymentId: 'pay_1' })).toBeNull();
    // Racing enqueues of a new key: exactly one wins.
    const raced = await Promise.all(
      Array.from({ length: 8 }, () => server.ballast.tasks.enqueue(receiptTask, { paymentId: 'pay_2' })),
    );
    expect(raced.filter((id) => id !== null)).toHaveLength(1);
    await waitFor(
      () => runsOf('probe.send-receipt', 'pay_2'),
      (runs) => runs.length === 1,
    );
    await sleep(1500);
    expect(await runsOf('probe.send-receipt', 'pay_1')).toHaveLength(1);
    expect(await runsOf('probe.send-receipt', 'pay_2')).toHaveLength(1);
  });
});

describe('enqueueMany', () => {
  it('stores a batch in the caller transaction: all of it when it commits, none when it rolls back', async () => {
    const keys = Array.from({ length: 50 }, (_, index) => ({ key: `batch-${index}` }));
    await expect(
      server.ballast.database.transaction(async (tx) => {
        await server.ballast.tasks.enqueueMany(recordTask, [{ key: 'never-batch' }], { tx });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await server.ballast.tasks.enqueueMany(recordTask, keys)).toBe(50);
    await waitFor(
      async () => (await db.selectFrom('run').select('key').where('key', 'like', 'batch-%').execute()).length,
      (count) => count === 50,
    );
    expect(await runsOf('probe.record', 'never-batch')).toHaveLength(0);
    await expect(server.ballast.tasks.enqueueMany(recordTask, [{ key: 'ok' }, { key: '' }])).rejects.toMatchObject({
      code: 'tasks.invalid_payload',
      errors: [expect.objectContaining({ field: '1.key' })],
    });
  });

  it('stores each dedupe key once, within a batch, across racing batches and against earlier enqueues', async () => {
    expect(await server.ballast.tasks.enqueue(receiptTask, { paymentId: 'many-0' })).not.toBeNull();
    const batch = Array.from({ length: 30 }, (_, index) => ({ paymentId: `many-${index % 10}` }));
    // Ten distinct keys, each three times in every batch; one was taken before; three batches race.
    const stored = await Promise.all([0, 1, 2].map(() => server.ballast.tasks.enqueueMany(receiptTask, batch)));
    expect(stored.reduce((sum, count) => sum + count, 0)).toBe(9);
    await waitFor(
      async () =>
        (
          await db
            .selectFrom('run')
            .select('key')
            .where('task', '=', 'probe.send-receipt')
            .where('key', 'like', 'many-%')
            .execute()
        ).length,
      (count) => count === 10,
    );
    await sleep(1500);
    for (let index = 0; index < 10; index++)
      expect(await runsOf('probe.send-receipt', `many-${index}`)).toHaveLength(1);
  });
});

describe('failures', () => {
  it('retries a failing task with growing delays, dead-letters it after the limit, and runs it again on requeue', async () => {
    await server.ballast.tasks.enqueue(flakyTask, { key: 'always-down' });
    // 1 run + 3 retries.
    const runs = await waitFor(
      () => runsOf('probe.flaky', 'always-down'),
      (rows) => rows.length === 4,
      60_000,
    );
    expect(runs.map((run) => run.attempt)).toEqual([1, 2, 3, 4]);
    const gaps = runs.slice(1).map((run, index) => run.at.getTime() - runs[index]!.at.getTime());
    // Backoff: each retry waits at least the base delay, and the last waits longer than the first.
    expect(gaps.every((gap) => gap >= 900)).toBe(true);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);

    const dead = await waitFor(
      () => server.ballast.tasks.deadLetters('probe.flaky'),
      (letters) => letters.length === 1,
    );
    expect(dead[0]).toMatchObject({
      task: 'probe.flaky',
      payload: { key: 'always-down' },
      lastError: 'downstream refused always-down',
      attempts: 4,
    });
    const stats = await server.ballast.tasks.stats();
    expect(stats.find((queue) => queue.task === 'probe.flaky')).toMatchObject({ deadLetters: 1 });

    // The operator fixes the downstream and requeues: it runs again and succeeds.
    await db.insertInto('switch').values({ name: 'always-down', on: true }).execute();
    expect(await server.ballast.tasks.retryDeadLetter(dead[0]!.id)).toBe(true);
    await waitFor(
      () => runsOf('probe.flaky', 'always-down'),
      (rows) => rows.length === 5,
    );
    await waitFor(
      () => server.ballast.tasks.deadLetters('probe.flaky'),
      (letters) => letters.length === 0,
    );
    expect(await server.ballast.tasks.retryDeadLetter(dead[0]!.id)).toBe(false);
  });

  it('discards a dead letter for good', async () => {
    await server.ballast.tasks.enqueue(flakyTask, { key: 'to-discard' });
    const dead = await waitFor(
      () => server.ballast.tasks.deadLetters('probe.flaky'),
      (letters) => letters.some((letter) => (letter.payload as { key: string }).key === 'to-discard'),
      60_000,
    );
    const letter = dead.find((item) => (item.payload as { key: string }).key === 'to-discard')!;
    expect(await server.ballast.tasks.discardDeadLetter(letter.id)).toBe(true);
    expect(await server.ballast.tasks.deadLetters('probe.flaky')).toHaveLength(0);
    expect(await server.ballast.tasks.discardDeadLetter(letter.id)).toBe(false);
  });
});

describe('operators', () => {
  it('shows queue depth, age and dead letters in /metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/tasks_queue_depth\{task="probe.record",state="waiting",role="web\+worker"\} \d+/);
    expect(text).toMatch(/tasks_oldest_waiting_seconds\{task="probe.flaky",role="web\+worker"\} \d+/);
    expect(text).toMatch(/tasks_dead_letters\{task="probe.flaky",role="web\+worker"\} 0/);
    expect(text).toMatch(/tasks_runs_total\{task="probe.record",outcome="completed",role="web\+worker"\} [1-9]/);
    expect(text).toMatch(/tasks_runs_total\{task="probe.flaky",outcome="failed",role="web\+worker"\} [1-9]/);
  });

  it('lists queues, the last hour and dead letters on the admin page', async () => {
    const response = await fetch(`${server.url}/admin/tasks`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).toContain('<h1>Background tasks</h1>');
    expect(page).toContain('data-task="probe.record"');
    expect(page).toMatch(/completed [1-9]\d*/);
    const api = (await (await fetch(`${server.url}/admin/api/tasks`)).json()) as { queues: { task: string }[] };
    expect(api.queues.map((queue) => queue.task).sort()).toEqual([
      'platform.deliver-notification',
      'platform.hash-stored-file',
      'platform.parse-document',
      'platform.purge-stored-files',
      'platform.sweep-stored-files',
      'probe.flaky',
      'probe.record',
      'probe.send-receipt',
    ]);
  });
});

describe('planner statistics', () => {
  it('analyses the job table pg-boss installs, and again after a first burst of 10,000 tasks into it', async () => {
    // No worker: the burst stays queued, as a new install's first import would.
    const quiet = await startTestBallast({ apps: [probeApp], roles: [], listen: false });
    try {
      const statistics = async () =>
        (
          await sql<{ analysed: boolean; rows: number; columns: string }>`
            select t.last_analyze is not null as analysed, c.reltuples::int as rows,
              (select count(*) from pg_stats s where s.schemaname = 'pgboss' and s.tablename = 'job_common')::text as columns
            from pg_stat_user_tables t join pg_class c on c.oid = t.relid
            where t.schemaname = 'pgboss' and t.relname = 'job_common'`.execute(quiet.ballast.database.db)
        ).rows[0];
      expect(await statistics()).toMatchObject({ analysed: true, columns: '0' });
      await quiet.ballast.tasks.enqueueMany(
        recordTask,
        Array.from({ length: 10_000 }, (_, index) => ({ key: `burst-${index}` })),
      );
      const after = await statistics();
      expect(after?.rows).toBeGreaterThanOrEqual(10_000);
      expect(Number(after?.columns)).toBeGreaterThan(0);
    } finally {
      await quiet.close();
    }
  });
});
