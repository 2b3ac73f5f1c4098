import type { Parsed } from '@ballast/contracts';
import { confirmOrderAnswer, createdOrder, type checkoutAnswer } from '@ballast/contracts/payments';
import { api } from './api.ts';

/** What `POST /api/payments/:app/orders` answers. */
export type CreatedOrder = Parsed<typeof createdOrder>;

/** Razorpay Checkout's signed answer, which the server verifies. */
export type CheckoutAnswer = Parsed<typeof checkoutAnswer>;

interface RazorpayCheckout {
  open(): void;
  on(event: 'payment.failed', handler: (response: { error: { description: string } }) => void): void;
}
type RazorpayConstructor = new (options: Record<string, unknown>) => RazorpayCheckout;

function loadRazorpay(): Promise<RazorpayConstructor> {
  const existing = (window as unknown as { Razorpay?: RazorpayConstructor }).Razorpay;
  if (existing !== undefined) return Promise.resolve(existing);
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = 'https://checkout.razorpay.com/v1/checkout.js';
    script.onload = () => {
      const loaded = (window as unknown as { Razorpay?: RazorpayConstructor }).Razorpay;
      if (loaded === undefined) reject(new Error('Razorpay Checkout did not load'));
      else resolve(loaded);
    };
    script.onerror = () => reject(new Error('Razorpay Checkout could not be reached'));
    document.head.append(script);
  });
}

/**
 * Buys a pack: creates the order, then either goes to the local test checkout (test mode) or
 * opens Razorpay Checkout and sends its signed answer to the server, which verifies and credits.
 * Resolves with the confirmation, or `redirected` when the browser left for the test checkout.
 */
export async function buyPack(
  app: string,
  pack: string,
  options: { name: string; email?: string | undefined; returnTo: string },
): Promise<{ status: 'paid' | 'processing' | 'redirected' }> {
  const order = await api('POST', `/api/payments/${app}/orders`, { pack }, createdOrder);
  if (order.mode === 'test' && order.checkoutUrl !== null) {
    location.assign(`${order.checkoutUrl}&return=${encodeURIComponent(options.returnTo)}`);
    return { status: 'redirected' };
  }
  const Razorpay = await loadRazorpay();
  const answer = await new Promise<CheckoutAnswer>((resolve, reject) => {
    const checkout = new Razorpay({
      key: order.keyId,
      order_id: order.providerOrderId,
      amount: order.amountMinor,
      currency: order.currency,
      name: options.name,
      description: order.pack.title,
      prefill: options.email === undefined ? {} : { email: options.email },
      handler: (response: CheckoutAnswer) => resolve(response),
      modal: { ondismiss: () => reject(new Error('Payment cancelled')) },
    });
    checkout.on('payment.failed', (response) => reject(new Error(response.error.description)));
    checkout.open();
  });
  return api('POST', `/api/payments/${app}/orders/${order.orderId}/confirm`, answer, confirmOrderAnswer);
}
