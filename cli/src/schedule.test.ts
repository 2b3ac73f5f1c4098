import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, makeTempDir, type TestDatabase } from '@ballast/platform/testing';
import pg from 'pg';
import { runNode, type TestProcess } from '../../tests/support/process.ts';

let database: TestDatabase;
const workers: TestProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await Promise.all(workers.map((worker) => worker.exited));
  await database.drop();
});

describe('schedules', () => {
  it('fire once per tick across three worker processes, over several ticks', async () => {
    for (let index = 0; index < 3; index++) {
      workers.push(
        runNode('tests/fixtures/serve-chaos-worker.ts', [], {
          DATABASE_URL: database.url,
          DATA_DIR: makeTempDir(),
          NODE_ENV: 'test',
          TASKS_POLL_INTERVAL_SECONDS: '1',
        }),
      );
    }
    await Promise.all(workers.map((worker) => worker.waitFor(/"msg":"task worker started"/)));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      // The schedule is `* * * * *`: wait for three full ticks after the workers started.
      let ticks: { minute: Date; runs: number }[] = [];
      const deadline = Date.now() + 260_000;
      while (ticks.length < 3 && Date.now() < deadline) {
        await sleep(2000);
        const result = await client.query<{ minute: Date; runs: number }>(
          `select date_trunc('minute', at) as minute, count(*)::int as runs from chaos.tick group by 1 order by 1`,
        );
        ticks = result.rows;
      }
      const pids = await client.query<{ pid: number }>('select distinct pid from chaos.tick');
      console.info(
        `schedule: ${ticks.length} ticks, runs per tick ${ticks.map((tick) => tick.runs).join(', ')}, run by ${pids.rowCount} worker process(es)`,
      );
      expect(ticks.length).toBeGreaterThanOrEqual(3);
      for (const tick of ticks) expect(tick.runs).toBe(1);
    } finally {
      await client.end();
    }
  }, 300_000);
});
