// The caller's purchases: each pack by its title, its price and state in words; an order whose
// checkout was never completed says so and is never shown as a pending charge.
import { formatDate, formatMoney, purchaseState } from '@ballast/ui';
import type { Parsed } from '@ballast/contracts';
import type { purchase } from '@ballast/contracts/payments';

type Purchase = Parsed<typeof purchase>;

export function PurchasesPanel({ purchases }: { readonly purchases: readonly Purchase[] | undefined }) {
  return (
    <section className="card" aria-labelledby="purchases-title" id="purchases">
      <h2 id="purchases-title">Purchases</h2>
      {purchases?.length === 0 ? <p className="muted">No purchases yet.</p> : null}
      {purchases === undefined || purchases.length === 0 ? null : (
        <table className="data-table" data-testid="purchases" data-collapse>
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">Pack</th>
              <th scope="col">Price</th>
              <th scope="col">Status</th>
              <th scope="col">Payment reference</th>
              <th scope="col">Receipt</th>
            </tr>
          </thead>
          <tbody>
            {purchases.map((item) => (
              <tr key={item.id} data-status={item.expired ? 'expired' : item.status}>
                <td data-label="Date">{formatDate(item.createdAt)}</td>
                <td data-label="Pack">{item.packTitle}</td>
                <td data-label="Price">{formatMoney(item.amountMinor, item.currency)}</td>
                <td data-label="Status">{purchaseState(item)}</td>
                <td data-label="Payment reference" className="muted">
                  {item.paymentId ?? '—'}
                </td>
                <td data-label="Receipt">
                  {item.status === 'created' ? (
                    '—'
                  ) : (
                    <a
                      href={`/receipts/coach/${item.id}`}
                      aria-label={`Receipt for ${item.packTitle}, ${formatDate(item.createdAt)}`}
                    >
                      Receipt
                    </a>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A pack's price per minute of talk-time ("₹16.63 / min"), from its price and seconds. */
export function perMinute(pack: { readonly amountMinor: number; readonly units: number; readonly currency: string }) {
  const minutes = pack.units / 60;
  return `${formatMoney(Math.round(pack.amountMinor / minutes), pack.currency)} / min`;
}
