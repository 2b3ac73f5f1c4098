// One call with the coach, as a state machine the views only read:
//   idle → connecting → live → ending → ended (and back to idle when the microphone or the start fails).
// While live it heartbeats over the realtime socket (plain HTTP when the socket is down), follows the
// server's metering events, counts the time left on this page's clock (kept in step with the
// server's heartbeat answers), follows the microphone's level, shows what is said as captions and,
// in local voice mode, speaks the coach's lines with the browser's speech synthesis. A page loaded
// during a live call (a reload) picks the call up at once: heartbeats keep it open and the time
// counts on, and "Resume call" brings back the voice and the microphone (browsers play audio only
// after a click). The shape (phase, elapsed, remaining, start, hangUp) is what another voice app
// (the interviewer) reuses.
import { api, ApiError, connectRealtime, createLevelSource, type LevelSource, type RealtimeClient } from '@ballast/ui';
import type { Parsed } from '@ballast/contracts';
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  callAnswer,
  callsAnswer,
  currentCallAnswer,
  heartbeatAnswer,
  startCallAnswer,
  type callView,
} from '../shared/api.ts';
import { endReasonText, HEARTBEAT_SECONDS, type VoiceSetup } from '../shared/calls.ts';
import {
  createRecognition,
  followLevel,
  forgetSavedCall,
  readSavedCall,
  saveCall,
  speak,
  type Line,
} from './call-media.ts';

type CallView = Parsed<typeof callView>;
type Heartbeat = Parsed<typeof heartbeatAnswer>;

/** A call under way: `live`, or `ending` while the hang-up is on its way to the server. */
export type OnCall = {
  readonly kind: 'live' | 'ending';
  readonly call: CallView;
  /** How the coach talks; undefined while a reloaded page waits for "Resume call". */
  readonly voice: VoiceSetup | undefined;
  /** When the call started, on this page's clock. */
  readonly startedAt: number;
  readonly warning: boolean;
  readonly connection: 'live' | 'lost' | 'recovered';
  /** Picked up after a reload: the call runs on, the voice and microphone wait for "Resume call". */
  readonly paused: boolean;
  /** "Resume call" was pressed and is on its way. */
  readonly resuming: boolean;
  readonly muted: boolean;
  /** The coach is speaking (speech synthesis, or the voice agent's mode). */
  readonly speaking: boolean;
};

export type CallPhase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'connecting' }
  | OnCall
  | { readonly kind: 'ended'; readonly reason: string; readonly metered: number };

/** One line of the captions. */
export type Caption = Line & { readonly key: number };

export type CallState = {
  readonly phase: CallPhase;
  readonly error: string | undefined;
  /** Seconds since the call started (0 outside a call). */
  readonly elapsed: number;
  /** Seconds of talk-time left in this call (0 outside a call). */
  readonly remaining: number;
  /** What the coach and the person said, oldest first (the last few lines of it). */
  readonly captions: readonly Caption[];
  /** The person's words being recognised right now (interim), or ''. */
  readonly hearing: string;
  /** The microphone's level, 0–100 (0 while muted or without a microphone). */
  readonly level: LevelSource;
  readonly start: () => Promise<void>;
  /** After a reload: brings back the voice and the microphone of the call that ran on. */
  readonly resume: () => Promise<void>;
  readonly hangUp: () => Promise<void>;
  readonly toggleMute: () => void;
  /** Local voice mode only: the coach speaks its next line. */
  readonly nextLine: () => void;
};

export function isOnCall(phase: CallPhase): phase is OnCall {
  return phase.kind === 'live' || phase.kind === 'ending';
}

/** Captions kept on the page (the transcript sent at hang-up keeps every line). */
const CAPTION_LINES = 20;

interface Agent {
  endSession(): Promise<void>;
  setMicMuted(muted: boolean): void;
}

export function useCall({ onChanged }: { readonly onChanged: () => void }): CallState {
  const [phase, setPhase] = useState<CallPhase>({ kind: 'idle' });
  const [error, setError] = useState<string | undefined>(undefined);
  const [now, setNow] = useState(() => Date.now());
  const [captions, setCaptions] = useState<readonly Caption[]>([]);
  const [hearing, setHearing] = useState('');
  const [level] = useState(createLevelSource);
  const audio = useRef<AudioContext | null>(null);
  const stream = useRef<MediaStream | null>(null);
  const stopLevel = useRef<(() => void) | null>(null);
  const recognition = useRef<{ start(): void; stop(): void } | null>(null);
  const socket = useRef<RealtimeClient | null>(null);
  const beat = useRef<ReturnType<typeof setInterval> | null>(null);
  const callId = useRef<string | null>(null);
  const transcript = useRef<Line[]>([]);
  const captionKey = useRef(0);
  const agent = useRef<Agent | null>(null);
  const line = useRef(0);
  const muted = useRef(false);
  /** When the answer to the last heartbeat came (this page's clock): hang-ups are billed up to that plus what followed. */
  const lastAck = useRef<number | null>(null);

  /** Updates the call under way; any other phase stays as it is. */
  const updateCall = useCallback((change: (current: OnCall) => Partial<OnCall>) => {
    setPhase((current) => (isOnCall(current) ? { ...current, ...change(current) } : current));
  }, []);

  const remember = useCallback(() => {
    if (callId.current !== null) saveCall({ id: callId.current, transcript: transcript.current, line: line.current });
  }, []);

  /** A line said on the call: into the transcript (sent at hang-up), the captions and this tab's memory. */
  const addLine = useCallback(
    (role: Line['role'], text: string) => {
      transcript.current.push({ role, text });
      captionKey.current += 1;
      const key = captionKey.current;
      setCaptions((current) => [...current, { role, text, key }].slice(-CAPTION_LINES));
      remember();
    },
    [remember],
  );

  const stopMedia = useCallback(() => {
    if (beat.current !== null) clearInterval(beat.current);
    beat.current = null;
    socket.current?.close();
    socket.current = null;
    stopLevel.current?.();
    stopLevel.current = null;
    recognition.current?.stop();
    recognition.current = null;
    for (const track of stream.current?.getTracks() ?? []) track.stop();
    stream.current = null;
    if ('speechSynthesis' in window) window.speechSynthesis.cancel();
    void agent.current?.endSession().catch(() => undefined);
    agent.current = null;
    void audio.current?.close().catch(() => undefined);
    audio.current = null;
    muted.current = false;
    setHearing('');
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
      forgetSavedCall();
      callId.current = null;
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
      updateCall((current) => {
        // The server's count is the truth: follow it when this page's clock has drifted from it.
        const local = Math.floor((Date.now() - current.startedAt) / 1000);
        const drifted = Math.abs(local - answer.meteredSeconds) >= 2;
        return {
          warning: answer.warning,
          ...(drifted ? { startedAt: Date.now() - answer.meteredSeconds * 1000 } : {}),
        };
      });
    },
    [finish, updateCall],
  );

  /** Puts the page on `call`: the live phase, the realtime socket and the heartbeats. */
  const goLive = useCallback(
    (call: CallView, voice: VoiceSetup | undefined, paused: boolean) => {
      callId.current = call.id;
      lastAck.current = performance.now();
      setNow(Date.now());
      setPhase({
        kind: 'live',
        call,
        voice,
        // The server's start; the first heartbeat's answer corrects a clock that differs from the server's.
        startedAt: call.startedAt.getTime(),
        warning: false,
        connection: 'live',
        paused,
        resuming: false,
        muted: false,
        speaking: false,
      });
      remember();
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
    },
    [applyBeat, finish, remember, updateCall],
  );

  /** The microphone's level meter and, where the browser has it, the person's words (local mode). */
  const listen = (voice: VoiceSetup) => {
    if (audio.current !== null && stream.current !== null) {
      stopLevel.current = followLevel(audio.current, stream.current, level.set, () => muted.current);
    }
    // The voice agent transcribes the person itself (its messages arrive as the person's lines).
    if (voice.mode === 'local') {
      recognition.current =
        createRecognition({ onFinal: (text) => addLine('user', text), onInterim: setHearing }) ?? null;
      if (!muted.current) recognition.current?.start();
    }
  };

  /** The coach's voice: the ElevenLabs agent, or the browser speaking the local lines. */
  const talk = async (call: CallView, voice: VoiceSetup) => {
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
          onMessage: ({ message, role }) => addLine(role === 'user' ? 'user' : 'agent', message),
          onModeChange: ({ mode }) => updateCall(() => ({ speaking: mode === 'speaking' })),
        });
        if (muted.current) agent.current.setMicMuted(true);
      } catch (caught) {
        setError(`The voice agent could not be reached (${(caught as Error).message}); the call stays open.`);
      }
      return;
    }
    const text = voice.lines[Math.min(line.current, voice.lines.length - 1)];
    if (text === undefined) return;
    addLine('agent', text);
    speak(text, (on) => updateCall(() => ({ speaking: on })));
  };

  /** Asks for the microphone; false (saying why) when it is refused. */
  const microphone = async (): Promise<boolean> => {
    try {
      stream.current = await navigator.mediaDevices.getUserMedia({ audio: true });
      return true;
    } catch {
      setError(
        'Microphone access was refused. Allow the microphone for this site in your browser settings, then try again.',
      );
      return false;
    }
  };

  // A page loaded while its user is on a call (a reload, another tab) picks the call up at once, so
  // its heartbeats keep it open; a call this tab was on that ended meanwhile is said to have ended.
  useEffect(() => {
    let cancelled = false;
    void (async () => {
      const saved = readSavedCall();
      let current: Parsed<typeof currentCallAnswer>;
      try {
        current = await api('GET', '/api/coach/calls/current', undefined, currentCallAnswer);
      } catch {
        return;
      }
      if (cancelled) return;
      const call = current.call;
      if (call !== null) {
        if (callId.current !== null) return;
        transcript.current = saved?.id === call.id ? [...saved.transcript] : [];
        line.current = saved?.id === call.id ? saved.line : 0;
        captionKey.current = transcript.current.length;
        setCaptions(transcript.current.slice(-CAPTION_LINES).map((said, index) => ({ ...said, key: index + 1 })));
        goLive(call, undefined, true);
        return;
      }
      if (saved === undefined) return;
      forgetSavedCall();
      const history = await api('GET', '/api/coach/calls', undefined, callsAnswer).catch(() => undefined);
      const ended = history?.calls.find((item) => item.id === saved.id && item.status === 'ended');
      if (cancelled || ended === undefined) return;
      setPhase((phase) =>
        phase.kind === 'idle'
          ? { kind: 'ended', reason: ended.endReasonText ?? 'The call ended.', metered: ended.meteredSeconds }
          : phase,
      );
    })();
    return () => {
      cancelled = true;
    };
  }, [goLive]);

  const start = async () => {
    setError(undefined);
    // iOS Safari plays audio only from a context created or resumed inside the tap itself.
    audio.current ??= new AudioContext();
    void audio.current.resume();
    setPhase({ kind: 'connecting' });
    if (!(await microphone())) {
      stopMedia();
      setPhase({ kind: 'idle' });
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
    const same = readSavedCall();
    // A start that resumed this tab's call keeps its words; a new call starts afresh.
    transcript.current = same?.id === call.id ? [...same.transcript] : [];
    line.current = same?.id === call.id ? same.line : 0;
    setCaptions([]);
    goLive(call, voice, false);
    listen(voice);
    await talk(call, voice);
  };

  const resume = async () => {
    if (phase.kind !== 'live' || !phase.paused || phase.resuming) return;
    setError(undefined);
    // Inside the click: browsers let a page play sound from here on.
    audio.current ??= new AudioContext();
    void audio.current.resume();
    updateCall(() => ({ resuming: true }));
    let resumed: { call: CallView; voice: VoiceSetup };
    try {
      resumed = await api('POST', '/api/coach/calls', { resume: phase.call.id }, startCallAnswer);
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'coach.call_ended') {
        const details = caught.details as { endReason?: string | null; meteredSeconds?: number } | undefined;
        finish(endReasonText[details?.endReason ?? ''] ?? 'The call ended.', details?.meteredSeconds ?? 0);
        return;
      }
      updateCall(() => ({ resuming: false }));
      setError((caught as Error).message);
      return;
    }
    // Without a microphone the call still runs: the person can hear the coach, or end the call.
    if (stream.current === null) await microphone();
    updateCall(() => ({ voice: resumed.voice, paused: false, resuming: false }));
    listen(resumed.voice);
    await talk(resumed.call, resumed.voice);
  };

  const toggleMute = () => {
    if (phase.kind !== 'live') return;
    const on = !phase.muted;
    muted.current = on;
    for (const track of stream.current?.getAudioTracks() ?? []) track.enabled = !on;
    agent.current?.setMicMuted(on);
    if (on) recognition.current?.stop();
    else recognition.current?.start();
    if (on) setHearing('');
    updateCall(() => ({ muted: on }));
  };

  const nextLine = () => {
    if (phase.kind !== 'live' || phase.voice?.mode !== 'local') return;
    line.current = Math.min(line.current + 1, phase.voice.lines.length - 1);
    const text = phase.voice.lines[line.current]!;
    addLine('agent', text);
    speak(text, (on) => updateCall(() => ({ speaking: on })));
  };

  const hangUp = async () => {
    if (phase.kind !== 'live') return;
    setPhase({ ...phase, kind: 'ending' });
    try {
      const sinceLastBeatMs = lastAck.current === null ? undefined : Math.round(performance.now() - lastAck.current);
      const { call } = await api(
        'POST',
        `/api/coach/calls/${phase.call.id}/end`,
        // The server takes up to 500 lines of up to 4,000 characters: the latest of a long call.
        {
          transcript: transcript.current.slice(-500).map((said) => ({ ...said, text: said.text.slice(0, 4000) })),
          sinceLastBeatMs,
        },
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
  return {
    phase,
    error,
    elapsed,
    remaining,
    captions,
    hearing,
    level,
    start,
    resume,
    hangUp,
    toggleMute,
    nextLine,
  };
}
