import { describe, expect, it } from 'vitest';
import { accessClaimsOf } from './token-claims.ts';

const payload = {
  sub: '0b8e2f44-5d6a-4c1e-9f3a-2a7d9c1b4e60',
  gen: 3,
  jti: '9f1c7a52-3b4d-4e8f-a0b1-c2d3e4f5a6b7',
  exp: 1_770_000_000,
  iat: 1_769_913_600,
  nbf: 1_769_913_600,
  iss: 'http://localhost',
  aud: 'ballast',
};

describe('the shape of access token claims', () => {
  it('reads the user, generation, token id and expiry of a well-formed token', () => {
    expect(accessClaimsOf(payload)).toEqual({
      userId: payload.sub,
      generation: 3,
      tokenId: payload.jti,
      expiresAt: new Date(1_770_000_000_000),
    });
  });

  it('reads the session id (`sid`) when the token carries one', () => {
    const sid = '4c2f1e0d-9b8a-4765-a432-10fedcba9876';
    expect(accessClaimsOf({ ...payload, sid })?.sessionId).toBe(sid);
    expect(accessClaimsOf(payload)?.sessionId).toBeUndefined();
  });

  it.each<[string, number]>([
    ['generation zero (a user never signed out)', 0],
    ['the largest 32-bit generation', 2_147_483_647],
  ])('accepts %s', (_case, gen) => {
    expect(accessClaimsOf({ ...payload, gen })?.generation).toBe(gen);
  });

  it.each<[string, Record<string, unknown>]>([
    ['a sub that is not a UUID', { sub: 'not-a-uuid' }],
    ['a sub with SQL in it', { sub: "' or 1=1 --" }],
    ['a sub that is a number', { sub: 42 }],
    ['no sub', { sub: undefined }],
    ['a fractional gen', { gen: 0.5 }],
    ['a gen beyond a 32-bit integer', { gen: 2 ** 40 }],
    ['a negative gen', { gen: -1 }],
    ['a gen as text', { gen: '0' }],
    ['no gen', { gen: undefined }],
    ['a jti that is not a UUID', { jti: 'x' }],
    ['a jti that is a number', { jti: 7 }],
    ['an exp that is text', { exp: '1770000000' }],
    ['a fractional exp', { exp: 1_770_000_000.5 }],
    ['an exp of zero', { exp: 0 }],
    ['a sid that is not a UUID', { sid: 'session-1' }],
    ['a sid that is a number', { sid: 1 }],
  ])('refuses %s', (_case, change) => {
    expect(accessClaimsOf({ ...payload, ...change })).toBeNull();
  });
});
