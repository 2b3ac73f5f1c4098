import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import WebSocket from 'ws';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { testSigningKeys } from '#platform/testing/keys.ts';
import { startTcpProxy, type TcpProxy } from '#platform/testing/tcp-proxy.ts';
import { createTestUser } from '#platform/testing/users.ts';
import { waitFor } from '#platform/testing/wait-for.ts';

const deskApp = defineApp({
  name: 'desk',
  title: 'Desk',
  summary: 'Roles under test.',
  status: 'available',
  roles: [{ name: 'mediator', title: 'Mediator' }],
  routes: async (router) => {
    router.get('/mine', { config: { access: 'user' } }, async (request) => ({ userId: request.user!.id }));
    router.get('/mediation', { config: { access: ['desk:mediator'] } }, async () => ({ ok: true }));
  },
  realtimeRequests: { whoami: async (userId) => ({ userId }) },
});

const password = 'a test passphrase of some length';
const origin = { ip: '127.0.0.1', userAgent: 'test' };

async function status(node: TestBallast, path: string, token: string): Promise<number> {
  const response = await fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

async function post(node: TestBallast, path: string, token: string, body: unknown = {}): Promise<number> {
  const response = await fetch(`${node.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

/** A live-updates socket of the desk app opened with a bearer token, sending requests one at a time. */
async function openSocket(node: TestBallast, token: string) {
  const socket = new WebSocket(`${node.url.replace('http', 'ws')}/realtime?app=desk`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  let next = 0;
  return {
    closed,
    request(name: string): Promise<{ ok: boolean; data?: unknown; error?: { code: string } }> {
      const id = ++next;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to ${name} within 10 s`)), 10_000);
        const onMessage = (raw: Buffer) => {
          const frame = JSON.parse(raw.toString('utf8')) as { type: string; id?: number };
          if (frame.type !== 'reply' || frame.id !== id) return;
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve(frame as never);
        };
        socket.on('message', onMessage);
        socket.send(JSON.stringify({ type: 'request', id, name, data: {} }));
      });
    },
    close: () => socket.close(),
  };
}

/** `auth_actor_cache_lookups_total{result}` on the node's /metrics. */
async function lookups(node: TestBallast, result: 'hit' | 'miss' | 'bypass'): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const line = new RegExp(`^auth_actor_cache_lookups_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)$`, 'm').exec(text);
  return Number(line?.[1] ?? 0);
}

/** How each bus is cut on node B alone, and restored. */
interface BusFault {
  /** Settings of node B (A connects directly). */
  readonly envOfB: Record<string, string>;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  readonly a: TestBallast;
  readonly b: TestBallast;
  readonly fault: BusFault;
}

/**
 * Two web nodes of one deployment on one database and bus. `makeFault` is given node A, which is
 * started first, and answers how B's bus (and only B's) is cut.
 */
async function startPair(
  envOfBoth: Record<string, string>,
  makeFault: (a: TestBallast) => Promise<BusFault>,
): Promise<Pair> {
  const env = {
    SIGNING_SECRET: randomBytes(32).toString('base64url'),
    AUTH_SIGNING_KEYS: await testSigningKeys(),
    AUTH_REGISTRATIONS_PER_HOUR: '1000',
    ...envOfBoth,
  };
  const a = await startTestBallast({ apps: [deskApp], env });
  const fault = await makeFault(a);
  const b = await startTestBallast({
    apps: [deskApp],
    env: { ...env, ...fault.envOfB },
    databaseUrl: fault.envOfB['DATABASE_URL'] ?? a.databaseUrl,
  });
  for (const node of [a, b])
    await waitFor(
      () => node.ballast.realtime.isBusUp(),
      (up) => up,
      15_000,
    );
  return { a, b, fault };
}

/**
 * PostgreSQL bus: B reaches the database through a TCP proxy. The cut resets every new connection
 * through it (B's pool keeps its open ones) and terminates B's LISTEN connection, which therefore
 * cannot come back until the proxy passes again. A's listener, known before B started, is spared.
 */
async function postgresFault(a: TestBallast): Promise<BusFault> {
  const target = new URL(a.databaseUrl);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const listeners = async () =>
    (
      await a.ballast.database.pool.query<{ pid: number }>(
        `select pid from pg_stat_activity where application_name = 'ballast-realtime' and datname = current_database()`,
      )
    ).rows.map((row) => row.pid);
  const ofA = await listeners();
  expect(ofA).toHaveLength(1);
  return {
    envOfB: { DATABASE_URL: proxy.through(a.databaseUrl) },
    async cut() {
      proxy.refuseNew();
      const ofB = (await listeners()).filter((pid) => !ofA.includes(pid));
      expect(ofB).toHaveLength(1);
      await a.ballast.database.pool.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [ofB]);
    },
    restore: () => proxy.restore(),
    close: () => proxy.close(),
  };
}

/**
 * No fault: both nodes reach the database and the bus directly. (A proxy inside the test process
 * would relay B's bus messages through the very event loop that sends B its next request.)
 */
async function noFault(): Promise<BusFault> {
  const nothing = async () => {};
  return { envOfB: {}, cut: nothing, restore: nothing, close: nothing };
}

/** Redis bus: B reaches Redis through a TCP proxy that starts refusing connections. */
async function redisFault(redisUrl: string): Promise<BusFault> {
  const target = new URL(redisUrl);
  const proxy: TcpProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  return {
    envOfB: { REDIS_URL: proxy.through(redisUrl) },
    cut: () => proxy.refuse(),
    restore: () => proxy.restore(),
    close: () => proxy.close(),
  };
}

const buses = [
  { bus: 'postgres', env: () => ({}), fault: postgresFault },
  {
    bus: 'redis',
    env: () => ({ REDIS_URL: inject('redisUrl') }),
    fault: () => redisFault(inject('redisUrl')),
  },
] as const;

describe.each(buses)('the actor cache on two nodes sharing a database and a $bus bus', ({ bus, env, fault }) => {
  const available = () => bus !== 'redis' || inject('redisUrl') !== '';
  const running: Pair[] = [];

  async function pairWith(makeFault: (a: TestBallast) => Promise<BusFault>): Promise<Pair> {
    const pair = await startPair(env(), makeFault);
    running.push(pair);
    return pair;
  }

  afterAll(async () => {
    for (const pair of running) {
      await pair.fault.close();
      await pair.b.close();
      await pair.a.close();
    }
  });

  it('applies a role change, a disabling and a sign-out made on one node to the very next request on the other', async (ctx) => {
    if (!available()) return ctx.skip('no Redis answered at TEST_REDIS_URL, REDIS_URL or 127.0.0.1:6379');
    const { a, b } = await pairWith(noFault);
    const admin = await createTestUser(a.ballast, `admin-${bus}@example.com`, { roles: ['platform:admin'] });
    const user = await createTestUser(a.ballast, `member-${bus}@example.com`);

    // B keeps the user: the second request is answered from memory.
    expect(await status(b, '/api/desk/mine', user.token)).toBe(200);
    const hits = await lookups(b, 'hit');
    expect(await status(b, '/api/desk/mediation', user.token)).toBe(403);
    expect(await lookups(b, 'hit')).toBeGreaterThan(hits);

    expect(await post(a, `/api/auth/admin/users/${user.id}/roles`, admin.token, { add: ['desk:mediator'] })).toBe(200);
    expect(await status(b, '/api/desk/mediation', user.token)).toBe(200);
    expect(await status(b, '/api/desk/mediation', user.token)).toBe(200);

    expect(await post(a, `/api/auth/admin/users/${user.id}/roles`, admin.token, { remove: ['desk:mediator'] })).toBe(
      200,
    );
    expect(await status(b, '/api/desk/mediation', user.token)).toBe(403);

    expect(await status(b, '/api/desk/mine', user.token)).toBe(200);
    expect(await post(a, `/api/auth/admin/users/${user.id}/disable`, admin.token)).toBe(200);
    expect(await status(b, '/api/desk/mine', user.token)).toBe(401);

    expect(await post(a, `/api/auth/admin/users/${user.id}/enable`, admin.token)).toBe(200);
    // Disabling revoked the old token for good; a new sign-in works on B at once.
    expect(await status(b, '/api/desk/mine', user.token)).toBe(401);
    const session = await a.ballast.auth.signIn({ email: user.email, password }, origin);
    expect(await status(b, '/api/desk/mine', session.token)).toBe(200);
    expect(await status(b, '/api/desk/mine', session.token)).toBe(200);

    expect(await post(a, '/api/auth/sign-out', session.token)).toBe(204);
    expect(await status(b, '/api/desk/mine', session.token)).toBe(401);
  });

  it('refuses on the other node, at once, the sessions another one signed out, and keeps the one that asked', async (ctx) => {
    if (!available()) return ctx.skip('no Redis answered at TEST_REDIS_URL, REDIS_URL or 127.0.0.1:6379');
    const { a, b } = await pairWith(noFault);
    const user = await createTestUser(a.ballast, `sessions-${bus}@example.com`);
    const other = await a.ballast.auth.signIn({ email: user.email, password }, origin);
    // B keeps the user: both sessions are answered from memory there.
    expect(await status(b, '/api/desk/mine', other.token)).toBe(200);
    expect(await status(b, '/api/desk/mine', user.token)).toBe(200);

    const response = await fetch(`${a.url}/api/auth/sessions/sign-out-others`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(response.status).toBe(200);
    const { token: renewed } = (await response.json()) as { token: string };
    expect(await status(b, '/api/desk/mine', other.token)).toBe(401);
    expect(await status(b, '/api/desk/mine', renewed)).toBe(200);
  });

  it('refuses a token revoked on the other node at once while its own bus connection is cut, and caches again once it is back', async (ctx) => {
    if (!available()) return ctx.skip('no Redis answered at TEST_REDIS_URL, REDIS_URL or 127.0.0.1:6379');
    const { a, b, fault: cutter } = await pairWith(fault);
    const user = await createTestUser(a.ballast, `cut-${bus}@example.com`);
    // A live socket on B, opened with the same token, whose requests are checked as requests are.
    const socket = await openSocket(b, user.token);
    expect(await socket.request('whoami')).toMatchObject({ ok: true, data: { userId: user.id } });
    expect(await status(b, '/api/desk/mine', user.token)).toBe(200);
    const hits = await lookups(b, 'hit');
    expect(await status(b, '/api/desk/mine', user.token)).toBe(200);
    expect(await lookups(b, 'hit')).toBeGreaterThan(hits);

    await cutter.cut();
    try {
      await waitFor(
        () => b.ballast.realtime.isBusUp(),
        (up) => !up,
        15_000,
      );
      // B reads the database on every request now.
      const bypassed = await lookups(b, 'bypass');
      expect(await status(b, '/api/desk/mine', user.token)).toBe(200);
      expect(await lookups(b, 'bypass')).toBeGreaterThan(bypassed);
      // Signed out on A: the message never reaches B, which refuses the token all the same.
      expect(await post(a, '/api/auth/sign-out', user.token)).toBe(204);
      expect(b.ballast.realtime.isBusUp()).toBe(false);
      expect(await status(b, '/api/desk/mine', user.token)).toBe(401);
      // The socket, which the missed message would have closed, is refused and closed at its
      // next request.
      expect(await socket.request('whoami')).toMatchObject({ ok: false, error: { code: 'realtime.unauthenticated' } });
      expect(await socket.closed).toBe(4401);
    } finally {
      socket.close();
      await cutter.restore();
    }

    await waitFor(
      () => b.ballast.realtime.isBusUp(),
      (up) => up,
      30_000,
    );
    const session = await a.ballast.auth.signIn({ email: user.email, password }, origin);
    expect(await status(b, '/api/desk/mine', session.token)).toBe(200);
    const again = await lookups(b, 'hit');
    expect(await status(b, '/api/desk/mine', session.token)).toBe(200);
    expect(await lookups(b, 'hit')).toBeGreaterThan(again);
  });
});

describe('reading users to authenticate', () => {
  it('reads the users of requests that arrive together in one statement, each answered with its own row', async () => {
    // The cache off: every request reads its user, so every read goes through the batching.
    const node = await startTestBallast({
      apps: [deskApp],
      env: {
        AUTH_SIGNING_KEYS: await testSigningKeys(),
        AUTH_REGISTRATIONS_PER_HOUR: '1000',
        AUTH_ACTOR_CACHE_SECONDS: '0',
      },
    });
    try {
      const users = [];
      for (let index = 0; index < 20; index++)
        users.push(await createTestUser(node.ballast, `batch-${index}@example.com`));
      // One of them disabled behind the node's back (the cache is off, so it is read as it is).
      const client = new pg.Client({ connectionString: node.databaseUrl });
      await client.connect();
      await client.query('update platform."user" set disabled_at = now() where id = $1', [users[3]!.id]);
      await client.end();
      // Each token checked once: its signature check is then remembered, so the requests below all
      // reach the read of their user in the same turn of the event loop.
      for (const user of users) await node.ballast.auth.authenticate(user.token);
      const query = vi.spyOn(pg.Client.prototype, 'query');
      try {
        const actors = await Promise.all(users.map((user) => node.ballast.auth.authenticate(user.token)));
        const reads = query.mock.calls.filter(([statement]) => {
          const text = typeof statement === 'string' ? statement : (statement as { text?: string }).text;
          return text?.includes('"user" as "u"') === true;
        });
        expect(reads).toHaveLength(1);
        expect(actors.map((actor) => actor?.id ?? null)).toEqual(
          users.map((user, index) => (index === 3 ? null : user.id)),
        );
      } finally {
        query.mockRestore();
      }
    } finally {
      await node.close();
    }
  }, 60_000);
});
