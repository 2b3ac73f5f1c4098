import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const acceptable = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * The request id: the caller's `X-Request-Id` when it looks like an id (8-128 safe characters),
 * otherwise a fresh UUID. It appears in every log line of the request and in every error.
 */
export function requestIdFor(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  if (typeof given === 'string' && acceptable.test(given)) return given;
  return randomUUID();
}
