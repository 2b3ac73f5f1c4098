import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '#platform/kernel/errors/errors.ts';

/** What an emailed one-time link is for. */
export type OneTimePurpose = 'reset' | 'verify';

/** Where a one-time link stands: usable once, or why not. */
export type OneTimeTokenState = 'valid' | 'unknown' | 'used' | 'expired';

/** A stored one-time token as read: when it expires, when (if ever) it was used, and the time of reading. */
export interface StoredOneTimeToken {
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
  /** The database's clock when the token was read: the clock that set its expiry. */
  readonly now: Date;
}

/** The stored form of a one-time token: its SHA-256, so a database leak gives no usable link. */
export function hashOneTimeToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A fresh one-time token (256 random bits, base64url) and the hash to store. */
export function newOneTimeToken(): { readonly token: string; readonly hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashOneTimeToken(token) };
}

/**
 * The state of a token when it was read: one never issued (or issued for another purpose) is
 * unknown; a used one stays used whether or not it has expired since.
 */
export function oneTimeTokenState(stored: StoredOneTimeToken | undefined): OneTimeTokenState {
  if (stored === undefined) return 'unknown';
  if (stored.usedAt !== null) return 'used';
  if (stored.expiresAt.getTime() < stored.now.getTime()) return 'expired';
  return 'valid';
}

/** Refuses a link that is not valid with a 400 naming the problem (`auth.expired_reset_token`, ...). */
export function assertUsable(purpose: OneTimePurpose, state: OneTimeTokenState): void {
  const what = purpose === 'reset' ? 'reset link' : 'verification link';
  switch (state) {
    case 'valid':
      return;
    case 'unknown':
      throw new AppError('invalid_input', `auth.invalid_${purpose}_token`, `This ${what} is not valid`);
    case 'used':
      throw new AppError(
        'invalid_input',
        `auth.used_${purpose}_token`,
        `This ${what} has already been used or is no longer valid: ask for a new one`,
      );
    case 'expired':
      throw new AppError('invalid_input', `auth.expired_${purpose}_token`, `This ${what} has expired`);
  }
}
