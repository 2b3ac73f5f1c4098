// The call under way: time used and left, warnings, connection state, and the call's buttons.
import { ErrorMessage, formatDuration, Notice } from '@ballast/ui';
import { useEffect, useRef } from 'react';
import type { CallState, OnCall } from './use-call.ts';

export function LiveCall({ call, phase }: { readonly call: CallState; readonly phase: OnCall }) {
  // The start button the person pressed is gone: bring the call into view and put focus on it.
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    title.current?.scrollIntoView({ block: 'start' });
    title.current?.focus({ preventScroll: true });
  }, []);
  return (
    <section className="card call live" aria-labelledby="call-title">
      <h2 id="call-title" ref={title} tabIndex={-1}>
        On a call with your coach
      </h2>
      {phase.voice.mode === 'local' ? (
        <p className="test-mode-banner" role="note">
          Local voice mode: no ElevenLabs key on this server. Your browser speaks the coach’s lines; your microphone is
          on.
        </p>
      ) : null}
      <p className="timer" aria-live="off">
        <span data-testid="call-elapsed">{formatDuration(call.elapsed)}</span>
        <span className="muted"> · </span>
        <span data-testid="call-remaining">{formatDuration(call.remaining)}</span> left
      </p>
      <ErrorMessage>{call.error}</ErrorMessage>
      {phase.warning ? (
        <ErrorMessage>Less than a minute of talk-time left: the call ends when it runs out.</ErrorMessage>
      ) : null}
      {phase.connection === 'lost' ? (
        <ErrorMessage>Connection lost: reconnecting… The call continues for 10 seconds.</ErrorMessage>
      ) : null}
      {phase.connection === 'recovered' ? <Notice>Connection recovered.</Notice> : null}
      <p className="call-actions">
        {phase.voice.mode === 'local' ? (
          <button type="button" className="button" disabled={phase.kind === 'ending'} onClick={call.nextLine}>
            Next question
          </button>
        ) : null}
        <button
          type="button"
          className="button"
          data-variant="danger"
          disabled={phase.kind === 'ending'}
          onClick={() => void call.hangUp()}
        >
          {phase.kind === 'ending' ? 'Ending…' : 'End call'}
        </button>
      </p>
    </section>
  );
}
