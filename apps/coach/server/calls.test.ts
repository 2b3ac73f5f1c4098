import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PLATFORM_ADMIN, sql } from '@ballast/platform';
import {
  applyTestLedgerChange,
  createTestDatabase,
  createTestUser,
  testSigningKeys,
  startTestBallast,
  type TestBallast,
  type TestUser,
} from '@ballast/platform/testing';
import type { AppDefinition } from '@ballast/platform';
import coachApp from '../app.ts';
import { signElevenLabsWebhook } from './providers/elevenlabs.ts';
import { startFakeElevenLabs, type FakeElevenLabs } from './testing/elevenlabs-server.ts';
import { waitFor } from './testing/wait-for.ts';

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

async function credit(server: TestBallast, user: TestUser, seconds: number, purchase = 'first') {
  await applyTestLedgerChange(server.ballast, {
    userId: user.id,
    app: 'coach',
    unit: 'seconds',
    kind: 'purchase',
    amount: seconds,
    idempotencyKey: `test-credit:${user.id}:${seconds}:${purchase}`,
  });
}

async function usage(server: TestBallast, userId: string) {
  const db = server.ballast.database.db;
  const rows = await sql<{ total: string | null; n: string }>`select sum(-amount)::text as total, count(*)::text as n
    from platform.ledger_entry where user_id = ${userId}::uuid and kind = 'usage'`.execute(db);
  return { seconds: Number(rows.rows[0]!.total ?? 0), entries: Number(rows.rows[0]!.n) };
}

async function sessionRow(server: TestBallast, id: string) {
  const db = server.ballast.database.db;
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

  it('keeps local voice mode as it was: a second start resumes the same call with the coach’s lines', async () => {
    const user = await createTestUser(server.ballast, 'local-again@example.com');
    await credit(server, user, 120);
    const first = await call(server, 'POST', '/api/coach/calls', user);
    const again = await call(server, 'POST', '/api/coach/calls', user);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.call.id).toBe(first.body.call.id);
    expect(again.body).toMatchObject({ resumed: true, voice: { mode: 'local' } });
    expect((again.body['voice'] as { lines: string[] }).lines.length).toBeGreaterThan(0);
    await sleep(1100);
    await call(server, 'POST', `/api/coach/calls/${first.body.call.id}/heartbeat`, user);
    const ended = await call(server, 'POST', `/api/coach/calls/${first.body.call.id}/end`, user, {});
    expect(ended.body.call.meteredSeconds).toBeGreaterThanOrEqual(1);
    expect((await usage(server, user.id)).seconds).toBe(ended.body.call.meteredSeconds);
    expect((await call(server, 'GET', '/api/coach/calls', user)).body['unsettledSeconds']).toBe(0);
  });

  it('answers the live call to a reloaded page, resumes only that call, and says why it ended when it has', async () => {
    const user = await createTestUser(server.ballast, 'reload@example.com');
    const other = await createTestUser(server.ballast, 'reload-other@example.com');
    await credit(server, user, 300);
    expect((await call(server, 'GET', '/api/coach/calls/current', user)).body).toEqual({ call: null });
    const id = (await call(server, 'POST', '/api/coach/calls', user)).body.call.id;
    const current = await call(server, 'GET', '/api/coach/calls/current', user);
    expect(current.status).toBe(200);
    expect(current.body.call).toMatchObject({ id, status: 'active', maxSeconds: 300 });
    // Another user sees no live call, and cannot resume this one.
    expect((await call(server, 'GET', '/api/coach/calls/current', other)).body).toEqual({ call: null });
    expect((await call(server, 'POST', '/api/coach/calls', other, { resume: id })).status).toBe(404);
    expect((await call(server, 'POST', '/api/coach/calls', user, { resume: 'not-a-uuid' })).status).toBe(400);

    // The resume is a heartbeat: past the 2 s gap in all, the call stays alive, and the answer
    // carries the time used as of now.
    await sleep(1500);
    const resumed = await call(server, 'POST', '/api/coach/calls', user, { resume: id });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ resumed: true, call: { id, status: 'active', meteredSeconds: 1 } });
    expect(resumed.body['voice']).toMatchObject({ mode: 'local' });
    await sleep(1500);
    expect((await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user)).body['status']).toBe('active');

    // Left silent past the gap, the server ends it: a resume then says so and starts nothing.
    await sleep(3500);
    const late = await call(server, 'POST', '/api/coach/calls', user, { resume: id });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({
      code: 'coach.call_ended',
      details: { endReason: 'heartbeat_lost', meteredSeconds: 3 },
    });
    expect(late.body['detail']).toMatch(/already ended: The connection was lost/);
    expect((await call(server, 'GET', '/api/coach/calls/current', user)).body).toEqual({ call: null });
    expect((await call(server, 'GET', '/api/coach/calls', user)).body['calls']).toHaveLength(1);
  });

  it('never turns a resume racing a hang-up into a new call', async () => {
    const user = await createTestUser(server.ballast, 'resume-race@example.com');
    await credit(server, user, 300);
    const id = (await call(server, 'POST', '/api/coach/calls', user)).body.call.id;
    await sleep(1100);
    const [resumed, ended] = await Promise.all([
      call(server, 'POST', '/api/coach/calls', user, { resume: id }),
      call(server, 'POST', `/api/coach/calls/${id}/end`, user, {}),
    ]);
    expect(ended.status).toBe(200);
    expect([200, 409]).toContain(resumed.status);
    if (resumed.status === 200) expect(resumed.body.call.id).toBe(id);
    const sessions = (await call(server, 'GET', '/api/coach/calls', user)).body['calls'] as { status: string }[];
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.status).toBe('ended');
    expect((await usage(server, user.id)).seconds).toBe(ended.body.call.meteredSeconds);
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

describe('calls in ElevenLabs mode, billed from ElevenLabs’ own record of the conversation', () => {
  let server: TestBallast;
  let eleven: FakeElevenLabs;
  beforeAll(async () => {
    eleven = await startFakeElevenLabs();
    server = await startTestBallast({
      apps: [coach],
      roles: ['web', 'worker'],
      env: {
        ...fast,
        COACH_ELEVENLABS_API_KEY: eleven.apiKey,
        COACH_ELEVENLABS_AGENT_ID: eleven.agentId,
        COACH_ELEVENLABS_API_URL: eleven.url,
        COACH_ELEVENLABS_WEBHOOK_SECRET: eleven.webhookSecret,
        COACH_ELEVENLABS_SETTLE_AFTER_SECONDS: '1',
        TASKS_POLL_INTERVAL_SECONDS: '1',
      },
    });
  });
  afterAll(async () => {
    await server.close();
    await eleven.close();
  });

  /** Starts a call; resolves with the answer and the conversation its signed URL opens. */
  async function start(user: TestUser) {
    const before = eleven.issued.length;
    const answer = await call(server, 'POST', '/api/coach/calls', user);
    expect(answer.status).toBe(201);
    expect(eleven.issued).toHaveLength(before + 1);
    return { id: answer.body.call.id, conversation: eleven.issued.at(-1)!, answer };
  }

  /**
   * A call the caller hangs up at once (0 s metered) while, on its conversation, they talk with
   * the agent for `talked` seconds.
   */
  async function hungUpButTalked(email: string, talkTime: number, talked: number) {
    const user = await createTestUser(server.ballast, email);
    await credit(server, user, talkTime);
    const { id, conversation } = await start(user);
    await call(server, 'POST', `/api/coach/calls/${id}/end`, user, {});
    eleven.talk(conversation);
    eleven.hangUp(conversation, talked);
    return { user, id, conversation };
  }

  async function postWebhook(conversationId: string) {
    const delivery = eleven.webhook(conversationId);
    const response = await fetch(`${server.url}/api/coach/webhooks/elevenlabs`, {
      method: 'POST',
      headers: delivery.headers,
      body: delivery.body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** Waits until the task that asks ElevenLabs after the call has run (its first run). */
  async function settled(sessionId: string) {
    const db = server.ballast.database.db;
    await waitFor(async () => {
      const done = await sql<{ n: string }>`select count(*)::text as n from pgboss.job
        where name = 'coach.settle-call' and singleton_key = ${`settle-call:${sessionId}:1`} and state = 'completed'`.execute(
        db,
      );
      return Number(done.rows[0]!.n) > 0 ? true : undefined;
    }, 'the settle task');
  }

  it('bills a call whose browser never heartbeats for what ElevenLabs says was talked', async () => {
    const user = await createTestUser(server.ballast, 'silent@example.com');
    await credit(server, user, 600);
    const { id, conversation, answer } = await start(user);
    expect(answer.body['voice']).toMatchObject({ mode: 'elevenlabs' });
    expect((answer.body['voice'] as { signedUrl: string }).signedUrl).toMatch(/^wss:.*conversation_signature=/);
    // The browser talks with the agent for 95 s and never heartbeats; no webhook comes.
    eleven.talk(conversation);
    eleven.hangUp(conversation, 95);
    const billed = await waitFor(async () => {
      const used = await usage(server, user.id);
      return used.seconds > 0 ? used : undefined;
    }, 'the call to be billed');
    expect(billed.seconds).toBe(95);
    const row = await sessionRow(server, id);
    expect(row).toMatchObject({ status: 'ended', end_reason: 'heartbeat_lost', metered_seconds: 0 });
    expect(await balance(server, user)).toBe(505);
    expect(eleven.requests).toContain(`GET /v1/convai/conversations/${conversation}`);
    await settled(id);
    // The webhook comes after all: recorded already, nothing more is charged.
    expect((await postWebhook(conversation)).body).toEqual({ outcome: 'duplicate' });
    expect((await usage(server, user.id)).seconds).toBe(95);
  });

  it('gives a caller who starts three times one call and one conversation, billed for what ElevenLabs says', async () => {
    const user = await createTestUser(server.ballast, 'thrice@example.com');
    await credit(server, user, 600);
    const before = eleven.issued.length;
    const starts = await Promise.all(Array.from({ length: 3 }, () => call(server, 'POST', '/api/coach/calls', user)));
    expect(starts.map((answer) => answer.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(starts.map((answer) => answer.body.call.id)).size).toBe(1);
    // One conversation: every answer carries the same single-use URL.
    expect(eleven.issued).toHaveLength(before + 1);
    expect(new Set(starts.map((answer) => (answer.body['voice'] as { signedUrl: string }).signedUrl)).size).toBe(1);
    const id = starts[0]!.body.call.id;
    const conversation = eleven.issued.at(-1)!;
    // Once the caller talks on it, another start is refused rather than opening a second one.
    eleven.talk(conversation);
    const refused = await call(server, 'POST', '/api/coach/calls', user);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'coach.call_in_progress', details: { callId: id } });
    expect(eleven.issued).toHaveLength(before + 1);
    await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user);
    await sleep(1100);
    await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user);
    const ended = await call(server, 'POST', `/api/coach/calls/${id}/end`, user, {});
    expect(ended.body.call.meteredSeconds).toBeLessThan(40);
    eleven.hangUp(conversation, 40);
    const delivered = await postWebhook(conversation);
    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'flagged', unsettledSeconds: 0 } });
    await settled(id);
    expect(await usage(server, user.id)).toMatchObject({ seconds: 40 });
    expect(await balance(server, user)).toBe(560);
  });

  it('resumes a live call after a page reload with a new conversation, and bills both conversations', async () => {
    const user = await createTestUser(server.ballast, 'reload@example.com');
    await credit(server, user, 600);
    const { id, conversation: first } = await start(user);
    eleven.talk(first);
    await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user);
    // The reload closes the page's socket: ElevenLabs ends the first conversation.
    eleven.hangUp(first, 3);
    const resumed = await call(server, 'POST', '/api/coach/calls', user);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ resumed: true, call: { id } });
    const second = eleven.issued.at(-1)!;
    expect(second).not.toBe(first);
    eleven.talk(second);
    await call(server, 'POST', `/api/coach/calls/${id}/heartbeat`, user);
    await call(server, 'POST', `/api/coach/calls/${id}/end`, user, {});
    eleven.hangUp(second, 30);
    await settled(id);
    await waitFor(async () => ((await usage(server, user.id)).seconds === 33 ? true : undefined), '33 s billed');
    expect(await balance(server, user)).toBe(567);
  });

  it('resumes the named call for a reloaded page with a new conversation once the last one has ended', async () => {
    const user = await createTestUser(server.ballast, 'resume-eleven@example.com');
    await credit(server, user, 600);
    const { id, conversation: first } = await start(user);
    eleven.talk(first);
    // Still talking on the first conversation (another tab): not resumed here.
    const busy = await call(server, 'POST', '/api/coach/calls', user, { resume: id });
    expect(busy.status).toBe(409);
    expect(busy.body).toMatchObject({ code: 'coach.call_in_progress' });
    eleven.hangUp(first, 2);
    const resumed = await call(server, 'POST', '/api/coach/calls', user, { resume: id });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ resumed: true, call: { id, status: 'active' } });
    const second = eleven.issued.at(-1)!;
    expect(second).not.toBe(first);
    await call(server, 'POST', `/api/coach/calls/${id}/end`, user, {});
    eleven.hangUp(second, 5);
    await settled(id);
    await waitFor(async () => ((await usage(server, user.id)).seconds === 7 ? true : undefined), '7 s billed');
  });

  it('charges talk beyond the balance up to the balance, records the rest and refuses calls until it is paid', async () => {
    const { user, conversation } = await hungUpButTalked('beyond@example.com', 30, 100);
    const delivered = await postWebhook(conversation);
    expect(delivered.body).toMatchObject({ chargedSeconds: 30, unsettledSeconds: 70 });
    expect(await balance(server, user)).toBe(0);
    expect((await usage(server, user.id)).seconds).toBe(30);
    expect((await call(server, 'GET', '/api/coach/calls', user)).body['unsettledSeconds']).toBe(70);
    await credit(server, user, 20, 'small');
    const refused = await call(server, 'POST', '/api/coach/calls', user);
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 'coach.unsettled_talktime', details: { unsettledSeconds: 50 } });
    expect(refused.body['detail']).toMatch(/50 s past your talk-time/);
    // The next pack pays what is owed first; the call gets the rest.
    await credit(server, user, 100, 'pack');
    const next = await start(user);
    expect(next.answer.body.call).toMatchObject({ maxSeconds: 50 });
    expect(await balance(server, user)).toBe(50);
    expect((await usage(server, user.id)).seconds).toBe(100);
    expect((await call(server, 'GET', '/api/coach/calls', user)).body['unsettledSeconds']).toBe(0);
    await call(server, 'POST', `/api/coach/calls/${next.id}/end`, user, {});
  });

  it('charges once however often the webhook is replayed or raced, and whichever of it and the API comes first', async () => {
    const { user, id, conversation } = await hungUpButTalked('replayed@example.com', 600, 50);
    const racing = await Promise.all(Array.from({ length: 6 }, () => postWebhook(conversation)));
    expect(racing.every((delivery) => delivery.status === 200)).toBe(true);
    expect(racing.filter((delivery) => delivery.body['outcome'] === 'duplicate')).toHaveLength(5);
    for (let replay = 0; replay < 3; replay += 1) {
      expect((await postWebhook(conversation)).body).toEqual({ outcome: 'duplicate' });
    }
    await settled(id);
    expect(await usage(server, user.id)).toMatchObject({ seconds: 50 });
    expect(await balance(server, user)).toBe(550);
  });

  it('lets an operator list and clear what a call owes, and no one else', async () => {
    const admin = await createTestUser(server.ballast, 'operator@example.com', { roles: [PLATFORM_ADMIN] });
    const { user, id, conversation } = await hungUpButTalked('forgiven@example.com', 10, 25);
    await postWebhook(conversation);
    const path = `/api/coach/admin/calls/${id}/clear-unsettled`;
    expect((await fetch(`${server.url}${path}`, { method: 'POST' })).status).toBe(401);
    expect((await call(server, 'POST', path, user)).status).toBe(403);
    expect((await call(server, 'POST', '/api/coach/admin/calls/not-a-uuid/clear-unsettled', admin)).status).toBe(400);
    const unknown = await call(server, 'POST', `/api/coach/admin/calls/${crypto.randomUUID()}/clear-unsettled`, admin);
    expect(unknown.status).toBe(404);
    expect((await fetch(`${server.url}/api/coach/admin/calls/unsettled`)).status).toBe(401);
    expect((await call(server, 'GET', '/api/coach/admin/calls/unsettled', user)).status).toBe(403);
    const listed = await call(server, 'GET', '/api/coach/admin/calls/unsettled', admin);
    expect(listed.body['calls']).toEqual(
      expect.arrayContaining([expect.objectContaining({ sessionId: id, unsettledSeconds: 15 })]),
    );
    expect((await call(server, 'POST', path, admin)).body).toEqual({ sessionId: id, clearedSeconds: 15 });
    expect((await call(server, 'GET', '/api/coach/calls', user)).body['unsettledSeconds']).toBe(0);
    await credit(server, user, 60, 'after');
    const next = await start(user);
    expect(next.answer.body.call).toMatchObject({ maxSeconds: 60 });
    await call(server, 'POST', `/api/coach/calls/${next.id}/end`, user, {});
  });

  it('answers a signed webhook that is not JSON with a 400, and one that is not a transcription with no charge', async () => {
    const post = (body: string) =>
      fetch(`${server.url}/api/coach/webhooks/elevenlabs`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'elevenlabs-signature': signElevenLabsWebhook(eleven.webhookSecret, body),
        },
        body,
      });
    const broken = await post('{"type": "post_call_transcription", ');
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ code: 'coach.invalid_webhook' });
    const audio = await post(JSON.stringify({ type: 'post_call_audio', data: { conversation_id: 'conv_x' } }));
    expect(await audio.json()).toEqual({ outcome: 'ignored' });
    const empty = await post(JSON.stringify({ type: 'post_call_transcription' }));
    expect(await empty.json()).toEqual({ outcome: 'ignored' });
  });
});
