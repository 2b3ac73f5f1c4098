import type { Parsed } from '@ballast/contracts';
import { confirmOrderAnswer, purchasesAnswer, testPayAnswer, type purchase } from '@ballast/contracts/payments';
import { useEffect, useState, type ReactNode } from 'react';
import { api, safeNext } from './api.ts';
import { formatMoney } from './format.ts';
import { ErrorMessage } from './form.tsx';
import { Card, RequireUser } from './layout.tsx';

type Purchase = Parsed<typeof purchase>;

/**
 * The banner every checkout shows while payments move no money (the local test gateway, or
 * Razorpay's test mode): a note, in words, that screen readers read with the page.
 */
export function TestModeBanner({ children }: { readonly children: ReactNode }) {
  return (
    <p className="test-mode-banner" role="note">
      <strong>TEST MODE:</strong> {children}
    </p>
  );
}

/**
 * The local test gateway's checkout, used when the server has no Razorpay keys: clearly labelled,
 * it asks the server to sign a payment exactly as Razorpay would and sends it through the same
 * verification as a real one. No money moves.
 */
export function TestCheckoutPage() {
  const params = new URLSearchParams(location.search);
  const orderId = params.get('order') ?? '';
  const app = params.get('app') ?? '';
  const returnTo = safeNext(params.get('return'), `/${app}/`);
  const [order, setOrder] = useState<Purchase | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api('GET', `/api/payments/${encodeURIComponent(app)}/purchases`, undefined, purchasesAnswer)
      .then(({ purchases }) => {
        const found = purchases.find((item) => item.id === orderId);
        if (found === undefined) setError('This order does not exist or is not yours.');
        else setOrder(found);
      })
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)));
  }, [app, orderId]);

  const pay = () => {
    setBusy(true);
    setError(undefined);
    api('POST', '/api/payments/test/pay', { orderId }, testPayAnswer)
      .then((signed) => api('POST', `/api/payments/${app}/orders/${orderId}/confirm`, signed, confirmOrderAnswer))
      .then(() => location.assign(`${returnTo}${returnTo.includes('?') ? '&' : '?'}paid=${orderId}`))
      .catch((caught: unknown) => {
        setError(caught instanceof Error ? caught.message : String(caught));
        setBusy(false);
      });
  };

  return (
    <RequireUser>
      {() => (
        <Card title="Test checkout">
          <TestModeBanner>
            this server has no Razorpay keys. This page pays with a local test gateway that signs the payment like
            Razorpay does. No money moves.
          </TestModeBanner>
          {order === undefined ? null : (
            <dl className="facts">
              <dt>Pack</dt>
              <dd>{order.pack}</dd>
              <dt>Amount</dt>
              <dd data-testid="checkout-amount">{formatMoney(order.amountMinor, order.currency)}</dd>
              <dt>Status</dt>
              <dd>{order.status}</dd>
            </dl>
          )}
          <ErrorMessage>{error}</ErrorMessage>
          <p>
            <button
              type="button"
              className="button"
              data-variant="primary"
              disabled={busy || order === undefined || order.status === 'paid'}
              onClick={pay}
            >
              {busy
                ? 'Paying…'
                : `Pay ${order === undefined ? '' : formatMoney(order.amountMinor, order.currency)} (test)`}
            </button>{' '}
            <a href={returnTo}>Cancel</a>
          </p>
        </Card>
      )}
    </RequireUser>
  );
}
