import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A payment as the local Razorpay keeps it. */
export interface FakeRazorpayPayment {
  id: string;
  entity: 'payment';
  order_id: string;
  amount: number;
  currency: string;
  status: 'authorized' | 'captured' | 'failed' | 'refunded';
  captured: boolean;
  method: 'card';
  error_description: string | null;
}

export interface FakeRazorpayOrder {
  id: string;
  entity: 'order';
  amount: number;
  amount_paid: number;
  amount_due: number;
  currency: string;
  receipt: string;
  status: 'created' | 'attempted' | 'paid';
  notes: Record<string, string>;
  created_at: number;
}

/**
 * A local server speaking Razorpay's documented REST API (`POST /v1/orders`, `GET /v1/orders/:id`,
 * `GET /v1/payments/:id`, HTTP Basic auth), and able to act as the customer: `pay` returns what
 * Checkout hands the browser, signed with the key secret; `webhook` builds a signed webhook
 * delivery. Tests point `RAZORPAY_API_URL` at it.
 */
export interface FakeRazorpay {
  readonly url: string;
  readonly keyId: string;
  readonly keySecret: string;
  readonly webhookSecret: string;
  readonly orders: Map<string, FakeRazorpayOrder>;
  readonly payments: Map<string, FakeRazorpayPayment>;
  /** Requests received, for assertions (`POST /v1/orders`, ...). */
  readonly requests: string[];
  /** Pays an order (captured unless told otherwise); returns the Checkout handler's response. */
  pay(
    orderId: string,
    options?: { status?: FakeRazorpayPayment['status']; amount?: number; currency?: string },
  ): {
    payment: FakeRazorpayPayment;
    checkout: { razorpay_order_id: string; razorpay_payment_id: string; razorpay_signature: string };
  };
  /** A webhook delivery as Razorpay sends it: body, signature and event id headers. */
  webhook(
    event: string,
    entities: { payment?: FakeRazorpayPayment; order?: FakeRazorpayOrder; refund?: Record<string, unknown> },
  ): { body: string; headers: Record<string, string> };
  close(): Promise<void>;
}

const id = (prefix: string) => `${prefix}_${randomBytes(7).toString('base64url').replace(/[-_]/g, 'x')}`;

/** `live` hands out a live-mode key id (`rzp_live_...`), as production has; test mode otherwise. */
export async function startFakeRazorpay(options: { live?: boolean } = {}): Promise<FakeRazorpay> {
  const keyId = `rzp_${options.live === true ? 'live' : 'test'}_${randomBytes(6).toString('hex')}`;
  const keySecret = randomBytes(18).toString('base64url');
  const webhookSecret = randomBytes(18).toString('base64url');
  const orders = new Map<string, FakeRazorpayOrder>();
  const payments = new Map<string, FakeRazorpayPayment>();
  const requests: string[] = [];
  const expected = `Basic ${Buffer.from(`${keyId}:${keySecret}`).toString('base64')}`;

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = (request.url ?? '').split('?')[0] ?? '';
      requests.push(`${request.method} ${path}`);
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      const fail = (status: number, code: string, description: string) =>
        send(status, { error: { code, description, source: 'NA', step: 'NA', reason: 'NA' } });
      if (request.headers.authorization !== expected) {
        fail(401, 'BAD_REQUEST_ERROR', 'Authentication failed');
        return;
      }
      if (request.method === 'POST' && path === '/v1/orders') {
        let body: { amount?: unknown; currency?: unknown; receipt?: unknown; notes?: Record<string, string> };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
        } catch {
          fail(400, 'BAD_REQUEST_ERROR', 'The request body is not JSON');
          return;
        }
        if (typeof body.amount !== 'number' || !Number.isInteger(body.amount) || body.amount < 100) {
          fail(400, 'BAD_REQUEST_ERROR', 'The amount must be atleast INR 1.00');
          return;
        }
        if (typeof body.currency !== 'string' || typeof body.receipt !== 'string' || body.receipt.length > 40) {
          fail(400, 'BAD_REQUEST_ERROR', 'currency and receipt (at most 40 characters) are required');
          return;
        }
        const order: FakeRazorpayOrder = {
          id: id('order'),
          entity: 'order',
          amount: body.amount,
          amount_paid: 0,
          amount_due: body.amount,
          currency: body.currency,
          receipt: body.receipt,
          status: 'created',
          notes: body.notes ?? {},
          created_at: Math.floor(Date.now() / 1000),
        };
        orders.set(order.id, order);
        send(200, order);
        return;
      }
      const orderMatch = /^\/v1\/orders\/([\w]+)$/.exec(path);
      if (request.method === 'GET' && orderMatch !== null) {
        const order = orders.get(orderMatch[1]!);
        if (order === undefined) fail(400, 'BAD_REQUEST_ERROR', 'The id provided does not exist');
        else send(200, order);
        return;
      }
      const paymentMatch = /^\/v1\/payments\/([\w]+)$/.exec(path);
      if (request.method === 'GET' && paymentMatch !== null) {
        const payment = payments.get(paymentMatch[1]!);
        if (payment === undefined) fail(400, 'BAD_REQUEST_ERROR', 'The id provided does not exist');
        else send(200, payment);
        return;
      }
      fail(404, 'BAD_REQUEST_ERROR', 'The requested URL was not found on the server.');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    keyId,
    keySecret,
    webhookSecret,
    orders,
    payments,
    requests,
    pay(orderId, options = {}) {
      const order = orders.get(orderId);
      if (order === undefined) throw new Error(`no order ${orderId}`);
      const status = options.status ?? 'captured';
      const payment: FakeRazorpayPayment = {
        id: id('pay'),
        entity: 'payment',
        order_id: orderId,
        amount: options.amount ?? order.amount,
        currency: options.currency ?? order.currency,
        status,
        captured: status === 'captured',
        method: 'card',
        error_description: status === 'failed' ? 'Your payment was declined by the bank.' : null,
      };
      payments.set(payment.id, payment);
      if (status === 'captured') {
        order.status = 'paid';
        order.amount_paid = payment.amount;
        order.amount_due = 0;
      } else {
        order.status = 'attempted';
      }
      const signature = createHmac('sha256', keySecret).update(`${orderId}|${payment.id}`).digest('hex');
      return {
        payment,
        checkout: { razorpay_order_id: orderId, razorpay_payment_id: payment.id, razorpay_signature: signature },
      };
    },
    webhook(event, entities) {
      const payload: Record<string, { entity: unknown }> = {};
      for (const [name, entity] of Object.entries(entities)) payload[name] = { entity };
      const body = JSON.stringify({
        entity: 'event',
        account_id: 'acc_BallastTest01',
        event,
        contains: Object.keys(entities),
        payload,
        created_at: Math.floor(Date.now() / 1000),
      });
      return {
        body,
        headers: {
          'content-type': 'application/json',
          'x-razorpay-signature': createHmac('sha256', webhookSecret).update(body).digest('hex'),
          'x-razorpay-event-id': id('evt'),
        },
      };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
