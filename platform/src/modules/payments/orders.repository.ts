import type { Kysely, Selectable } from 'kysely';
import type { DB, PaymentOrder } from '#platform/db/platform.db.ts';

/**
 * Payment orders (`payment_order`), on the handle given: the platform's tables on the pool, or
 * inside a transaction (`tx.view<DB>('platform')`).
 */

export type OrderRow = Pick<
  Selectable<PaymentOrder>,
  | 'id'
  | 'user_id'
  | 'app'
  | 'provider'
  | 'provider_order_id'
  | 'pack'
  | 'units'
  | 'unit'
  | 'amount_minor'
  | 'currency'
  | 'status'
  | 'payment_id'
  | 'created_at'
  | 'paid_at'
  | 'refunded_units'
>;

const orderColumns = [
  'o.id',
  'o.user_id',
  'o.app',
  'o.provider',
  'o.provider_order_id',
  'o.pack',
  'o.units',
  'o.unit',
  'o.amount_minor',
  'o.currency',
  'o.status',
  'o.payment_id',
  'o.created_at',
  'o.paid_at',
  'o.refunded_units',
] as const;

/** One order by our id or the gateway's, with its buyer's email (for the receipt). */
export async function findOrder(
  db: Kysely<DB>,
  by: 'id' | 'provider_order_id',
  value: string,
): Promise<(OrderRow & { email: string | null }) | undefined> {
  return db
    .selectFrom('payment_order as o')
    .select(orderColumns)
    .select((eb) => eb.selectFrom('user as u').select('u.email').whereRef('u.id', '=', 'o.user_id').as('email'))
    .where(by === 'id' ? 'o.id' : 'o.provider_order_id', '=', value)
    .executeTakeFirst();
}

/** The user's orders in `app`, newest first. */
export async function listOrders(db: Kysely<DB>, userId: string, app: string, limit: number): Promise<OrderRow[]> {
  return db
    .selectFrom('payment_order as o')
    .select(orderColumns)
    .where('o.user_id', '=', userId)
    .where('o.app', '=', app)
    .orderBy('o.created_at', 'desc')
    .limit(limit)
    .execute();
}

export async function insertOrder(
  db: Kysely<DB>,
  order: {
    userId: string;
    app: string;
    provider: string;
    providerOrderId: string;
    pack: string;
    units: number;
    unit: string;
    amountMinor: number;
    currency: string;
  },
): Promise<string> {
  const inserted = await db
    .insertInto('payment_order')
    .values({
      user_id: order.userId,
      app: order.app,
      provider: order.provider,
      provider_order_id: order.providerOrderId,
      pack: order.pack,
      units: order.units,
      unit: order.unit,
      amount_minor: order.amountMinor,
      currency: order.currency,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return inserted.id;
}

/** Marks an unpaid (created or failed) order paid; false when it already was paid (or refunded). */
export async function markOrderPaid(db: Kysely<DB>, id: string, paymentId: string): Promise<boolean> {
  const updated = await db
    .updateTable('payment_order')
    .set((eb) => ({ status: 'paid', payment_id: paymentId, paid_at: eb.fn('now'), failure_reason: null }))
    .where('id', '=', id)
    .where('status', 'in', ['created', 'failed'])
    .returning('id')
    .executeTakeFirst();
  return updated !== undefined;
}

/** Marks a still-unpaid order failed; false when it was settled already. */
export async function markOrderFailed(db: Kysely<DB>, providerOrderId: string, reason: string): Promise<boolean> {
  const failed = await db
    .updateTable('payment_order')
    .set({ status: 'failed', failure_reason: reason })
    .where('provider_order_id', '=', providerOrderId)
    .where('status', '=', 'created')
    .executeTakeFirst();
  return failed.numUpdatedRows > 0n;
}

/** Counts `units` more as refunded; the order is `refunded` once all its units are. */
export async function addRefundedUnits(db: Kysely<DB>, id: string, units: number): Promise<void> {
  await db
    .updateTable('payment_order')
    .set((eb) => ({
      refunded_units: eb('refunded_units', '+', String(units)),
      status: eb
        .case()
        .when(eb(eb('refunded_units', '+', String(units)), '>=', eb.ref('units')))
        .then('refunded')
        .else(eb.ref('status'))
        .end(),
    }))
    .where('id', '=', id)
    .execute();
}

/** The local test gateway's payment: the order it paid. */
export async function findTestPayment(
  db: Kysely<DB>,
  paymentId: string,
): Promise<Pick<OrderRow, 'provider_order_id' | 'amount_minor' | 'currency'> | undefined> {
  return db
    .selectFrom('payment_order')
    .select(['provider_order_id', 'amount_minor', 'currency'])
    .where('provider', '=', 'test')
    .where('payment_id', '=', paymentId)
    .executeTakeFirst();
}

/** A local test order, and the payment recorded on it if any. */
export async function findTestOrder(
  db: Kysely<DB>,
  providerOrderId: string,
): Promise<Pick<OrderRow, 'payment_id'> | undefined> {
  return db
    .selectFrom('payment_order')
    .select('payment_id')
    .where('provider', '=', 'test')
    .where('provider_order_id', '=', providerOrderId)
    .executeTakeFirst();
}

/** Records the local test gateway's payment on its order, unless one is recorded already. */
export async function recordTestPayment(db: Kysely<DB>, providerOrderId: string, paymentId: string): Promise<void> {
  await db
    .updateTable('payment_order')
    .set({ payment_id: paymentId })
    .where('provider_order_id', '=', providerOrderId)
    .where('payment_id', 'is', null)
    .execute();
}

/** A user's account basics (the admin's view, a grant's audit entry). */
export async function findUser(
  db: Kysely<DB>,
  id: string,
): Promise<{ id: string; email: string; displayName: string | null; disabled: boolean; createdAt: Date } | undefined> {
  return db
    .selectFrom('user as u')
    .select(['u.id', 'u.email', 'u.display_name as displayName', 'u.created_at as createdAt'])
    .select((eb) => eb.cast<boolean>(eb('u.disabled_at', 'is not', null), 'boolean').as('disabled'))
    .where('u.id', '=', id)
    .executeTakeFirst();
}
