import { describe, expect, it } from 'vitest';
import {
  checkoutSignature,
  isValidCheckoutSignature,
  isValidWebhookSignature,
  webhookSignature,
} from './razorpay-signatures.ts';

// Reference values computed apart from this code: printf '<message>' | openssl dgst -sha256 -hmac '<secret>'
const keySecret = 'test-key-secret';
const orderId = 'order_IluGWxBm9U8zJ8';
const paymentId = 'pay_IluGYD7eH7sE7t';
const checkout = 'ee9d22c57b0d4cd7c0138fa844c28a94b0c957d28f9fe90ae7c20932a7bac11e';
const webhookSecret = 'webhook-secret';
const body = '{"event":"payment.captured"}';
const webhook = '0e95258623492dd0dae77245c958c256d46b4a30b338084b7e996fc25653c79c';

/** The signature with its last character changed. */
const tampered = (signature: string) => `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`;

describe('Razorpay signatures', () => {
  it('signs order_id|payment_id with the key secret, and the raw webhook body with the webhook secret', () => {
    expect(checkoutSignature(keySecret, orderId, paymentId)).toBe(checkout);
    expect(webhookSignature(webhookSecret, body)).toBe(webhook);
    expect(webhookSignature(webhookSecret, Buffer.from(body))).toBe(webhook);
  });

  it('accepts the genuine checkout signature', () => {
    expect(isValidCheckoutSignature(keySecret, orderId, paymentId, checkout)).toBe(true);
  });

  it.each<[string, { order: string; payment: string; signature: string }]>([
    ['with one character changed', { order: orderId, payment: paymentId, signature: tampered(checkout) }],
    ['in upper case', { order: orderId, payment: paymentId, signature: checkout.toUpperCase() }],
    ['cut short', { order: orderId, payment: paymentId, signature: checkout.slice(0, -1) }],
    ['with a character added', { order: orderId, payment: paymentId, signature: `${checkout}0` }],
    ['that is empty', { order: orderId, payment: paymentId, signature: '' }],
    ['made for another order', { order: 'order_Other00000001', payment: paymentId, signature: checkout }],
    ['made for another payment', { order: orderId, payment: 'pay_Other000000001', signature: checkout }],
  ])('refuses a checkout signature %s', (_case, { order, payment, signature }) => {
    expect(isValidCheckoutSignature(keySecret, order, payment, signature)).toBe(false);
  });

  it.each<[string, string | Buffer]>([
    ['as text', body],
    ['as the bytes received', Buffer.from(body)],
  ])('accepts the genuine webhook signature over the body %s', (_case, raw) => {
    expect(isValidWebhookSignature(webhookSecret, raw, webhook)).toBe(true);
  });

  it.each<[string, { secret: string | undefined; raw: string; signature: string }]>([
    ['with one character changed', { secret: webhookSecret, raw: body, signature: tampered(webhook) }],
    [
      'over the body re-serialized with a space',
      { secret: webhookSecret, raw: '{"event": "payment.captured"}', signature: webhook },
    ],
    ['checked with another secret', { secret: keySecret, raw: body, signature: webhook }],
    ['when no webhook secret is set', { secret: undefined, raw: body, signature: webhook }],
    ['that is empty', { secret: webhookSecret, raw: body, signature: '' }],
  ])('refuses a webhook signature %s', (_case, { secret, raw, signature }) => {
    expect(isValidWebhookSignature(secret, raw, signature)).toBe(false);
  });
});
