import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyLedgerChange, sql, type Kysely } from '@ballast/platform';
import {
  createTestDatabase,
  createTestUser,
  testSigningKeys,
  startTestBallast,
  type TestBallast,
  type TestUser,
} from '@ballast/platform/testing';
import type { AppDefinition } from '@ballast/platform';
import coachApp from '../app.ts';

const coach = coachApp as AppDefinition;

/** The JSON answers these tests read. */
interface Answer {
  readonly [key: string]: unknown;
  readonly call: { readonly id: string; readonly meteredSeconds: number };
}

/**
 * Calls metered by heartbeat against a real server: refusal without talk-time, exact debits under
 * concurrent heartbeats and hang-ups, the warning before the balance runs out, the gap that ends
 * a call, and a call that survives its web process restarting.
 */
const redisUrl = inject('redisUrl');
// Short timings so the gap and the warning happen within a test (the defaults are 10 s and 60 s).
const fast = { METERING_HEARTBEAT_GAP_SECONDS: '2', METERING_WARNING_SECONDS: '5', METERING_FLUSH_SECONDS: '1' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(server: TestBallast, method: string, path: string, user: TestUser, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...user.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer };
}

async function credit(server: TestBallast, user: TestUser, seconds: number) {
  await applyLedgerChange(server.ballast.database.db, {
    userId: user.id,
    app: 'coach',
    unit: 'seconds',
    kind: 'purchase',
    amount: seconds,
    idempotencyKey: `test-credit:${user.id}:${seconds}`,
  });
}

async function usage(server: TestBallast, userId: string) {
  const db = server.ballast.database.db as unknown as Kysely<unknown>;
  const rows = await sql<{ total: string | null; n: string }>`select sum(-amount)::text as total, count(*)::text as n
    from platform.ledger_entry where user_id = ${userId}::uuid and kind = 'usage'`.execute(db);
  return { seconds: Number(rows.rows[0]!.total ?? 0), entries: Number(rows.rows[0]!.n) };
}

async function sessionRow(server: TestBallast, id: string) {
  const db = server.ballast.database.db as unknown as Kysely<unknown>;
  const rows = await sql<{
    metered_seconds: number;
    started_at: Date;
    ended_at: Date | null;
    end_reason: string | null;
    status: string;
  }>`select metered_seconds, started_at, ended_at, end_reason, status from platform.metered_session
    where id = ${id}::uuid`.execute(db);
  return rows.rows[0]!;
}

async function balance(server: TestBallast, user: TestUser) {
  return (await call(server, 'GET', '/api/payments/coach/balance', user)).body['balance'];
}

describe('calls metered by heartbeat', () => {
  let server: TestBallast;
  beforeAll(async () => {
    server = await startTestBallast({ apps: [coach], env: fast });
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses to start a call without talk-time, saying so', async () => {
    const user = await createTestUser(server.ballast, 'broke@example.com');
    const refused = await call(server, 'POST', '/api/coach/calls', user);
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 'coach.insufficient_talktime' });
    expect(refused.body['detail']).toMatch(/buy a pack/);
  });

  it('debits exactly the metered seconds under concurrent heartbeats and hang-ups, once', async () => {
    const user = await createTestUser(server.ballast, 'exact@example.com');
    await credit(server, user, 600);
    const started = await call(server, 'POST', '/api/coach/calls', user);
    expect(started.status).toBe(201);
    expect(started.body['voice']).toMatchObject({ mode: 'local' });
    const id = started.body.call.id;
    for (let round = 0; round < 6; round += 1) {
      const beats = await Promise.all(
        Array.from({ length: 8 }, () => call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user)),
      );
      for (const beat of beats) expect(beat.body).toMatchObject({ status: 'active' });
      await sleep(450);
    }
    const ends = await Promise.all(
      Array.from({ length: 5 }, () => call(server, 'POST', `/api/coach/calls/${id}/end`, user, {})),
    );
    for (const end of ends) expect(end.status).toBe(200);
    const row = await sessionRow(server, id);
    expect(row.status).toBe('ended');
    expect(row.end_reason).toBe('hung_up');
    // Metered from the start to the hang-up (it came within the gap), to the second.
    expect(row.metered_seconds).toBe(Math.floor((row.ended_at!.getTime() - row.started_at.getTime()) / 1000));
    expect(row.metered_seconds).toBeGreaterThanOrEqual(2);
    const used = await usage(server, user.id);
    expect(used.seconds).toBe(row.metered_seconds);
    expect(await balance(server, user)).toBe(600 - row.metered_seconds);
    // Every answer to the racing hang-ups reports the same call.
    expect(new Set(ends.map((end) => end.body.call.meteredSeconds))).toEqual(new Set([row.metered_seconds]));
  });

  it("bills a hang-up up to the caller's own measure after their last heartbeat, never past its arrival", async () => {
    const user = await createTestUser(server.ballast, 'measured@example.com');
    await credit(server, user, 600);
    const id = (await call(server, 'POST', '/api/coach/calls', user)).body.call.id;
    let sent = 0;
    let answered = 0;
    for (let beat = 0; beat < 6; beat += 1) {
      sent = Date.now();
      expect((await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user)).body).toMatchObject({
        status: 'active',
      });
      answered = Date.now();
      await sleep(400);
    }
    // The hang-up reaches the server 1.5 s after the caller says they hung up (as a request
    // queued behind others would); it is billed to the caller's moment, not its arrival.
    await sleep(1500 - 400);
    const refused = await call(server, 'POST', `/api/coach/calls/${id}/end`, user, { sinceLastBeatMs: -1 });
    expect(refused.status).toBe(400);
    const ended = await call(server, 'POST', `/api/coach/calls/${id}/end`, user, { sinceLastBeatMs: 0 });
    expect(ended.status).toBe(200);
    const row = await sessionRow(server, id);
    expect(row.end_reason).toBe('hung_up');
    const started = row.started_at.getTime();
    expect(row.metered_seconds).toBeGreaterThanOrEqual(Math.floor((sent - started) / 1000));
    expect(row.metered_seconds).toBeLessThanOrEqual(Math.floor((answered - started) / 1000));
    expect(Math.floor((row.ended_at!.getTime() - started) / 1000)).toBeGreaterThan(row.metered_seconds);
    expect((await usage(server, user.id)).seconds).toBe(row.metered_seconds);

    // A caller's measure cannot stretch the bill past the hang-up's arrival.
    const other = await createTestUser(server.ballast, 'stretch@example.com');
    await credit(server, other, 600);
    const second = (await call(server, 'POST', '/api/coach/calls', other)).body.call.id;
    for (let beat = 0; beat < 3; beat += 1) {
      await call(server, 'POST', `/api/coach/calls/${second}/heartbeat`, other);
      await sleep(400);
    }
    await call(server, 'POST', `/api/coach/calls/${second}/end`, other, { sinceLastBeatMs: 3_600_000 });
    const stretched = await sessionRow(server, second);
    expect(stretched.metered_seconds).toBe(
      Math.floor((stretched.ended_at!.getTime() - stretched.started_at.getTime()) / 1000),
    );
  });

  it('warns before the balance runs out, then ends the call when it does', async () => {
    const user = await createTestUser(server.ballast, 'short@example.com');
    await credit(server, user, 7);
    const id = (await call(server, 'POST', '/api/coach/calls', user)).body.call.id;
    const answers: Answer[] = [];
    for (let beat = 0; beat < 20; beat += 1) {
      const answer = (await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user)).body;
      answers.push(answer);
      if (answer['status'] === 'ended') break;
      await sleep(500);
    }
    const firstWarning = answers.findIndex((answer) => answer['warning'] === true);
    const ended = answers.findIndex((answer) => answer['status'] === 'ended');
    expect(firstWarning).toBeGreaterThanOrEqual(0);
    expect(answers[firstWarning]!['status']).toBe('active');
    expect(ended).toBeGreaterThan(firstWarning);
    expect(answers[ended]).toMatchObject({ endReason: 'balance_exhausted', remainingSeconds: 0 });
    const row = await sessionRow(server, id);
    expect(row).toMatchObject({ status: 'ended', end_reason: 'balance_exhausted', metered_seconds: 7 });
    expect(await balance(server, user)).toBe(0);
    expect((await usage(server, user.id)).seconds).toBe(7);
  });

  it('ends a call whose heartbeats stop for longer than the gap, billing up to the last heartbeat', async () => {
    const user = await createTestUser(server.ballast, 'gone@example.com');
    await credit(server, user, 300);
    const id = (await call(server, 'POST', '/api/coach/calls', user)).body.call.id;
    await sleep(1200);
    const last = await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user);
    expect(last.body['status']).toBe('active');
    await sleep(4000);
    const row = await sessionRow(server, id);
    expect(row).toMatchObject({ status: 'ended', end_reason: 'heartbeat_lost', metered_seconds: 1 });
    expect(await balance(server, user)).toBe(299);
    const late = await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user);
    expect(late.body).toMatchObject({ status: 'ended', endReason: 'heartbeat_lost' });
  });

  it('does not let one user beat, end or see another user’s call', async () => {
    const owner = await createTestUser(server.ballast, 'owner@example.com');
    const other = await createTestUser(server.ballast, 'other@example.com');
    await credit(server, owner, 60);
    const id = (await call(server, 'POST', '/api/coach/calls', owner)).body.call.id;
    expect((await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, other)).status).toBe(404);
    expect((await call(server, 'POST', `/api/coach/calls/${id}/end`, other, {})).status).toBe(404);
    expect((await call(server, 'GET', '/api/coach/calls', other)).body['calls']).toEqual([]);
    expect((await call(server, 'POST', `/api/coach/calls/${id}/end`, owner, {})).status).toBe(200);
  });
});

describe('a call across a web-process restart', () => {
  it('keeps the call when its heartbeats reach the restarted process (state in Redis)', async (ctx) => {
    if (redisUrl === '') ctx.skip('Redis is not reachable');
    const database = await createTestDatabase();
    // Both processes verify the same tokens: the signing keys come from settings, as in production.
    const env = {
      ...fast,
      METERING_HEARTBEAT_GAP_SECONDS: '4',
      REDIS_URL: redisUrl,
      AUTH_SIGNING_KEYS: await testSigningKeys(),
    };
    let first: TestBallast | undefined = await startTestBallast({ apps: [coach], env, databaseUrl: database.url });
    let second: TestBallast | undefined;
    try {
      const user = await createTestUser(first.ballast, 'restart@example.com');
      await credit(first, user, 120);
      const id = (await call(first, 'POST', '/api/coach/calls', user)).body.call.id;
      await sleep(1100);
      expect((await call(first, 'POST', `/api/coach/calls/${id}/heartbeat`, user)).body['status']).toBe('active');
      await first.close();
      first = undefined;
      second = await startTestBallast({ apps: [coach], env, databaseUrl: database.url });
      for (let beat = 0; beat < 3; beat += 1) {
        const answer = await call(second, 'POST', `/api/coach/calls/${id}/heartbeat`, user);
        expect(answer.body).toMatchObject({ status: 'active' });
        await sleep(700);
      }
      const ended = await call(second, 'POST', `/api/coach/calls/${id}/end`, user, {});
      const row = await sessionRow(second, id);
      expect(row.end_reason).toBe('hung_up');
      expect(row.metered_seconds).toBe(Math.floor((row.ended_at!.getTime() - row.started_at.getTime()) / 1000));
      expect(ended.body.call.meteredSeconds).toBe(row.metered_seconds);
      expect((await usage(second, user.id)).seconds).toBe(row.metered_seconds);
    } finally {
      await first?.close();
      await second?.close();
      await database.drop();
    }
  });
});
