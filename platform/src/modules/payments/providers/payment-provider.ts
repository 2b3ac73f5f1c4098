/** A payment gateway as the payments module sees it (Razorpay, or the local test gateway). */
export interface PaymentProvider {
  readonly name: 'razorpay' | 'test';
  /** The public key id the browser's checkout needs. */
  readonly keyId: string;
  createOrder(input: CreateOrderInput): Promise<{ readonly id: string }>;
  fetchPayment(paymentId: string): Promise<ProviderPayment>;
  /** Checks the checkout's `razorpay_signature` against the order id *we stored*. */
  verifyCheckout(orderId: string, paymentId: string, signature: string): boolean;
  /** Checks `X-Razorpay-Signature` over the exact bytes received. */
  verifyWebhook(rawBody: Buffer, signature: string): boolean;
}

export interface CreateOrderInput {
  readonly amountMinor: number;
  readonly currency: string;
  /** Our reference, at most 40 characters. */
  readonly receipt: string;
  readonly notes: Readonly<Record<string, string>>;
}

export interface ProviderPayment {
  readonly id: string;
  readonly orderId: string | null;
  readonly amountMinor: number;
  readonly currency: string;
  /** Razorpay's payment states: created, authorized, captured, refunded, failed. */
  readonly status: string;
}
