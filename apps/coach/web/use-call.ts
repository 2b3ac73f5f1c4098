// One call with the coach, as a state machine the views only read:
//   idle → connecting → live → ending → ended (and back to idle when the microphone or the start fails).
// While live it heartbeats over the realtime socket (plain HTTP when the socket is down), follows the
// server's metering events, counts the time left on this page's clock and, in local voice mode,
// speaks the coach's lines with the browser's speech synthesis. The shape (phase, elapsed,
// remaining, start, hangUp) is what another voice app (the interviewer) reuses.
import { api, ApiError, connectRealtime, type RealtimeClient } from '@ballast/ui';
import type { Parsed } from '@ballast/contracts';
import { useCallback, useEffect, useRef, useState } from 'react';
import { callAnswer, heartbeatAnswer, startCallAnswer, type callView } from '../shared/api.ts';
import { endReasonText, HEARTBEAT_SECONDS, type VoiceSetup } from '../shared/calls.ts';

type CallView = Parsed<typeof callView>;
type Heartbeat = Parsed<typeof heartbeatAnswer>;

/** A call under way: `live`, or `ending` while the hang-up is on its way to the server. */
export type OnCall = {
  readonly kind: 'live' | 'ending';
  readonly call: CallView;
  readonly voice: VoiceSetup;
  readonly startedAt: number;
  readonly warning: boolean;
  readonly connection: 'live' | 'lost' | 'recovered';
};

export type CallPhase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'connecting' }
  | OnCall
  | { readonly kind: 'ended'; readonly reason: string; readonly metered: number };

export type CallState = {
  readonly phase: CallPhase;
  readonly error: string | undefined;
  /** Seconds since the call started (0 outside a call). */
  readonly elapsed: number;
  /** Seconds of talk-time left in this call (0 outside a call). */
  readonly remaining: number;
  readonly start: () => Promise<void>;
  readonly hangUp: () => Promise<void>;
  /** Local voice mode only: the coach speaks its next line. */
  readonly nextLine: () => void;
};

export function isOnCall(phase: CallPhase): phase is OnCall {
  return phase.kind === 'live' || phase.kind === 'ending';
}

/** Plays the coach's lines with the browser's speech synthesis (local voice mode). */
function speak(text: string): void {
  if (!('speechSynthesis' in window)) return;
  window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
}

export function useCall({ onChanged }: { readonly onChanged: () => void }): CallState {
  const [phase, setPhase] = useState<CallPhase>({ kind: 'idle' });
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

  /** Updates the call under way; any other phase stays as it is. */
  const updateCall = useCallback((change: (current: OnCall) => Partial<OnCall>) => {
    setPhase((current) => (isOnCall(current) ? { ...current, ...change(current) } : current));
  }, []);

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
  const onCall = isOnCall(phase);
  useEffect(() => {
    if (!onCall) return;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [onCall]);

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
      updateCall(() => ({ warning: answer.warning }));
    },
    [finish, updateCall],
  );

  const start = async () => {
    setError(undefined);
    // iOS Safari plays audio only from a context created or resumed inside the tap itself.
    audio.current ??= new AudioContext();
    void audio.current.resume();
    setPhase({ kind: 'connecting' });
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
    setNow(Date.now());
    setPhase({ kind: 'live', call, voice, startedAt: call.startedAt.getTime(), warning: false, connection: 'live' });
    const live = connectRealtime('coach');
    socket.current = live;
    let wasLost = false;
    live.onState((state) => {
      if (state === 'closed') wasLost = true;
      updateCall((current) => ({
        connection:
          state === 'open' ? (wasLost ? 'recovered' : 'live') : state === 'closed' ? 'lost' : current.connection,
      }));
    });
    live.on('metering.ended', (data) => {
      const ended = data as { sessionId: string; reason: string; meteredSeconds: number };
      if (ended.sessionId === call.id) finish(endReasonText[ended.reason] ?? 'The call ended.', ended.meteredSeconds);
    });
    live.on('metering.warning', (data) => {
      const warned = data as { sessionId: string; remainingSeconds: number };
      if (warned.sessionId === call.id) updateCall(() => ({ warning: true }));
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
          updateCall(() => ({ connection: 'lost' }));
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
    setPhase({ ...phase, kind: 'ending' });
    try {
      const sinceLastBeatMs = lastAck.current === null ? undefined : Math.round(performance.now() - lastAck.current);
      const { call } = await api(
        'POST',
        `/api/coach/calls/${phase.call.id}/end`,
        { transcript: transcript.current, sinceLastBeatMs },
        callAnswer,
      );
      finish(call.endReasonText ?? 'You ended the call.', call.meteredSeconds);
    } catch (caught) {
      // Still on the call (the server did not end it): the person can try again.
      setPhase((current) => (current.kind === 'ending' ? { ...current, kind: 'live' } : current));
      setError((caught as Error).message);
    }
  };

  const elapsed = isOnCall(phase) ? Math.max(0, Math.floor((now - phase.startedAt) / 1000)) : 0;
  const remaining = isOnCall(phase) ? Math.max(0, phase.call.maxSeconds - elapsed) : 0;
  return { phase, error, elapsed, remaining, start, hangUp, nextLine };
}
