// The voice coach: balance and talk-time packs, the call with a live timer, history, care plans
// and purchases. Talks to /api/coach and /api/payments/coach, and heartbeats over /realtime.
import {
  api,
  ApiError,
  buyPack,
  connectRealtime,
  ErrorMessage,
  formatDate,
  formatDateTime,
  formatDuration,
  formatMoney,
  Layout,
  mount,
  Notice,
  RequireUser,
  TestModeBanner,
  type RealtimeClient,
  type User,
} from '@ballast/ui';
import type { Parsed, z } from '@ballast/contracts';
import { balanceAnswer, packsAnswer, purchasesAnswer, type pack } from '@ballast/contracts/payments';
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  callAnswer,
  callsAnswer,
  carePlansAnswer,
  heartbeatAnswer,
  startCallAnswer,
  type callView,
} from '../shared/api.ts';
import { endReasonText, HEARTBEAT_SECONDS, type VoiceSetup } from '../shared/calls.ts';
import './coach.css';

type Pack = Parsed<typeof pack>;
type CallView = Parsed<typeof callView>;
type Heartbeat = Parsed<typeof heartbeatAnswer>;

type Phase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'starting' }
  | {
      readonly kind: 'live';
      readonly call: CallView;
      readonly voice: VoiceSetup;
      readonly startedAt: number;
      readonly remaining: number;
      readonly warning: boolean;
      readonly connection: 'live' | 'lost' | 'recovered';
    }
  | { readonly kind: 'ended'; readonly reason: string; readonly metered: number };

function useLoad<Schema extends z.ZodType>(
  path: string,
  answer: Schema,
  version: number,
): { data: Parsed<Schema> | undefined; error: string | undefined } {
  const [state, setState] = useState<{ data: Parsed<Schema> | undefined; error: string | undefined }>({
    data: undefined,
    error: undefined,
  });
  useEffect(() => {
    let current = true;
    api('GET', path, undefined, answer)
      .then((data) => current && setState({ data, error: undefined }))
      .catch((error: unknown) => current && setState({ data: undefined, error: (error as Error).message }));
    return () => {
      current = false;
    };
  }, [path, answer, version]);
  return state;
}

/** Plays the coach's lines with the browser's speech synthesis (local voice mode). */
function speak(text: string): void {
  if (!('speechSynthesis' in window)) return;
  window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
}

function CallPanel({
  balance,
  owed,
  onChanged,
}: {
  readonly balance: number;
  /** Talk-time earlier calls used beyond the balance: taken from the next pack before a call starts. */
  readonly owed: number;
  readonly onChanged: () => void;
}) {
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [error, setError] = useState<string | undefined>(undefined);
  const [now, setNow] = useState(() => Date.now());
  const audio = useRef<AudioContext | null>(null);
  const stream = useRef<MediaStream | null>(null);
  const socket = useRef<RealtimeClient | null>(null);
  const beat = useRef<ReturnType<typeof setInterval> | null>(null);
  const transcript = useRef<{ role: 'user' | 'agent'; text: string }[]>([]);
  const agent = useRef<{ endSession(): Promise<void> } | null>(null);
  const line = useRef(0);
  /** When the answer to the last heartbeat came (this page's clock): hang-ups are billed up to that plus what followed. */
  const lastAck = useRef<number | null>(null);

  const stopMedia = useCallback(() => {
    if (beat.current !== null) clearInterval(beat.current);
    beat.current = null;
    socket.current?.close();
    socket.current = null;
    for (const track of stream.current?.getTracks() ?? []) track.stop();
    stream.current = null;
    if ('speechSynthesis' in window) window.speechSynthesis.cancel();
    void agent.current?.endSession().catch(() => undefined);
    agent.current = null;
  }, []);

  useEffect(() => stopMedia, [stopMedia]);
  useEffect(() => {
    if (phase.kind !== 'live') return;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [phase.kind]);

  const finish = useCallback(
    (reason: string, metered: number) => {
      stopMedia();
      setPhase({ kind: 'ended', reason, metered });
      onChanged();
    },
    [stopMedia, onChanged],
  );

  const applyBeat = useCallback(
    (answer: Heartbeat) => {
      lastAck.current = performance.now();
      if (answer.status === 'ended') {
        finish(endReasonText[answer.endReason ?? ''] ?? 'The call ended.', answer.meteredSeconds);
        return;
      }
      setPhase((current) =>
        current.kind === 'live' ? { ...current, remaining: answer.remainingSeconds, warning: answer.warning } : current,
      );
    },
    [finish],
  );

  const start = async () => {
    setError(undefined);
    // iOS Safari plays audio only from a context created or resumed inside the tap itself.
    audio.current ??= new AudioContext();
    void audio.current.resume();
    setPhase({ kind: 'starting' });
    try {
      stream.current = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      setPhase({ kind: 'idle' });
      setError(
        'Microphone access was refused. Allow the microphone for this site in your browser settings, then try again.',
      );
      return;
    }
    let started: { call: CallView; voice: VoiceSetup };
    try {
      started = await api('POST', '/api/coach/calls', {}, startCallAnswer);
    } catch (caught) {
      stopMedia();
      setPhase({ kind: 'idle' });
      setError(
        caught instanceof ApiError && caught.code === 'coach.insufficient_talktime'
          ? 'You have no talk-time left: buy a pack to start a call.'
          : (caught as Error).message,
      );
      return;
    }
    const { call, voice } = started;
    transcript.current = [];
    line.current = 0;
    lastAck.current = performance.now();
    setPhase({
      kind: 'live',
      call,
      voice,
      startedAt: call.startedAt.getTime(),
      remaining: call.remainingSeconds,
      warning: false,
      connection: 'live',
    });
    const live = connectRealtime('coach');
    socket.current = live;
    let wasLost = false;
    live.onState((state) => {
      if (state === 'closed') wasLost = true;
      setPhase((current) =>
        current.kind !== 'live'
          ? current
          : {
              ...current,
              connection:
                state === 'open' ? (wasLost ? 'recovered' : 'live') : state === 'closed' ? 'lost' : current.connection,
            },
      );
    });
    live.on('metering.ended', (data) => {
      const ended = data as { sessionId: string; reason: string; meteredSeconds: number };
      if (ended.sessionId === call.id) finish(endReasonText[ended.reason] ?? 'The call ended.', ended.meteredSeconds);
    });
    live.on('metering.warning', (data) => {
      const warned = data as { sessionId: string; remainingSeconds: number };
      if (warned.sessionId === call.id)
        setPhase((current) => (current.kind === 'live' ? { ...current, warning: true } : current));
    });
    const heartbeat = async () => {
      try {
        // The live socket first; plain HTTP when it is down.
        const answer =
          live.state === 'open'
            ? heartbeatAnswer.parse(await live.request('call.heartbeat', { sessionId: call.id }))
            : await api('POST', `/api/coach/calls/${call.id}/heartbeat`, {}, heartbeatAnswer);
        applyBeat(answer);
      } catch {
        try {
          applyBeat(await api('POST', `/api/coach/calls/${call.id}/heartbeat`, {}, heartbeatAnswer));
        } catch {
          setPhase((current) => (current.kind === 'live' ? { ...current, connection: 'lost' } : current));
          wasLost = true;
        }
      }
    };
    beat.current = setInterval(() => void heartbeat(), HEARTBEAT_SECONDS * 1000);
    void heartbeat();
    if (voice.mode === 'elevenlabs') {
      // ElevenLabs' official browser SDK, on the signed URL the server asked for (the key never
      // reaches the browser). The server knows the conversation the URL opens and bills the call
      // from ElevenLabs' record of it; the session id rides along for operators reading the agent's logs.
      try {
        const { Conversation } = await import('@elevenlabs/client');
        agent.current = await Conversation.startSession({
          signedUrl: voice.signedUrl,
          connectionType: 'websocket',
          dynamicVariables: { ballast_session_id: call.id },
          onError: (message: string) => setError(`Voice agent: ${message}`),
        });
      } catch (caught) {
        setError(`The voice agent could not be reached (${(caught as Error).message}); the call stays open.`);
      }
    }
    if (voice.mode === 'local') {
      const first = voice.lines[0];
      if (first !== undefined) {
        transcript.current.push({ role: 'agent', text: first });
        speak(first);
      }
    }
  };

  const nextLine = () => {
    if (phase.kind !== 'live' || phase.voice.mode !== 'local') return;
    line.current = Math.min(line.current + 1, phase.voice.lines.length - 1);
    const text = phase.voice.lines[line.current]!;
    transcript.current.push({ role: 'agent', text });
    speak(text);
  };

  const hangUp = async () => {
    if (phase.kind !== 'live') return;
    try {
      const sinceLastBeatMs = lastAck.current === null ? undefined : Math.round(performance.now() - lastAck.current);
      const { call } = await api(
        'POST',
        `/api/coach/calls/${phase.call.id}/end`,
        {
          transcript: transcript.current,
          sinceLastBeatMs,
        },
        callAnswer,
      );
      finish(call.endReasonText ?? 'You ended the call.', call.meteredSeconds);
    } catch (caught) {
      setError((caught as Error).message);
    }
  };

  if (phase.kind === 'live') {
    const elapsed = Math.max(0, Math.floor((now - phase.startedAt) / 1000));
    const remaining = Math.max(0, phase.call.maxSeconds - elapsed);
    return (
      <section className="card call live" aria-labelledby="call-title">
        <h2 id="call-title">On a call with your coach</h2>
        {phase.voice.mode === 'local' ? (
          <p className="test-mode-banner" role="note">
            Local voice mode: no ElevenLabs key on this server. Your browser speaks the coach’s lines; your microphone
            is on.
          </p>
        ) : null}
        <p className="timer" aria-live="off">
          <span data-testid="call-elapsed">{formatDuration(elapsed)}</span>
          <span className="muted"> · </span>
          <span data-testid="call-remaining">{formatDuration(remaining)}</span> left
        </p>
        {phase.warning ? (
          <ErrorMessage>Less than a minute of talk-time left: the call ends when it runs out.</ErrorMessage>
        ) : null}
        {phase.connection === 'lost' ? (
          <ErrorMessage>Connection lost: reconnecting… The call continues for 10 seconds.</ErrorMessage>
        ) : null}
        {phase.connection === 'recovered' ? <Notice>Connection recovered.</Notice> : null}
        <p className="call-actions">
          {phase.voice.mode === 'local' ? (
            <button type="button" className="button" onClick={nextLine}>
              Next question
            </button>
          ) : null}
          <button type="button" className="button" data-variant="danger" onClick={() => void hangUp()}>
            End call
          </button>
        </p>
      </section>
    );
  }

  return (
    <section className="card call" aria-labelledby="call-title">
      <h2 id="call-title">Talk with your coach</h2>
      {phase.kind === 'ended' ? (
        <Notice>
          Call ended after {formatDuration(phase.metered)}. {phase.reason} Your care plan will arrive by email shortly.
        </Notice>
      ) : null}
      <ErrorMessage>{error}</ErrorMessage>
      {owed > 0 ? (
        <p className="muted" data-testid="owed">
          An earlier call ran {formatDuration(owed)} past your talk-time. It is taken from your talk-time before your
          next call starts.
        </p>
      ) : null}
      {balance <= 0 ? <p className="muted">You have no talk-time left. Buy a pack below to start a call.</p> : null}
      <button
        type="button"
        className="button big"
        data-variant="primary"
        disabled={phase.kind === 'starting' || balance <= 0}
        onClick={() => void start()}
      >
        {phase.kind === 'starting' ? 'Connecting…' : 'Start call'}
      </button>
    </section>
  );
}

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

  return (
    <div className="coach">
      <h1 className="page-title">Voice coach</h1>
      <section className="card balance" aria-labelledby="balance-title">
        <h2 id="balance-title">Talk-time</h2>
        <p className="balance-figure" data-testid="balance">
          {balance.data === undefined ? '…' : formatDuration(seconds)}
        </p>
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
              <button type="button" className="button" disabled={buying !== undefined} onClick={() => buy(pack)}>
                {buying === pack.id ? 'Opening checkout…' : `Buy ${pack.title}`}
              </button>
            </li>
          ))}
        </ul>
      </section>
      <CallPanel balance={seconds} owed={calls.data?.unsettledSeconds ?? 0} onChanged={refresh} />
      <section className="card" aria-labelledby="plans-title">
        <h2 id="plans-title">Care plans</h2>
        {plans.data?.carePlans.length === 0 ? (
          <p className="muted">After your first call, your care plan appears here.</p>
        ) : null}
        {(plans.data?.carePlans ?? []).map((plan) => (
          <article key={plan.sessionId} className="care-plan" data-source={plan.source}>
            <h3>{plan.title}</h3>
            <p className="muted">{formatDateTime(plan.createdAt)}</p>
            <p className="plan-body">{plan.body}</p>
          </article>
        ))}
      </section>
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
      <section className="card" aria-labelledby="purchases-title" id="purchases">
        <h2 id="purchases-title">Purchases</h2>
        {purchases.data?.purchases.length === 0 ? <p className="muted">No purchases yet.</p> : null}
        {purchases.data?.purchases.length === 0 ? null : (
          <table className="data-table" data-testid="purchases" data-collapse>
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">Pack</th>
                <th scope="col">Price</th>
                <th scope="col">Status</th>
                <th scope="col">Payment reference</th>
              </tr>
            </thead>
            <tbody>
              {(purchases.data?.purchases ?? []).map((item) => (
                <tr key={item.id}>
                  <td data-label="Date">{formatDate(item.createdAt)}</td>
                  <td data-label="Pack">{item.pack}</td>
                  <td data-label="Price">{formatMoney(item.amountMinor, item.currency)}</td>
                  <td data-label="Status">{item.status}</td>
                  <td data-label="Payment reference" className="muted">
                    {item.paymentId ?? ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

mount(
  <Layout product="Voice coach" productHref="/coach/">
    <RequireUser>{(user) => <CoachHome user={user} />}</RequireUser>
  </Layout>,
);
