import { randomBytes } from 'node:crypto';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { findTestOrder, findTestPayment, recordTestPayment } from '../orders.repository.ts';
import type { PaymentProvider, ProviderPayment } from './payment-provider.ts';
import {
  checkoutSignature,
  isValidCheckoutSignature,
  isValidWebhookSignature,
  webhookSignature,
} from './razorpay-signatures.ts';

/** The key id the local test gateway shows: plainly not a live key. */
export const TEST_KEY_ID = 'rzp_test_ballast_local';

/**
 * The local test gateway, used when no Razorpay keys are set: orders and payments live in this
 * database, and payments are signed exactly as Razorpay signs them, with a local test secret, so
 * the real verification code runs on one machine. Nothing here moves money.
 */
export interface TestGateway extends PaymentProvider {
  /** What Razorpay Checkout would hand the browser after a successful test payment. */
  pay(orderId: string): Promise<{ razorpay_order_id: string; razorpay_payment_id: string; razorpay_signature: string }>;
  /** Signs a webhook body as Razorpay would (for local tools and tests). */
  signWebhook(rawBody: string): string;
}

export function createTestGateway(options: { database: Database; secret: string }): TestGateway {
  const db = options.database.view<DB>('platform');
  const id = (prefix: string) => `${prefix}_test${randomBytes(9).toString('base64url')}`;
  return {
    name: 'test',
    keyId: TEST_KEY_ID,
    async createOrder() {
      return { id: id('order') };
    },
    async fetchPayment(paymentId): Promise<ProviderPayment> {
      const row = await findTestPayment(db, paymentId);
      if (row === undefined) {
        throw new AppError('not_found', 'payments.unknown_payment', `No test payment ${paymentId}`);
      }
      return {
        id: paymentId,
        orderId: row.provider_order_id,
        amountMinor: Number(row.amount_minor),
        currency: row.currency,
        status: 'captured',
      };
    },
    async pay(orderId) {
      const row = await findTestOrder(db, orderId);
      if (row === undefined) throw new AppError('not_found', 'payments.unknown_order', `No test order ${orderId}`);
      // The test gateway records the payment on the order, as Razorpay records it on its own.
      const paymentId = row.payment_id ?? id('pay');
      await recordTestPayment(db, orderId, paymentId);
      return {
        razorpay_order_id: orderId,
        razorpay_payment_id: paymentId,
        razorpay_signature: checkoutSignature(options.secret, orderId, paymentId),
      };
    },
    verifyCheckout: (orderId, paymentId, signature) =>
      isValidCheckoutSignature(options.secret, orderId, paymentId, signature),
    verifyWebhook: (rawBody, signature) => isValidWebhookSignature(options.secret, rawBody, signature),
    signWebhook: (rawBody) => webhookSignature(options.secret, rawBody),
  };
}
