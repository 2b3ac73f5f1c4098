import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { createTestUser, startTestBallast, type TestBallast, type TestUser } from '#platform/testing/index.ts';

/**
 * An administrator's free talk-time: a ledger `grant` and its `payments.grant` audit entry in one
 * transaction, once per key however the requests race; and the admin's per-user view it is made from.
 */
const coach = defineApp({
  name: 'coach',
  title: 'Shop',
  summary: 'Sells packs',
  status: 'coming-soon',
  defaultAccess: 'public',
  payments: () => ({
    unit: 'seconds',
    packs: [{ id: 'talk-30', title: '30 minutes', units: 1800, amountMinor: 49_900, currency: 'INR' }],
  }),
  adminUser: async (userId) => [
    {
      title: 'Visits',
      empty: 'None',
      columns: [{ key: 'who', label: 'Who', format: 'text' }],
      rows: [{ who: userId }],
    },
  ],
});

let server: TestBallast;
let db: Kysely<unknown>;
let admin: TestUser;

beforeAll(async () => {
  server = await startTestBallast({ apps: [coach] });
  db = server.ballast.database.db;
  admin = await createTestUser(server.ballast, 'grant-admin@example.com', { roles: ['platform:admin'] });
});

afterAll(async () => {
  await server.close();
});

async function call(method: string, path: string, user: TestUser | undefined, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(user?.headers ?? {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

const grant = (user: TestUser | undefined, to: string, body: unknown) =>
  call('POST', `/api/payments/coach/admin/users/${to}/grants`, user, body);

async function grantsOf(userId: string) {
  const entries = await sql<{ amount: string }>`select amount::text from platform.ledger_entry
    where user_id = ${userId}::uuid and kind = 'grant'`.execute(db);
  const audit = await sql<{ actor_email: string; details: { units: number; reason: string } }>`select actor_email,
    details from platform.audit_event where action = 'payments.grant' and target_id = ${userId}`.execute(db);
  return { entries: entries.rows, audit: audit.rows };
}

describe('granting free talk-time', () => {
  it('credits once when the same key races, and audits who, whom, how much and why', async () => {
    const alice = await createTestUser(server.ballast, 'grant-alice@example.com');
    const body = { units: 600, reason: 'Call dropped on our side', key: 'grant-key-same-1' };
    const answers = await Promise.all([grant(admin, alice.id, body), grant(admin, alice.id, body)]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(answers.map((answer) => answer.body.applied).sort()).toEqual([false, true]);
    const { entries, audit } = await grantsOf(alice.id);
    expect(entries).toEqual([{ amount: '600' }]);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor_email: 'grant-admin@example.com',
      details: { units: 600, reason: 'Call dropped on our side' },
    });
    const balance = await call('GET', '/api/payments/coach/balance', alice);
    expect(balance.body).toEqual({ balance: 600, unit: 'seconds' });
  });

  it('credits twice for two different keys', async () => {
    const bob = await createTestUser(server.ballast, 'grant-bob@example.com');
    const answers = await Promise.all([
      grant(admin, bob.id, { units: 60, reason: 'goodwill', key: 'grant-key-bob-a' }),
      grant(admin, bob.id, { units: 120, reason: 'goodwill', key: 'grant-key-bob-b' }),
    ]);
    expect(answers.map((answer) => answer.body.applied)).toEqual([true, true]);
    expect((await grantsOf(bob.id)).audit).toHaveLength(2);
    expect((await call('GET', '/api/payments/coach/balance', bob)).body).toMatchObject({ balance: 180 });
  });

  it('refuses anyone but an admin: 401 signed out, 403 for a user', async () => {
    const carol = await createTestUser(server.ballast, 'grant-carol@example.com');
    const body = { units: 60, reason: 'self-service', key: 'grant-key-carol' };
    expect((await grant(carol, carol.id, body)).status).toBe(403);
    expect((await grant(undefined, carol.id, body)).status).toBe(401);
    expect((await call('GET', `/api/payments/admin/users/${carol.id}`, carol)).status).toBe(403);
    expect((await grantsOf(carol.id)).entries).toEqual([]);
  });

  it('answers 400 naming the problem for a negative, huge or fractional amount or no reason', async () => {
    const dave = await createTestUser(server.ballast, 'grant-dave@example.com');
    const cases: [unknown, RegExp][] = [
      [{ units: -60, reason: 'oops', key: 'grant-key-dave1' }, /more than 0/],
      [{ units: 10_000_000, reason: 'oops', key: 'grant-key-dave2' }, /at most 604800/],
      [{ units: 1.5, reason: 'oops', key: 'grant-key-dave3' }, /whole number/],
      [{ units: 60, reason: '', key: 'grant-key-dave4' }, /reason/],
    ];
    for (const [body, message] of cases) {
      const answer = await grant(admin, dave.id, body);
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.body)).toMatch(message);
    }
    expect((await grantsOf(dave.id)).entries).toEqual([]);
    expect(
      (
        await grant(admin, '00000000-0000-4000-8000-000000000000', {
          units: 1,
          reason: 'nobody',
          key: 'grant-key-none',
        })
      ).status,
    ).toBe(404);
  });

  it('shows an admin one user: account, per app balance, purchases and what the app adds', async () => {
    const erin = await createTestUser(server.ballast, 'grant-erin@example.com');
    await grant(admin, erin.id, { units: 1779, reason: 'welcome', key: 'grant-key-erin' });
    // A paid order (the local test gateway) and one left at the checkout, backdated past its expiry.
    const paid = await call('POST', '/api/payments/coach/orders', erin, { pack: 'talk-30' });
    const signed = await call('POST', '/api/payments/test/pay', erin, { orderId: paid.body.orderId });
    const confirm = (body: unknown) =>
      call('POST', `/api/payments/coach/orders/${String(paid.body.orderId)}/confirm`, erin, body);
    await Promise.all([confirm(signed.body), confirm(signed.body)]);
    const abandoned = await call('POST', '/api/payments/coach/orders', erin, { pack: 'talk-30' });
    await sql`update platform.payment_order set created_at = now() - interval '2 hours'
      where id = ${String(abandoned.body.orderId)}::uuid`.execute(db);
    const paidAudit = await sql<{ actor_email: string; target_id: string }>`select actor_email, target_id
      from platform.audit_event where action = 'payments.paid' and actor_id = ${erin.id}::uuid`.execute(db);
    expect(paidAudit.rows).toEqual([{ actor_email: 'grant-erin@example.com', target_id: paid.body.orderId }]);
    const purchases = (await call('GET', '/api/payments/coach/purchases', erin)).body.purchases as Record<
      string,
      unknown
    >[];
    expect(purchases.map((item) => [item.packTitle, item.status, item.expired])).toEqual([
      ['30 minutes', 'paid', false],
      ['30 minutes', 'created', true],
    ]);
    const view = await call('GET', `/api/payments/admin/users/${erin.id}`, admin);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      user: { id: erin.id, email: 'grant-erin@example.com', disabled: false },
      apps: [
        {
          app: 'coach',
          title: 'Shop',
          unit: 'seconds',
          balance: 1779 + 1800,
          sections: [{ title: 'Visits', rows: [{ who: erin.id }] }],
        },
      ],
    });
    const audit = await call('GET', '/api/audit?action=payments.grant', admin);
    const events = audit.body.events as { targetId: string; targetName: string | null }[];
    expect(events.find((event) => event.targetId === erin.id)?.targetName).toBe('grant-erin@example.com');
  });
});
