import type { Parsed } from '@ballast/contracts';
import { receiptAnswer } from '@ballast/contracts/payments';
import { useEffect, useState } from 'react';
import { api, ApiError } from './api.ts';
import { purchaseState } from './admin-pages.tsx';
import { formatDateTime, formatMoney, formatUnits } from './format.ts';
import { ErrorMessage } from './form.tsx';
import { RequireUser } from './layout.tsx';

type Receipt = Parsed<typeof receiptAnswer>;

/** `/receipts/<app>/<order id>` → the app and the order, as the address names them. */
function receiptFromPath(): { app: string; orderId: string } {
  const [, , app = '', orderId = ''] = location.pathname.replace(/\/+$/, '').split('/');
  return { app: decodeURIComponent(app), orderId: decodeURIComponent(orderId) };
}

/**
 * One purchase as a receipt the buyer can keep or print: product, pack, amount, when, the payment
 * and order references, and TEST when the site takes test payments. Linked from the product's
 * purchases, the account page and the receipt email; anyone else's order reads "No such receipt".
 */
export function ReceiptPage() {
  const [{ app, orderId }] = useState(receiptFromPath);
  const [receipt, setReceipt] = useState<Receipt | undefined>(undefined);
  const [error, setError] = useState<{ missing: boolean; message: string } | undefined>(undefined);

  useEffect(() => {
    api(
      'GET',
      `/api/payments/${encodeURIComponent(app)}/purchases/${encodeURIComponent(orderId)}`,
      undefined,
      receiptAnswer,
    )
      .then(setReceipt)
      .catch((caught: unknown) => {
        const missing = caught instanceof ApiError && (caught.status === 404 || caught.status === 400);
        setError({ missing, message: caught instanceof Error ? caught.message : String(caught) });
      });
  }, [app, orderId]);

  return (
    <RequireUser>
      {() => {
        if (error !== undefined) {
          return (
            <section className="card narrow" aria-labelledby="receipt-title">
              <h1 id="receipt-title">{error.missing ? 'No such receipt' : 'Could not load the receipt'}</h1>
              {error.missing ? (
                <p>This order does not exist or belongs to someone else.</p>
              ) : (
                <ErrorMessage>{error.message}</ErrorMessage>
              )}
              <p>
                <a href="/account">Your account</a>
              </p>
            </section>
          );
        }
        if (receipt === undefined) return <p className="muted">Loading…</p>;
        const { purchase, appTitle, email, testMode } = receipt;
        return (
          <section className="card narrow receipt" aria-labelledby="receipt-title">
            <h1 id="receipt-title">
              {testMode ? 'TEST receipt' : 'Receipt'}: {appTitle}
            </h1>
            {testMode ? (
              <p className="test-mode-banner" role="note">
                <strong>TEST payment:</strong> no money moved.
              </p>
            ) : null}
            <dl className="facts">
              <dt>Pack</dt>
              <dd>{purchase.packTitle}</dd>
              <dt>Adds</dt>
              <dd>{formatUnits(purchase.units, purchase.unit)}</dd>
              <dt>Amount</dt>
              <dd>{formatMoney(purchase.amountMinor, purchase.currency)}</dd>
              <dt>Status</dt>
              <dd>{purchaseState(purchase)}</dd>
              <dt>Ordered</dt>
              <dd>{formatDateTime(purchase.createdAt)}</dd>
              {purchase.paidAt === null ? null : (
                <>
                  <dt>Paid</dt>
                  <dd>{formatDateTime(purchase.paidAt)}</dd>
                </>
              )}
              <dt>Payment reference</dt>
              <dd className="wrap-anywhere">{purchase.paymentId ?? '—'}</dd>
              <dt>Order</dt>
              <dd className="wrap-anywhere">{purchase.id}</dd>
              <dt>Billed to</dt>
              <dd className="wrap-anywhere">{email}</dd>
            </dl>
            <p className="actions">
              <button type="button" className="button" onClick={() => window.print()}>
                Print
              </button>
              <a href={`/${encodeURIComponent(app)}/#purchases`}>All your {appTitle} purchases</a>
            </p>
          </section>
        );
      }}
    </RequireUser>
  );
}
