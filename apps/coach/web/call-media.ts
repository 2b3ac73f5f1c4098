// The browser's side of a call, apart from React: the microphone's level (Web Audio), the
// person's words (speech recognition, where the browser has it), the coach's voice in local mode
// (speech synthesis), and the call's words kept for this tab so a reload does not lose them.

export type Line = { readonly role: 'user' | 'agent'; readonly text: string };

/**
 * Follows the microphone's level on every animation frame (0–100, 0 while `muted()`), until the
 * returned stop is called: it cancels the frame and disconnects the nodes.
 */
export function followLevel(
  audio: AudioContext,
  stream: MediaStream,
  set: (level: number) => void,
  muted: () => boolean,
): () => void {
  const source = audio.createMediaStreamSource(stream);
  const analyser = audio.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const samples = new Uint8Array(analyser.fftSize);
  let frame = 0;
  const tick = () => {
    analyser.getByteTimeDomainData(samples);
    let sum = 0;
    for (const sample of samples) {
      const centred = (sample - 128) / 128;
      sum += centred * centred;
    }
    // Loudness is heard roughly on a square-root scale: quiet speech still moves the bar.
    set(muted() ? 0 : Math.sqrt(Math.sqrt(sum / samples.length)) * 140);
    frame = requestAnimationFrame(tick);
  };
  frame = requestAnimationFrame(tick);
  return () => {
    cancelAnimationFrame(frame);
    source.disconnect();
    analyser.disconnect();
    set(0);
  };
}

/** The parts of the Web Speech API's recognition this page uses (not in TypeScript's DOM types). */
interface Recognition {
  continuous: boolean;
  interimResults: boolean;
  lang: string;
  onresult: ((event: RecognitionEvent) => void) | null;
  onerror: ((event: { readonly error: string }) => void) | null;
  onend: (() => void) | null;
  start(): void;
  abort(): void;
}
interface RecognitionEvent {
  readonly resultIndex: number;
  readonly results: ArrayLike<ArrayLike<{ readonly transcript: string }> & { readonly isFinal: boolean }>;
}
type RecognitionConstructor = new () => Recognition;

/** Errors after which recognition is not tried again during this call. */
const FATAL = new Set(['not-allowed', 'service-not-allowed', 'network', 'audio-capture', 'language-not-supported']);

/**
 * The person's words as they speak, where the browser offers speech recognition (continuous, with
 * interim results, restarted when the browser stops it); undefined where it does not. A refusal
 * or a missing service quietly stops it: the call goes on without the person's captions.
 */
export function createRecognition(handlers: {
  readonly onFinal: (text: string) => void;
  readonly onInterim: (text: string) => void;
}): { start(): void; stop(): void } | undefined {
  const scope = window as unknown as Record<string, RecognitionConstructor | undefined>;
  const Constructor = scope['SpeechRecognition'] ?? scope['webkitSpeechRecognition'];
  if (Constructor === undefined) return undefined;
  const recognition = new Constructor();
  recognition.continuous = true;
  recognition.interimResults = true;
  recognition.lang = document.documentElement.lang || navigator.language;
  let wanted = false;
  let broken = false;
  let running = false;
  const begin = () => {
    if (!wanted || broken || running) return;
    try {
      recognition.start();
      running = true;
    } catch {
      // Already starting: the next end restarts it.
    }
  };
  recognition.onresult = (event) => {
    let interim = '';
    for (let index = event.resultIndex; index < event.results.length; index += 1) {
      const result = event.results[index]!;
      const text = result[0]?.transcript.trim() ?? '';
      if (result.isFinal) {
        if (text !== '') handlers.onFinal(text);
      } else {
        interim = `${interim} ${text}`.trim();
      }
    }
    handlers.onInterim(interim);
  };
  recognition.onerror = (event) => {
    if (FATAL.has(event.error)) broken = true;
  };
  recognition.onend = () => {
    running = false;
    handlers.onInterim('');
    if (wanted && !broken) setTimeout(begin, 300);
  };
  return {
    start() {
      wanted = true;
      begin();
    },
    stop() {
      wanted = false;
      if (running) recognition.abort();
    },
  };
}

/** Speaks one of the coach's lines (local voice mode), saying when speech starts and stops. */
export function speak(text: string, speaking: (on: boolean) => void): void {
  if (!('speechSynthesis' in window)) return;
  const utterance = new SpeechSynthesisUtterance(text);
  utterance.onstart = () => speaking(true);
  utterance.onend = () => speaking(false);
  utterance.onerror = () => speaking(false);
  window.speechSynthesis.speak(utterance);
}

const SAVED_KEY = 'coach.call';

/** What this tab keeps of its live call, so a reload resumes it with its words (sessionStorage). */
export interface SavedCall {
  readonly id: string;
  readonly transcript: readonly Line[];
  /** Local voice mode: the coach's line the call was on. */
  readonly line: number;
}

export function readSavedCall(): SavedCall | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SAVED_KEY) ?? 'null') as SavedCall | null;
    return saved !== null && typeof saved.id === 'string' && Array.isArray(saved.transcript) ? saved : undefined;
  } catch {
    return undefined;
  }
}

export function saveCall(call: SavedCall): void {
  try {
    sessionStorage.setItem(SAVED_KEY, JSON.stringify(call));
  } catch {
    // Storage full or refused: a reload then resumes the call without its earlier words.
  }
}

export function forgetSavedCall(): void {
  try {
    sessionStorage.removeItem(SAVED_KEY);
  } catch {
    // Nothing kept.
  }
}
