import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, makeTempDir, type TestDatabase } from '@ballast/platform/testing';
import { startServing, terminate } from '../../tests/support/process.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.drop();
});

function serveSlowApp() {
  return startServing('tests/fixtures/serve-slow-app.ts', [], { DATA_DIR: makeTempDir(), DATABASE_URL: database.url });
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
