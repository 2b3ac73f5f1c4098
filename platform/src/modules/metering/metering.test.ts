import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestUser, startTestBallast, type TestBallast } from '#platform/testing/index.ts';
import { createMemoryMeterStore, createRedisMeterStore, type MeterStore } from './meter-store.ts';
import { createMetering } from './metering.service.ts';

/**
 * The metering service on a clock the test moves, with each store: heartbeats that race a
 * hang-up are billed or told the call ended (never acknowledged and left unbilled), another
 * user's heartbeats touch nothing, and a gap end that finds a fresh heartbeat lets the call go on.
 */
const redisUrl = inject('redisUrl');
let server: TestBallast;
let db: Kysely<unknown>;
let redis: Redis | undefined;

beforeAll(async () => {
  server = await startTestBallast({ listen: false });
  db = server.ballast.database.db;
  if (redisUrl !== '') redis = new Redis(redisUrl);
});

afterAll(async () => {
  redis?.disconnect();
  await server.close();
});

const stores: [string, () => MeterStore | undefined][] = [
  ['memory', () => createMemoryMeterStore()],
  [
    'Redis',
    () => (redis === undefined ? undefined : createRedisMeterStore(redis, `test:${randomBytes(4).toString('hex')}`)),
  ],
];

describe.each(stores)('metering with the %s store', (name, makeStore) => {
  function setup() {
    const store = makeStore();
    let clock = Date.parse('2026-12-01T10:00:00Z');
    const metering = createMetering({
      database: server.ballast.database,
      ledger: server.ballast.payments.ledger,
      store: store!,
      log: server.ballast.log,
      settings: { gapSeconds: 10, flushSeconds: 30, warningSeconds: 60 },
      onEnded: () => undefined,
      now: () => clock,
    });
    return {
      store: store!,
      metering,
      at: (seconds: number) => Date.parse('2026-12-01T10:00:00Z') + seconds * 1000,
      set: (seconds: number) => (clock = Date.parse('2026-12-01T10:00:00Z') + seconds * 1000),
    };
  }

  async function caller(email: string, seconds = 3600) {
    const user = await createTestUser(server.ballast, `${name.toLowerCase()}-${email}`);
    await server.ballast.payments.ledger.applyChange({
      userId: user.id,
      app: 'metered',
      unit: 'seconds',
      kind: 'purchase',
      amount: seconds,
      idempotencyKey: `credit:${user.id}`,
    });
    return user;
  }

  async function debited(userId: string) {
    const rows = await sql<{ total: string | null }>`select sum(-amount)::text as total from platform.ledger_entry
      where user_id = ${userId}::uuid and kind = 'usage'`.execute(db);
    return Number(rows.rows[0]!.total ?? 0);
  }

  it('bills a heartbeat that races a hang-up, or tells it the call ended', async (ctx) => {
    if (makeStore() === undefined) ctx.skip('Redis is not reachable');
    const { metering, set, at } = setup();
    const outcomes = { active: 0, ended: 0 };
    for (let round = 0; round < 24; round += 1) {
      const user = await caller(`race-${round}@example.com`);
      set(0);
      const { session } = await metering.start({ userId: user.id, app: 'metered', unit: 'seconds' });
      set(5);
      await metering.heartbeat(user.id, session.id, at(5));
      set(8);
      // The hang-up is sent first; the heartbeat a moment later (0 to 5 ms), while it is in progress.
      const [ended, beat] = await Promise.all([
        metering.end(session.id, 'hung_up', { actor: { userId: user.id }, arrivedAt: at(8), sinceLastBeatMs: 0 }),
        new Promise((resolve) => setTimeout(resolve, round % 6)).then(() =>
          metering.heartbeat(user.id, session.id, at(7.9)),
        ),
      ]);
      // Billed to the last heartbeat that landed: 7 s when the racing one was acknowledged, else 5.
      expect(ended.status).toBe('ended');
      expect(ended.meteredSeconds).toBe(beat.status === 'active' ? 7 : 5);
      expect(await debited(user.id)).toBe(ended.meteredSeconds);
      outcomes[beat.status] += 1;
    }
    // Both orders happened (the heartbeat landed before the end took the session, and after).
    expect(outcomes.active).toBeGreaterThan(0);
    expect(outcomes.ended).toBeGreaterThan(0);
  });

  it("ignores another user's heartbeats: they neither touch the call nor keep it alive", async (ctx) => {
    if (makeStore() === undefined) ctx.skip('Redis is not reachable');
    const { metering, store, set, at } = setup();
    const owner = await caller('owner@example.com');
    const other = await caller('intruder@example.com');
    set(0);
    const { session } = await metering.start({ userId: owner.id, app: 'metered', unit: 'seconds' });
    set(4);
    await metering.heartbeat(owner.id, session.id, at(4));
    for (const second of [6, 9, 12]) {
      set(second);
      await expect(metering.heartbeat(other.id, session.id, at(second))).rejects.toMatchObject({
        code: 'metering.unknown_session',
      });
    }
    expect((await store.get(session.id))?.lastBeatAt).toBe(at(4));
    expect(await store.silentSince(at(15) - 10_000)).toContain(session.id);
    set(15);
    const ended = await metering.end(session.id, 'heartbeat_lost', { arrivedAt: at(15) });
    expect(ended).toMatchObject({ status: 'ended', endReason: 'heartbeat_lost', meteredSeconds: 4 });
  });

  it('lets the call go on when a heartbeat arrives after the silence was noticed', async (ctx) => {
    if (makeStore() === undefined) ctx.skip('Redis is not reachable');
    const { metering, store, set, at } = setup();
    const user = await caller('late-beat@example.com');
    set(0);
    const { session } = await metering.start({ userId: user.id, app: 'metered', unit: 'seconds' });
    set(11);
    const silent = await store.silentSince(at(11) - 10_000);
    expect(silent).toContain(session.id);
    // The heartbeat lands between the check and the end.
    await metering.heartbeat(user.id, session.id, at(10.5));
    const kept = await metering.end(session.id, 'heartbeat_lost', { arrivedAt: at(11) });
    expect(kept.status).toBe('active');
    expect((await store.get(session.id))?.lastBeatAt).toBe(at(10.5));
    set(12);
    expect(await metering.heartbeat(user.id, session.id, at(12))).toMatchObject({
      status: 'active',
      meteredSeconds: 12,
    });
    set(13);
    const ended = await metering.end(session.id, 'hung_up', { actor: { userId: user.id }, arrivedAt: at(13) });
    expect(ended).toMatchObject({ status: 'ended', endReason: 'hung_up', meteredSeconds: 13 });
    expect(await debited(user.id)).toBe(13);
  });

  it('refuses to end another app’s session as unknown, and leaves it running', async (ctx) => {
    if (makeStore() === undefined) ctx.skip('Redis is not reachable');
    const { metering, set, at } = setup();
    set(0);
    const user = await caller('two-apps@example.com');
    const { session } = await metering.start({ userId: user.id, app: 'metered', unit: 'seconds' });
    set(4);
    await expect(
      metering.end(session.id, 'hung_up', { actor: { userId: user.id }, app: 'other', arrivedAt: at(4) }),
    ).rejects.toMatchObject({ code: 'metering.unknown_session' });
    expect(await metering.get(session.id)).toMatchObject({ status: 'active' });
    expect(
      await metering.end(session.id, 'hung_up', { actor: { userId: user.id }, app: 'metered', arrivedAt: at(4) }),
    ).toMatchObject({ status: 'ended', meteredSeconds: 4 });
  });

  it('bills a storm of concurrent hang-ups, a duplicate one and a heartbeat racing it each exactly once', async (ctx) => {
    if (makeStore() === undefined) ctx.skip('Redis is not reachable');
    const base = setup();
    const { at } = base;
    let clock = at(0);
    // The app's hook runs once per ended session, inside the batch's transaction.
    const hooked = new Map<string, number>();
    let hookCalls = 0;
    const metering = createMetering({
      database: server.ballast.database,
      ledger: server.ballast.payments.ledger,
      store: base.store,
      log: server.ballast.log,
      settings: { gapSeconds: 10, flushSeconds: 30, warningSeconds: 60 },
      onEnded: () => async (sessions) => {
        hookCalls += 1;
        for (const session of sessions) hooked.set(session.id, (hooked.get(session.id) ?? 0) + 1);
      },
      now: () => clock,
    });
    const count = 60;
    const users = await Promise.all(Array.from({ length: count }, (_, i) => caller(`storm-${i}@example.com`)));
    const calls = [];
    for (const user of users) {
      const { session } = await metering.start({ userId: user.id, app: 'metered', unit: 'seconds' });
      calls.push({ user, session });
    }
    clock = at(5);
    for (const { user, session } of calls) await metering.heartbeat(user.id, session.id, at(5));
    clock = at(8);
    const [racer, ...others] = calls;
    const stranger = users[1]!;
    // Every caller hangs up at once, 5 to 8 s in; the first one twice, with a heartbeat racing,
    // and a stranger tries to hang up the first call too.
    const [storm, duplicates, beat, intruder] = await Promise.all([
      Promise.all(
        others.map(({ user, session }, i) =>
          metering.end(session.id, 'hung_up', { actor: { userId: user.id }, arrivedAt: at(5 + (i % 4)) }),
        ),
      ),
      Promise.all(
        [0, 1].map(() =>
          metering.end(racer!.session.id, 'hung_up', {
            actor: { userId: racer!.user.id },
            arrivedAt: at(8),
            sinceLastBeatMs: 0,
          }),
        ),
      ),
      metering.heartbeat(racer!.user.id, racer!.session.id, at(7.9)),
      metering.end(racer!.session.id, 'hung_up', { actor: { userId: stranger.id } }).catch((error: unknown) => error),
    ]);
    expect(intruder).toMatchObject({ code: 'metering.unknown_session' });
    storm.forEach((ended, i) => {
      expect(ended).toMatchObject({ status: 'ended', endReason: 'hung_up', meteredSeconds: 5 + (i % 4) });
    });
    // Billed to the last heartbeat that landed: 7 s when the racing one was acknowledged, else 5.
    const racerSeconds = beat.status === 'active' ? 7 : 5;
    for (const ended of duplicates) expect(ended).toMatchObject({ status: 'ended', meteredSeconds: racerSeconds });
    expect(await debited(racer!.user.id)).toBe(racerSeconds);
    for (const [i, { user }] of others.entries()) expect(await debited(user.id)).toBe(5 + (i % 4));
    expect([...hooked.values()].every((times) => times === 1)).toBe(true);
    expect(hooked.size).toBe(count);
    // The app's hook ran once per batch with its sessions, not once per call.
    expect(hookCalls).toBeLessThan(count / 4);
    // Replayed hang-ups find the calls ended and take nothing more.
    await Promise.all(
      calls.map(({ user, session }) => metering.end(session.id, 'hung_up', { actor: { userId: user.id } })),
    );
    expect(await debited(racer!.user.id)).toBe(racerSeconds);
    for (const [i, { user }] of others.entries()) expect(await debited(user.id)).toBe(5 + (i % 4));
    expect(hooked.size).toBe(count);
  });
});

describe('usage a provider reports', () => {
  function setup() {
    let clock = Date.parse('2026-12-01T10:00:00Z');
    const metering = createMetering({
      database: server.ballast.database,
      ledger: server.ballast.payments.ledger,
      store: createMemoryMeterStore(),
      log: server.ballast.log,
      settings: { gapSeconds: 10, flushSeconds: 30, warningSeconds: 60 },
      onEnded: () => undefined,
      now: () => clock,
    });
    const at = (seconds: number) => Date.parse('2026-12-01T10:00:00Z') + seconds * 1000;
    return { metering, at, set: (seconds: number) => (clock = at(seconds)) };
  }

  async function caller(email: string, seconds: number) {
    const user = await createTestUser(server.ballast, `reported-${email}`);
    await credit(user.id, seconds, 'first');
    return user;
  }

  /** A session from `from` to `until` (seconds on the test's clock), heartbeating at its end, then hung up. */
  async function endedCall(tools: ReturnType<typeof setup>, userId: string, from: number, until: number) {
    const { metering, set, at } = tools;
    set(from);
    const { session } = await metering.start({ userId, app: 'metered', unit: 'seconds' });
    set(until);
    await metering.heartbeat(userId, session.id, at(until));
    return metering.end(session.id, 'hung_up', { actor: { userId }, arrivedAt: at(until) });
  }

  async function credit(userId: string, seconds: number, key: string) {
    await server.ballast.payments.ledger.applyChange({
      userId,
      app: 'metered',
      unit: 'seconds',
      kind: 'purchase',
      amount: seconds,
      idempotencyKey: `credit:${userId}:${key}`,
    });
  }

  async function account(userId: string) {
    const rows = await sql<{ used: string | null; balance: string | null }>`select
        (select sum(-amount)::text from platform.ledger_entry where user_id = ${userId}::uuid and kind = 'usage') as used,
        (select balance::text from platform.ledger_balance where user_id = ${userId}::uuid and app = 'metered') as balance`.execute(
      db,
    );
    return { used: Number(rows.rows[0]!.used ?? 0), balance: Number(rows.rows[0]!.balance ?? 0) };
  }

  it('bills reported time beyond the metered time when the session ends, once under replays and races', async () => {
    const tools = setup();
    const { metering, set, at } = tools;
    const user = await caller('once@example.com', 3600);
    set(0);
    const { session } = await metering.start({ userId: user.id, app: 'metered', unit: 'seconds' });
    set(10);
    await metering.heartbeat(user.id, session.id, at(10));
    // Reported while the call is live: nothing is charged until it ends.
    const early = await metering.report(session.id, { key: 'conversation-a', seconds: 25 });
    expect(early).toMatchObject({ status: 'active', chargedNowSeconds: 0, unsettledSeconds: 0 });
    expect((await account(user.id)).used).toBe(0);
    // The hang-up races a replay of the same report: 25 s are charged, once.
    const [ended] = await Promise.all([
      metering.end(session.id, 'hung_up', { actor: { userId: user.id }, arrivedAt: at(10) }),
      metering.report(session.id, { key: 'conversation-a', seconds: 25 }),
    ]);
    expect(ended).toMatchObject({ status: 'ended', meteredSeconds: 10, unsettledSeconds: 0 });
    expect(await account(user.id)).toEqual({ used: 25, balance: 3575 });
    // Replays of both reports, racing: the second conversation adds its 5 s, once.
    const settled = await Promise.all([
      ...Array.from({ length: 5 }, () => metering.report(session.id, { key: 'conversation-a', seconds: 25 })),
      ...Array.from({ length: 5 }, () => metering.report(session.id, { key: 'conversation-b', seconds: 5 })),
    ]);
    expect(settled.reduce((sum, item) => sum + item.chargedNowSeconds, 0)).toBe(5);
    expect(await account(user.id)).toEqual({ used: 30, balance: 3570 });
    // A report below the metered time changes nothing: the caller pays the larger of the two.
    const other = await caller('less@example.com', 3600);
    const second = await endedCall(tools, other.id, 100, 130);
    expect(await metering.report(second.id, { key: 'conversation', seconds: 12 })).toMatchObject({
      chargedNowSeconds: 0,
      chargedSeconds: 30,
    });
    expect((await account(other.id)).used).toBe(30);
  });

  it('charges reported time up to the balance, records the rest and refuses new sessions until it is paid', async () => {
    const tools = setup();
    const { metering, set, at } = tools;
    const user = await caller('owes@example.com', 20);
    const session = await endedCall(tools, user.id, 0, 5);
    const settled = await metering.report(session.id, { key: 'conversation', seconds: 50 });
    expect(settled).toMatchObject({ reportedSeconds: 50, chargedSeconds: 20, unsettledSeconds: 30 });
    expect(await account(user.id)).toEqual({ used: 20, balance: 0 });
    expect(await metering.unsettled(user.id, 'metered')).toBe(30);
    await expect(metering.start({ userId: user.id, app: 'metered', unit: 'seconds' })).rejects.toMatchObject({
      code: 'metering.unsettled',
      details: { unsettledSeconds: 30 },
    });
    // Too little to pay it all: what there is goes to the debt, and the start is still refused.
    await credit(user.id, 10, 'small');
    await expect(metering.start({ userId: user.id, app: 'metered', unit: 'seconds' })).rejects.toMatchObject({
      code: 'metering.unsettled',
      details: { unsettledSeconds: 20 },
    });
    // The next purchase pays the rest first; the new session gets what is left.
    await credit(user.id, 60, 'pack');
    set(200);
    const next = await metering.start({ userId: user.id, app: 'metered', unit: 'seconds' });
    expect(next.session.maxSeconds).toBe(40);
    expect(await account(user.id)).toEqual({ used: 50, balance: 40 });
    expect(await metering.unsettled(user.id, 'metered')).toBe(0);
    await metering.end(next.session.id, 'hung_up', { actor: { userId: user.id }, arrivedAt: at(200) });
  });

  it('lets an operator clear what a session owes; later reports charge only what they add', async () => {
    const { metering, set, at } = setup();
    const user = await caller('cleared@example.com', 10);
    set(0);
    const { session } = await metering.start({ userId: user.id, app: 'metered', unit: 'seconds' });
    await metering.end(session.id, 'hung_up', { actor: { userId: user.id }, arrivedAt: at(0) });
    await metering.report(session.id, { key: 'a', seconds: 40 });
    expect((await metering.listUnsettled('metered')).map((item) => item.id)).toContain(session.id);
    expect(await metering.forgive(session.id)).toBe(30);
    expect(await metering.unsettled(user.id, 'metered')).toBe(0);
    expect((await metering.listUnsettled('metered')).map((item) => item.id)).not.toContain(session.id);
    await credit(user.id, 100, 'later');
    expect(await metering.report(session.id, { key: 'b', seconds: 5 })).toMatchObject({
      chargedNowSeconds: 5,
      unsettledSeconds: 0,
    });
    expect(await account(user.id)).toEqual({ used: 15, balance: 95 });
    await expect(metering.report(session.id, { key: 'c', seconds: -1 })).rejects.toMatchObject({
      code: 'metering.invalid_report',
    });
  });

  it('records as owed the metered time a balance no longer covered when the session ended', async () => {
    const { metering, set, at } = setup();
    const user = await caller('drained@example.com', 60);
    set(0);
    const { session } = await metering.start({ userId: user.id, app: 'metered', unit: 'seconds' });
    // The balance falls during the call (another charge, a refund): 50 of the 60 s go elsewhere.
    await server.ballast.payments.ledger.applyChange({
      userId: user.id,
      app: 'metered',
      unit: 'seconds',
      kind: 'refund',
      amount: -50,
      idempotencyKey: `refund:${user.id}`,
    });
    set(30);
    await metering.heartbeat(user.id, session.id, at(30));
    const ended = await metering.end(session.id, 'hung_up', { actor: { userId: user.id }, arrivedAt: at(30) });
    expect(ended).toMatchObject({ meteredSeconds: 30, unsettledSeconds: 20 });
    expect(await account(user.id)).toEqual({ used: 10, balance: 0 });
  });
});
