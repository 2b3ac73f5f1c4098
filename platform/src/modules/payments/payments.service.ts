import { createHmac } from 'node:crypto';
import type { DB } from '#platform/db/platform.db.ts';
import type { Actor } from '#platform/modules/auth/auth.service.ts';
import type { AuditOrigin, AuditTrail } from '#platform/modules/audit/audit.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Notifier } from '#platform/modules/notify/notifier.ts';
import type { Ledger } from './ledger.ts';
import { formatMoney, paymentMatchesOrder, refundUnits } from './money.ts';
import * as orders from './orders.repository.ts';
import * as events from './payment-events.repository.ts';
import { isRazorpayTestKey } from './payments.settings.ts';
import type { PaymentProvider } from './providers/payment-provider.ts';

/** Something an app sells: a pack of units at a price. */
export interface Pack {
  readonly id: string;
  readonly title: string;
  /** Units credited (seconds of talk-time, tokens). */
  readonly units: number;
  /** Price in the currency's smallest unit (paise for INR). */
  readonly amountMinor: number;
  readonly currency: string;
}

/** What an app sells and in which unit its balance counts. */
export interface PaymentCatalog {
  readonly unit: string;
  readonly packs: readonly Pack[];
}

export type OrderStatus = 'created' | 'paid' | 'failed' | 'refunded';

export interface Purchase {
  readonly id: string;
  readonly providerOrderId: string;
  readonly pack: string;
  readonly units: number;
  readonly unit: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly status: OrderStatus;
  readonly paymentId: string | null;
  readonly createdAt: Date;
  readonly paidAt: Date | null;
  readonly refundedUnits: number;
  /** The pack's title in the app's catalog (its id when no longer sold). */
  readonly packTitle: string;
  /** Never paid and past its checkout's expiry: it will never charge. */
  readonly expired: boolean;
}

/** How long a checkout stays open: an order still unpaid after this is shown as not completed. */
export const CHECKOUT_EXPIRY_MS = 60 * 60_000;

/** What an administrator's grant asks for. */
export interface GrantInput {
  readonly userId: string;
  readonly app: string;
  /** Whole units of the app's balance (seconds of talk-time), > 0. */
  readonly units: number;
  readonly reason: string;
  /** The same key twice (per user) grants once. */
  readonly key: string;
}

export interface CheckoutResult {
  readonly razorpay_order_id: string;
  readonly razorpay_payment_id: string;
  readonly razorpay_signature: string;
}

/** The receipt notification every paid order sends (registered by the payments module). */
export const RECEIPT_NOTIFICATION = 'platform.payment-receipt';

function toPurchase(row: orders.OrderRow, catalogs?: ReadonlyMap<string, PaymentCatalog>, now = Date.now()): Purchase {
  const status = row.status as OrderStatus;
  return {
    id: row.id,
    providerOrderId: row.provider_order_id,
    pack: row.pack,
    units: Number(row.units),
    unit: row.unit,
    amountMinor: Number(row.amount_minor),
    currency: row.currency,
    status,
    paymentId: row.payment_id,
    createdAt: row.created_at,
    paidAt: row.paid_at,
    refundedUnits: Number(row.refunded_units),
    packTitle: catalogs?.get(row.app)?.packs.find((pack) => pack.id === row.pack)?.title ?? row.pack,
    expired: status === 'created' && now - row.created_at.getTime() > CHECKOUT_EXPIRY_MS,
  };
}

/** Razorpay's webhook body, the parts Ballast reads. */
interface WebhookEvent {
  readonly event: string;
  readonly payload: {
    readonly payment?: { readonly entity: WebhookPayment };
    readonly order?: { readonly entity: { readonly id: string; readonly amount: number; readonly currency: string } };
    readonly refund?: {
      readonly entity: {
        readonly id: string;
        readonly amount: number;
        readonly currency: string;
        readonly payment_id: string;
      };
    };
  };
}

interface WebhookPayment {
  readonly id: string;
  readonly order_id: string | null;
  readonly amount: number;
  readonly currency: string;
  readonly status: string;
  readonly error_description?: string | null;
}

export interface PaymentsServiceOptions {
  readonly database: Database;
  readonly ledger: Ledger;
  readonly provider: PaymentProvider;
  readonly catalogs: ReadonlyMap<string, PaymentCatalog>;
  readonly notifier: Notifier;
  readonly audit: Pick<AuditTrail, 'record'>;
  readonly log: Logger;
  readonly publicUrl: string;
}

export type PaymentsService = ReturnType<typeof createPaymentsService>;

/**
 * Selling units for money. A payment credits exactly once, whichever of the checkout callback,
 * the webhook, or a replay of either arrives first, or all at once: crediting is a guarded state
 * change of the stored order (`created` → `paid`) and a ledger entry keyed by the order, in one
 * transaction.
 */
export function createPaymentsService(options: PaymentsServiceOptions) {
  const { database, ledger, provider, log } = options;
  const db = database.view<DB>('platform');

  const testMode = provider.name === 'test' || isRazorpayTestKey(provider.keyId);
  const purchaseOf = (row: orders.OrderRow) => toPurchase(row, options.catalogs);

  function catalogOf(app: string): PaymentCatalog {
    const catalog = options.catalogs.get(app);
    if (catalog === undefined) throw new AppError('not_found', 'payments.unknown_app', `${app} sells nothing`);
    return catalog;
  }

  /**
   * Credits a paid order, once. `amountMinor`/`currency`, when the caller knows them (webhook,
   * fetched payment), must match the stored order, or nothing is credited.
   */
  async function markPaid(
    providerOrderId: string,
    payment: { id: string; amountMinor?: number; currency?: string },
    via: string,
  ): Promise<{ credited: boolean; order: Purchase }> {
    return database.transaction(async (tx) => {
      const scope = tx.view<DB>('platform');
      const order = await orders.findOrder(scope, 'provider_order_id', providerOrderId);
      if (order === undefined) throw new AppError('not_found', 'payments.unknown_order', 'No such order');
      const price = { amountMinor: Number(order.amount_minor), currency: order.currency };
      if (!paymentMatchesOrder(price, payment)) {
        log.error(
          {
            order: order.id,
            expected: [order.amount_minor, order.currency],
            got: [payment.amountMinor, payment.currency],
          },
          'payment amount or currency does not match its order; not credited',
        );
        throw new AppError('payment_failed', 'payments.amount_mismatch', 'The payment does not match the order');
      }
      const paidNow = await orders.markOrderPaid(scope, order.id, payment.id);
      if (!paidNow) return { credited: false, order: purchaseOf(order) };
      await ledger.applyChange(
        {
          userId: order.user_id,
          app: order.app,
          unit: order.unit,
          kind: 'purchase',
          amount: Number(order.units),
          reference: `order:${order.id}`,
          idempotencyKey: `order:${order.id}`,
        },
        { tx },
      );
      await options.notifier.send(RECEIPT_NOTIFICATION, {
        to: { userId: order.user_id, email: order.email ?? undefined },
        idempotencyKey: `receipt:${order.id}`,
        tx,
        data: {
          orderId: order.id,
          paymentId: payment.id,
          pack: order.pack,
          units: Number(order.units),
          unit: order.unit,
          amount: formatMoney(price.amountMinor, price.currency),
          // The app page's purchases section, and this order's own receipt page.
          link: `${options.publicUrl}/${order.app}/#purchases`,
          receiptLink: `${options.publicUrl}/receipts/${order.app}/${order.id}`,
          app: order.app,
          testMode,
        },
      });
      await options.audit.record(
        {
          actor: { id: order.user_id, email: order.email },
          action: 'payments.paid',
          target: { type: 'payment_order', id: order.id },
          details: {
            app: order.app,
            pack: order.pack,
            units: Number(order.units),
            unit: order.unit,
            amount: formatMoney(price.amountMinor, price.currency),
            paymentId: payment.id,
            via,
          },
        },
        tx,
      );
      log.info({ order: order.id, app: order.app, via }, 'payment credited');
      const paid = await orders.findOrder(scope, 'id', order.id);
      return { credited: true, order: purchaseOf(paid!) };
    });
  }

  return {
    provider,
    mode: provider.name,
    /** Payments move no money (the local test gateway, or a Razorpay test key): pages say so. */
    testMode,
    catalogOf,

    async balance(actor: Pick<Actor, 'id'>, app: string): Promise<{ balance: number; unit: string }> {
      const { unit } = catalogOf(app);
      return { balance: await ledger.balanceOf({ userId: actor.id, app, unit }), unit };
    },

    async createOrder(actor: Pick<Actor, 'id'>, app: string, packId: string) {
      const catalog = catalogOf(app);
      const pack = catalog.packs.find((item) => item.id === packId);
      if (pack === undefined) {
        throw new AppError('invalid_input', 'payments.unknown_pack', `No pack "${packId}"`, {
          errors: [{ field: 'pack', message: `must be one of ${catalog.packs.map((item) => item.id).join(', ')}` }],
        });
      }
      const receipt = `${app}-${Date.now().toString(36)}`;
      const created = await provider.createOrder({
        amountMinor: pack.amountMinor,
        currency: pack.currency,
        receipt,
        notes: { app, pack: pack.id, user: actor.id },
      });
      const orderId = await orders.insertOrder(db, {
        userId: actor.id,
        app,
        provider: provider.name,
        providerOrderId: created.id,
        pack: pack.id,
        units: pack.units,
        unit: catalog.unit,
        amountMinor: pack.amountMinor,
        currency: pack.currency,
      });
      return {
        orderId,
        providerOrderId: created.id,
        amountMinor: pack.amountMinor,
        currency: pack.currency,
        keyId: provider.keyId,
        mode: provider.name,
        pack,
      };
    },

    /**
     * The checkout's answer, sent by the browser. The signature is checked against the order id we
     * stored for this user's order, never the one in the request; the payment is then read from
     * the provider, so its amount and state are the gateway's word, not the browser's.
     */
    async confirmCheckout(
      actor: Pick<Actor, 'id'>,
      orderId: string,
      result: CheckoutResult,
      origin: AuditOrigin,
    ): Promise<{ status: 'paid' | 'processing'; credited: boolean; order: Purchase }> {
      const order = await orders.findOrder(db, 'id', orderId);
      if (order === undefined || order.user_id !== actor.id) {
        throw new AppError('not_found', 'payments.unknown_order', 'No such order');
      }
      const valid =
        result.razorpay_order_id === order.provider_order_id &&
        provider.verifyCheckout(order.provider_order_id, result.razorpay_payment_id, result.razorpay_signature);
      if (!valid) {
        await options.audit.record({
          actor: { id: actor.id },
          action: 'payments.signature_rejected',
          target: { type: 'payment_order', id: order.id },
          details: { paymentId: result.razorpay_payment_id },
          ...origin,
        });
        throw new AppError('payment_failed', 'payments.invalid_signature', 'The payment could not be verified');
      }
      if (order.status === 'paid' || order.status === 'refunded') {
        return { status: 'paid', credited: false, order: purchaseOf(order) };
      }
      const payment = await provider.fetchPayment(result.razorpay_payment_id);
      if (payment.orderId !== order.provider_order_id) {
        throw new AppError('payment_failed', 'payments.invalid_signature', 'The payment could not be verified');
      }
      if (payment.status !== 'captured') {
        // Authorized but not yet captured: the `payment.captured` webhook will credit it.
        return { status: 'processing', credited: false, order: purchaseOf(order) };
      }
      const paid = await markPaid(
        order.provider_order_id,
        { id: payment.id, amountMinor: payment.amountMinor, currency: payment.currency },
        'checkout',
      );
      return { status: 'paid', ...paid };
    },

    /**
     * A Razorpay webhook: verified over the raw body, deduplicated by `x-razorpay-event-id`, and
     * applied in any order (a late `payment.failed` never undoes a payment; a refund before its
     * capture credits first).
     */
    async handleWebhook(rawBody: Buffer, signature: string | undefined, eventId: string | undefined) {
      if (signature === undefined || !provider.verifyWebhook(rawBody, signature)) {
        throw new AppError('unauthenticated', 'payments.invalid_webhook_signature', 'Invalid webhook signature');
      }
      let event: WebhookEvent;
      try {
        event = JSON.parse(rawBody.toString('utf8')) as WebhookEvent;
      } catch {
        throw new AppError('invalid_input', 'payments.invalid_webhook', 'The webhook body is not JSON');
      }
      const id = eventId ?? `sha:${createHmac('sha256', 'event').update(rawBody).digest('hex')}`;
      if (!(await events.claimEvent(db, provider.name, id, String(event.event)))) {
        return { duplicate: true, outcome: 'duplicate' };
      }
      let outcome: string;
      try {
        outcome = await applyEvent(event);
      } catch (error) {
        // Let Razorpay retry: forget the event so its redelivery is processed.
        await events.forgetEvent(db, provider.name, id);
        throw error;
      }
      await events.recordEventOutcome(db, provider.name, id, outcome);
      return { duplicate: false, outcome };
    },

    /** One of the caller's orders (another user's answers 404, like a missing one). */
    async orderFor(actor: Pick<Actor, 'id'>, orderId: string): Promise<Purchase> {
      const order = await orders.findOrder(db, 'id', orderId);
      if (order === undefined || order.user_id !== actor.id) {
        throw new AppError('not_found', 'payments.unknown_order', 'No such order');
      }
      return purchaseOf(order);
    },

    async purchases(actor: Pick<Actor, 'id'>, app: string): Promise<Purchase[]> {
      return (await orders.listOrders(db, actor.id, app, 200)).map(purchaseOf);
    },

    /** One of the caller's orders in `app`, with the buyer's email; anyone else's is `not_found`. */
    async receipt(
      actor: Pick<Actor, 'id'>,
      app: string,
      orderId: string,
    ): Promise<{ purchase: Purchase; email: string }> {
      const order = await orders.findOrder(db, 'id', orderId);
      if (order === undefined || order.user_id !== actor.id || order.app !== app) {
        throw new AppError('not_found', 'payments.unknown_order', 'No such order');
      }
      return { purchase: purchaseOf(order), email: order.email ?? '' };
    },

    markPaid,

    /**
     * Credits free units to a user (a ledger `grant`) and records `payments.grant` in the same
     * transaction: both happen or neither. The key makes a repeated request grant once.
     */
    async grant(
      actor: Pick<Actor, 'id' | 'email'>,
      input: GrantInput,
      origin: AuditOrigin,
    ): Promise<{ applied: boolean; balance: number; units: number; unit: string }> {
      const { unit } = catalogOf(input.app);
      if (!Number.isSafeInteger(input.units) || input.units <= 0) {
        throw new AppError('invalid_input', 'payments.invalid_grant', 'A grant is a whole number of units above 0');
      }
      return database.transaction(async (tx) => {
        const scope = tx.view<DB>('platform');
        const user = await orders.findUser(scope, input.userId);
        if (user === undefined) throw new AppError('not_found', 'payments.unknown_user', 'No such user');
        const result = await ledger.applyChange(
          {
            userId: input.userId,
            app: input.app,
            unit,
            kind: 'grant',
            amount: input.units,
            reference: `grant:${actor.id}`,
            idempotencyKey: `grant:${input.userId}:${input.key}`,
          },
          { tx },
        );
        if (result.applied) {
          await options.audit.record(
            {
              actor: { id: actor.id, email: actor.email },
              action: 'payments.grant',
              target: { type: 'user', id: input.userId },
              details: { app: input.app, units: input.units, unit, reason: input.reason, email: user.email },
              ...origin,
            },
            tx,
          );
        }
        return { applied: result.applied, balance: result.balance, units: result.amount, unit };
      });
    },

    /** A user's account basics, for the admin's view of them; undefined when there is no such user. */
    accountOf: (userId: string) => orders.findUser(db, userId),

    /** Every app that sells something: its catalog's unit, the user's balance there and their purchases. */
    async holdings(userId: string) {
      return Promise.all(
        [...options.catalogs].map(async ([app, catalog]) => ({
          app,
          unit: catalog.unit,
          balance: await ledger.balanceOf({ userId, app, unit: catalog.unit }),
          purchases: (await orders.listOrders(db, userId, app, 200)).map(purchaseOf),
        })),
      );
    },
  };

  async function applyEvent(event: WebhookEvent): Promise<string> {
    const payment = event.payload.payment?.entity;
    switch (event.event) {
      case 'payment.captured':
      case 'order.paid': {
        const orderId = payment?.order_id ?? event.payload.order?.entity.id;
        if (payment === undefined || orderId === undefined || orderId === null) return 'ignored: no order';
        if (!(await orders.findOrder(db, 'provider_order_id', orderId))) return 'ignored: unknown order';
        const { credited } = await markPaid(
          orderId,
          { id: payment.id, amountMinor: payment.amount, currency: payment.currency },
          event.event,
        );
        return credited ? 'credited' : 'already credited';
      }
      case 'payment.failed': {
        if (payment?.order_id === undefined || payment.order_id === null) return 'ignored: no order';
        const failed = await orders.markOrderFailed(
          db,
          payment.order_id,
          payment.error_description ?? 'payment failed',
        );
        return failed ? 'failed' : 'ignored: already settled';
      }
      case 'refund.processed':
      case 'refund.created':
      case 'payment.refunded': {
        const refund = event.payload.refund?.entity;
        if (payment?.order_id === undefined || payment.order_id === null || refund === undefined) {
          return 'ignored: no order';
        }
        const order = await orders.findOrder(db, 'provider_order_id', payment.order_id);
        if (order === undefined) return 'ignored: unknown order';
        // A refund implies the capture: credit first if that webhook has not arrived yet.
        if (order.status === 'created' || order.status === 'failed') {
          await markPaid(
            order.provider_order_id,
            { id: payment.id, amountMinor: payment.amount, currency: payment.currency },
            'refund',
          );
        }
        const units = refundUnits(
          { units: Number(order.units), amountMinor: Number(order.amount_minor) },
          refund.amount,
        );
        return database.transaction(async (tx) => {
          const taken =
            units > 0
              ? await ledger.debitUpTo(
                  {
                    userId: order.user_id,
                    app: order.app,
                    unit: order.unit,
                    kind: 'refund',
                    amount: units,
                    reference: `refund:${refund.id}`,
                    idempotencyKey: `refund:${refund.id}`,
                  },
                  { tx },
                )
              : { applied: false, amount: 0 };
          if (taken.applied) {
            await orders.addRefundedUnits(tx.view<DB>('platform'), order.id, -taken.amount);
            await options.audit.record(
              {
                actor: null,
                action: 'payments.refunded',
                target: { type: 'payment_order', id: order.id },
                details: {
                  app: order.app,
                  pack: order.pack,
                  units: -taken.amount,
                  unit: order.unit,
                  amount: formatMoney(refund.amount, refund.currency),
                  refundId: refund.id,
                  userId: order.user_id,
                },
              },
              tx,
            );
          }
          return taken.applied ? `refunded ${-taken.amount} ${order.unit}` : 'ignored: refund already applied';
        });
      }
      default:
        return 'ignored';
    }
  }
}
