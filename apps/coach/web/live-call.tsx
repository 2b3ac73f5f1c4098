// The call under way: time used and left, what is being said (captions), the microphone's level,
// mute, whether the coach is speaking or listening, warnings, connection state, and the call's
// buttons. After a reload the call runs on and "Resume call" brings back its voice and microphone.
import { ErrorMessage, formatDuration, LevelMeter, Notice, ToggleButton } from '@ballast/ui';
import { useEffect, useRef } from 'react';
import type { CallState, Caption, OnCall } from './use-call.ts';

export function LiveCall({ call, phase }: { readonly call: CallState; readonly phase: OnCall }) {
  // The start button the person pressed is gone: bring the call into view and put focus on it.
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    title.current?.scrollIntoView({ block: 'start' });
    title.current?.focus({ preventScroll: true });
  }, []);
  const ending = phase.kind === 'ending';
  return (
    <section className="card call live" aria-labelledby="call-title">
      <h2 id="call-title" ref={title} tabIndex={-1}>
        On a call with your coach
      </h2>
      {phase.paused ? (
        <p className="resume-note" data-testid="resume-note">
          <strong>Your call is still running</strong> and its time is being counted. Resume it to hear the coach and use
          your microphone again, or end it.
        </p>
      ) : null}
      {phase.voice?.mode === 'local' ? (
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
      <div className="call-status">
        <p className="call-state" aria-live="polite" data-testid="call-state" data-speaking={phase.speaking}>
          {stateText(phase)}
        </p>
        {phase.paused ? null : <LevelMeter source={call.level} label="Microphone level" />}
      </div>
      {phase.paused ? null : <Captions captions={call.captions} hearing={call.hearing} />}
      <ErrorMessage>{call.error}</ErrorMessage>
      {phase.warning ? (
        <ErrorMessage>Less than a minute of talk-time left: the call ends when it runs out.</ErrorMessage>
      ) : null}
      {phase.connection === 'lost' ? (
        <ErrorMessage>Connection lost: reconnecting… The call continues for 10 seconds.</ErrorMessage>
      ) : null}
      {phase.connection === 'recovered' ? <Notice>Connection recovered.</Notice> : null}
      <p className="call-actions">
        {phase.paused ? (
          <button
            type="button"
            className="button big"
            data-variant="primary"
            disabled={ending || phase.resuming}
            onClick={() => void call.resume()}
          >
            {phase.resuming ? 'Resuming…' : 'Resume call'}
          </button>
        ) : (
          <ToggleButton isSelected={phase.muted} isDisabled={ending} onChange={call.toggleMute}>
            Mute
          </ToggleButton>
        )}
        {phase.voice?.mode === 'local' ? (
          <button type="button" className="button" disabled={ending} onClick={call.nextLine}>
            Next question
          </button>
        ) : null}
        <button
          type="button"
          className="button"
          data-variant="danger"
          disabled={ending}
          onClick={() => void call.hangUp()}
        >
          {ending ? 'Ending…' : 'End call'}
        </button>
      </p>
    </section>
  );
}

function stateText(phase: OnCall): string {
  if (phase.paused) return 'Paused: resume the call to talk';
  if (phase.muted) return phase.speaking ? 'Coach speaking · Muted' : 'Muted';
  return phase.speaking ? 'Coach speaking' : 'Listening';
}

/** The last lines said, newest at the bottom, scrolled into view as they come; the person's words as they are heard. */
function Captions({ captions, hearing }: { readonly captions: readonly Caption[]; readonly hearing: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (box.current !== null) box.current.scrollTop = box.current.scrollHeight;
  }, [captions]);
  return (
    <>
      {/* Focusable so a keyboard can scroll it. */}
      <div
        ref={box}
        className="captions"
        role="log"
        aria-live="polite"
        aria-label="Captions"
        tabIndex={0}
        data-testid="captions"
      >
        {captions.length === 0 ? <p className="muted">What is said on the call appears here.</p> : null}
        {captions.map((said) => (
          <p key={said.key} data-role={said.role}>
            <strong>{said.role === 'agent' ? 'Coach:' : 'You:'}</strong> {said.text}
          </p>
        ))}
      </div>
      {hearing === '' ? null : (
        <p className="hearing muted" data-testid="hearing">
          You: {hearing}…
        </p>
      )}
    </>
  );
}
