/**
 * The one error model of Ballast. Services throw an `AppError`; the HTTP error handler maps its
 * `kind` to a status and answers `application/problem+json`. Anything else that escapes is an
 * internal error: logged with its stack, answered as a bare 500.
 */

/** Every kind of failure a caller can act on, with the HTTP status it maps to. */
export const errorKinds = {
  invalid_input: 400,
  unauthenticated: 401,
  payment_failed: 402,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorKind = keyof typeof errorKinds;

/** One invalid field of a request: `field` is a dotted path such as `body.email`. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export interface AppErrorOptions {
  /** Extra facts safe to show the caller (never secrets, never internals). */
  readonly details?: Record<string, unknown>;
  /** Per-field validation problems, for `invalid_input`. */
  readonly errors?: readonly FieldError[];
  /** The underlying error, logged but never sent. */
  readonly cause?: unknown;
  /** Headers to set on the response, such as `Retry-After`. */
  readonly headers?: Record<string, string>;
}

/**
 * An expected failure with a stable machine-readable `code` (`coach.insufficient_talktime`)
 * and a message that is safe to show to the caller.
 */
export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  readonly errors: readonly FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(kind: ErrorKind, code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.kind = kind;
    this.code = code;
    this.details = options.details;
    this.errors = options.errors;
    this.headers = options.headers;
  }

  /** The HTTP status for this error's kind. */
  get status(): number {
    return errorKinds[this.kind];
  }
}

/** Tells whether a value is an `AppError`, across module copies. */
export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** One reason Ballast refuses to start, naming the setting and how to fix it. */
export interface StartupProblem {
  /** The setting (environment variable) at fault, or a subsystem name. */
  readonly setting: string;
  readonly message: string;
  readonly fix?: string;
}

/**
 * Raised before serving when the deployment is unsafe or broken. It carries every problem found,
 * not just the first, so an operator fixes them all in one go.
 */
export class StartupError extends Error {
  readonly problems: readonly StartupProblem[];

  constructor(problems: readonly StartupProblem[]) {
    super(formatProblems(problems));
    this.name = 'StartupError';
    this.problems = problems;
  }
}

function formatProblems(problems: readonly StartupProblem[]): string {
  const lines = problems.map(
    (p) => `  - ${p.setting}: ${p.message}${p.fix === undefined ? '' : `\n      fix: ${p.fix}`}`,
  );
  const noun = problems.length === 1 ? 'problem' : 'problems';
  return `Ballast refused to start (${problems.length} ${noun}):\n${lines.join('\n')}`;
}
