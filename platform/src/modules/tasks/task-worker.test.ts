import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentExternalError, defineApp, defineTask, sql, z, type TaskDefinition } from '@ballast/platform';
import { startTestBallast, waitFor, type TestBallast } from '@ballast/platform/testing';

/** Every handler start, in order: which task, which key, which attempt. */
const runs: { task: string; key: string; attempt: number }[] = [];
/** Handlers waiting for the test to let them return, by `key:attempt`. */
const gates = new Map<string, () => void>();

function gate(name: string): Promise<void> {
  return new Promise((resolve) => gates.set(name, resolve));
}

const runsOf = (task: string, key?: string) =>
  runs.filter((run) => run.task === task && (key === undefined || run.key === key));

async function jobOf(server: TestBallast, id: string) {
  const result = await sql<{ state: string; retry_count: number; started: boolean }>`
    select state::text as state, retry_count, started_on is not null as started
    from pgboss.job where id = ${id}::uuid`.execute(server.ballast.database.db);
  return result.rows[0];
}

/** Claim statements this process made for `task` so far, read from /metrics. */
async function claimStatements(server: TestBallast, task: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = new RegExp(
    `^tasks_claimed_per_fetch_count\\{[^}]*task="${task.replace('.', '\\.')}"[^}]*\\} (\\d+)$`,
    'm',
  );
  return Number(line.exec(text)?.[1] ?? 0);
}

/** A web and worker Ballast running `tasks` in a `probe` app (web for /metrics). */
function startWorker(tasks: TaskDefinition[], env: Record<string, string>): Promise<TestBallast> {
  return startTestBallast({
    apps: [defineApp({ name: 'probe', title: 'Probe', summary: 'Tasks under test.', status: 'available', tasks })],
    roles: ['web', 'worker'],
    env,
  });
}

function recording(name: string, options: { prefetch?: number } = {}) {
  return defineTask({
    name,
    payload: z.object({ key: z.string() }),
    ...options,
    handler: async (payload, ctx) => {
      runs.push({ task: name, key: payload.key, attempt: ctx.attempt });
    },
  });
}

describe('one task at a time (TASKS_CONCURRENCY=1) with a poll far away', () => {
  const oneAtATime = recording('probe.one-at-a-time', { prefetch: 0 });
  const claimedAhead = recording('probe.claimed-ahead');
  /** 20 ahead, runs of 3 ms: each slot frees long after a claim statement would have returned. */
  const fewAhead = defineTask({
    name: 'probe.few-ahead',
    payload: z.object({ key: z.string() }),
    prefetch: 20,
    handler: async (payload, ctx) => {
      await sleep(3);
      runs.push({ task: 'probe.few-ahead', key: payload.key, attempt: ctx.attempt });
    },
  });
  let server: TestBallast;

  beforeAll(async () => {
    // A poll every 300 s: a backlog that drains in seconds cannot have waited for it.
    server = await startWorker([oneAtATime, claimedAhead, fewAhead], {
      TASKS_CONCURRENCY: '1',
      TASKS_POLL_INTERVAL_SECONDS: '300',
    });
  });

  afterAll(async () => {
    await server.close();
  });

  /**
   * Runs one task of `task` (so the worker is idle and has measured a run), then enqueues
   * `total` more in one statement (one NOTIFY) and waits for all to run; resolves with the
   * claim statements the backlog took. With a 300 s poll, 20 polls apart would take 100 minutes.
   */
  async function drainBacklog(task: TaskDefinition, total: number): Promise<number> {
    await server.ballast.tasks.enqueue(task, { key: 'first' });
    await waitFor(
      () => runsOf(task.name).length,
      (count) => count === 1,
    );
    const claimsBefore = await claimStatements(server, task.name);
    await server.ballast.tasks.enqueueMany(
      task,
      Array.from({ length: total }, (_, index) => ({ key: `backlog-${index}` })),
    );
    await waitFor(
      () => runsOf(task.name).length,
      (count) => count === total + 1,
      45_000,
    );
    return (await claimStatements(server, task.name)) - claimsBefore;
  }

  it('drains a backlog claiming the next task as soon as the slot frees, one statement per task', async () => {
    const claims = await drainBacklog(oneAtATime, 20);
    // One claim per task, started when the previous one finished, plus the claim that found none.
    expect(claims).toBeGreaterThanOrEqual(20);
    expect(claims).toBeLessThanOrEqual(22);
  });

  it('claims a short task kind ahead of its one slot, in a few statements', async () => {
    const claims = await drainBacklog(claimedAhead, 50);
    expect(claims).toBeGreaterThanOrEqual(1);
    expect(claims).toBeLessThan(50 / 4);
  });

  it('claims again once half its room ahead is free, not as each task finishes', async () => {
    // 20 ahead: after the first claim, a claim of at least 10 each time the queue runs that low.
    const claims = await drainBacklog(fewAhead, 300);
    expect(claims).toBeGreaterThanOrEqual(300 / 21);
    expect(claims).toBeLessThanOrEqual(300 / 10 + 2);
  });
});

describe('the task worker', () => {
  let server: TestBallast;
  let running = 0;
  let mostRunning = 0;

  /** Two slots; one run ignores its 1 s timeout and holds its slot for 2.5 s. */
  const boundedTask = defineTask({
    name: 'probe.bounded',
    payload: z.object({ key: z.string(), hang: z.boolean() }),
    concurrency: 2,
    retries: 0,
    timeoutSeconds: 1,
    handler: async (payload) => {
      running++;
      mostRunning = Math.max(mostRunning, running);
      runs.push({ task: 'probe.bounded', key: payload.key, attempt: 1 });
      await sleep(payload.hang ? 2500 : 20);
      running--;
    },
  });

  /** Waits for its gate (`key:attempt`) unless the key says `quick`. */
  const gated = (name: string, concurrency: number) =>
    defineTask({
      name,
      payload: z.object({ key: z.string() }),
      concurrency,
      retries: 3,
      retryDelaySeconds: 1,
      handler: async (payload, ctx) => {
        runs.push({ task: name, key: payload.key, attempt: ctx.attempt });
        if (!payload.key.startsWith('quick')) await gate(`${payload.key}:${ctx.attempt}`);
      },
    });
  const gatedTask = gated('probe.gated', 3);
  const pairedTask = gated('probe.paired', 2);

  /** One slot and a 6 s claim (1 s timeout + 5 s): a queued task is handed back after 3 s. */
  const heldTask = defineTask({
    name: 'probe.held',
    payload: z.object({ key: z.string() }),
    concurrency: 1,
    prefetch: 5,
    retries: 0,
    timeoutSeconds: 1,
    handler: async (payload, ctx) => {
      runs.push({ task: 'probe.held', key: payload.key, attempt: ctx.attempt });
      // The blocker ignores its timeout and keeps the slot until the test lets it go.
      if (payload.key === 'blocker') await gate('blocker:1');
    },
  });

  const strictTask = defineTask({
    name: 'probe.strict',
    payload: z.object({ n: z.number() }),
    retries: 3,
    handler: async (payload) => {
      runs.push({ task: 'probe.strict', key: String(payload.n), attempt: 1 });
      if (payload.n < 0) throw new PermanentExternalError('probe', 'the provider refused this for good');
    },
  });

  beforeAll(async () => {
    server = await startWorker([boundedTask, gatedTask, pairedTask, heldTask, strictTask], {
      TASKS_POLL_INTERVAL_SECONDS: '1',
    });
  });

  afterAll(async () => {
    for (const open of gates.values()) open();
    await server.close();
  });

  it('never runs more handlers of a kind than its concurrency, even while a timed-out one is still running', async () => {
    await server.ballast.tasks.enqueue(boundedTask, { key: 'hang', hang: true });
    await server.ballast.tasks.enqueueMany(
      boundedTask,
      Array.from({ length: 40 }, (_, index) => ({ key: `short-${index}`, hang: false })),
    );
    await waitFor(
      () => runsOf('probe.bounded').length,
      (count) => count === 41,
    );
    await waitFor(
      () => running,
      (count) => count === 0,
    );
    expect(mostRunning).toBe(2);
    // The run that outlived its timeout was failed (to the dead letters: no retries), once.
    const dead = await waitFor(
      () => server.ballast.tasks.deadLetters('probe.bounded'),
      (letters) => letters.length === 1,
    );
    expect(dead[0]).toMatchObject({ payload: { key: 'hang' }, lastError: 'task timed out after 1 s', attempts: 1 });
  });

  it('settles a finished task at once while a task claimed with it still runs', async () => {
    // Stored together, so one claim statement takes both.
    await server.ballast.tasks.enqueueMany(pairedTask, [{ key: 'slow' }, { key: 'quick-beside-slow' }]);
    const ids = await sql<{ id: string; key: string }>`
      select id::text, data->>'key' as key from pgboss.job where name = 'probe.paired'`.execute(
      server.ballast.database.db,
    );
    const idOf = (key: string) => ids.rows.find((row) => row.key === key)!.id;
    await waitFor(
      () => runsOf('probe.paired', 'slow').length,
      (count) => count === 1,
    );
    await waitFor(
      () => jobOf(server, idOf('quick-beside-slow')),
      (job) => job?.state === 'completed',
    );
    expect((await jobOf(server, idOf('slow')))?.state).toBe('active');
    gates.get('slow:1')!();
    await waitFor(
      () => jobOf(server, idOf('slow')),
      (job) => job?.state === 'completed',
    );
  });

  it('leaves a newer attempt alone when a run whose claim lapsed completes late', async () => {
    const id = (await server.ballast.tasks.enqueue(gatedTask, { key: 'fenced' }))!;
    await waitFor(
      () => runsOf('probe.gated', 'fenced').length,
      (count) => count === 1,
    );
    // What pg-boss's supervisor does to a claim whose heartbeat lapsed: the task is retried.
    await sql`update pgboss.job set state = 'retry', start_after = now() where id = ${id}::uuid`.execute(
      server.ballast.database.db,
    );
    await waitFor(
      () => runsOf('probe.gated', 'fenced').length,
      (count) => count === 2,
    );
    expect(runsOf('probe.gated', 'fenced').map((run) => run.attempt)).toEqual([1, 2]);

    // The first run returns now; its completion is fenced to attempt 1.
    gates.get('fenced:1')!();
    // Settlements of a kind are written in order: once a later task's has landed, the first run's has.
    const marker = (await server.ballast.tasks.enqueue(gatedTask, { key: 'quick-after-fenced' }))!;
    await waitFor(
      () => jobOf(server, marker),
      (job) => job?.state === 'completed',
    );
    expect(await jobOf(server, id)).toMatchObject({ state: 'active', retry_count: 1 });

    gates.get('fenced:2')!();
    await waitFor(
      () => jobOf(server, id),
      (job) => job?.state === 'completed',
    );
    expect(runsOf('probe.gated', 'fenced')).toHaveLength(2);
  });

  it('hands a claimed task back unstarted once it has waited half its expiry for a slot', async () => {
    for (const key of ['warm-1', 'warm-2', 'warm-3']) await server.ballast.tasks.enqueue(heldTask, { key });
    await waitFor(
      () => runsOf('probe.held').length,
      (count) => count === 3,
    );
    await server.ballast.tasks.enqueue(heldTask, { key: 'blocker' });
    await waitFor(
      () => runsOf('probe.held', 'blocker').length,
      (count) => count === 1,
    );
    const id = (await server.ballast.tasks.enqueue(heldTask, { key: 'waiting' }))!;
    // Claimed ahead of the busy slot, then handed back: queued again, with a claim behind it.
    await waitFor(
      () => jobOf(server, id),
      (job) => job?.state === 'created' && job.started,
      20_000,
    );
    expect(runsOf('probe.held', 'waiting')).toHaveLength(0);
    expect(server.logs.lines().some((line) => String(line['msg']).includes('handed back unstarted'))).toBe(true);

    gates.get('blocker:1')!();
    await waitFor(
      () => runsOf('probe.held', 'waiting').length,
      (count) => count === 1,
    );
    await waitFor(
      () => jobOf(server, id),
      (job) => job?.state === 'completed',
    );
    expect(runsOf('probe.held', 'waiting')).toHaveLength(1);
  });

  it('dead-letters after one attempt a stored payload that no longer validates, without running it', async () => {
    const id = (await server.ballast.tasks.enqueue(strictTask, { n: 1 }, { runAt: new Date(Date.now() + 3_600_000) }))!;
    // As if the task's schema changed between the enqueue and the run.
    await sql`update pgboss.job set data = '{"n":"one"}', start_after = now() where id = ${id}::uuid`.execute(
      server.ballast.database.db,
    );
    const dead = await waitFor(
      () => server.ballast.tasks.deadLetters('probe.strict'),
      (letters) => letters.some((letter) => letter.lastError.startsWith('invalid payload')),
    );
    expect(dead.find((letter) => letter.lastError.startsWith('invalid payload'))).toMatchObject({
      payload: { n: 'one' },
      attempts: 1,
    });
    expect(runsOf('probe.strict')).toHaveLength(0);
    expect(await jobOf(server, id)).toMatchObject({ state: 'failed', retry_count: 0 });
  });

  it('dead-letters after one attempt a task refused permanently by a provider', async () => {
    const id = (await server.ballast.tasks.enqueue(strictTask, { n: -1 }))!;
    const dead = await waitFor(
      () => server.ballast.tasks.deadLetters('probe.strict'),
      (letters) => letters.some((letter) => letter.lastError === 'the provider refused this for good'),
    );
    expect(dead.find((letter) => letter.lastError === 'the provider refused this for good')).toMatchObject({
      payload: { n: -1 },
      attempts: 1,
    });
    expect(runsOf('probe.strict', '-1')).toHaveLength(1);
    expect(await jobOf(server, id)).toMatchObject({ state: 'failed', retry_count: 0 });
  });
});
