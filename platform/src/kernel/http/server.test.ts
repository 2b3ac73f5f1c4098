import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { startTcpProxy } from '#platform/testing/tcp-proxy.ts';
import { rateLimit } from './rate-limit.ts';

const probeApp = defineApp({
  name: 'probe',
  title: 'Probe',
  summary: 'Routes that exercise the HTTP core.',
  status: 'available',
  defaultAccess: 'public',
  routes: async (router) => {
    router.post(
      '/echo',
      {
        schema: {
          summary: 'Echoes a valid body',
          body: z.object({ email: z.email(), age: z.number().int().min(0) }),
          response: { 200: z.object({ email: z.string(), age: z.number() }) },
        },
      },
      async (request) => request.body,
    );
    router.get('/boom', async () => {
      throw new Error('connect to postgres://admin:hunter2@db.internal failed');
    });
    router.get('/conflict', async () => {
      throw new AppError('conflict', 'probe.already_exists', 'It already exists', { details: { id: 7 } });
    });
    router.post('/login', async (request) => {
      request.log.info({ body: request.body, headers: request.headers }, 'login attempt');
      return { ok: true };
    });
    router.get(
      '/limited',
      { config: rateLimit({ name: 'probe-limited', max: 2, windowMs: 60_000, by: 'ip' }) },
      async () => ({ ok: true }),
    );
    router.get(
      '/block',
      { schema: { querystring: z.object({ ms: z.coerce.number().int().max(5000) }) } },
      async (request) => {
        const until = Date.now() + request.query.ms;
        while (Date.now() < until) {
          // Deliberately blocks the event loop to trigger load shedding.
        }
        return { ok: true };
      },
    );
  },
});

let server: TestBallast;

beforeAll(async () => {
  server = await startTestBallast({
    apps: [probeApp],
    env: {
      CORS_ORIGINS: 'https://app.example.com',
      BODY_LIMIT_BYTES: '2048',
      LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '100',
      LISTEN_BACKLOG: '1000',
    },
  });
});

afterAll(async () => {
  await server.close();
});

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { headers });
}

function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The listening socket's accept-queue length as the kernel reports it (`ss`), or undefined off Linux. */
function listenBacklog(port: string): number | undefined {
  if (process.platform !== 'linux') return undefined;
  const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
  return Number(line.split(/\s+/)[2]);
}

/** An app named `name` with one public route, `/limited`, under its own rate-limit policy. */
function limitedApp(name: string, policy: string, max: number) {
  return defineApp({
    name,
    title: name,
    summary: 'One limited route.',
    status: 'available',
    defaultAccess: 'public',
    routes: async (router) => {
      router.get('/limited', { config: rateLimit({ name: policy, max, windowMs: 60_000, by: 'ip' }) }, async () => ({
        ok: true,
      }));
    },
  });
}

describe('listening', () => {
  it.skipIf(process.platform !== 'linux')(
    "holds LISTEN_BACKLOG new connections for the server (Node's own 511 drops a storm of them)",
    () => {
      const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
      expect(listenBacklog(new URL(server.url).port)).toBe(Math.min(1000, somaxconn));
    },
  );
});

describe('security headers', () => {
  it('sends nosniff, frame and referrer headers on every response, and no HSTS outside production', async () => {
    for (const response of [
      await get('/healthz'),
      await get('/nope'),
      await get('/'),
      await get('/assets/favicon.svg'),
    ]) {
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
      expect(response.headers.get('strict-transport-security')).toBeNull();
    }
  });

  it('gives pages a CSP that allows only our own scripts and styles', async () => {
    const csp = (await get('/')).headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('gives API answers a CSP that allows nothing, and no caching', async () => {
    for (const response of [await get('/healthz'), await get('/nope')]) {
      expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });
});

describe('CORS', () => {
  it('allows a listed origin, with credentials and Vary: Origin', async () => {
    const response = await get('/healthz', { origin: 'https://app.example.com' });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('vary')).toMatch(/origin/i);
  });

  it('answers a preflight from a listed origin', async () => {
    const response = await fetch(`${server.url}/api/probe/echo`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('refuses a preflight and a write from an unknown origin, and gives reads no CORS headers', async () => {
    const preflight = await fetch(`${server.url}/api/probe/echo`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const write = await postJson('/api/probe/echo', { email: 'a@b.co', age: 3 }, { origin: 'https://evil.example' });
    expect(write.status).toBe(403);
    expect(await write.json()).toMatchObject({ code: 'http.origin_not_allowed' });
    const read = await get('/healthz', { origin: 'https://evil.example' });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets the site write to itself (same origin)', async () => {
    const response = await postJson('/api/probe/echo', { email: 'a@b.co', age: 3 }, { origin: server.url });
    expect(response.status).toBe(200);
  });
});

describe('errors', () => {
  it('answers invalid input with a problem naming each bad field', async () => {
    const response = await postJson('/api/probe/echo', { email: 'not-an-email', age: -1 });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await response.json()) as { errors: { field: string }[]; requestId: string; code: string };
    expect(problem.code).toBe('http.invalid_input');
    expect(problem.errors.map((e) => e.field).sort()).toEqual(['body.age', 'body.email']);
    expect(problem.requestId).toBe(response.headers.get('x-request-id'));
  });

  it('answers malformed JSON with a 400 problem', async () => {
    const response = await postJson('/api/probe/echo', '{"email":');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('answers an unknown route with a 404 problem', async () => {
    const response = await get('/api/probe/missing');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ status: 404, code: 'http.route_not_found', title: 'Not found' });
  });

  it('maps an AppError kind to its status and keeps its code and details', async () => {
    const response = await get('/api/probe/conflict');
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({
      code: 'probe.already_exists',
      detail: 'It already exists',
      details: { id: 7 },
    });
  });

  it('answers an unexpected error with a bare 500, logging the stack but never sending it', async () => {
    const response = await get('/api/probe/boom', { 'x-request-id': 'boom-request-0001' });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({
      status: 500,
      detail: 'Internal server error',
      requestId: 'boom-request-0001',
    });
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('at ');
    const logged = server.logs
      .lines()
      .find((line) => line['reqId'] === 'boom-request-0001' && line['level'] === 'error');
    expect((logged?.['err'] as { stack?: string } | undefined)?.stack).toContain('server.test.ts');
  });

  it('rejects a body over the limit with 413', async () => {
    const response = await postJson('/api/probe/echo', { email: `${'a'.repeat(3000)}@b.co`, age: 1 });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ status: 413, title: 'Payload too large' });
  });

  it('shows browsers real 404 and 500 pages', async () => {
    const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
    const missing = await get('/no-such-page', browser);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('text/html');
    expect(await missing.text()).toContain('This page does not exist');
    const failing = await get('/api/probe/boom', browser);
    expect(failing.status).toBe(500);
    const page = await failing.text();
    expect(page).toContain('Something went wrong on our side');
    expect(page).not.toContain('hunter2');
  });
});

/** A real HTTP request with a Host header of our choosing (fetch always sends the URL's). */
function withHost(
  path: string,
  host: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  const url = new URL(path, server.url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: options.method ?? 'GET',
        headers: { accept: 'application/json', ...options.headers, host },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

describe('the Host header', () => {
  const port = () => new URL(server.url).port;

  it('refuses a foreign host on the development inbox, an API route and a page, with a problem saying why', async () => {
    for (const path of ['/dev/inbox', '/api/auth/session', '/api/probe/conflict', '/']) {
      const answer = await withHost(path, `evil.example:${port()}`);
      expect(answer.status, path).toBe(400);
      expect(JSON.parse(answer.text)).toMatchObject({
        code: 'http.host_not_allowed',
        detail: `This server does not answer for the host "evil.example:${port()}"; use localhost, 127.0.0.1 or the host of PUBLIC_URL`,
      });
    }
    expect((await withHost('/dev/inbox', 'not a host')).status).toBe(400);
  });

  it('stops a DNS-rebinding page, whose Origin matches its own foreign Host, from writing', async () => {
    const host = `rebind.evil.example:${port()}`;
    const answer = await withHost('/api/probe/echo', host, {
      method: 'POST',
      headers: { origin: `http://${host}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'a@b.co', age: 3 }),
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'http.host_not_allowed' });
  });

  it('answers the loopback names a developer uses', async () => {
    for (const host of [
      `localhost:${port()}`,
      `127.0.0.1:${port()}`,
      `[::1]:${port()}`,
      'app.localhost',
      'LOCALHOST.',
    ]) {
      expect((await withHost('/dev/inbox', host)).status, host).toBe(200);
      expect((await withHost('/api/probe/conflict', host)).status, host).toBe(409);
    }
  });

  it('lets health probes in by any host: load balancers call them by IP', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await withHost(path, '10.1.2.3:8080')).status, path).not.toBe(400);
    }
    expect((await withHost('/healthz', '10.1.2.3')).status).toBe(200);
  });
});

describe('request ids', () => {
  it('echoes a valid X-Request-Id and replaces an unsafe one', async () => {
    const echoed = await get('/healthz', { 'x-request-id': 'client-id-12345' });
    expect(echoed.headers.get('x-request-id')).toBe('client-id-12345');
    const replaced = await get('/healthz', { 'x-request-id': 'bad id\twith spaces' });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('puts the request id on every log line of the request', async () => {
    await postJson('/api/probe/login', { user: 'x' }, { 'x-request-id': 'log-line-check-1' });
    const lines = server.logs.lines().filter((line) => line['reqId'] === 'log-line-check-1');
    expect(lines.map((line) => line['msg'])).toEqual(['login attempt', 'request completed']);
    expect(lines[1]).toMatchObject({ method: 'POST', url: '/api/probe/login', status: 200 });
    expect(lines[1]?.['ms']).toBeTypeOf('number');
  });
});

describe('the access line', () => {
  it('is written once per request, with its id once, and not for the health probes (which log at warn)', async () => {
    await get('/healthz', { 'x-request-id': 'probe-quiet-1' });
    await get('/api/probe/conflict', { 'x-request-id': 'access-once-1' });
    await vi.waitFor(() => expect(server.logs.text()).toContain('access-once-1'));
    expect(server.logs.text()).not.toContain('probe-quiet-1');
    const lines = server.logs
      .text()
      .split('\n')
      .filter((line) => line.includes('access-once-1'));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.match(/"reqId"/g)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'request completed', url: '/api/probe/conflict', status: 409 });
  });
});

describe('log redaction', () => {
  it('never writes passwords, tokens, cookies or authorization headers', async () => {
    await postJson(
      '/api/probe/login?token=query-token-777&page=2',
      { email: 'a@b.co', password: 'hunter2-password', profile: { apiKey: 'key-abc-555' } },
      {
        authorization: 'Bearer header-token-999',
        cookie: 'session=cookie-value-333',
        'x-request-id': 'redaction-check-1',
      },
    );
    const text = server.logs.text();
    for (const secret of [
      'hunter2-password',
      'header-token-999',
      'cookie-value-333',
      'query-token-777',
      'key-abc-555',
    ]) {
      expect(text).not.toContain(secret);
    }
    const line = server.logs.lines().find((l) => l['reqId'] === 'redaction-check-1' && l['msg'] === 'login attempt');
    expect(line).toMatchObject({
      body: { email: 'a@b.co', password: '[redacted]', profile: { apiKey: '[redacted]' } },
      headers: { authorization: '[redacted]', cookie: '[redacted]' },
    });
    const incoming = server.logs
      .lines()
      .find((l) => l['reqId'] === 'redaction-check-1' && l['msg'] === 'request completed');
    expect(incoming?.['url']).toBe('/api/probe/login?token=[redacted]&page=2');
  });
});

describe('rate limits', () => {
  it('reports RateLimit-Policy and RateLimit, then answers 429 with Retry-After', async () => {
    const first = await get('/api/probe/limited');
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"probe-limited";q=2;w=60');
    expect(first.headers.get('ratelimit')).toMatch(/^"probe-limited";r=1;t=\d+$/);
    expect((await get('/api/probe/limited')).status).toBe(200);
    const third = await get('/api/probe/limited');
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(third.headers.get('ratelimit')).toMatch(/^"probe-limited";r=0;t=\d+$/);
    expect(await third.json()).toMatchObject({ code: 'http.rate_limited', status: 429 });
  });

  it('applies the default policy to routes without their own', async () => {
    const response = await get('/api/probe/conflict');
    expect(response.headers.get('ratelimit-policy')).toBe('"default";q=600;w=60');
  });

  it('shares counters across nodes through Redis', async (ctx) => {
    const redisUrl = inject('redisUrl');
    if (redisUrl === '') ctx.skip('no Redis answers at REDIS_URL or 127.0.0.1:6379');
    // A policy name of its own, so counters left in Redis by an earlier run cannot interfere.
    const policy = `shared-${Date.now().toString(36)}`;
    const sharedApp = limitedApp('shared', policy, 2);
    const nodes = await Promise.all(
      [0, 1].map(() =>
        startTestBallast({
          apps: [sharedApp],
          databaseUrl: server.databaseUrl,
          env: { REDIS_URL: redisUrl, MIGRATE_ON_START: 'false' },
        }),
      ),
    );
    try {
      const [a, b] = nodes as [TestBallast, TestBallast];
      const statuses = [];
      for (const node of [a, b, a]) statuses.push((await fetch(`${node.url}/api/shared/limited`)).status);
      expect(statuses).toEqual([200, 200, 429]);
      // One key per counter and client, named by the policy.
      const redis = new Redis(redisUrl);
      try {
        expect(await redis.keys(`ballast:ratelimit:${policy}|*`)).toEqual([`ballast:ratelimit:${policy}|ip:127.0.0.1`]);
      } finally {
        redis.disconnect();
      }
    } finally {
      for (const node of nodes) await node.close();
    }
  });

  it('lets requests through uncounted when Redis goes silent, instead of holding them', async (ctx) => {
    const redisUrl = inject('redisUrl');
    if (redisUrl === '') ctx.skip('no Redis answers at REDIS_URL or 127.0.0.1:6379');
    const target = new URL(redisUrl);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const silentApp = limitedApp('silent', `silent-${Date.now().toString(36)}`, 5);
    const node = await startTestBallast({
      apps: [silentApp],
      databaseUrl: server.databaseUrl,
      env: { REDIS_URL: proxy.through(redisUrl), MIGRATE_ON_START: 'false' },
    });
    try {
      const counted = await fetch(`${node.url}/api/silent/limited`);
      expect(counted.status).toBe(200);
      expect(counted.headers.get('ratelimit')).toMatch(/;r=4;/);
      proxy.blackHole();
      const uncounted = await fetch(`${node.url}/api/silent/limited`, { signal: AbortSignal.timeout(20_000) });
      expect(uncounted.status).toBe(200);
      expect(uncounted.headers.get('ratelimit')).toBeNull();
      expect(node.logs.text()).toContain('rate limits: Redis did not answer');
    } finally {
      await node.close();
      await proxy.close();
    }
  });
});

describe('API docs', () => {
  it('serves OpenAPI 3.1 generated from the zod route schemas', async () => {
    const response = await get('/docs/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<
        string,
        { post?: { summary?: string; requestBody?: { content: Record<string, { schema: { properties: object } }> } } }
      >;
    };
    expect(document.openapi).toBe('3.1.0');
    const echo = document.paths['/api/probe/echo']?.post;
    expect(echo?.summary).toBe('Echoes a valid body');
    expect(Object.keys(echo?.requestBody?.content['application/json']?.schema.properties ?? {})).toEqual([
      'email',
      'age',
    ]);
    expect(Object.keys(document.paths)).toContain('/readyz');
    const ui = await get('/docs', { accept: 'text/html' });
    expect(ui.status).toBe(200);
  });
});

describe('metrics', () => {
  it('exposes HTTP latency by route, event loop lag and pool usage', async () => {
    await postJson('/api/probe/echo', { email: 'm@b.co', age: 1 });
    const text = await (await get('/metrics')).text();
    expect(text).toMatch(/http_request_duration_seconds_bucket\{[^}]*route="\/api\/probe\/echo"/);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(text).toMatch(/db_pool_connections\{state="total"/);
  });
});

describe('load shedding', () => {
  it('answers 503 with Retry-After while the event loop is saturated, but keeps /healthz up', async () => {
    await get('/api/probe/block?ms=1500');
    let shed: Response | undefined;
    let health: Response | undefined;
    const deadline = Date.now() + 5000;
    while (shed === undefined && Date.now() < deadline) {
      const response = await get('/api/probe/conflict');
      if (response.status === 503) {
        shed = response;
        health = await get('/healthz');
      } else {
        await get('/api/probe/block?ms=400');
      }
    }
    expect(shed?.headers.get('retry-after')).toBe('5');
    expect(await shed?.json()).toMatchObject({ code: 'http.overloaded' });
    expect(health?.status).toBe(200);
  });
});
