import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import WebSocket from 'ws';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { startTestBallast, type StartTestBallastOptions, type TestBallast } from '#platform/testing/ballast.ts';
import { startTcpProxy } from '#platform/testing/tcp-proxy.ts';
import { issueRealtimeTicket } from './ticket.ts';

const apps = [
  defineApp({
    name: 'probe',
    title: 'Probe',
    summary: 'Receives live updates.',
    status: 'available',
    realtimeRequests: { echo: async (userId, data) => ({ userId, data }) },
  }),
  defineApp({ name: 'other', title: 'Other', summary: 'Another app on the same server.', status: 'available' }),
];

type Frame = Record<string, unknown>;

/** A connected test client: frames in arrival order, and how the socket ended. */
interface Client {
  readonly socket: WebSocket;
  next(): Promise<Frame>;
  send(frame: unknown): void;
  readonly closed: Promise<{ code: number; reason: string }>;
}

interface Refusal {
  readonly status: number;
  readonly contentType: string;
  readonly body: Frame;
}

function ticketFor(node: TestBallast, userId: string): string {
  return issueRealtimeTicket(node.ballast.config.security.signingSecret, userId, 60);
}

function socketUrl(node: TestBallast, query: Record<string, string>): string {
  const url = new URL('/realtime', node.url.replace(/^http/, 'ws'));
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.toString();
}

function track(socket: WebSocket): Client {
  const frames: Frame[] = [];
  const waiting: ((frame: Frame) => void)[] = [];
  socket.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as Frame;
    const waiter = waiting.shift();
    if (waiter === undefined) frames.push(frame);
    else waiter(frame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return {
    socket,
    closed,
    send: (frame) => socket.send(JSON.stringify(frame)),
    next() {
      const frame = frames.shift();
      if (frame !== undefined) return Promise.resolve(frame);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no frame arrived within 10 s')), 10_000);
        waiting.push((arrived) => {
          clearTimeout(timer);
          resolve(arrived);
        });
      });
    },
  };
}

/** Opens a socket and resolves once the handshake succeeded. */
function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options);
    const client = track(socket);
    socket.once('open', () => resolve(client));
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => {
      reject(new Error(`handshake refused with ${response.statusCode}`));
      socket.terminate();
    });
  });
}

/** Attempts a handshake that must be refused before the upgrade, and resolves with the answer. */
function refusal(url: string, options: WebSocket.ClientOptions = {}): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options);
    socket.on('error', () => {});
    socket.once('open', () => {
      socket.terminate();
      reject(new Error('the handshake was accepted'));
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        resolve({
          status: response.statusCode ?? 0,
          contentType: response.headers['content-type'] ?? '',
          body: JSON.parse(body) as Frame,
        });
        socket.terminate();
      });
    });
  });
}

async function closeAll(clients: readonly Client[]): Promise<void> {
  for (const client of clients) client.socket.close();
  await Promise.all(clients.map((client) => client.closed));
}

function event(channel: string, name: string, data: unknown): Frame {
  return { type: 'event', channel, event: name, data };
}

describe('the handshake', () => {
  let node: TestBallast;

  beforeAll(async () => {
    node = await startTestBallast({
      apps,
      env: { CORS_ORIGINS: 'https://app.example.com', PUBLIC_URL: 'https://public.example.com' },
    });
  });

  afterAll(async () => {
    await node.close();
  });

  it('refuses a socket without a ticket, with a bad one, a forged one or an expired one, before the upgrade', async () => {
    const expired = issueRealtimeTicket(node.ballast.config.security.signingSecret, 'alice', 60, Date.now() - 120_000);
    const forged = issueRealtimeTicket('some-other-secret-of-at-least-32-bytes', 'alice', 60);
    const queries: Record<string, string>[] = [{}, { ticket: 'not-a-ticket' }, { ticket: forged }, { ticket: expired }];
    for (const query of queries) {
      const answer = await refusal(socketUrl(node, { app: 'probe', ...query }));
      expect(answer.status).toBe(401);
      expect(answer.contentType).toContain('application/problem+json');
      expect(answer.body).toMatchObject({ status: 401, code: 'realtime.unauthenticated' });
    }
    expect(node.ballast.realtime.countLocalConnections()).toBe(0);
  });

  it('refuses an app that is missing or not registered with 400', async () => {
    const ticket = ticketFor(node, 'alice');
    const queries: Record<string, string>[] = [{ ticket }, { ticket, app: 'nope' }];
    for (const query of queries) {
      const answer = await refusal(socketUrl(node, query));
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({
        code: 'realtime.unknown_app',
        errors: [{ field: 'querystring.app', message: 'must name a registered app' }],
      });
    }
  });

  it('refuses a browser on a foreign origin with 403', async () => {
    const url = socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'alice') });
    for (const origin of ['https://evil.example', 'null', 'https://app.example.com.evil.example']) {
      const answer = await refusal(url, { origin });
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ code: 'realtime.origin_not_allowed' });
    }
  });

  it('accepts a CORS origin, the PUBLIC_URL origin, the same origin and a client that sends no origin', async () => {
    const url = socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'alice') });
    const clients = [
      await connect(url, { origin: 'https://app.example.com' }),
      await connect(url, { origin: 'https://public.example.com' }),
      await connect(url, { origin: node.url }),
      await connect(url),
    ];
    expect(node.ballast.realtime.countLocalConnections('probe')).toBe(4);
    await closeAll(clients);
  });

  it('never writes a ticket to the logs', async () => {
    const ticket = ticketFor(node, 'log-check');
    const client = await connect(socketUrl(node, { app: 'probe', ticket }));
    await refusal(socketUrl(node, { app: 'nope', ticket }));
    await closeAll([client]);
    await vi.waitFor(() => expect(node.logs.text()).toContain('"url":"/realtime?app=nope&ticket=[redacted]"'));
    expect(node.logs.text()).not.toContain(ticket.split('.')[2]);
  });
});

describe('delivery on one node', () => {
  let node: TestBallast;

  beforeAll(async () => {
    node = await startTestBallast({ apps });
  });

  afterAll(async () => {
    await node.close();
  });

  function open(userId: string, app = 'probe'): Promise<Client> {
    return connect(socketUrl(node, { app, ticket: ticketFor(node, userId) }));
  }

  it("delivers a user's messages to every socket of that user in that app, and to no one else", async () => {
    const [alice, aliceAgain, bob, aliceElsewhere] = [
      await open('alice'),
      await open('alice'),
      await open('bob'),
      await open('alice', 'other'),
    ];
    const { realtime } = node.ballast;
    await realtime.publish({ app: 'probe', channel: 'user:alice', event: 'note.created', data: { id: 1 } });
    await realtime.publish({ app: 'probe', channel: 'user:bob', event: 'note.created', data: { id: 2 } });
    await realtime.publish({ app: 'other', channel: 'user:alice', event: 'ping' });

    expect(await alice.next()).toEqual(event('user:alice', 'note.created', { id: 1 }));
    expect(await aliceAgain.next()).toEqual(event('user:alice', 'note.created', { id: 1 }));
    expect(await bob.next()).toEqual(event('user:bob', 'note.created', { id: 2 }));
    expect(await aliceElsewhere.next()).toEqual(event('user:alice', 'ping', null));
    await closeAll([alice, aliceAgain, bob, aliceElsewhere]);
  });

  it('delivers a burst of messages published at once, every one and in order (batched NOTIFY)', async () => {
    const dave = await open('dave');
    const { realtime } = node.ballast;
    const sent = Array.from({ length: 300 }, (_, index) =>
      realtime.publish({ app: 'probe', channel: 'user:dave', event: 'tick', data: { index } }),
    );
    await Promise.all(sent);
    const received = [];
    for (let index = 0; index < 300; index++) received.push(await dave.next());
    expect(received).toEqual(Array.from({ length: 300 }, (_, index) => event('user:dave', 'tick', { index })));
    await closeAll([dave]);
  });

  it('subscribes to and unsubscribes from topics, refusing topics of other apps and malformed requests', async () => {
    const client = await open('carol');
    const { realtime } = node.ballast;

    client.send({ type: 'subscribe', topic: 'probe:room-1' });
    expect(await client.next()).toEqual({ type: 'subscribed', topic: 'probe:room-1' });
    await realtime.publish({ app: 'probe', channel: 'topic:probe:room-1', event: 'message', data: 'hello' });
    expect(await client.next()).toEqual(event('topic:probe:room-1', 'message', 'hello'));

    client.send({ type: 'subscribe', topic: 'other:room-1' });
    expect(await client.next()).toMatchObject({
      type: 'error',
      code: 'realtime.topic_forbidden',
      topic: 'other:room-1',
    });
    client.socket.send('not json');
    expect(await client.next()).toMatchObject({ type: 'error', code: 'realtime.invalid_message' });
    client.send({ type: 'subscribe', topic: 'has spaces' });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'realtime.invalid_message' });

    client.send({ type: 'unsubscribe', topic: 'probe:room-1' });
    expect(await client.next()).toEqual({ type: 'unsubscribed', topic: 'probe:room-1' });
    await realtime.publish({ app: 'probe', channel: 'topic:probe:room-1', event: 'message', data: 'unheard' });
    await realtime.publish({ app: 'probe', channel: 'user:carol', event: 'marker' });
    expect(await client.next()).toEqual(event('user:carol', 'marker', null));
    await closeAll([client]);
  });

  it('refuses a message of 8000 bytes or more, a bad channel and an unknown app, clearly', async () => {
    const { realtime } = node.ballast;
    await expect(
      realtime.publish({ app: 'probe', channel: 'user:alice', event: 'big', data: 'x'.repeat(8000) }),
    ).rejects.toMatchObject({ kind: 'payload_too_large', code: 'realtime.message_too_large' });
    await expect(realtime.publish({ app: 'probe', channel: 'everyone', event: 'x' })).rejects.toMatchObject({
      kind: 'invalid_input',
      code: 'realtime.invalid_message',
    });
    await expect(realtime.publish({ app: 'nope', channel: 'user:alice', event: 'x' })).rejects.toMatchObject({
      code: 'realtime.unknown_app',
    });
  });

  it('reports open sockets and published messages in the metrics', async () => {
    const clients = [await open('dave'), await open('erin')];
    await node.ballast.realtime.publish({ app: 'probe', channel: 'user:dave', event: 'counted' });
    expect(await clients[0]!.next()).toEqual(event('user:dave', 'counted', null));
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/^realtime_connections\{[^}]*app="probe"[^}]*\} 2$/m);
    expect(metrics).toMatch(/^realtime_connections\{[^}]*app="other"[^}]*\} 0$/m);
    expect(metrics).toMatch(/^realtime_messages_published_total\{[^}]*app="probe"[^}]*\} [1-9]\d*$/m);
    await closeAll(clients);
  });

  it('reopens the PostgreSQL listener after its connection is killed, and delivers again', async () => {
    const client = await open('frank');
    await node.ballast.database.pool.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = 'ballast-realtime' and datname = current_database()`,
    );
    await vi.waitFor(() => expect(node.logs.text()).toContain('realtime listener reconnected'), { timeout: 15_000 });
    expect(node.logs.text()).toContain('realtime listener connection lost; reconnecting');
    await node.ballast.realtime.publish({ app: 'probe', channel: 'user:frank', event: 'after-reconnect' });
    expect(await client.next()).toEqual(event('user:frank', 'after-reconnect', null));
    await closeAll([client]);
  });
});

describe('the connection cap', () => {
  let node: TestBallast;

  beforeAll(async () => {
    node = await startTestBallast({ apps, env: { REALTIME_MAX_CONNECTIONS_PER_APP: '2' } });
  });

  afterAll(async () => {
    await node.close();
  });

  it('closes sockets beyond the per-app limit with 4429, counting each app on its own', async () => {
    const url = socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'alice') });
    const first = await connect(url);
    const second = await connect(url);
    const third = await connect(url);
    expect(await third.closed).toEqual({ code: 4429, reason: 'too many connections' });
    const elsewhere = await connect(socketUrl(node, { app: 'other', ticket: ticketFor(node, 'alice') }));
    expect(elsewhere.socket.readyState).toBe(WebSocket.OPEN);

    await closeAll([first]);
    await vi.waitFor(() => expect(node.ballast.realtime.countLocalConnections('probe')).toBe(1));
    const replacement = await connect(url);
    await node.ballast.realtime.publish({ app: 'probe', channel: 'user:alice', event: 'still-here' });
    expect(await replacement.next()).toEqual(event('user:alice', 'still-here', null));
    await closeAll([second, replacement, elsewhere]);
  });
});

describe('the per-user cap', () => {
  let node: TestBallast;

  beforeAll(async () => {
    node = await startTestBallast({
      apps,
      env: { REALTIME_MAX_CONNECTIONS_PER_USER: '2', REALTIME_MAX_CONNECTIONS_PER_APP: '3' },
    });
  });

  afterAll(async () => {
    await node.close();
  });

  it("closes a user's oldest socket in the app with 4409 when they open one more, and accepts the new one", async () => {
    const url = socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'alice') });
    const first = await connect(url);
    const second = await connect(url);
    const third = await connect(url);
    expect(await first.closed).toEqual({ code: 4409, reason: 'replaced by a newer connection' });
    expect(node.ballast.realtime.countLocalConnections('probe')).toBe(2);
    await node.ballast.realtime.publish({ app: 'probe', channel: 'user:alice', event: 'newest-two' });
    expect(await second.next()).toEqual(event('user:alice', 'newest-two', null));
    expect(await third.next()).toEqual(event('user:alice', 'newest-two', null));
    // Other apps and other users count on their own.
    const elsewhere = [
      await connect(socketUrl(node, { app: 'other', ticket: ticketFor(node, 'alice') })),
      await connect(socketUrl(node, { app: 'other', ticket: ticketFor(node, 'alice') })),
    ];
    const bob = await connect(socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'bob') }));
    expect([second, third, bob, ...elsewhere].map((client) => client.socket.readyState)).toEqual(
      Array(5).fill(WebSocket.OPEN),
    );
    expect(node.logs.text()).toContain('realtime socket replaced by a newer one of the same user');
    await closeAll([second, third, bob, ...elsewhere]);
  });

  it('lets a user at their cap replace a socket even when the app is full, while another user is refused with 4429', async () => {
    const url = socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'carol') });
    await vi.waitFor(() => expect(node.ballast.realtime.countLocalConnections('probe')).toBe(0));
    const carol = [await connect(url), await connect(url)];
    const dave = await connect(socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'dave') }));
    const erin = await connect(socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'erin') }));
    expect(await erin.closed).toEqual({ code: 4429, reason: 'too many connections' });
    const carolAgain = await connect(url);
    expect(await carol[0]!.closed).toEqual({ code: 4409, reason: 'replaced by a newer connection' });
    expect(carolAgain.socket.readyState).toBe(WebSocket.OPEN);
    expect(node.ballast.realtime.countLocalConnections('probe')).toBe(3);
    await closeAll([carol[1]!, carolAgain, dave]);
  });
});

describe('requests and abuse', () => {
  let node: TestBallast;

  beforeAll(async () => {
    node = await startTestBallast({ apps });
  });

  afterAll(async () => {
    await node.close();
  });

  function logged(level: string): Record<string, unknown>[] {
    return node.logs.lines().filter((line) => line['level'] === level);
  }

  it("answers the app's own requests and never one found on Object's prototype", async () => {
    const client = await connect(socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'alice') }));
    client.send({ type: 'request', id: 1, name: 'echo', data: { n: 1 } });
    expect(await client.next()).toEqual({
      type: 'reply',
      id: 1,
      ok: true,
      data: { userId: 'alice', data: { n: 1 } },
    });
    const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
    for (const [index, name] of names.entries()) {
      client.send({ type: 'request', id: index + 2, name, data: null });
      expect(await client.next()).toEqual({
        type: 'reply',
        id: index + 2,
        ok: false,
        error: { code: 'realtime.unknown_request', message: `No request ${name} in probe` },
      });
    }
    await closeAll([client]);
    expect(logged('error')).toEqual([]);
  });

  it('refuses request data holding a NUL character or an unpaired surrogate before the handler sees it', async () => {
    const client = await connect(socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'carol') }));
    client.send({ type: 'request', id: 1, name: 'echo', data: { note: 'a\u0000b', list: ['\ud800'] } });
    expect(await client.next()).toEqual({
      type: 'reply',
      id: 1,
      ok: false,
      error: {
        code: 'realtime.invalid_text',
        message: 'Text may not contain NUL characters or unpaired surrogates',
        errors: [
          { field: 'data.note', message: 'contains a NUL character (\\u0000)' },
          { field: 'data.list.0', message: 'contains an unpaired UTF-16 surrogate' },
        ],
      },
    });
    await closeAll([client]);
  });

  it('logs abuse (malformed JSON, an unknown request, an oversized message) at warn, without a stack', async () => {
    const client = await connect(socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'bob') }));
    client.socket.send('{"type":');
    expect(await client.next()).toMatchObject({ type: 'error', code: 'realtime.invalid_message' });
    client.send({ type: 'request', id: 'x', name: 'no.such.request' });
    expect(await client.next()).toMatchObject({ type: 'reply', id: 'x', ok: false });
    client.socket.send(JSON.stringify({ type: 'subscribe', topic: 'x'.repeat(70 * 1024) }));
    expect((await client.closed).code).toBe(1009);

    await vi.waitFor(() =>
      expect(logged('warn').map((line) => line['msg'])).toEqual(
        expect.arrayContaining([
          'realtime: refused a malformed message',
          'realtime: refused an unknown request',
          'websocket client broke the protocol; closed',
        ]),
      ),
    );
    expect(logged('error')).toEqual([]);
    expect(node.logs.text()).not.toContain('"stack"');
  });
});

describe('dead peers and shutdown', () => {
  it('drops a socket that stops answering pings and keeps one that answers', async () => {
    const node = await startTestBallast({ apps, env: { REALTIME_PING_INTERVAL_MS: '100' } });
    try {
      const url = socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'alice') });
      const dead = await connect(url, { autoPong: false });
      const live = await connect(url);
      let pings = 0;
      live.socket.on('ping', () => (pings += 1));
      expect((await dead.closed).code).toBe(1006);
      expect(pings).toBeGreaterThanOrEqual(1);
      expect(live.socket.readyState).toBe(WebSocket.OPEN);
      await vi.waitFor(() => expect(node.ballast.realtime.countLocalConnections('probe')).toBe(1));
      expect(node.logs.text()).toContain('realtime socket missed a ping; dropped');
      await closeAll([live]);
    } finally {
      await node.close();
    }
  });

  it('pings its sockets in turns spread over the interval, each once per interval', async () => {
    // 2 s: two turns a second apart, taken by the sockets in the order they connected.
    const node = await startTestBallast({ apps, env: { REALTIME_PING_INTERVAL_MS: '2000' } });
    try {
      const url = socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'alice') });
      const sockets = [];
      for (let index = 0; index < 4; index++) sockets.push(await connect(url));
      const pingedAt = (socket: WebSocket) =>
        new Promise<number>((resolve) => socket.once('ping', () => resolve(performance.now())));
      const [first, second, third, fourth] = await Promise.all(sockets.map(({ socket }) => pingedAt(socket)));
      // Sockets of one turn are pinged together; the two turns half an interval apart.
      expect(Math.abs(first! - third!)).toBeLessThan(300);
      expect(Math.abs(second! - fourth!)).toBeLessThan(300);
      expect(Math.abs(first! - second!)).toBeGreaterThan(600);
      // Each socket's next ping comes a whole interval after its first.
      const again = await pingedAt(sockets[0]!.socket);
      expect(again - first!).toBeGreaterThan(1600);
      await closeAll(sockets);
    } finally {
      await node.close();
    }
  });

  it('tells open sockets the server is going away (1001) when Ballast stops', async () => {
    const node = await startTestBallast({ apps });
    const client = await connect(socketUrl(node, { app: 'probe', ticket: ticketFor(node, 'alice') }));
    await node.close();
    expect(await client.closed).toEqual({ code: 1001, reason: 'server shutting down' });
  });
});

describe('fan-out across nodes', () => {
  async function startPair(env: Record<string, string>): Promise<[TestBallast, TestBallast]> {
    // Nodes of one deployment share the signing secret and the database.
    const options: StartTestBallastOptions = {
      apps,
      env: { SIGNING_SECRET: randomBytes(32).toString('base64url'), ...env },
    };
    const first = await startTestBallast(options);
    const second = await startTestBallast({ ...options, databaseUrl: first.databaseUrl });
    return [first, second];
  }

  async function expectFanOut(first: TestBallast, second: TestBallast, bus: string): Promise<void> {
    for (const node of [first, second]) {
      expect(node.logs.lines().find((line) => line['msg'] === 'realtime listening')).toMatchObject({ bus });
    }
    const onSecond = await connect(socketUrl(second, { app: 'probe', ticket: ticketFor(first, 'grace') }));
    const onFirst = await connect(socketUrl(first, { app: 'probe', ticket: ticketFor(second, 'heidi') }));
    onSecond.send({ type: 'subscribe', topic: 'probe:board' });
    expect(await onSecond.next()).toEqual({ type: 'subscribed', topic: 'probe:board' });

    await first.ballast.realtime.publish({ app: 'probe', channel: 'user:grace', event: 'hello', data: { from: 1 } });
    expect(await onSecond.next()).toEqual(event('user:grace', 'hello', { from: 1 }));
    await first.ballast.realtime.publish({ app: 'probe', channel: 'topic:probe:board', event: 'moved', data: [1, 2] });
    expect(await onSecond.next()).toEqual(event('topic:probe:board', 'moved', [1, 2]));
    await second.ballast.realtime.publish({ app: 'probe', channel: 'user:heidi', event: 'hello', data: { from: 2 } });
    expect(await onFirst.next()).toEqual(event('user:heidi', 'hello', { from: 2 }));
    await closeAll([onFirst, onSecond]);
  }

  it('delivers a message published on one node to a socket on another through PostgreSQL', async () => {
    const [first, second] = await startPair({});
    try {
      await expectFanOut(first, second, 'postgres');
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('lets a worker-only process, which serves no sockets, publish to a socket on a web node', async () => {
    const web = await startTestBallast({ apps, env: { SIGNING_SECRET: randomBytes(32).toString('base64url') } });
    const worker = await startTestBallast({ apps, roles: ['worker'], databaseUrl: web.databaseUrl });
    try {
      const client = await connect(socketUrl(web, { app: 'probe', ticket: ticketFor(web, 'ivan') }));
      await worker.ballast.realtime.publish({ app: 'probe', channel: 'user:ivan', event: 'report.ready', data: 7 });
      expect(await client.next()).toEqual(event('user:ivan', 'report.ready', 7));
      expect(worker.logs.text()).toContain('Ballast worker started');
      expect(worker.logs.text()).not.toContain('realtime listening');
      await closeAll([client]);
    } finally {
      await worker.close();
      await web.close();
    }
  });

  it('reports the Redis bus down once its subscriber stops answering PINGs, and still stops when Redis is silent', async (ctx) => {
    const redisUrl = inject('redisUrl');
    if (redisUrl === '') ctx.skip('no Redis answered at TEST_REDIS_URL, REDIS_URL or 127.0.0.1:6379');
    const target = new URL(redisUrl);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const node = await startTestBallast({
      apps,
      env: { REDIS_URL: proxy.through(redisUrl), DATABASE_LISTENER_CHECK_MS: '500' },
    });
    try {
      await vi.waitFor(() => expect(node.ballast.realtime.isBusUp()).toBe(true), { timeout: 15_000 });
      proxy.blackHole();
      await vi.waitFor(() => expect(node.ballast.realtime.isBusUp()).toBe(false), { timeout: 15_000 });
      expect(node.logs.text()).toContain('realtime subscriber silent; reconnecting');
    } finally {
      // QUIT is never answered: stopping must not wait for it.
      await node.close();
      await proxy.close();
    }
  });

  it('delivers a message published on one node to a socket on another through Redis', async (ctx) => {
    const redisUrl = inject('redisUrl');
    if (redisUrl === '') ctx.skip('no Redis answered at TEST_REDIS_URL, REDIS_URL or 127.0.0.1:6379');
    const [first, second] = await startPair({ REDIS_URL: redisUrl });
    try {
      await expectFanOut(first, second, 'redis');
    } finally {
      await second.close();
      await first.close();
    }
  });
});
