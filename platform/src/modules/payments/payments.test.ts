import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { sql, type Kysely } from 'kysely';
import {
  createTestUser,
  startFakeRazorpay,
  startTestBallast,
  type FakeRazorpay,
  type TestBallast,
  type TestUser,
} from '#platform/testing/index.ts';

/**
 * Payments against a local server speaking Razorpay's API: the real order creation, checkout
 * signature check, webhook verification and crediting, raced and replayed.
 */
// A fixture app that sells talk-time the way the coach does (the platform knows no real app).
const coach = defineApp({
  name: 'coach',
  title: 'Shop',
  summary: 'Sells packs',
  status: 'coming-soon',
  defaultAccess: 'public',
  payments: () => ({
    unit: 'seconds',
    packs: [
      { id: 'talk-30', title: '30 minutes', units: 1800, amountMinor: 49_900, currency: 'INR' },
      { id: 'talk-60', title: '1 hour', units: 3600, amountMinor: 89_900, currency: 'INR' },
    ],
  }),
});

let razorpay: FakeRazorpay;
let server: TestBallast;
let db: Kysely<unknown>;

beforeAll(async () => {
  razorpay = await startFakeRazorpay();
  server = await startTestBallast({
    apps: [coach],
    env: {
      RAZORPAY_KEY_ID: razorpay.keyId,
      RAZORPAY_KEY_SECRET: razorpay.keySecret,
      RAZORPAY_WEBHOOK_SECRET: razorpay.webhookSecret,
      RAZORPAY_API_URL: razorpay.url,
    },
  });
  db = server.ballast.database.db;
});

afterAll(async () => {
  await server.close();
  await razorpay.close();
});

async function call(method: string, path: string, user?: TestUser, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(user?.headers ?? {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

async function buy(user: TestUser, pack = 'talk-30') {
  const order = await call('POST', '/api/payments/coach/orders', user, { pack });
  expect(order.status).toBe(201);
  return order.body as { orderId: string; providerOrderId: string; amountMinor: number; currency: string };
}

function deliver(webhook: { body: string; headers: Record<string, string> }) {
  return fetch(`${server.url}/api/payments/webhooks/razorpay`, {
    method: 'POST',
    headers: webhook.headers,
    body: webhook.body,
  });
}

async function ledgerOf(userId: string) {
  const rows = await sql<{ kind: string; amount: string }>`select kind, amount::text from platform.ledger_entry
    where user_id = ${userId}::uuid order by id`.execute(db);
  return rows.rows.map((row) => ({ kind: row.kind, amount: Number(row.amount) }));
}

async function receipts(userId: string) {
  const rows = await sql<{ n: string }>`select count(*)::text as n from platform.notification
    where user_id = ${userId} and type = 'platform.payment-receipt'`.execute(db);
  return Number(rows.rows[0]!.n);
}

describe('payments with Razorpay', () => {
  it('creates the order through the Orders API and credits a verified checkout once', async () => {
    const user = await createTestUser(server.ballast, 'buyer@example.com');
    const packs = await call('GET', '/api/payments/coach/packs');
    // An rzp_test_ key is Razorpay's test mode: pages are told, to show their test-mode banner.
    expect(packs.body).toMatchObject({ mode: 'razorpay', testMode: true, unit: 'seconds', keyId: razorpay.keyId });
    const order = await buy(user);
    expect(razorpay.requests).toContain('POST /v1/orders');
    expect(razorpay.orders.get(order.providerOrderId)).toMatchObject({ amount: 49_900, currency: 'INR' });

    const { checkout } = razorpay.pay(order.providerOrderId);
    const confirmed = await call('POST', `/api/payments/coach/orders/${order.orderId}/confirm`, user, checkout);
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({ status: 'paid', credited: true, balance: 1800, unit: 'seconds' });
    // The replayed callback is answered, and credits nothing more.
    const again = await call('POST', `/api/payments/coach/orders/${order.orderId}/confirm`, user, checkout);
    expect(again.body).toMatchObject({ status: 'paid', credited: false, balance: 1800 });
    expect(await ledgerOf(user.id)).toEqual([{ kind: 'purchase', amount: 1800 }]);
    expect(await receipts(user.id)).toBe(1);
    // A test key moves no money: the receipt says TEST in its subject and body, under the app's name.
    const emailed = await sql<{ subject: string; text_body: string; html_body: string }>`select subject, text_body,
      html_body from platform.notification_delivery where recipient = 'buyer@example.com' and channel = 'email'
      and type = 'platform.payment-receipt'`.execute(db);
    expect(emailed.rows).toHaveLength(1);
    const receipt = emailed.rows[0]!;
    expect(receipt.subject).toMatch(/^TEST Receipt: 30 minutes for/);
    expect(receipt.text_body).toMatch(/^TEST payment: no money moved\./);
    expect(receipt.html_body).toContain('TEST payment: no money moved.');
    expect(receipt.html_body).toContain(`>${coach.title}</p>`);
    expect(receipt.text_body).toContain(`${coach.title}\nThis email is about your account`);
    expect(receipt.text_body).toMatch(/Choose which other emails you get: \S+\/account#notifications$/);
    const purchases = await call('GET', '/api/payments/coach/purchases', user);
    expect(purchases.body['purchases']).toMatchObject([{ status: 'paid', units: 1800, amountMinor: 49_900 }]);
    // The email links the order's own receipt page, whose data only the buyer may read.
    const receiptPath = `/receipts/coach/${order.orderId}`;
    expect(receipt.html_body).toContain(`${receiptPath}">This receipt</a>`);
    expect((await fetch(`${server.url}${receiptPath}`)).status).toBe(200);
    const own = await call('GET', `/api/payments/coach/purchases/${order.orderId}`, user);
    expect(own).toMatchObject({
      status: 200,
      body: {
        purchase: { id: order.orderId, status: 'paid', units: 1800, packTitle: expect.any(String) },
        appTitle: coach.title,
        email: 'buyer@example.com',
        testMode: true,
      },
    });
    const stranger = await createTestUser(server.ballast, 'not-the-buyer@example.com');
    expect((await call('GET', `/api/payments/coach/purchases/${order.orderId}`, stranger)).body).toMatchObject({
      status: 404,
      code: 'payments.unknown_order',
    });
    expect((await call('GET', `/api/payments/coach/purchases/${order.orderId}`)).status).toBe(401);
    expect((await call('GET', '/api/payments/coach/purchases/not-a-uuid', user)).status).toBe(400);
    expect((await call('GET', `/api/payments/nothing/purchases/${order.orderId}`, user)).status).toBe(404);
  });

  it('refuses a signature with one character changed, and one made for another order', async () => {
    const user = await createTestUser(server.ballast, 'forger@example.com');
    const order = await buy(user);
    const other = await buy(user);
    const { checkout } = razorpay.pay(order.providerOrderId);
    const last = checkout.razorpay_signature.at(-1) === '0' ? '1' : '0';
    const tampered = { ...checkout, razorpay_signature: `${checkout.razorpay_signature.slice(0, -1)}${last}` };
    const refused = await call('POST', `/api/payments/coach/orders/${order.orderId}/confirm`, user, tampered);
    expect(refused.status).toBe(402);
    expect(refused.body['code']).toBe('payments.invalid_signature');

    // A genuine signature of order A presented for order B: checked against B's stored id.
    const wrongOrder = await call('POST', `/api/payments/coach/orders/${other.orderId}/confirm`, user, checkout);
    expect(wrongOrder.status).toBe(402);
    // Even claiming B's id in the body does not help: the signature covers A.
    const claimed = { ...checkout, razorpay_order_id: other.providerOrderId };
    expect((await call('POST', `/api/payments/coach/orders/${other.orderId}/confirm`, user, claimed)).status).toBe(402);
    expect(await ledgerOf(user.id)).toEqual([]);

    // Another user cannot confirm this user's order at all.
    const stranger = await createTestUser(server.ballast, 'stranger@example.com');
    expect((await call('POST', `/api/payments/coach/orders/${order.orderId}/confirm`, stranger, checkout)).status).toBe(
      404,
    );
    const audit = await sql<{ n: string }>`select count(*)::text as n from platform.audit_event
      where action = 'payments.signature_rejected' and actor_id = ${user.id}::uuid`.execute(db);
    expect(Number(audit.rows[0]!.n)).toBe(3);
  });

  it('credits once when the webhook is replayed 100 times and races the checkout callback', async () => {
    const user = await createTestUser(server.ballast, 'racer@example.com');
    const order = await buy(user, 'talk-60');
    const { payment, checkout } = razorpay.pay(order.providerOrderId);
    const captured = razorpay.webhook('payment.captured', { payment });
    const paid = razorpay.webhook('order.paid', { payment, order: razorpay.orders.get(order.providerOrderId)! });
    const deliveries = [
      ...Array.from({ length: 100 }, () => deliver(captured)),
      ...Array.from({ length: 5 }, () => deliver(paid)),
      ...Array.from({ length: 5 }, () =>
        call('POST', `/api/payments/coach/orders/${order.orderId}/confirm`, user, checkout),
      ),
    ];
    const answers = await Promise.all(deliveries);
    for (const answer of answers) expect(answer.status).toBe(200);
    expect(await ledgerOf(user.id)).toEqual([{ kind: 'purchase', amount: 3600 }]);
    expect((await call('GET', '/api/payments/coach/balance', user)).body).toEqual({ balance: 3600, unit: 'seconds' });
    expect(await receipts(user.id)).toBe(1);
    const events = await sql<{ n: string }>`select count(*)::text as n from platform.payment_event
      where event_id = ${captured.headers['x-razorpay-event-id']!}`.execute(db);
    expect(Number(events.rows[0]!.n)).toBe(1);
  });

  it('refuses webhooks with a bad signature, and payments whose amount or currency differ from the order', async () => {
    const user = await createTestUser(server.ballast, 'mismatch@example.com');
    const order = await buy(user);
    const { payment } = razorpay.pay(order.providerOrderId, { amount: 100 });
    const webhook = razorpay.webhook('payment.captured', { payment });
    const forged = await deliver({
      ...webhook,
      headers: { ...webhook.headers, 'x-razorpay-signature': 'f'.repeat(64) },
    });
    expect(forged.status).toBe(401);
    const wrongAmount = await deliver(webhook);
    expect(wrongAmount.status).toBe(402);
    const { payment: dollars } = razorpay.pay(order.providerOrderId, { currency: 'USD' });
    expect((await deliver(razorpay.webhook('payment.captured', { payment: dollars }))).status).toBe(402);
    expect(await ledgerOf(user.id)).toEqual([]);
    // The right payment, delivered later, still credits (the refused events were not kept as done).
    const { payment: good } = razorpay.pay(order.providerOrderId);
    expect((await deliver(razorpay.webhook('payment.captured', { payment: good }))).status).toBe(200);
    expect(await ledgerOf(user.id)).toEqual([{ kind: 'purchase', amount: 1800 }]);
  });

  it('applies events in any order: a late failure never undoes a payment, a refund before capture credits first', async () => {
    const user = await createTestUser(server.ballast, 'order@example.com');
    const order = await buy(user);
    const { payment } = razorpay.pay(order.providerOrderId);
    const refund = { id: 'rfnd_Half01', entity: 'refund', amount: 24_950, currency: 'INR', payment_id: payment.id };
    // Refund first, then the capture, then a stale failure.
    expect(
      (await deliver(razorpay.webhook('refund.processed', { refund, payment: { ...payment, status: 'refunded' } })))
        .status,
    ).toBe(200);
    expect((await deliver(razorpay.webhook('payment.captured', { payment }))).status).toBe(200);
    const failed = { ...payment, status: 'failed' as const, error_description: 'late' };
    expect((await deliver(razorpay.webhook('payment.failed', { payment: failed }))).status).toBe(200);
    expect(await ledgerOf(user.id)).toEqual([
      { kind: 'purchase', amount: 1800 },
      { kind: 'refund', amount: -900 },
    ]);
    const purchases = await call('GET', '/api/payments/coach/purchases', user);
    expect(purchases.body['purchases']).toMatchObject([{ status: 'paid', refundedUnits: 900 }]);
  });

  it('answers 400 for an unknown pack and 401 without an account', async () => {
    const user = await createTestUser(server.ballast, 'packs@example.com');
    const unknown = await call('POST', '/api/payments/coach/orders', user, { pack: 'talk-9999' });
    expect(unknown.status).toBe(400);
    expect(unknown.body['code']).toBe('payments.unknown_pack');
    expect((await call('POST', '/api/payments/coach/orders', undefined, { pack: 'talk-30' })).status).toBe(401);
    expect((await call('GET', '/api/payments/nosuchapp/packs')).status).toBe(404);
  });
});

describe('payments in local test mode (no Razorpay keys)', () => {
  let local: TestBallast;
  beforeAll(async () => {
    local = await startTestBallast({ apps: [coach] });
  });
  afterAll(async () => {
    await local.close();
  });

  it('pays with the local test gateway, signed as Razorpay signs, through the same verification', async () => {
    const user = await createTestUser(local.ballast, 'tester@example.com');
    const request = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${local.url}${path}`, {
        method,
        headers: { ...user.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? null : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect((await request('GET', '/api/payments/coach/packs')).body['mode']).toBe('test');
    const order = (await request('POST', '/api/payments/coach/orders', { pack: 'talk-30' })).body;
    expect(order['checkoutUrl']).toMatch(/^\/payments\/test-checkout\?order=/);
    const signed = (await request('POST', '/api/payments/test/pay', { orderId: order['orderId'] })).body;
    const tampered = {
      ...signed,
      razorpay_signature: String(signed['razorpay_signature']).replace(/^./, (c) => (c === 'a' ? 'b' : 'a')),
    };
    expect(
      (await request('POST', `/api/payments/coach/orders/${String(order['orderId'])}/confirm`, tampered)).status,
    ).toBe(402);
    const confirmed = await request('POST', `/api/payments/coach/orders/${String(order['orderId'])}/confirm`, signed);
    expect(confirmed.body).toMatchObject({ status: 'paid', credited: true, balance: 1800 });
    expect((await request('POST', '/api/payments/test/pay', { orderId: order['orderId'] })).status).toBe(409);
  });
});
