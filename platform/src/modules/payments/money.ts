/**
 * The arithmetic of selling units for money, apart from any I/O: whether a payment is the one an
 * order asked for, what a refund takes back, and how an amount reads.
 */

/** An order's price, in the currency's smallest unit (paise for INR). */
export interface Price {
  readonly amountMinor: number;
  readonly currency: string;
}

/**
 * True when a payment matches its order: each of its amount and currency that the caller knows (a
 * webhook, a payment fetched from the gateway) equals the order's. An unknown one is not checked.
 */
export function paymentMatchesOrder(
  order: Price,
  payment: { readonly amountMinor?: number | undefined; readonly currency?: string | undefined },
): boolean {
  return (
    (payment.amountMinor === undefined || payment.amountMinor === order.amountMinor) &&
    (payment.currency === undefined || payment.currency === order.currency)
  );
}

/**
 * The units a refund of `refundMinor` takes back from an order of `units` for `amountMinor`: in
 * proportion, rounded to the nearest whole unit (half a unit rounds up).
 */
export function refundUnits(order: { readonly units: number; readonly amountMinor: number }, refundMinor: number) {
  return Math.round((order.units * refundMinor) / order.amountMinor);
}

/** 49900 INR → "₹499.00" (Indian English grouping: 1,00,000.00). */
export function formatMoney(amountMinor: number, currency: string): string {
  return new Intl.NumberFormat('en-IN', { style: 'currency', currency }).format(amountMinor / 100);
}
