import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '#platform/testing/database.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { startTcpProxy, type TcpProxy } from '#platform/testing/tcp-proxy.ts';

// Ballast reaches its database through a proxy the test can make refuse or go silent.
let database: TestDatabase;
let proxy: TcpProxy;
let server: TestBallast;

beforeAll(async () => {
  database = await createTestDatabase();
  proxy = await startTcpProxy({
    host: new URL(database.url).hostname,
    port: Number(new URL(database.url).port || 5432),
  });
  server = await startTestBallast({
    databaseUrl: proxy.through(database.url),
    env: {
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      DATABASE_STATEMENT_TIMEOUT_MS: '500',
      DATABASE_QUERY_TIMEOUT_MS: '1000',
      DATABASE_LISTENER_CHECK_MS: '500',
    },
  });
});

afterAll(async () => {
  await server.close();
  await proxy.close();
  await database.drop();
});

/** An API route that reads the database. */
async function readSetup(): Promise<{ status: number; retryAfter: string | null; type: string | null; body: unknown }> {
  const response = await fetch(`${server.url}/api/auth/setup`);
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    type: response.headers.get('content-type'),
    body: await response.json(),
  };
}

async function waitForSetupAnswer(): Promise<number> {
  const deadline = Date.now() + 30_000;
  let status = 0;
  while (Date.now() < deadline) {
    status = (await readSetup()).status;
    if (status === 200) return status;
    await sleep(200);
  }
  return status;
}

function expectDatabaseUnavailable(answer: Awaited<ReturnType<typeof readSetup>>): void {
  expect(answer.status).toBe(503);
  expect(answer.retryAfter).toMatch(/^\d+$/);
  expect(answer.type).toContain('application/problem+json');
  expect(answer.body).toMatchObject({ status: 503, code: 'database.unavailable' });
}

describe('an API route while the database cannot be reached', () => {
  // Refusing: connections are reset and refused. Silent: the pool's open connections time out
  // their statements and new ones time out connecting.
  it.each([
    ['refuses connections', () => proxy.refuse()],
    ['is silent', async () => proxy.blackHole()],
  ])('answers 503 database.unavailable with Retry-After while the database %s, then 200 again', async (_, outage) => {
    expect((await readSetup()).status).toBe(200);
    await outage();
    try {
      expectDatabaseUnavailable(await readSetup());
      expectDatabaseUnavailable(await readSetup());
    } finally {
      await proxy.restore();
    }
    expect(await waitForSetupAnswer()).toBe(200);
    expect(server.logs.lines().filter((line) => line['level'] === 'error')).toEqual([]);
  });
});
