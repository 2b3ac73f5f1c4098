import { describe, expect, it } from 'vitest';
import { acceptGoogleClaims, type GoogleIdentity } from './google-claims.ts';

const verified = { sub: 'google-sub-1', email: 'Priya@Example.com', email_verified: true, name: 'Priya' };

describe('accepting the claims of a verified Google ID token', () => {
  it.each<[string, Record<string, unknown>, GoogleIdentity]>([
    [
      'takes the subject, the normalised address and the name',
      verified,
      { sub: 'google-sub-1', email: 'priya@example.com', name: 'Priya' },
    ],
    ['takes an account without a name', { ...verified, name: undefined }, { ...identity(), name: null }],
    ['ignores a name that is not text', { ...verified, name: 42 }, { ...identity(), name: null }],
    ['trims the address', { ...verified, email: '  priya@example.com ' }, identity()],
  ])('%s', (_case, claims, expected) => {
    expect(acceptGoogleClaims(claims)).toEqual(expected);
  });

  it.each<[string, Record<string, unknown>, number, string]>([
    ['an account without an address', { ...verified, email: undefined }, 403, 'auth.google_email_unverified'],
    ['an address Google has not verified', { ...verified, email_verified: false }, 403, 'auth.google_email_unverified'],
    ['a verification flag that is text', { ...verified, email_verified: 'true' }, 403, 'auth.google_email_unverified'],
    ['no verification flag at all', { ...verified, email_verified: undefined }, 403, 'auth.google_email_unverified'],
    ['an address that is not text', { ...verified, email: ['priya@example.com'] }, 403, 'auth.google_email_unverified'],
    ['no subject', { ...verified, sub: undefined }, 401, 'auth.invalid_google_token'],
    ['an empty subject', { ...verified, sub: '' }, 401, 'auth.invalid_google_token'],
    ['a subject that is a number', { ...verified, sub: 7 }, 401, 'auth.invalid_google_token'],
  ])('refuses %s', (_case, claims, status, code) => {
    expect(() => acceptGoogleClaims(claims)).toThrow(expect.objectContaining({ status, code }));
  });
});

function identity(): GoogleIdentity {
  return { sub: 'google-sub-1', email: 'priya@example.com', name: 'Priya' };
}
