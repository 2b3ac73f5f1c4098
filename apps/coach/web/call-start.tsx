// Before a call (and after one): how the last call ended, what stands in the way, and the start button.
import { ErrorMessage, formatDuration, Notice } from '@ballast/ui';
import type { CallState } from './use-call.ts';

export function CallStart({
  call,
  balance,
  owed,
}: {
  readonly call: CallState;
  readonly balance: number;
  /** Talk-time earlier calls used beyond the balance: taken from the next pack before a call starts. */
  readonly owed: number;
}) {
  const { phase } = call;
  return (
    <section className="card call" aria-labelledby="call-title">
      <h2 id="call-title">Talk with your coach</h2>
      {phase.kind === 'ended' ? (
        <Notice>
          Call ended after {formatDuration(phase.metered)}. {phase.reason} Your care plan will arrive by email shortly.
        </Notice>
      ) : null}
      <ErrorMessage>{call.error}</ErrorMessage>
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
        disabled={phase.kind === 'connecting' || balance <= 0}
        onClick={() => void call.start()}
      >
        {phase.kind === 'connecting' ? 'Connecting…' : 'Start call'}
      </button>
    </section>
  );
}
