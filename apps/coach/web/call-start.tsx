// Before a call (and after one): how the last call ended, what stands in the way, and the start button.
import { ErrorMessage, formatDuration, Notice } from '@ballast/ui';
import { SafetyNote } from './safety-note.tsx';
import type { CallState } from './use-call.ts';

export function CallStart({
  call,
  balance,
  owed,
  firstCall,
}: {
  readonly call: CallState;
  readonly balance: number;
  /** Talk-time earlier calls used beyond the balance: taken from the next pack before a call starts. */
  readonly owed: number;
  /** No call yet: say what the coach is and what a call is like before the first one. */
  readonly firstCall: boolean;
}) {
  const { phase } = call;
  return (
    <section className="card call" aria-labelledby="call-title">
      <h2 id="call-title">Talk with your coach</h2>
      {firstCall && phase.kind !== 'ended' ? <AboutCalls /> : null}
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
      <SafetyNote />
    </section>
  );
}

/** Before the first call: what the coach is, what a call is like, the microphone, what is kept, the end. */
function AboutCalls() {
  return (
    <div className="about-calls" data-testid="about-calls">
      <p>
        The coach is an AI you talk to out loud: it asks how you are, listens, and helps you choose one small next step.
        After the call it writes you a care plan.
      </p>
      <ul>
        <li>Your browser asks to use your microphone; it is on for the whole call and off when the call ends.</li>
        <li>
          This site keeps no recording of your voice. The words of the call are kept as text, so the coach can write
          your care plan and you can read it later.
        </li>
        <li>
          A call uses your talk-time by the second. With less than a minute left you see a warning; when it runs out the
          call ends by itself and your care plan follows by email.
        </li>
      </ul>
    </div>
  );
}
