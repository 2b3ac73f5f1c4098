import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, makeTempDir, type TestDatabase } from '@ballast/platform/testing';
import { startServing, terminate } from '../support/process.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.drop();
});

function serveSlowApp(env: Record<string, string> = {}) {
  return startServing('tests/fixtures/serve-slow-app.ts', [], {
    DATA_DIR: makeTempDir(),
    DATABASE_URL: database.url,
    ...env,
  });
}

/** GET over `agent`, resolving with the status, the Connection header and the body. */
function get(agent: http.Agent, url: string): Promise<{ status: number; connection: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, connection: response.headers.connection ?? '', body }),
        );
      })
      .on('error', reject);
  });
}

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the in-flight request, closes websockets as going away, and exits 0', async () => {
    const { process: server, url } = await serveSlowApp();
    const socket = new WebSocket(`${url.replace('http', 'ws')}/api/slow/ws`);
    const greeting = new Promise((resolve) => socket.addEventListener('message', (event) => resolve(event.data)));
    const closed = new Promise<number>((resolve) => socket.addEventListener('close', (event) => resolve(event.code)));
    expect(await greeting).toBe('hello');

    const slow = fetch(`${url}/api/slow/wait?ms=1500`).then(async (r) => ({ status: r.status, body: await r.json() }));
    await server.waitFor(/"ms":1500,"msg":"slow request started"/);
    server.child.kill('SIGTERM');
    await server.waitFor(/signal received: shutting down gracefully/);

    expect(await slow).toEqual({ status: 200, body: { waited: 1500 } });
    expect(await closed).toBe(1001);
    // A new request is refused, or (if it raced the listener closing) answered 503 with `connection: close`.
    const late = await fetch(`${url}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(['refused', 503]).toContain(late);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('shutdown complete');
  });

  it('on SIGTERM first fails /readyz, keeps serving with Connection: close for SHUTDOWN_DRAIN_DELAY_MS, then exits 0', async () => {
    const { process: server, url } = await serveSlowApp({ SHUTDOWN_DRAIN_DELAY_MS: '3000' });
    // A load balancer's keep-alive connection, opened before the signal.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = await get(agent, `${url}/readyz`);
    expect(before.status).toBe(200);
    expect(before.connection).toBe('keep-alive');

    server.child.kill('SIGTERM');
    await server.waitFor(/still serving while the load balancer notices/);
    const readiness = await get(agent, `${url}/readyz`);
    expect(readiness.status).toBe(503);
    expect(JSON.parse(readiness.body)).toMatchObject({ status: 'draining', detail: 'shutting down' });
    expect(readiness.connection).toBe('close');
    // Requests already on their way are still served while the load balancer notices.
    const served = await get(agent, `${url}/api/slow/wait?ms=10`);
    expect(served).toMatchObject({ status: 200, connection: 'close' });
    expect(server.output()).not.toContain('shutting down: draining requests');

    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('shutdown complete');
    agent.destroy();
  });

  it('exits at once on a second signal', async () => {
    const { process: server, url } = await serveSlowApp();
    const slow = fetch(`${url}/api/slow/wait?ms=15000`).then(
      (r) => r.status,
      () => 'connection closed',
    );
    await server.waitFor(/"ms":15000,"msg":"slow request started"/);
    server.child.kill('SIGTERM');
    await server.waitFor(/signal received/);
    server.child.kill('SIGINT');
    const { code } = await server.exited;
    expect(code).toBe(1);
    expect(await slow).toBe('connection closed');
    expect(server.output()).toContain('second signal: exiting now');
  });
});

describe('a serving process', () => {
  it('is terminated cleanly by the test helper', async () => {
    const { process: server } = await serveSlowApp();
    expect((await terminate(server)).code).toBe(0);
  });
});
