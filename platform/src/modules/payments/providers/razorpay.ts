import { PermanentExternalError, type ExternalService } from '#platform/kernel/resilience/external-service.ts';
import type { CreateOrderInput, PaymentProvider, ProviderPayment } from './payment-provider.ts';
import { isValidCheckoutSignature, isValidWebhookSignature } from './razorpay-signatures.ts';

export interface RazorpayOptions {
  readonly keyId: string;
  readonly keySecret: string;
  readonly webhookSecret: string | undefined;
  /** https://api.razorpay.com; tests point it at a local server speaking the same API. */
  readonly baseUrl: string;
  readonly service: ExternalService;
}

interface RazorpayError {
  readonly error?: { readonly code?: string; readonly description?: string };
}

/**
 * Razorpay through its documented REST API (v1, HTTP Basic auth with the key id and secret):
 * `POST /v1/orders` creates an order, `GET /v1/payments/:id` reads a payment. Creating an order
 * is not idempotent, so it is never retried; reads are.
 */
export function createRazorpayProvider(options: RazorpayOptions): PaymentProvider {
  const authorization = `Basic ${Buffer.from(`${options.keyId}:${options.keySecret}`).toString('base64')}`;

  async function request<T>(method: 'GET' | 'POST', path: string, body: unknown, idempotent: boolean): Promise<T> {
    return options.service.call(
      async (signal) => {
        const response = await fetch(new URL(path, options.baseUrl), {
          method,
          headers: {
            authorization,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? null : JSON.stringify(body),
          signal,
        });
        const answer = (await response.json().catch(() => ({}))) as T & RazorpayError;
        if (response.ok) return answer;
        const detail = `Razorpay answered ${response.status}: ${answer.error?.code ?? ''} ${answer.error?.description ?? response.statusText}`;
        if (response.status >= 400 && response.status < 500 && response.status !== 429) {
          throw new PermanentExternalError('razorpay', detail, { status: response.status });
        }
        throw new Error(detail);
      },
      { idempotent },
    );
  }

  return {
    name: 'razorpay',
    keyId: options.keyId,
    async createOrder(input: CreateOrderInput) {
      const order = await request<{ id: string }>(
        'POST',
        '/v1/orders',
        { amount: input.amountMinor, currency: input.currency, receipt: input.receipt, notes: input.notes },
        false,
      );
      return { id: order.id };
    },
    async fetchPayment(paymentId: string): Promise<ProviderPayment> {
      const payment = await request<{
        id: string;
        order_id: string | null;
        amount: number;
        currency: string;
        status: string;
      }>('GET', `/v1/payments/${encodeURIComponent(paymentId)}`, undefined, true);
      return {
        id: payment.id,
        orderId: payment.order_id,
        amountMinor: payment.amount,
        currency: payment.currency,
        status: payment.status,
      };
    },
    verifyCheckout: (orderId, paymentId, signature) =>
      isValidCheckoutSignature(options.keySecret, orderId, paymentId, signature),
    verifyWebhook: (rawBody, signature) => isValidWebhookSignature(options.webhookSecret, rawBody, signature),
  };
}
