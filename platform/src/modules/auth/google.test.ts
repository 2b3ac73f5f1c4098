import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { linkToken, waitForEmails } from '#platform/testing/inbox.ts';
import { loadKeyRing } from './signing-keys.ts';
import { issueAccessToken } from './tokens.ts';

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

// A role that needs approval, so a registration can leave a pending request behind.
const deskApp = defineApp({
  name: 'desk',
  title: 'Desk',
  summary: 'Roles under test.',
  status: 'available',
  roles: [{ name: 'mediator', title: 'Mediator', selfService: true, requiresApproval: true, approvers: [] }],
});

const db = () => server.ballast.database.db;

async function post(path: string, body: unknown, token?: string) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function me(token: string): Promise<number> {
  return (await fetch(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;
}

/** The newest email to an address whose subject matches. */
async function inbox(recipient: string, subject: RegExp): Promise<string> {
  return (await waitForEmails(server.ballast.database, recipient, subject)).at(-1)!;
}

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
    apps: [deskApp],
    roles: ['web', 'worker'],
    env: {
      GOOGLE_CLIENT_ID: CLIENT_ID,
      GOOGLE_JWKS_URL: `http://127.0.0.1:${port}/oauth2/v3/certs`,
      TASKS_POLL_INTERVAL_SECONDS: '1',
    },
  });
});

afterAll(async () => {
  await server.close();
  await new Promise((resolve) => keyServer.close(resolve));
});

describe('Sign in with Google', () => {
  it('links to an existing verified account, keeping its password and its sessions', async () => {
    const setup = await post('/api/auth/setup', { email: 'priya@example.com', password: 'a long admin passphrase' });
    const existing = (setup.body as { user: { id: string } }).user;
    const before = await post('/api/auth/sign-in', { email: 'priya@example.com', password: 'a long admin passphrase' });
    const answer = await signInWithGoogle(await idToken(published[0]!));
    expect(answer.status).toBe(200);
    expect(answer.body['user']).toMatchObject({ id: existing.id, email: 'priya@example.com' });
    expect(await me(before.body['token'] as string)).toBe(200);
    const after = await post('/api/auth/sign-in', { email: 'priya@example.com', password: 'a long admin passphrase' });
    expect(after.status).toBe(200);
    const secured = await sql`select 1 from platform.audit_event
      where action = 'auth.account_secured' and target_id = ${existing.id}`.execute(db());
    expect(secured.rows).toHaveLength(0);
    expect((await fetch(`${server.url}/api/auth/config`).then((r) => r.json())) as object).toMatchObject({
      googleClientId: CLIENT_ID,
    });
  });

  it('secures an account a stranger registered and never confirmed when its owner signs in with Google', async () => {
    // The stranger registers the victim's address with their own password, name and a role request.
    const registered = await post('/api/auth/register', {
      email: 'victim@example.com',
      password: 'the strangers passphrase',
      displayName: 'Support desk',
      role: 'desk:mediator',
    });
    expect(registered.status).toBe(202);
    const verifyLink = linkToken(await inbox('victim@example.com', /Confirm your email/));
    expect((await post('/api/auth/reset-request', { email: 'victim@example.com' })).status).toBe(202);
    const resetLink = linkToken(await inbox('victim@example.com', /Reset your password/));
    const user = await sql<{ id: string; token_generation: number }>`select id::text, token_generation
      from platform."user" where email = 'victim@example.com'`.execute(db());
    const { id, token_generation: generation } = user.rows[0]!;
    // A token of the account as it stood (the stranger's, had any been issued), with a live socket.
    const keys = await loadKeyRing({ configured: undefined, dataDir: server.dataDir });
    const { token: strangers } = await issueAccessToken(
      keys,
      { issuer: 'http://localhost', audience: 'ballast', ttlSeconds: 3600 },
      { userId: id, generation },
    );
    expect(await me(strangers)).toBe(200);
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/realtime?app=desk`, {
      headers: { authorization: `Bearer ${strangers}` },
    });
    const closed = new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`refused ${response.statusCode}`)));
    });

    const answer = await signInWithGoogle(
      await idToken(published[0]!, { email: 'victim@example.com', sub: 'google-victim', name: 'Vic Tim' }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body['user']).toMatchObject({ id, emailVerified: true, displayName: 'Vic Tim', roles: [] });

    const strangerSignIn = await post('/api/auth/sign-in', {
      email: 'victim@example.com',
      password: 'the strangers passphrase',
    });
    expect(strangerSignIn.body).toMatchObject({ status: 401, code: 'auth.invalid_credentials' });
    expect(await me(strangers)).toBe(401);
    expect(await closed).toBe(4401);
    expect((await post('/api/auth/verify-email', { token: verifyLink })).body).toMatchObject({
      status: 400,
      code: 'auth.used_verify_token',
    });
    expect(
      (await post('/api/auth/reset', { token: resetLink, password: 'the strangers new passphrase' })).body,
    ).toMatchObject({
      status: 400,
      code: 'auth.used_reset_token',
    });

    const email = await inbox('victim@example.com', /Your account is secured/);
    expect(email).toContain('You signed in with Google');
    expect(email).toContain('Mediator');
    expect(email).toContain('/reset');
    const audit = await sql<{ before: unknown; after: unknown; details: unknown }>`select before, after, details
      from platform.audit_event where action = 'auth.account_secured' and target_id = ${id}`.execute(db());
    expect(audit.rows).toEqual([
      {
        before: { password: true, displayName: 'Support desk', pendingRoles: ['desk:mediator'] },
        after: { password: false, displayName: 'Vic Tim', pendingRoles: [] },
        details: { provenBy: 'google', revokedGeneration: generation },
      },
    ]);
  });

  it('creates an account for a new verified Google user', async () => {
    const answer = await signInWithGoogle(
      await idToken(published[0]!, { email: 'new.person@example.com', sub: 'google-sub-2' }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body['user']).toMatchObject({ email: 'new.person@example.com', emailVerified: true });
  });

  it('secures a never-verified account once when several Google sign-ins race', async () => {
    const registered = await post('/api/auth/register', {
      email: 'racer@example.com',
      password: 'the strangers passphrase',
    });
    expect(registered.status).toBe(202);
    const credential = await idToken(published[0]!, { email: 'racer@example.com', sub: 'google-racer' });
    const answers = await Promise.all([0, 1, 2].map(() => signInWithGoogle(credential)));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    const events = await sql`select 1 from platform.audit_event a join platform."user" u on u.id::text = a.target_id
      where a.action = 'auth.account_secured' and u.email = 'racer@example.com'`.execute(db());
    expect(events.rows).toHaveLength(1);
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
