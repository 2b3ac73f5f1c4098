import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createTestDatabase,
  makeTempDir,
  startTcpProxy,
  type TcpProxy,
  type TestDatabase,
} from '@ballast/platform/testing';
import { startServing, terminate, type TestProcess } from '../support/process.ts';

// Ballast runs as its own process (web and worker, as `ballast start`) and reaches PostgreSQL
// through a proxy. The proxy's black hole is a failover seen from the client: every open
// connection goes silent for good, without a reset, and new ones are accepted and never answered.
let database: TestDatabase;
let proxy: TcpProxy;
let direct: pg.Client;
let ballast: TestProcess | undefined;
const dataDir = makeTempDir();

beforeAll(async () => {
  database = await createTestDatabase();
  const target = new URL(database.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
});

afterAll(async () => {
  if (ballast !== undefined) await terminate(ballast);
  await direct.end();
  await proxy.close();
  await database.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Retries `attempt` until it returns a value (not undefined) or `deadline` (epoch ms) passes. */
async function eventually<T>(what: string, deadline: number, attempt: () => Promise<T | undefined>): Promise<T> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(250);
  }
  throw new Error(`${what} did not happen in time`, { cause: last });
}

async function readiness(url: string): Promise<{ status: number; checks: Record<string, { status: string }> }> {
  const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { checks: Record<string, { status: string }> };
  return { status: response.status, checks: body.checks };
}

/** Pool connections by state, from `/metrics`. */
async function poolUse(url: string): Promise<{ total: number; idle: number; waiting: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (state: string) =>
    Number(new RegExp(`^db_pool_connections\\{[^}]*state="${state}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { total: value('total'), idle: value('idle'), waiting: value('waiting') };
}

async function post(url: string, body: unknown): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  return response.status;
}

async function emailsTo(address: string): Promise<string[]> {
  const found = await direct.query<{ subject: string }>(
    'select subject from platform.dev_inbox where recipient = $1 order by subject',
    [address],
  );
  return found.rows.map((row) => row.subject);
}

it('after a failover that leaves connections silent, /readyz fails, then within 60 s live updates flow, email sends, the pool is idle, and SIGTERM exits 0', async () => {
  const started = await startServing('tests/fixtures/serve-failover-app.ts', [], {
    DATA_DIR: dataDir,
    DATABASE_URL: proxy.through(database.url),
    DATABASE_POOL_MAX: '10',
    // Short, so the proof is quick; production defaults are seconds to tens of seconds.
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    DATABASE_STATEMENT_TIMEOUT_MS: '1500',
    DATABASE_QUERY_TIMEOUT_MS: '2000',
    DATABASE_LISTENER_CHECK_MS: '1000',
    DATABASE_KEEPALIVE_DELAY_MS: '1000',
    TASKS_POLL_INTERVAL_SECONDS: '1',
    SHUTDOWN_TIMEOUT_MS: '10000',
  });
  ballast = started.process;
  const { url } = started;
  const api = `${url}/api/failover`;
  const user = randomUUID();
  const address = `${user}@example.test`;

  const { ticket } = (await (await fetch(`${api}/ticket?user=${user}`)).json()) as { ticket: string };
  const socket = new WebSocket(`${url.replace('http', 'ws')}/realtime?app=failover&ticket=${ticket}`);
  const heard: string[] = [];
  socket.addEventListener('message', (event) => {
    const frame = JSON.parse(String(event.data)) as { type: string; data?: { n?: string } };
    if (frame.type === 'event' && frame.data?.n !== undefined) heard.push(frame.data.n);
  });
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve);
    socket.addEventListener('error', reject);
  });

  // Before: everything works.
  expect((await readiness(url)).status).toBe(200);
  expect(await post(`${api}/publish`, { user, n: 'before' })).toBe(200);
  await eventually('the first live update', Date.now() + 10_000, async () =>
    heard.includes('before') ? true : undefined,
  );
  expect(await post(`${api}/email`, { to: address, n: 'before' })).toBe(200);
  await eventually('the first email', Date.now() + 20_000, async () =>
    (await emailsTo(address)).includes('Ping before') ? true : undefined,
  );

  // The failover: every connection goes silent, with requests in flight on most of the pool.
  proxy.blackHole();
  const inFlight = Array.from({ length: 8 }, () =>
    fetch(`${api}/read`, { signal: AbortSignal.timeout(30_000) }).then((response) => response.status),
  );
  const unready = await eventually('/readyz failing', Date.now() + 20_000, async () => {
    const report = await readiness(url);
    return report.status === 503 ? report : undefined;
  });
  expect(unready.checks['database']?.status).toBe('fail');
  // Requests stuck on the silent database are answered, as unavailable, rather than hanging.
  expect(new Set(await Promise.all(inFlight))).toEqual(new Set([503]));
  // Long enough for each long-lived connection (LISTEN, the queue's) to be found silent.
  await sleep(3000);

  await proxy.restore();
  const deadline = Date.now() + 60_000;

  const ready = await eventually('/readyz ok again', deadline, async () => {
    const report = await readiness(url);
    return report.status === 200 ? report : undefined;
  });
  expect(ready.checks['realtime']?.status).toBe('ok');
  expect(ready.checks['queue']?.status).toBe('ok');

  let sent = 0;
  await eventually('a live update after the failover', deadline, async () => {
    if (heard.some((n) => n.startsWith('after-'))) return true;
    await post(`${api}/publish`, { user, n: `after-${sent++}` });
    await sleep(500);
    return heard.some((n) => n.startsWith('after-')) ? true : undefined;
  });

  await eventually('the email request accepted', deadline, async () =>
    (await post(`${api}/email`, { to: address, n: 'after' })) === 200 ? true : undefined,
  );
  await eventually('the email after the failover', deadline, async () =>
    (await emailsTo(address)).includes('Ping after') ? true : undefined,
  );

  const pool = await eventually('an idle pool', deadline, async () => {
    const use = await poolUse(url);
    return use.waiting === 0 && use.total - use.idle <= 2 ? use : undefined;
  });
  expect(pool.waiting).toBe(0);

  socket.close();
  expect(await terminate(ballast)).toEqual({ code: 0, signal: null });
  expect(ballast.output()).toContain('realtime listener reconnected');
});
