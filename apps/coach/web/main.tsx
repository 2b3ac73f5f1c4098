// The voice coach: balance and talk-time packs, the call with a live timer, history, care plans
// and purchases. Talks to /api/coach and /api/payments/coach; the call itself is useCall() (use-call.ts).
import {
  buyPack,
  ErrorMessage,
  formatDateTime,
  formatDuration,
  formatMoney,
  Layout,
  mount,
  Notice,
  RequireUser,
  TestModeBanner,
  type User,
} from '@ballast/ui';
import type { Parsed } from '@ballast/contracts';
import { balanceAnswer, packsAnswer, purchasesAnswer, type pack } from '@ballast/contracts/payments';
import { useCallback, useEffect, useState } from 'react';
import { callsAnswer, carePlansAnswer } from '../shared/api.ts';
import { CallPanel } from './call-panel.tsx';
import { CarePlansPanel } from './care-plans-panel.tsx';
import { perMinute, PurchasesPanel } from './purchases-panel.tsx';
import { isOnCall, useCall } from './use-call.ts';
import { useLoad } from './use-load.ts';
import './coach.css';

type Pack = Parsed<typeof pack>;

function CoachHome({ user }: { readonly user: User }) {
  const [version, setVersion] = useState(0);
  const refresh = useCallback(() => setVersion((value) => value + 1), []);
  const balance = useLoad('/api/payments/coach/balance', balanceAnswer, version);
  const catalog = useLoad('/api/payments/coach/packs', packsAnswer, 0);
  const calls = useLoad('/api/coach/calls', callsAnswer, version);
  const plans = useLoad('/api/coach/care-plans', carePlansAnswer, version);
  const purchases = useLoad('/api/payments/coach/purchases', purchasesAnswer, version);
  const [buying, setBuying] = useState<string | undefined>(undefined);
  const [buyError, setBuyError] = useState<string | undefined>(undefined);
  // Read once: the notice shows on this load only, and the address loses `?paid=` so a reload or a
  // bookmark does not announce the payment again.
  const [paid] = useState(() => new URLSearchParams(location.search).get('paid'));
  useEffect(() => {
    if (paid === null) return;
    const url = new URL(location.href);
    url.searchParams.delete('paid');
    history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
  }, [paid]);

  // Care plans arrive a little after a call ends: look again for a while.
  useEffect(() => {
    const timer = setInterval(refresh, 10_000);
    return () => clearInterval(timer);
  }, [refresh]);

  const buy = (pack: Pack) => {
    setBuying(pack.id);
    setBuyError(undefined);
    buyPack('coach', pack.id, { name: 'Voice coach', email: user.email, returnTo: '/coach/' })
      .then((result) => {
        if (result.status !== 'redirected') refresh();
      })
      .catch((error: unknown) => setBuyError((error as Error).message))
      .finally(() => setBuying(undefined));
  };
  const seconds = balance.data?.balance ?? 0;
  const call = useCall({ onChanged: refresh });
  // During a call the panel comes first and is the one place where time counts down; with talk-time
  // to spend it comes first too (starting a call is then the page's main action, on a phone as well).
  const onCall = isOnCall(call.phase);
  const callFirst = onCall || seconds > 0;
  const panel = (
    <CallPanel
      call={call}
      balance={seconds}
      owed={calls.data?.unsettledSeconds ?? 0}
      firstCall={calls.data?.calls.length === 0}
    />
  );

  return (
    <div className="coach">
      <h1 className="page-title">Voice coach</h1>
      {callFirst ? panel : null}
      <section className="card balance" aria-labelledby="balance-title">
        <h2 id="balance-title">Talk-time</h2>
        {onCall ? (
          <p className="muted" data-testid="balance-on-call">
            In use: the time left is counted down in your call above.
          </p>
        ) : (
          <p className="balance-figure" data-testid="balance">
            {balance.data === undefined ? '…' : formatDuration(seconds)}
          </p>
        )}
        {paid !== null ? (
          <Notice>Payment received: your talk-time is topped up. A receipt is on its way.</Notice>
        ) : null}
        {catalog.data?.testMode === true ? (
          <TestModeBanner>payments on this server move no money; nothing bought here is real.</TestModeBanner>
        ) : null}
        <ErrorMessage>{buyError}</ErrorMessage>
        <ul className="packs">
          {(catalog.data?.packs ?? []).map((pack) => (
            <li key={pack.id}>
              <strong>{pack.title}</strong>
              <span>{formatMoney(pack.amountMinor, pack.currency)}</span>
              <span className="muted">{perMinute(pack)}</span>
              <button type="button" className="button" disabled={buying !== undefined} onClick={() => buy(pack)}>
                {buying === pack.id ? 'Opening checkout…' : `Buy ${pack.title}`}
              </button>
            </li>
          ))}
        </ul>
      </section>
      {callFirst ? null : panel}
      <CarePlansPanel plans={plans.data} />
      <section className="card" aria-labelledby="history-title">
        <h2 id="history-title">Call history</h2>
        {calls.data?.calls.length === 0 ? <p className="muted">No calls yet.</p> : null}
        {calls.data?.calls.length === 0 ? null : (
          <table className="data-table" data-collapse>
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Length</th>
                <th scope="col">How it ended</th>
              </tr>
            </thead>
            <tbody>
              {(calls.data?.calls ?? []).map((item) => (
                <tr key={item.id}>
                  <td data-label="Started">{formatDateTime(item.startedAt)}</td>
                  <td data-label="Length">{formatDuration(item.meteredSeconds)}</td>
                  <td data-label="How it ended">
                    {item.status === 'active' ? 'in progress' : (item.endReasonText ?? '')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <PurchasesPanel purchases={purchases.data?.purchases} />
    </div>
  );
}

mount(
  <Layout product="Voice coach" productHref="/coach/">
    <RequireUser>{(user) => <CoachHome user={user} />}</RequireUser>
  </Layout>,
);
