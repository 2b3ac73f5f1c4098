import { AppError } from '#platform/kernel/errors/errors.ts';
import { normaliseEmail } from './users.ts';

/** The issuers Google's ID tokens carry (its documentation lists both spellings). */
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

/** Who a verified Google ID token says signed in. */
export interface GoogleIdentity {
  /** Google's stable id of the account. */
  readonly sub: string;
  /** The account's address, normalised; Google vouches for it. */
  readonly email: string;
  readonly name: string | null;
}

/**
 * What Ballast accepts from an ID token whose signature, issuer, audience and times were checked:
 * an account with a subject and an address Google has verified (403 otherwise: an unverified
 * address proves nothing about who owns it).
 */
export function acceptGoogleClaims(claims: Record<string, unknown>): GoogleIdentity {
  const { sub, email, email_verified: emailVerified, name } = claims;
  if (typeof sub !== 'string' || sub === '') {
    throw new AppError('unauthenticated', 'auth.invalid_google_token', 'Google sign-in failed; try again');
  }
  if (typeof email !== 'string' || emailVerified !== true) {
    throw new AppError('forbidden', 'auth.google_email_unverified', 'Your Google account has no verified email');
  }
  return { sub, email: normaliseEmail(email), name: typeof name === 'string' ? name : null };
}
