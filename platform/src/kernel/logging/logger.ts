import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import sonicBoom, { type SonicBoom as SonicBoomStream } from 'sonic-boom';

// sonic-boom is CommonJS: its default export is the class its types describe as a named one.
const SonicBoom = sonicBoom as unknown as typeof SonicBoomStream;

/** Ballast's logger: pino, JSON lines, secrets redacted. */
export type Logger = PinoLogger;

/** What a secret is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Keys whose values never reach a log line, wherever they appear (compared case-insensitively,
 * ignoring `-` and `_`): credentials in bodies, headers and provider payloads.
 */
export const sensitiveKeys: ReadonlySet<string> = new Set(
  [
    'password',
    'newPassword',
    'currentPassword',
    'passwordHash',
    'token',
    'accessToken',
    'refreshToken',
    'idToken',
    'secret',
    'clientSecret',
    'apiKey',
    'authorization',
    'proxyAuthorization',
    'cookie',
    'setCookie',
    'xApiKey',
    'signature',
    'xRazorpaySignature',
    'otp',
    'codeVerifier',
    'privateKey',
  ].map(normaliseKey),
);

function normaliseKey(key: string): string {
  return key.replace(/[-_]/g, '').toLowerCase();
}

/** Keys already classified: log objects repeat the same few keys, so each is normalised once. */
const keyVerdicts = new Map<string, boolean>();
const MAX_REMEMBERED_KEYS = 10_000;

function isSensitiveKey(key: string): boolean {
  let verdict = keyVerdicts.get(key);
  if (verdict === undefined) {
    verdict = sensitiveKeys.has(normaliseKey(key));
    // Keys can come from data (a provider's payload): only a bounded number are remembered.
    if (keyVerdicts.size < MAX_REMEMBERED_KEYS) keyVerdicts.set(key, verdict);
  }
  return verdict;
}

/** Keys whose values pino serializes itself (never app-provided plain data). */
const serializedKeys = new Set(['req', 'res', 'err', 'error']);
const MAX_DEPTH = 6;

/**
 * Returns `value` with every sensitive key's value replaced, copying only the objects on the way
 * to a replacement (the caller's objects are never changed). Much cheaper than path-based
 * redaction with wildcards, which cost a third of a request's CPU in bench/http.
 */
export function scrub(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    const items: readonly unknown[] = value;
    let copy: unknown[] | undefined;
    items.forEach((item, index) => {
      const cleaned = scrub(item, depth + 1);
      if (cleaned !== item) (copy ??= [...items])[index] = cleaned;
    });
    return copy ?? value;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const cleaned = isSensitiveKey(key) ? REDACTED : scrub(item, depth + 1);
    if (cleaned !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = cleaned;
  }
  return copy ?? value;
}

/**
 * Child-logger bindings skip pino's formatters, so their top-level keys are also covered by
 * pino's redaction (plain paths, no wildcards: those were the expensive part).
 */
const bindingPaths = [
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'secret',
  'clientSecret',
  'apiKey',
  'api_key',
  'authorization',
  'cookie',
  'signature',
  'privateKey',
];

function scrubLogObject(object: Record<string, unknown>): Record<string, unknown> {
  // The access line is built by `accessLine` from fields that are never secrets.
  if (object instanceof AccessLine) return object;
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(object)) {
    if (serializedKeys.has(key)) continue;
    const cleaned = isSensitiveKey(key) ? REDACTED : scrub(item, 1);
    if (cleaned !== item) (copy ??= { ...object })[key] = cleaned;
  }
  return copy ?? object;
}

const sensitiveQuery =
  /([?&](?:token|access_token|id_token|key|api_key|signature|sig|password|secret|code|ticket)=)[^&#]*/gi;

/** Masks credentials carried in a URL's query string before it is logged. */
export function redactUrl(url: string): string {
  return url.includes('?') ? url.replace(sensitiveQuery, `$1${REDACTED}`) : url;
}

/**
 * The one line logged per request: flat fields, the request id first (where a request's own
 * logger puts it), the URL's query credentials masked. The logger writes it as it is: no
 * serializer and no scrub pass, since nothing else in it can hold a secret.
 */
export class AccessLine {
  readonly reqId: string;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  /** Milliseconds from the request's arrival to the end of its answer. */
  readonly ms: number;

  constructor(reqId: string, method: string, url: string, status: number, ms: number) {
    this.reqId = reqId;
    this.method = method;
    this.url = redactUrl(url);
    this.status = status;
    this.ms = Math.round(ms * 1000) / 1000;
  }
}

let stampedAt = Number.NaN;
let stamp = '';

/**
 * pino's `isoTime` formatted at most once per millisecond: a busy server logs many lines in the
 * same millisecond, and formatting the date was a visible share of each one.
 */
export function isoTimeOncePerMillisecond(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

interface LoggableRequest {
  method?: string;
  url?: string;
  ip?: string;
  headers?: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
}

/** What a request contributes to a log line: never headers that carry credentials. */
function serializeRequest(request: LoggableRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url === undefined ? undefined : redactUrl(request.url),
    remoteAddress: request.ip ?? request.socket?.remoteAddress,
    userAgent: request.headers?.['user-agent'],
  };
}

function serializeReply(reply: { statusCode?: number }): Record<string, unknown> {
  return { statusCode: reply.statusCode };
}

/**
 * Whether the process logger prints human-readable lines: `LOG_PRETTY` when set; unset, in
 * development when stdout is a terminal and pino-pretty (a development dependency) is installed.
 * Production, pipes and files get JSON lines.
 */
export function shouldPrettyPrint(
  config: { readonly env: string; readonly log: { readonly pretty?: boolean | undefined } },
  stdout: { readonly isTTY?: boolean } = process.stdout,
): boolean {
  if (config.log.pretty !== undefined) return config.log.pretty;
  return config.env === 'development' && stdout.isTTY === true && prettyPrinterInstalled();
}

function prettyPrinterInstalled(): boolean {
  try {
    import.meta.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

export interface CreateLoggerOptions {
  readonly level: string;
  readonly pretty: boolean;
  /** Where lines go; stdout by default. Tests pass a stream to read what was logged. */
  readonly destination?: DestinationStream;
  readonly base?: Record<string, unknown>;
}

/** Creates the process logger. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level,
    base: { pid: process.pid, ...options.base },
    serializers: {
      err: pino.stdSerializers.err,
      error: pino.stdSerializers.err,
      req: serializeRequest,
      res: serializeReply,
    },
    timestamp: isoTimeOncePerMillisecond,
    formatters: {
      level: (label) => ({ level: label }),
      log: scrubLogObject,
      bindings: scrubLogObject,
    },
    redact: { paths: bindingPaths, censor: REDACTED },
  };
  if (options.destination !== undefined) return pino(settings, options.destination);
  if (options.pretty) {
    return pino({ ...settings, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  // Asynchronous writes in batches of 4 KiB: a log line never blocks a request on a syscall, and
  // a busy server writes a batch per syscall rather than a line. A quiet one still shows each
  // line within a quarter of a second; what is pending is written when the process exits.
  // minLength 1: each batch is written at once, and `flush(done)` waits for the writes to finish.
  const sink = new SonicBoom({ fd: 1, sync: false, minLength: 1 });
  const batch = new LineBatch(sink, 4096);
  setInterval(() => batch.flush(), 250).unref();
  process.once('exit', () => batch.flushSync());
  return pino(settings, batch);
}

/**
 * Log lines gathered in an array and handed to sonic-boom a batch at a time. Given each line,
 * sonic-boom measures the UTF-8 length of everything it holds on every write (flattening the
 * string it appends to), which was a microsecond of every access line in bench/http.
 */
export class LineBatch implements DestinationStream {
  readonly #sink: SonicBoomStream;
  readonly #batchChars: number;
  #lines: string[] = [];
  #chars = 0;

  constructor(sink: SonicBoomStream, batchChars: number) {
    this.#sink = sink;
    this.#batchChars = batchChars;
  }

  write(line: string): void {
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= this.#batchChars) this.flush();
  }

  /**
   * Hands what is gathered to sonic-boom, which writes it asynchronously; with `done` (pino's
   * `logger.flush(done)`), calls it once sonic-boom has written everything.
   */
  flush(done?: (error?: Error) => void): void {
    if (this.#lines.length > 0) {
      const chunk = this.#lines.join('');
      this.#lines = [];
      this.#chars = 0;
      this.#sink.write(chunk);
    }
    if (done !== undefined) this.#sink.flush(done);
  }

  /** Writes everything still pending before returning: the process is exiting. */
  flushSync(): void {
    try {
      this.flush();
      this.#sink.flushSync();
    } catch {
      // stdout was closed (a broken pipe): nothing left to write to
    }
  }
}
