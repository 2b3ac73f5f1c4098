import { describe, expect, it } from 'vitest';
import {
  assertUsable,
  hashOneTimeToken,
  newOneTimeToken,
  oneTimeTokenState,
  type OneTimePurpose,
  type OneTimeTokenState,
  type StoredOneTimeToken,
} from './one-time-token.ts';

const now = new Date('2026-03-01T12:00:00Z');
const at = (offsetMinutes: number) => new Date(now.getTime() + offsetMinutes * 60_000);

describe('the state of a one-time link', () => {
  it.each<[string, StoredOneTimeToken | undefined, OneTimeTokenState]>([
    ['one never issued is unknown', undefined, 'unknown'],
    ['an unused one before its expiry is valid', { expiresAt: at(30), usedAt: null, now }, 'valid'],
    ['an unused one at the very moment of its expiry is still valid', { expiresAt: at(0), usedAt: null, now }, 'valid'],
    ['an unused one a moment after its expiry has expired', { expiresAt: at(-0.001), usedAt: null, now }, 'expired'],
    ['a used one before its expiry is used', { expiresAt: at(30), usedAt: at(-1), now }, 'used'],
    [
      'a used one that has since expired is still reported as used',
      { expiresAt: at(-5), usedAt: at(-10), now },
      'used',
    ],
  ])('%s', (_case, stored, state) => {
    expect(oneTimeTokenState(stored)).toBe(state);
  });
});

describe('refusing a link that is not valid', () => {
  it.each<[OneTimePurpose, OneTimeTokenState, string | undefined, RegExp | undefined]>([
    ['reset', 'valid', undefined, undefined],
    ['verify', 'valid', undefined, undefined],
    ['reset', 'unknown', 'auth.invalid_reset_token', /reset link is not valid/],
    ['verify', 'unknown', 'auth.invalid_verify_token', /verification link is not valid/],
    ['reset', 'used', 'auth.used_reset_token', /already been used/],
    ['verify', 'used', 'auth.used_verify_token', /already been used/],
    ['reset', 'expired', 'auth.expired_reset_token', /reset link has expired/],
    ['verify', 'expired', 'auth.expired_verify_token', /verification link has expired/],
  ])('a %s link that is %s answers %s', (purpose, state, code, message) => {
    let refusal: { code: string; status: number; message: string } | undefined;
    try {
      assertUsable(purpose, state);
    } catch (error) {
      refusal = error as typeof refusal;
    }
    expect(refusal?.code).toBe(code);
    if (message !== undefined) {
      expect(refusal?.status).toBe(400);
      expect(refusal?.message).toMatch(message);
    }
  });
});

describe('one-time token values', () => {
  it('stores the SHA-256 of the token, never the token', () => {
    const { token, hash } = newOneTimeToken();
    expect(hash).toBe(hashOneTimeToken(token));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(token);
  });

  it('makes a different 256-bit token each time', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => newOneTimeToken().token));
    expect(tokens.size).toBe(50);
    for (const token of tokens) expect(Buffer.from(token, 'base64url')).toHaveLength(32);
  });
});
