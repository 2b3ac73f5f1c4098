import { AppError } from '#platform/kernel/errors/errors.ts';

/** Seconds a client is told to wait (`Retry-After`) when the database cannot be reached. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that mean the server cannot serve right now rather than that the statement is wrong:
 * class 08 (connection exception), 53300 too many connections, 57P01 admin shutdown, 57P02 crash
 * shutdown, 57P03 cannot connect now (starting up, in recovery).
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code === '53300' || code === '57P01' || code === '57P02' || code === '57P03';
}

/** Messages of pg and pg-pool for a connection that failed, timed out or was dropped. */
const connectionMessages = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /not queryable/,
  /^Cannot use a pool after calling end/,
];

/**
 * True when `error` (or an error it wraps) says the database could not be reached or stopped
 * answering: refused or dropped connections, connect and query timeouts, a server shutting down
 * or not yet accepting connections. Such a failure is the database's, not the request's.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 4) return false;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && (networkCodes.has(code) || isUnavailableSqlState(code))) return true;
  if (typeof message === 'string' && connectionMessages.some((pattern) => pattern.test(message))) return true;
  if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}

/** The `unavailable` error callers see while the database cannot be reached, with `Retry-After`. */
export function databaseUnavailable(cause: unknown): AppError {
  return new AppError('unavailable', 'database.unavailable', 'The database is unavailable; try again shortly', {
    cause,
    headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
  });
}
