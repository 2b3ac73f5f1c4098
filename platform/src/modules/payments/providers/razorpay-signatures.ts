import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '#platform/kernel/security/crypto.ts';

/** Razorpay's checkout signature: hex HMAC-SHA256 of `order_id|payment_id` with the key secret. */
export function checkoutSignature(keySecret: string, orderId: string, paymentId: string): string {
  return createHmac('sha256', keySecret).update(`${orderId}|${paymentId}`).digest('hex');
}

/** Razorpay's webhook signature: hex HMAC-SHA256 of the raw request body with the webhook secret. */
export function webhookSignature(webhookSecret: string, rawBody: Buffer | string): string {
  return createHmac('sha256', webhookSecret).update(rawBody).digest('hex');
}

/** True when `signature` is the checkout signature of this order and payment (compared in constant time). */
export function isValidCheckoutSignature(
  keySecret: string,
  orderId: string,
  paymentId: string,
  signature: string,
): boolean {
  return constantTimeEqual(checkoutSignature(keySecret, orderId, paymentId), signature);
}

/**
 * True when `signature` signs exactly these bytes with the webhook secret (compared in constant
 * time); always false without a secret.
 */
export function isValidWebhookSignature(
  webhookSecret: string | undefined,
  rawBody: Buffer | string,
  signature: string,
): boolean {
  return webhookSecret !== undefined && constantTimeEqual(webhookSignature(webhookSecret, rawBody), signature);
}
