import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';

const CLIENT_ID = '1234567890-ballast.apps.googleusercontent.com';

interface GoogleKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function newGoogleKey(kid: string): Promise<GoogleKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/** A local server publishing "Google's" keys the way https://www.googleapis.com/oauth2/v3/certs does. */
let published: GoogleKey[] = [];
let fetches = 0;
const keyServer = http.createServer((_request, response) => {
  fetches++;
  response.setHeader('content-type', 'application/json');
  response.setHeader('cache-control', 'public, max-age=20000');
  response.end(JSON.stringify({ keys: published.map((key) => key.publicJwk) }));
});

let server: TestBallast;

function idToken(key: GoogleKey, claims: Record<string, unknown> = {}, audience = CLIENT_ID) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: 'priya@example.com', email_verified: true, name: 'Priya', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
    .setIssuer('https://accounts.google.com')
    .setAudience(audience)
    .setSubject(typeof claims['sub'] === 'string' ? claims['sub'] : 'google-sub-1')
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(key.privateKey);
}

async function signInWithGoogle(credential: string) {
  const response = await fetch(`${server.url}/api/auth/google`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ credential }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  published = [await newGoogleKey('google-key-1')];
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', () => resolve()));
  const { port } = keyServer.address() as AddressInfo;
  server = await startTestBallast({
    roles: ['web', 'worker'],
    env: { GOOGLE_CLIENT_ID: CLIENT_ID, GOOGLE_JWKS_URL: `http://127.0.0.1:${port}/oauth2/v3/certs` },
  });
});

afterAll(async () => {
  await server.close();
  await new Promise((resolve) => keyServer.close(resolve));
});

describe('Sign in with Google', () => {
  it('links to an existing account with the same verified email', async () => {
    const setup = await fetch(`${server.url}/api/auth/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'priya@example.com', password: 'a long admin passphrase' }),
    });
    const existing = ((await setup.json()) as { user: { id: string } }).user;
    const answer = await signInWithGoogle(await idToken(published[0]!));
    expect(answer.status).toBe(200);
    expect(answer.body['user']).toMatchObject({ id: existing.id, email: 'priya@example.com' });
    expect((await fetch(`${server.url}/api/auth/config`).then((r) => r.json())) as object).toMatchObject({
      googleClientId: CLIENT_ID,
    });
  });

  it('creates an account for a new verified Google user', async () => {
    const answer = await signInWithGoogle(
      await idToken(published[0]!, { email: 'new.person@example.com', sub: 'google-sub-2' }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body['user']).toMatchObject({ email: 'new.person@example.com', emailVerified: true });
  });

  it('refuses a wrong audience, a wrong issuer, an expired token, an unverified email and a foreign signature', async () => {
    const key = published[0]!;
    expect((await signInWithGoogle(await idToken(key, {}, 'someone-elses-client'))).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ email: 'priya@example.com', email_verified: true })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer('https://accounts.google.com')
      .setAudience(CLIENT_ID)
      .setSubject('google-sub-1')
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(key.privateKey);
    expect((await signInWithGoogle(expired)).status).toBe(401);
    const wrongIssuer = await new SignJWT({ email: 'priya@example.com', email_verified: true })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer('https://evil.example')
      .setAudience(CLIENT_ID)
      .setSubject('google-sub-1')
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(key.privateKey);
    expect((await signInWithGoogle(wrongIssuer)).status).toBe(401);
    const unverified = await signInWithGoogle(await idToken(key, { email_verified: false, sub: 'google-sub-3' }));
    expect(unverified.body).toMatchObject({ status: 403, code: 'auth.google_email_unverified' });
    const stranger = await newGoogleKey(key.kid);
    expect((await signInWithGoogle(await idToken(stranger))).status).toBe(401);
  });

  it('fetches Google keys again when a token names a key it has not seen (rotation)', async () => {
    const before = fetches;
    const rotated = await newGoogleKey('google-key-2');
    published = [rotated, published[0]!];
    // The key set is refetched for an unknown kid at most every 10 s (so junk kids cannot hammer Google).
    await sleep(10_500);
    const answer = await signInWithGoogle(await idToken(rotated));
    expect(answer.status).toBe(200);
    expect(fetches).toBeGreaterThan(before);
  }, 30_000);
});
