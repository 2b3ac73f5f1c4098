import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '#platform/kernel/db/embedded-postgres.ts';
import { createLogger } from '#platform/kernel/logging/logger.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { makeTempDir } from '#platform/testing/temp.ts';

// A database server of this test's own, so the test can stop and restart it under a running Ballast.
const pgDir = makeTempDir('ballast-readiness-pg-');
const silent = createLogger({ level: 'silent', pretty: false });
let database: EmbeddedPostgres;
let server: TestBallast;

beforeAll(async () => {
  database = await startEmbeddedPostgres({ dataDir: pgDir, preferredPort: 0, log: silent });
  server = await startTestBallast({ databaseUrl: database.url });
});

afterAll(async () => {
  await server.close();
  await database.stop();
  fs.rmSync(pgDir, { recursive: true, force: true });
});

interface Report {
  status: string;
  checks: Record<string, { status: string; latencyMs: number; detail?: string }>;
}

async function readiness(): Promise<{ status: number; report: Report }> {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, report: (await response.json()) as Report };
}

describe('/readyz', () => {
  it('reports each check with its status and latency', async () => {
    const { status, report } = await readiness();
    expect(status).toBe(200);
    expect(Object.keys(report.checks).sort()).toEqual([
      'database',
      'disk',
      'migrations',
      'queue',
      'realtime',
      'storage',
    ]);
    expect(report.checks['realtime']?.detail).toMatch(/^notify round trip \d+ ms$/);
    expect(report.checks['queue']?.detail).toMatch(/^\d+ waiting, oldest \d+ s$/);
    for (const check of Object.values(report.checks)) {
      expect(check.status).toBe('ok');
      expect(typeof check.latencyMs).toBe('number');
    }
  });

  it('answers 503 while the database is down and 200 once it is back, without restarting Ballast', async () => {
    const port = database.port;
    await database.stop();
    const down = await readiness();
    expect(down.status).toBe(503);
    expect(down.report.status).toBe('fail');
    expect(down.report.checks['database']?.status).toBe('fail');
    expect(down.report.checks['realtime']?.status).toBe('fail');
    expect(down.report.checks['queue']?.status).toBe('fail');
    expect(down.report.checks['disk']?.status).toBe('ok');
    const alive = await fetch(`${server.url}/healthz`);
    expect(alive.status).toBe(200);

    database = await startEmbeddedPostgres({ dataDir: pgDir, preferredPort: port, log: silent });
    expect(database.port).toBe(port);
    // Ready once the live-updates listener has reconnected too (it retries with growing pauses).
    let back = await readiness();
    for (let attempt = 0; attempt < 100 && back.status !== 200; attempt++) {
      await sleep(200);
      back = await readiness();
    }
    expect(back.status).toBe(200);
    expect(back.report.checks['database']?.status).toBe('ok');
    expect(back.report.checks['realtime']?.status).toBe('ok');
  });
});
