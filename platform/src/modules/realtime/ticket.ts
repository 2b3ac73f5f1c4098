import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '#platform/kernel/security/crypto.ts';

/** What a valid realtime ticket vouches for. */
export interface RealtimeTicket {
  readonly userId: string;
  /** When the ticket stops being accepted, in Unix seconds. */
  readonly expiresAt: number;
}

const MAX_TTL_SECONDS = 3600;
const MAX_USER_ID_LENGTH = 200;

// Tickets are signed with a key derived from the signing secret, so a signature made for another
// purpose (a download link, a test payment) can never pass as a ticket.
function ticketKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('ballast.realtime-ticket.v1').digest();
}

function sign(secret: string, userId: string, expiresAt: number): string {
  return createHmac('sha256', ticketKey(secret)).update(`${userId}.${expiresAt}`).digest('base64url');
}

/**
 * Issues a short-lived ticket that lets `userId` open the realtime socket (`/realtime?ticket=`).
 * Browsers cannot set headers on a WebSocket handshake, so an authenticated API route hands the
 * page a ticket and the page puts it in the URL. The ticket is `base64url(userId).expiresAt.sig`,
 * where sig is HMAC-SHA256 over `userId.expiresAt`; `ttlSeconds` is 1 to 3600 (keep it short: it
 * may be replayed until it expires). `secret` is `config.security.signingSecret`.
 */
export function issueRealtimeTicket(secret: string, userId: string, ttlSeconds: number, now = Date.now()): string {
  if (secret.length === 0) throw new Error('realtime tickets need a signing secret');
  if (userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
    throw new RangeError(`userId must be 1 to ${MAX_USER_ID_LENGTH} characters`);
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
  }
  const expiresAt = Math.floor(now / 1000) + ttlSeconds;
  return `${Buffer.from(userId).toString('base64url')}.${expiresAt}.${sign(secret, userId, expiresAt)}`;
}

/**
 * Checks a ticket made by `issueRealtimeTicket` with the same secret: the signature (compared in
 * constant time) and the expiry. Returns who it vouches for, or null when it is malformed, forged
 * or expired.
 */
export function verifyRealtimeTicket(secret: string, ticket: string, now = Date.now()): RealtimeTicket | null {
  if (secret.length === 0) return null;
  const parts = ticket.split('.');
  if (parts.length !== 3) return null;
  const [encodedUserId = '', expiry = '', signature = ''] = parts;
  if (!/^\d{1,12}$/.test(expiry) || !/^[\w-]+$/.test(encodedUserId)) return null;
  const userId = Buffer.from(encodedUserId, 'base64url').toString('utf8');
  const expiresAt = Number(expiry);
  if (userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) return null;
  if (!constantTimeEqual(signature, sign(secret, userId, expiresAt))) return null;
  if (Math.floor(now / 1000) >= expiresAt) return null;
  return { userId, expiresAt };
}
