import { z } from 'zod';
import { timestamp } from './common.ts';

/** An app's name in a payments path (`/api/payments/coach/...`). */
export const appParams = z.object({ app: z.string().regex(/^[a-z][a-z0-9]{1,30}$/) });

/** Something an app sells: a pack of units at a price. */
export const pack = z.object({
  id: z.string(),
  title: z.string(),
  /** Units credited (seconds of talk-time, tokens). */
  units: z.number(),
  /** Price in the currency's smallest unit (paise for INR). */
  amountMinor: z.number(),
  currency: z.string(),
});

export const paymentMode = z.enum(['razorpay', 'test']);

/** What an app sells, and whether payments are in test mode. */
export const packsAnswer = z.object({
  mode: paymentMode,
  testMode: z.boolean(),
  keyId: z.string(),
  unit: z.string(),
  packs: z.array(pack).readonly(),
});

/** The caller's balance in the app's unit. */
export const balanceAnswer = z.object({ balance: z.number(), unit: z.string() });

export const createOrderBody = z.object({ pack: z.string().min(1).max(100) });
/** A gateway order for the browser's checkout; `checkoutUrl` is the local test checkout, in test mode. */
export const createdOrder = z.object({
  orderId: z.string(),
  providerOrderId: z.string(),
  amountMinor: z.number(),
  currency: z.string(),
  keyId: z.string(),
  mode: paymentMode,
  pack,
  checkoutUrl: z.string().nullable(),
});

/** The checkout's signed answer (Razorpay's field names). */
export const checkoutAnswer = z.object({
  razorpay_order_id: z.string().min(1).max(100),
  razorpay_payment_id: z.string().min(1).max(100),
  razorpay_signature: z.string().min(1).max(200),
});

export const orderStatus = z.enum(['created', 'paid', 'failed', 'refunded']);

/** One of the caller's orders. */
export const purchase = z.object({
  id: z.string(),
  providerOrderId: z.string(),
  /** The pack's id in the app's catalog. */
  pack: z.string(),
  /** The pack's title ("1 hour"), or its id when the catalog no longer sells it. */
  packTitle: z.string(),
  units: z.number(),
  unit: z.string(),
  amountMinor: z.number(),
  currency: z.string(),
  status: orderStatus,
  paymentId: z.string().nullable(),
  createdAt: timestamp,
  paidAt: timestamp.nullable(),
  refundedUnits: z.number(),
  /** Never paid, and its checkout is past its expiry: it will never charge anything. */
  expired: z.boolean(),
});

export const confirmOrderParams = appParams.extend({ id: z.uuid() });
/** `processing` until the gateway captures the payment (its webhook then credits the pack). */
export const confirmOrderAnswer = z.object({
  status: z.enum(['paid', 'processing']),
  credited: z.boolean(),
  order: purchase,
  balance: z.number(),
  unit: z.string(),
});

export const purchasesAnswer = z.object({ purchases: z.array(purchase).readonly() });

export const purchaseParams = appParams.extend({ id: z.uuid() });

/** One of the caller's orders as a receipt: what was bought, from which product, by whom. */
export const receiptAnswer = z.object({
  purchase,
  /** The product's name ("Voice coach"). */
  appTitle: z.string(),
  /** The buyer's email address. */
  email: z.string(),
  /** This site takes test payments: no money moved, and the receipt says TEST. */
  testMode: z.boolean(),
});

/** How a webhook delivery was applied (`duplicate` for a redelivery). */
export const webhookAnswer = z.object({ duplicate: z.boolean(), outcome: z.string() });

export const testPayBody = z.object({ orderId: z.uuid() });
export const testPayAnswer = checkoutAnswer;

/** The most a single grant may credit, in the app's unit (a week of talk-time in seconds). */
export const MAX_GRANT_UNITS = 604_800;

export const adminUserParams = z.object({ id: z.uuid() });
export const grantParams = appParams.extend({ id: z.uuid() });

/**
 * Free units an administrator credits to a user, with the reason for the audit trail. `key` makes
 * a repeated request (a double click, a retry) grant once.
 */
export const grantBody = z.object({
  units: z
    .number({ error: 'units must be a number' })
    .int('units must be a whole number')
    .positive('units must be more than 0')
    .max(MAX_GRANT_UNITS, `units must be at most ${MAX_GRANT_UNITS}`),
  reason: z.string().trim().min(3, 'reason must say why (at least 3 characters)').max(500),
  key: z.string().min(8).max(100),
});

/** A grant: `applied` is false when its key had been granted already (nothing more was credited). */
export const grantAnswer = z.object({ applied: z.boolean(), balance: z.number(), units: z.number(), unit: z.string() });

/** How an admin view formats a cell: text as is, a number of seconds as a duration, an ISO instant as a date. */
export const adminCellFormat = z.enum(['text', 'duration', 'datetime']);

/** A table an app adds to the admin's view of one user (the coach: their calls). */
export const adminUserSection = z.object({
  title: z.string(),
  columns: z.array(z.object({ key: z.string(), label: z.string(), format: adminCellFormat })).readonly(),
  rows: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.null()]))).readonly(),
  /** Shown when `rows` is empty. */
  empty: z.string(),
});

/** One app's part of the admin's view of a user: balance, purchases, and what the app adds. */
export const adminUserApp = z.object({
  app: z.string(),
  title: z.string(),
  unit: z.string(),
  balance: z.number(),
  purchases: z.array(purchase).readonly(),
  sections: z.array(adminUserSection).readonly(),
});

/** The admin's view of one user, per app. */
export const adminUserAnswer = z.object({
  user: z.object({
    id: z.string(),
    email: z.string(),
    displayName: z.string().nullable(),
    disabled: z.boolean(),
    createdAt: timestamp,
  }),
  apps: z.array(adminUserApp).readonly(),
});
