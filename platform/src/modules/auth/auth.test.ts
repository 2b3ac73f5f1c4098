import { generateKeyPairSync, createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, base64url } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { linkToken, waitForEmails } from '#platform/testing/inbox.ts';
import { createTestUser } from '#platform/testing/users.ts';
import { ACCESS_TOKEN_TYPE } from './tokens.ts';

const deskApp = defineApp({
  name: 'desk',
  title: 'Desk',
  summary: 'Roles under test.',
  status: 'available',
  roles: [
    { name: 'trader', title: 'Trader', selfService: true },
    { name: 'mediator', title: 'Mediator', selfService: true, requiresApproval: true, approvers: ['desk:lead'] },
  ],
  routes: async (router) => {
    router.get('/mine', { config: { access: 'user' } }, async (request) => ({ userId: request.user!.id }));
    router.get('/mediation', { config: { access: ['desk:mediator'] } }, async () => ({ ok: true }));
    router.post('/notes', { config: { access: 'user' } }, async () => ({ saved: true }));
  },
});

let server: TestBallast;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  cookies: Record<string, string>;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; token?: string; cookies?: Record<string, string>; csrf?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.cookies !== undefined) {
    headers['cookie'] = Object.entries(options.cookies)
      .map(([name, value]) => `${name}=${value}`)
      .join('; ');
  }
  if (options.csrf !== undefined) headers['x-csrf-token'] = options.csrf;
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const cookies: Record<string, string> = {};
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const [name, ...value] = pair!.split('=');
    cookies[name!.trim()] = value.join('=');
  }
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), cookies };
}

/** The newest email to an address whose subject matches. */
async function inbox(recipient: string, subject: RegExp): Promise<string> {
  return (await waitForEmails(server.ballast.database, recipient, subject)).at(-1)!;
}

/** Registers, verifies through the emailed link, and returns the session. */
async function signUp(email: string, password = 'correct horse battery staple', role?: string) {
  const registered = await call('POST', '/api/auth/register', { body: { email, password, ...(role ? { role } : {}) } });
  expect(registered.status).toBe(202);
  const token = linkToken(await inbox(email, /Confirm your email/));
  const verified = await call('POST', '/api/auth/verify-email', { body: { token } });
  expect(verified.status).toBe(200);
  const signedIn = await call('POST', '/api/auth/sign-in', { body: { email, password } });
  expect(signedIn.status).toBe(200);
  return {
    token: signedIn.body['token'] as string,
    cookies: signedIn.cookies,
    user: signedIn.body['user'] as { id: string },
  };
}

/** A live-updates socket opened with `token`; `closed()` resolves with its close code and reason. */
async function liveSocket(token: string) {
  const { default: WebSocket } = await import('ws');
  const socket = new WebSocket(`${server.url.replace('http', 'ws')}/realtime?app=desk`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const closing = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
  const closed = async () =>
    Promise.race([
      closing,
      sleep(15_000).then(() => {
        throw new Error('the socket is still open 15 s later');
      }),
    ]);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`refused ${response.statusCode}`)));
  });
  return { socket, closed };
}

async function auditActions(): Promise<string[]> {
  const rows = await sql<{ action: string }>`select action from platform.audit_event order by id`.execute(
    server.ballast.database.db,
  );
  return rows.rows.map((row) => row.action);
}

beforeAll(async () => {
  // Many accounts from one IP: the registration limit is raised here and tested on its own below.
  server = await startTestBallast({
    apps: [deskApp],
    roles: ['web', 'worker'],
    env: {
      TASKS_POLL_INTERVAL_SECONDS: '1',
      AUTH_REGISTRATIONS_PER_HOUR: '1000',
      AUTH_RESET_REQUESTS_PER_HOUR: '1000',
    },
  });
});

afterAll(async () => {
  await server.close();
});

describe('accounts', () => {
  it('registers, verifies the address by emailed link, and signs in', async () => {
    const { token, cookies, user } = await signUp('asha@example.com');
    expect(cookies['ballast_session']).toBe(token);
    expect(cookies['ballast_csrf']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const me = await call('GET', '/api/auth/me', { token });
    expect(me.body['user']).toMatchObject({ id: user.id, email: 'asha@example.com', emailVerified: true });
    expect((await call('GET', '/api/desk/mine', { token })).body).toEqual({ userId: user.id });
    expect((await call('GET', '/api/desk/mine')).status).toBe(401);
  });

  it('answers registration, sign-in and reset the same way whether or not the email exists', async () => {
    await signUp('existing@example.com');
    const again = await call('POST', '/api/auth/register', {
      body: { email: 'existing@example.com', password: 'another long passphrase' },
    });
    const fresh = await call('POST', '/api/auth/register', {
      body: { email: 'nobody-yet@example.com', password: 'another long passphrase' },
    });
    expect([again.status, again.body]).toEqual([fresh.status, fresh.body]);
    await inbox('existing@example.com', /already have an account/);

    const wrong = await call('POST', '/api/auth/sign-in', {
      body: { email: 'existing@example.com', password: 'wrong password!' },
    });
    const missing = await call('POST', '/api/auth/sign-in', {
      body: { email: 'ghost@example.com', password: 'wrong password!' },
    });
    expect(wrong.status).toBe(401);
    expect(missing.status).toBe(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined, instance: undefined });
    expect(strip(wrong.body)).toEqual(strip(missing.body));

    const resetKnown = await call('POST', '/api/auth/reset-request', { body: { email: 'existing@example.com' } });
    const resetUnknown = await call('POST', '/api/auth/reset-request', { body: { email: 'ghost@example.com' } });
    expect([resetKnown.status, resetKnown.body]).toEqual([resetUnknown.status, resetUnknown.body]);
  });

  it('refuses a common password and a short one, naming the field', async () => {
    for (const password of ['password123', 'iloveyou', 'qwertyuiop']) {
      const answer = await call('POST', '/api/auth/register', { body: { email: 'weak@example.com', password } });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 'auth.weak_password', errors: [{ field: 'body.password' }] });
    }
    const short = await call('POST', '/api/auth/register', { body: { email: 'weak@example.com', password: 'Xy7!k' } });
    expect(short.body['detail']).toContain('at least 8 characters');
  });

  it('resends a confirmation link to an unconfirmed account only, answering the same for any address', async () => {
    const password = 'lighthouse keeper logbook';
    await call('POST', '/api/auth/register', { body: { email: 'unconfirmed@example.com', password } });
    await signUp('confirmed@example.com');
    const resend = (email: string, next?: string) =>
      call('POST', '/api/auth/resend-confirmation', { body: { email, ...(next === undefined ? {} : { next }) } });
    const answers = await Promise.all([
      resend('unconfirmed@example.com', '/desk?from=email'),
      resend('confirmed@example.com'),
      resend('nobody@example.com'),
    ]);
    for (const answer of answers) expect([answer.status, answer.body]).toEqual([answers[0].status, answers[0].body]);
    expect(answers[0].status).toBe(202);
    // The unconfirmed account gets a second link that carries `next`; the confirmed one gets none.
    const [, second] = await waitForEmails(server.ballast.database, 'unconfirmed@example.com', /Confirm your email/, 2);
    expect(second).toContain(`next=${encodeURIComponent('/desk?from=email')}`);
    expect(await waitForEmails(server.ballast.database, 'confirmed@example.com', /Confirm your email/)).toHaveLength(1);
    const verified = await call('POST', '/api/auth/verify-email', { body: { token: linkToken(second!) } });
    expect(verified.status).toBe(200);
    // Another host is no place to go next, and the address is rate limited.
    expect((await resend('unconfirmed@example.com', '//evil.example/x')).body).toMatchObject({ status: 400 });
    expect((await resend('unconfirmed@example.com', 'https://evil.example/')).status).toBe(400);
    await resend('unconfirmed@example.com');
    await resend('unconfirmed@example.com');
    expect((await resend('unconfirmed@example.com')).status).toBe(429);
    expect((await resend('nobody@example.com')).status).toBe(202);
  });

  it('limits resent confirmations per client IP too: ten an hour across addresses, then 429 with Retry-After', async () => {
    // Earlier tests in this file used this IP's budget: a fresh server has a fresh one.
    const fresh = await startTestBallast({ apps: [deskApp] });
    try {
      const resend = (email: string) =>
        fetch(`${fresh.url}/api/auth/resend-confirmation`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email }),
        });
      const answers = await Promise.all(Array.from({ length: 10 }, (_, index) => resend(`walk-${index}@example.com`)));
      const bodies = await Promise.all(answers.map((answer) => answer.json()));
      expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 10 }, () => 202));
      expect(new Set(bodies.map((body) => JSON.stringify(body))).size).toBe(1);
      // An eleventh address, never used before, is refused for this IP.
      const refused = await resend('walk-10@example.com');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.json()).toMatchObject({ status: 429, code: 'http.rate_limited' });
    } finally {
      await fresh.close();
    }
  });

  it('resets a password by a single-use emailed link, revoking earlier tokens', async () => {
    const { token } = await signUp('meera@example.com');
    await call('POST', '/api/auth/reset-request', { body: { email: 'meera@example.com' } });
    const resetToken = linkToken(await inbox('meera@example.com', /Reset your password/));
    const linkState = async (token: string) => (await call('POST', '/api/auth/reset/check', { body: { token } })).body;
    // The page asks before showing the form; asking does not use the link.
    expect(await linkState(resetToken)).toEqual({ state: 'valid' });
    expect(await linkState(resetToken)).toEqual({ state: 'valid' });
    expect(await linkState('never-issued-token-000')).toEqual({ state: 'unknown' });
    expect((await call('POST', '/api/auth/reset/check', { body: { token: 'x' } })).status).toBe(400);
    const reset = await call('POST', '/api/auth/reset', {
      body: { token: resetToken, password: 'a brand new passphrase' },
    });
    expect(reset.status).toBe(200);
    expect((await call('GET', '/api/auth/me', { token })).status).toBe(401);
    const reused = await call('POST', '/api/auth/reset', {
      body: { token: resetToken, password: 'yet another passphrase' },
    });
    expect(reused.body).toMatchObject({ status: 400, code: 'auth.used_reset_token' });
    expect(await linkState(resetToken)).toEqual({ state: 'used' });
    expect(
      (
        await call('POST', '/api/auth/sign-in', {
          body: { email: 'meera@example.com', password: 'a brand new passphrase' },
        })
      ).status,
    ).toBe(200);

    await call('POST', '/api/auth/reset-request', { body: { email: 'meera@example.com' } });
    await sleep(300);
    const second = linkToken(await inbox('meera@example.com', /Reset your password/));
    await sql`update platform.one_time_token set expires_at = now() - interval '1 minute' where purpose = 'reset' and used_at is null`.execute(
      server.ballast.database.db,
    );
    expect((await linkState(second)).state).toMatch(/^(expired|used)$/);
    const expired = await call('POST', '/api/auth/reset', { body: { token: second, password: 'too late passphrase' } });
    expect(expired.body).toMatchObject({
      status: 400,
      code: expect.stringMatching(/auth\.(expired|used)_reset_token/),
    });
  });

  it('changing the password signs out every other session', async () => {
    const { token } = await signUp('ravi@example.com');
    const other = (
      await call('POST', '/api/auth/sign-in', {
        body: { email: 'ravi@example.com', password: 'correct horse battery staple' },
      })
    ).body['token'] as string;
    const changed = await call('POST', '/api/auth/password', {
      token,
      body: { currentPassword: 'correct horse battery staple', newPassword: 'fresh new passphrase' },
    });
    expect(changed.status).toBe(200);
    expect((await call('GET', '/api/auth/me', { token: other })).status).toBe(401);
    expect((await call('GET', '/api/auth/me', { token: changed.cookies['ballast_session'] })).status).toBe(200);
  });
});

describe('one-time links', () => {
  /** Every reset link emailed to `email` so far, oldest first, once there are `count`. */
  const resetLinks = async (email: string, count: number) =>
    (await waitForEmails(server.ballast.database, email, /Reset your password/, count)).map(linkToken);

  it('spends every other reset link when one is used or the password changes', async () => {
    const { user } = await signUp('links@example.com');
    await call('POST', '/api/auth/reset-request', { body: { email: 'links@example.com' } });
    await call('POST', '/api/auth/reset-request', { body: { email: 'links@example.com' } });
    const [first, second] = await resetLinks('links@example.com', 2);
    expect(
      (await call('POST', '/api/auth/reset', { body: { token: first, password: 'the first new passphrase' } })).status,
    ).toBe(200);
    const other = await call('POST', '/api/auth/reset', {
      body: { token: second, password: 'a second new passphrase' },
    });
    expect(other.body).toMatchObject({
      status: 400,
      code: 'auth.used_reset_token',
      detail: expect.stringContaining('no longer valid'),
    });

    await call('POST', '/api/auth/reset-request', { body: { email: 'links@example.com' } });
    const [, , third] = await resetLinks('links@example.com', 3);
    const signedIn = await call('POST', '/api/auth/sign-in', {
      body: { email: 'links@example.com', password: 'the first new passphrase' },
    });
    const changed = await call('POST', '/api/auth/password', {
      token: signedIn.body['token'] as string,
      body: { currentPassword: 'the first new passphrase', newPassword: 'a changed passphrase' },
    });
    expect(changed.status).toBe(200);
    const late = await call('POST', '/api/auth/reset', { body: { token: third, password: 'a hijacking passphrase' } });
    expect(late.body).toMatchObject({ status: 400, code: 'auth.used_reset_token' });
    const outstanding = await sql<{ n: number }>`select count(*)::int as n from platform.one_time_token
      where user_id = ${user.id}::uuid and used_at is null`.execute(server.ballast.database.db);
    expect(outstanding.rows[0]!.n).toBe(0);
  });
});

describe('a never-verified account whose address is then proven', () => {
  it('keeps nothing its registrant set once a reset link proves the address', async () => {
    const registered = await call('POST', '/api/auth/register', {
      body: {
        email: 'proven@example.com',
        password: 'the strangers passphrase',
        displayName: 'Help desk',
        role: 'desk:mediator',
      },
    });
    expect(registered.status).toBe(202);
    await call('POST', '/api/auth/reset-request', { body: { email: 'proven@example.com' } });
    const token = linkToken(await inbox('proven@example.com', /Reset your password/));
    expect((await call('POST', '/api/auth/reset', { body: { token, password: 'the owners passphrase' } })).status).toBe(
      200,
    );
    const signedIn = await call('POST', '/api/auth/sign-in', {
      body: { email: 'proven@example.com', password: 'the owners passphrase' },
    });
    expect(signedIn.body['user']).toMatchObject({ emailVerified: true, displayName: null, roles: [] });
    expect(await inbox('proven@example.com', /Your account is secured/)).toContain('Mediator');
    expect(await auditActions()).toContain('auth.account_secured');
  });
});

describe('access tokens', () => {
  let token: string;
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;

  beforeAll(async () => {
    ({ token } = await signUp('tokens@example.com'));
    const [h, p] = token.split('.');
    header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>;
    payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  });

  const forge = (h: object, p: object, signature = '') =>
    `${base64url.encode(JSON.stringify(h))}.${base64url.encode(JSON.stringify(p))}.${signature}`;
  const accepted = async (candidate: string) =>
    (await call('GET', '/api/auth/me', { token: candidate })).status === 200;

  it('carries kid, typ and the checked claims, and verifies against /.well-known/jwks.json', async () => {
    expect(header).toMatchObject({ alg: 'EdDSA', typ: ACCESS_TOKEN_TYPE, kid: expect.any(String) });
    expect(payload).toMatchObject({ iss: 'http://localhost', aud: 'ballast', sub: expect.any(String) });
    expect((payload['exp'] as number) - (payload['iat'] as number)).toBe(86_400);
    const jwks = await call('GET', '/.well-known/jwks.json');
    expect((jwks.body['keys'] as { kid: string; d?: string }[]).map((key) => [key.kid, key.d])).toEqual([
      [header['kid'], undefined],
    ]);
    expect(await accepted(token)).toBe(true);
  });

  it('rejects alg none and algorithm confusion (HS256 keyed with the public key)', async () => {
    expect(await accepted(forge({ ...header, alg: 'none' }, payload))).toBe(false);
    const jwks = (await call('GET', '/.well-known/jwks.json')).body['keys'] as { x: string }[];
    const unsigned = forge({ ...header, alg: 'HS256' }, payload).slice(0, -1);
    const hmac = createHmac('sha256', jwks[0]!.x).update(unsigned).digest('base64url');
    expect(await accepted(`${unsigned}.${hmac}`)).toBe(false);
  });

  it('rejects expired, not-yet-valid, wrong-audience, wrong-issuer, wrong-typ, unknown-kid and tampered tokens', async () => {
    // Properly signed by a key of our own making: everything but the one claim under test is right.
    const { privateKey } = generateKeyPairSync('ed25519');
    const now = Math.floor(Date.now() / 1000);
    const sign = (h: Record<string, unknown>, p: Record<string, unknown>) =>
      new SignJWT(p).setProtectedHeader({ alg: 'EdDSA', ...h }).sign(privateKey);
    expect(await accepted(await sign({ ...header, kid: 'not-ours' }, payload))).toBe(false);

    const [h, , s] = token.split('.');
    const tampered = { ...payload, sub: '00000000-0000-4000-8000-000000000000' };
    expect(await accepted(`${h}.${base64url.encode(JSON.stringify(tampered))}.${s}`)).toBe(false);

    // Same key, wrong claims: signed through the running key ring.
    const keys = JSON.parse((await import('node:fs')).readFileSync(`${server.dataDir}/auth-keys.json`, 'utf8')) as {
      keys: Record<string, string>[];
    };
    const { importJWK } = await import('jose');
    const ours = await importJWK({ ...keys.keys[0]!, alg: 'EdDSA' }, 'EdDSA');
    const signOurs = (h: Record<string, unknown>, p: Record<string, unknown>) =>
      new SignJWT(p).setProtectedHeader({ ...header, ...h } as { alg: string }).sign(ours);
    expect(await accepted(await signOurs({}, payload))).toBe(true);
    expect(await accepted(await signOurs({}, { ...payload, exp: now - 60, iat: now - 120, nbf: now - 120 }))).toBe(
      false,
    );
    expect(await accepted(await signOurs({}, { ...payload, nbf: now + 600 }))).toBe(false);
    expect(await accepted(await signOurs({}, { ...payload, aud: 'someone-else' }))).toBe(false);
    expect(await accepted(await signOurs({}, { ...payload, iss: 'https://evil.example' }))).toBe(false);
    expect(await accepted(await signOurs({ typ: 'JWT' }, payload))).toBe(false);
  });

  it('rejects every earlier token after sign-out', async () => {
    const session = await call('POST', '/api/auth/sign-in', {
      body: { email: 'tokens@example.com', password: 'correct horse battery staple' },
    });
    const mine = session.body['token'] as string;
    expect((await call('POST', '/api/auth/sign-out', { token: mine })).status).toBe(204);
    expect(await accepted(mine)).toBe(false);
    expect(await accepted(token)).toBe(false);
  });
});

describe('live updates', () => {
  it('accepts a WebSocket authenticated by the session and refuses one without', async () => {
    const { token, user } = await signUp('live@example.com');
    const { default: WebSocket } = await import('ws');
    const url = `${server.url.replace('http', 'ws')}/realtime?app=desk`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`refused ${response.statusCode}`)));
    });
    const received = new Promise<string>((resolve) =>
      socket.once('message', (data: Buffer) => resolve(data.toString())),
    );
    await server.ballast.realtime.publish({ app: 'desk', channel: `user:${user.id}`, event: 'hello', data: { n: 1 } });
    expect(JSON.parse(await received)).toMatchObject({ event: 'hello', data: { n: 1 } });
    socket.close();
    const anonymous = new WebSocket(url);
    const status = await new Promise<number>((resolve) => {
      anonymous.on('error', () => {});
      anonymous.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    });
    expect(status).toBe(401);
  });

  it('closes the sockets opened with a revoked token at sign-out and password change, and only those', async () => {
    const ana = await signUp('ana-live@example.com');
    const ben = await signUp('ben-live@example.com');
    const anas = await liveSocket(ana.token);
    const bens = await liveSocket(ben.token);

    expect((await call('POST', '/api/auth/sign-out', { token: ana.token })).status).toBe(204);
    // Through the bus (PostgreSQL here, Redis with REDIS_URL), as on every other node.
    expect(await anas.closed()).toEqual({ code: 4401, reason: 'signed out' });
    const heard = new Promise<string>((resolve) =>
      bens.socket.once('message', (data: Buffer) => resolve(data.toString())),
    );
    await server.ballast.realtime.publish({ app: 'desk', channel: `user:${ben.user.id}`, event: 'still-here' });
    expect(JSON.parse(await heard)).toMatchObject({ event: 'still-here' });

    const changed = await call('POST', '/api/auth/password', {
      token: ben.token,
      body: { currentPassword: 'correct horse battery staple', newPassword: 'fresh new passphrase' },
    });
    expect(changed.status).toBe(200);
    expect(await bens.closed()).toEqual({ code: 4401, reason: 'signed out' });
    // The new session's socket opens and stays.
    const again = await liveSocket(changed.cookies['ballast_session']!);
    const after = new Promise<string>((resolve) =>
      again.socket.once('message', (data: Buffer) => resolve(data.toString())),
    );
    await server.ballast.realtime.publish({ app: 'desk', channel: `user:${ben.user.id}`, event: 'welcome-back' });
    expect(JSON.parse(await after)).toMatchObject({ event: 'welcome-back' });
    again.socket.close();
  });
});

describe('sessions', () => {
  const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
  /** Signs in with a browser's User-Agent; the bearer token. */
  async function signInAs(email: string, userAgent = firefox): Promise<string> {
    const response = await fetch(`${server.url}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': userAgent },
      body: JSON.stringify({ email, password: 'correct horse battery staple' }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { token: string }).token;
  }
  type Listed = { id: string; current: boolean; userAgent: string | null; lastSeenAt: string };
  const sessionsOf = async (token: string) =>
    (await call('GET', '/api/auth/sessions', { token })).body['sessions'] as Listed[];

  it('lists each sign-in, and "sign out other sessions" ends the others at once while this one stays', async () => {
    const { token: first } = await signUp('sessions@example.com');
    const a = await signInAs('sessions@example.com');
    const b = await signInAs(
      'sessions@example.com',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1',
    );
    const listed = await sessionsOf(a);
    // Confirming the address signed in too (the verification link's session), then three sign-ins.
    expect(listed).toHaveLength(4);
    expect(listed.filter((session) => session.current)).toHaveLength(1);
    expect(listed.find((session) => session.current)!.userAgent).toBe(firefox);
    expect(listed.map((session) => session.userAgent)).toContain(
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1',
    );
    // Every session works before.
    for (const token of [first, a, b]) expect((await call('GET', '/api/auth/me', { token })).status).toBe(200);

    const ended = await call('POST', '/api/auth/sessions/sign-out-others', { token: a });
    expect(ended.status).toBe(200);
    expect(ended.body['ended']).toBe(3);
    const renewed = ended.body['token'] as string;
    // B (and the first sign-in) are refused on their next request; A goes on with its renewed token.
    expect((await call('GET', '/api/auth/me', { token: b })).status).toBe(401);
    expect((await call('GET', '/api/auth/me', { token: first })).status).toBe(401);
    expect((await call('GET', '/api/auth/me', { token: renewed })).status).toBe(200);
    const after = await sessionsOf(renewed);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ current: true, id: listed.find((session) => session.current)!.id });
    expect(await auditActions()).toContain('auth.signed_out_others');
    // Anonymous callers get 401.
    expect((await call('POST', '/api/auth/sessions/sign-out-others')).status).toBe(401);
    expect((await call('GET', '/api/auth/sessions')).status).toBe(401);
  });

  it('renews the cookie of a browser that signs out the others, which needs the CSRF token', async () => {
    const { cookies } = await signUp('cookie-sessions@example.com');
    const other = await signInAs('cookie-sessions@example.com');
    const session = { ballast_session: cookies['ballast_session']!, ballast_csrf: cookies['ballast_csrf']! };
    expect((await call('POST', '/api/auth/sessions/sign-out-others', { cookies: session })).status).toBe(403);
    const ended = await call('POST', '/api/auth/sessions/sign-out-others', {
      cookies: session,
      csrf: session.ballast_csrf,
    });
    expect(ended.status).toBe(200);
    expect(ended.cookies['ballast_session']).toBeTruthy();
    const renewed = {
      ballast_session: ended.cookies['ballast_session']!,
      ballast_csrf: ended.cookies['ballast_csrf']!,
    };
    expect((await call('GET', '/api/auth/me', { cookies: renewed })).status).toBe(200);
    expect((await call('GET', '/api/auth/me', { cookies: session })).status).toBe(401);
    expect((await call('GET', '/api/auth/me', { token: other })).status).toBe(401);
  });

  it('lets only one of two sessions racing to sign out the other win', async () => {
    await signUp('race-sessions@example.com');
    const a = await signInAs('race-sessions@example.com');
    const b = await signInAs('race-sessions@example.com');
    const answers = await Promise.all(
      [a, b].map((token) => call('POST', '/api/auth/sessions/sign-out-others', { token })),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401]);
    const winner = answers.find((answer) => answer.status === 200)!.body['token'] as string;
    expect((await call('GET', '/api/auth/me', { token: winner })).status).toBe(200);
    expect(await sessionsOf(winner)).toHaveLength(1);
    for (const token of [a, b]) expect((await call('GET', '/api/auth/me', { token })).status).toBe(401);
  });

  it('keeps the session through a password change, ends the others, and signing out ends them all', async () => {
    const { token } = await signUp('pw-sessions@example.com');
    await signInAs('pw-sessions@example.com');
    const before = await sessionsOf(token);
    expect(before).toHaveLength(3);
    const changed = await call('POST', '/api/auth/password', {
      token,
      body: { currentPassword: 'correct horse battery staple', newPassword: 'correct horse battery staple 2' },
    });
    expect(changed.status).toBe(200);
    const renewed = changed.cookies['ballast_session']!;
    const after = await sessionsOf(renewed);
    expect(after).toHaveLength(1);
    expect(after[0]!.id).toBe(before.find((session) => session.current)!.id);
    const signedOut = await call('POST', '/api/auth/sign-out', { token: renewed });
    expect(signedOut.status).toBe(204);
    const again = await call('POST', '/api/auth/sign-in', {
      body: { email: 'pw-sessions@example.com', password: 'correct horse battery staple 2' },
    });
    expect(await sessionsOf(again.body['token'] as string)).toHaveLength(1);
  });
});

describe('display name', () => {
  it('changes the name (trimmed, 1 to 80 characters, no control characters), audited', async () => {
    const { token } = await signUp('name@example.com');
    const rename = (displayName: unknown) => call('PATCH', '/api/auth/me', { token, body: { displayName } });
    const renamed = await rename('  Asha Rao  ');
    expect(renamed.status).toBe(200);
    expect(renamed.body['user']).toMatchObject({ displayName: 'Asha Rao' });
    expect(((await call('GET', '/api/auth/me', { token })).body['user'] as { displayName: string }).displayName).toBe(
      'Asha Rao',
    );
    for (const bad of ['   ', 'x'.repeat(81), 'Asha\u0007', 'Line\nbreak', 'evil\u202Etxt', 42]) {
      const refused = await rename(bad);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ errors: [{ field: 'body.displayName' }] });
    }
    expect((await rename('👩‍💻 Asha')).status).toBe(200);
    expect((await call('PATCH', '/api/auth/me', { body: { displayName: 'Nobody' } })).status).toBe(401);
    expect(await auditActions()).toContain('auth.name_changed');
  });
});

describe('browser sessions', () => {
  it('refuses a cookie-authenticated write without the CSRF token, and accepts it with one', async () => {
    const { cookies, token } = await signUp('csrf@example.com');
    const noHeader = await call('POST', '/api/desk/notes', {
      cookies: { ballast_session: cookies['ballast_session']! },
    });
    expect(noHeader.body).toMatchObject({ status: 403, code: 'auth.csrf' });
    const wrong = await call('POST', '/api/desk/notes', {
      cookies: { ballast_session: cookies['ballast_session']! },
      csrf: 'forged',
    });
    expect(wrong.status).toBe(403);
    const right = await call('POST', '/api/desk/notes', {
      cookies: { ballast_session: cookies['ballast_session']! },
      csrf: cookies['ballast_csrf']!,
    });
    expect(right.body).toEqual({ saved: true });
    // API clients with a bearer token are not exposed to CSRF.
    expect((await call('POST', '/api/desk/notes', { token })).body).toEqual({ saved: true });
  });
});

describe('limits', () => {
  it('throttles guessing: ten sign-in attempts per 15 minutes per IP and email', async () => {
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 11; attempt++) {
      statuses.push(
        (
          await call('POST', '/api/auth/sign-in', {
            body: { email: 'victim@example.com', password: `guess-${attempt}` },
          })
        ).status,
      );
    }
    expect(statuses.slice(0, 10).every((status) => status === 401)).toBe(true);
    expect(statuses[10]).toBe(429);
    // Another email from the same IP has its own budget.
    expect(
      (await call('POST', '/api/auth/sign-in', { body: { email: 'other@example.com', password: 'guess' } })).status,
    ).toBe(401);
  }, 120_000);

  it('allows three registrations per hour per IP', async () => {
    // Earlier tests in this file used this IP's registrations: a fresh server has a fresh budget.
    const fresh = await startTestBallast({ apps: [deskApp] });
    try {
      const statuses: number[] = [];
      for (let index = 0; index < 4; index++) {
        const response = await fetch(`${fresh.url}/api/auth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: `burst-${index}@example.com`, password: 'a long enough passphrase' }),
        });
        statuses.push(response.status);
      }
      expect(statuses).toEqual([202, 202, 202, 429]);
    } finally {
      await fresh.close();
    }
  });

  it('counts only the registrations it accepts: typos do not use up the hour, racing ones cannot exceed it', async () => {
    const fresh = await startTestBallast({ apps: [deskApp] });
    try {
      const register = async (body: Record<string, unknown>) =>
        (
          await fetch(`${fresh.url}/api/auth/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
        ).status;
      const refused = [
        await register({ email: 'newcomer@example.com', password: 'password123' }),
        await register({ email: 'newcomer@example.com', password: 'short' }),
        await register({ email: 'newcomer@example.com', password: 'qwertyuiop' }),
        await register({ email: 'newcomer@example', password: 'a long enough passphrase' }),
        await register({ email: 'newcomer@example.com', password: 'a long enough passphrase', role: 'desk:lead' }),
      ];
      expect(refused).toEqual([400, 400, 400, 400, 400]);
      expect(await register({ email: 'newcomer@example.com', password: 'a long enough passphrase' })).toBe(202);
      // Two more fit in the hour; of four racing for them, two get through.
      const racing = await Promise.all(
        [0, 1, 2, 3].map((index) =>
          register({ email: `racer-${index}@example.com`, password: 'a long enough passphrase' }),
        ),
      );
      expect(racing.toSorted()).toEqual([202, 202, 429, 429]);
    } finally {
      await fresh.close();
    }
  });
});

describe('roles, approval and setup', () => {
  it('creates the first admin once, then answers 404', async () => {
    expect((await call('GET', '/api/auth/setup')).body).toEqual({ required: true });
    const setup = await call('POST', '/api/auth/setup', {
      body: { email: 'admin@example.com', password: 'admin passphrase long', displayName: 'Admin' },
    });
    expect(setup.status).toBe(201);
    expect(setup.body['user']).toMatchObject({ roles: [{ role: 'platform:admin', status: 'active' }] });
    const again = await call('POST', '/api/auth/setup', {
      body: { email: 'evil@example.com', password: 'evil passphrase long' },
    });
    expect(again.status).toBe(404);
    expect((await call('GET', '/api/auth/setup')).body).toEqual({ required: false });
  });

  it('makes an existing account the admin only with its password, and secures one never verified', async () => {
    const fresh = await startTestBallast({ apps: [deskApp], roles: ['web', 'worker'] });
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${fresh.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    try {
      const owner = await createTestUser(fresh.ballast, 'owner@example.com', { password: 'the owners passphrase' });
      const takeover = await post('/api/auth/setup', {
        email: 'owner@example.com',
        password: 'an operators passphrase',
      });
      expect(takeover.body).toMatchObject({ status: 409, code: 'auth.setup_account_exists' });
      const ownerMe = await fetch(`${fresh.url}/api/auth/me`, { headers: owner.headers });
      expect(((await ownerMe.json()) as { user: { roles: unknown[] } }).user.roles).toEqual([]);
      const ownerSignIn = await post('/api/auth/sign-in', {
        email: 'owner@example.com',
        password: 'the owners passphrase',
      });
      expect(ownerSignIn.status).toBe(200);

      // A stranger registered the operator's address first and never confirmed it.
      expect(
        (await post('/api/auth/register', { email: 'root@example.com', password: 'the strangers passphrase' })).status,
      ).toBe(202);
      const setup = await post('/api/auth/setup', { email: 'root@example.com', password: 'the operators passphrase' });
      expect(setup.status).toBe(201);
      expect(
        (await post('/api/auth/sign-in', { email: 'root@example.com', password: 'the strangers passphrase' })).status,
      ).toBe(401);
      expect(
        (await post('/api/auth/sign-in', { email: 'root@example.com', password: 'the operators passphrase' })).status,
      ).toBe(200);
      const audit = await sql<{ details: unknown }>`select details from platform.audit_event
        where action = 'auth.account_secured'`.execute(fresh.ballast.database.db);
      expect(audit.rows).toEqual([{ details: expect.objectContaining({ provenBy: 'setup' }) }]);
    } finally {
      await fresh.close();
    }
  });

  it('lets a user awaiting approval sign in but not act, notifies approvers, and opens up once approved', async () => {
    const { token, user } = await signUp('mediator@example.com', 'mediator passphrase', 'desk:mediator');
    const blocked = await call('GET', '/api/desk/mediation', { token });
    expect(blocked.body).toMatchObject({ status: 403, code: 'auth.awaiting_approval' });
    const admin = (
      await call('POST', '/api/auth/sign-in', {
        body: { email: 'admin@example.com', password: 'admin passphrase long' },
      })
    ).body['token'] as string;
    const adminId = ((await call('GET', '/api/auth/me', { token: admin })).body['user'] as { id: string }).id;
    const notes = await server.ballast.notify.listInApp(adminId);
    expect(notes.map((note) => note.title)).toContain('mediator@example.com asks to be Mediator');

    const pending = await call('GET', '/api/auth/admin/users?status=pending', { token: admin });
    expect((pending.body['users'] as { email: string }[]).map((u) => u.email)).toContain('mediator@example.com');
    const forbidden = await call('POST', `/api/auth/admin/users/${user.id}/approve`, {
      token,
      body: { role: 'desk:mediator' },
    });
    expect(forbidden.status).toBe(403);
    const approved = await call('POST', `/api/auth/admin/users/${user.id}/approve`, {
      token: admin,
      body: { role: 'desk:mediator' },
    });
    expect(approved.status).toBe(200);
    expect((await call('GET', '/api/desk/mediation', { token })).body).toEqual({ ok: true });
    await inbox('mediator@example.com', /You are now Mediator/);
  });

  it('disabling an account revokes its tokens at once', async () => {
    const { token, user } = await signUp('leaver@example.com');
    const admin = (
      await call('POST', '/api/auth/sign-in', {
        body: { email: 'admin@example.com', password: 'admin passphrase long' },
      })
    ).body['token'] as string;
    const live = await liveSocket(token);
    expect((await call('POST', `/api/auth/admin/users/${user.id}/disable`, { token: admin })).status).toBe(200);
    expect((await call('GET', '/api/auth/me', { token })).status).toBe(401);
    expect(await live.closed()).toEqual({ code: 4401, reason: 'signed out' });
    const signIn = await call('POST', '/api/auth/sign-in', {
      body: { email: 'leaver@example.com', password: 'correct horse battery staple' },
    });
    expect(signIn.body).toMatchObject({ status: 403, code: 'auth.account_disabled' });
    const roles = await call('POST', `/api/auth/admin/users/${user.id}/roles`, {
      token: admin,
      body: { add: ['desk:trader'] },
    });
    expect(roles.status).toBe(200);
  });
});

describe('audit trail', () => {
  it('records every account event, is append-only, and exports CSV for admins only', async () => {
    const actions = new Set(await auditActions());
    for (const action of [
      'auth.register',
      'auth.email_verified',
      'auth.sign_in',
      'auth.sign_in_failed',
      'auth.sign_out',
      'auth.password_changed',
      'auth.reset_requested',
      'auth.password_reset',
      'auth.setup',
      'auth.role_approved',
      'auth.roles_changed',
      'auth.user_disabled',
    ]) {
      expect(actions, action).toContain(action);
    }
    await expect(
      sql`update platform.audit_event set action = 'rewritten'`.execute(server.ballast.database.db),
    ).rejects.toThrow('append-only');
    await expect(sql`delete from platform.audit_event`.execute(server.ballast.database.db)).rejects.toThrow(
      'append-only',
    );

    const admin = (
      await call('POST', '/api/auth/sign-in', {
        body: { email: 'admin@example.com', password: 'admin passphrase long' },
      })
    ).body['token'] as string;
    const filtered = await call('GET', '/api/audit?action=auth.sign_in_failed&actor=existing', { token: admin });
    const events = filtered.body['events'] as { action: string; actorEmail: string; ip: string }[];
    expect(events.length).toBeGreaterThan(0);
    expect(
      events.every((event) => event.action === 'auth.sign_in_failed' && event.actorEmail === 'existing@example.com'),
    ).toBe(true);
    expect(events[0]!.ip).toBe('127.0.0.1');
    const csv = await fetch(`${server.url}/api/audit.csv?action=auth.setup`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe('id,at,actor_id,actor_email,action,target_type,target_id,ip,user_agent,before,after,details');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('"admin@example.com","auth.setup"');
    const user = (
      await call('POST', '/api/auth/sign-in', {
        body: { email: 'asha@example.com', password: 'correct horse battery staple' },
      })
    ).body['token'] as string;
    expect((await call('GET', '/api/audit', { token: user })).status).toBe(403);
  });
});
