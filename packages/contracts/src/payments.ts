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
  pack: z.string(),
  units: z.number(),
  unit: z.string(),
  amountMinor: z.number(),
  currency: z.string(),
  status: orderStatus,
  paymentId: z.string().nullable(),
  createdAt: timestamp,
  paidAt: timestamp.nullable(),
  refundedUnits: z.number(),
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

/** How a webhook delivery was applied (`duplicate` for a redelivery). */
export const webhookAnswer = z.object({ duplicate: z.boolean(), outcome: z.string() });

export const testPayBody = z.object({ orderId: z.uuid() });
export const testPayAnswer = checkoutAnswer;
