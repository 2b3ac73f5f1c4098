import { SignJWT, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { testSigningKeys } from '#platform/testing/keys.ts';
import { createTestUser } from '#platform/testing/users.ts';

/**
 * Tokens signed by the server's own key ring whose claims have the wrong shapes: each must be
 * refused as unauthenticated (401), never reach a `::uuid` cast and answer 500.
 */
let server: TestBallast;
let signingKeys: string;
let header: Record<string, unknown>;
let payload: Record<string, unknown>;

beforeAll(async () => {
  signingKeys = await testSigningKeys();
  server = await startTestBallast({ env: { AUTH_SIGNING_KEYS: signingKeys } });
  const { token } = await createTestUser(server.ballast, 'shapes@example.com');
  const [h, p] = token.split('.');
  header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>;
  payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
});

afterAll(async () => {
  await server.close();
});

/** Signs `claims` with the key the server signs with, under the header it uses. */
async function signWithServerKey(claims: Record<string, unknown>): Promise<string> {
  const [jwk] = JSON.parse(signingKeys) as JWK[];
  const key = await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA');
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key);
}

async function me(token: string): Promise<{ status: number; code: unknown }> {
  const response = await fetch(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await response.json()) as { code?: unknown };
  return { status: response.status, code: body.code };
}

describe('access token claims', () => {
  it('accepts a token re-signed with the same claims (the baseline)', async () => {
    expect((await me(await signWithServerKey(payload))).status).toBe(200);
  });

  it.each([
    ['a sub that is not a UUID', { sub: 'not-a-uuid' }],
    ['a sub with SQL in it', { sub: "' or 1=1 --" }],
    ['a sub that is a number', { sub: 42 }],
    ['a fractional gen', { gen: 0.5 }],
    ['a gen beyond a 32-bit integer', { gen: 2 ** 40 }],
    ['a negative gen', { gen: -1 }],
    ['a gen as text', { gen: '0' }],
    ['a jti that is not a UUID', { jti: 'x' }],
    ['a jti that is a number', { jti: 7 }],
  ])('refuses a validly signed token with %s as unauthenticated', async (_name, change) => {
    const answer = await me(await signWithServerKey({ ...payload, ...change }));
    expect(answer).toEqual({ status: 401, code: 'auth.unauthenticated' });
  });

  it('refuses the live-updates handshake to such a token with 401', async () => {
    const token = await signWithServerKey({ ...payload, sub: 'not-a-uuid' });
    const response = await fetch(`${server.url}/realtime?app=none`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'realtime.unauthenticated' });
  });
});
