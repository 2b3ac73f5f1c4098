import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, makeTempDir, type TestDatabase } from '@ballast/platform/testing';
import pg from 'pg';
import { runNode, type TestProcess } from '../support/process.ts';

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

/**
 * The minutes the schedule was forwarded for. Each cron pass files an occurrence under the minute
 * it falls in (pg-boss's `__pgboss__send-it` queue, one job per minute by a unique index), and the
 * forward creates the task's job. A tick is judged by that minute, not by when its task ran: a
 * first occurrence found at :59 runs in the next minute, beside that minute's own tick.
 */
async function forwardedMinutes(client: pg.Client): Promise<string[]> {
  const result = await client.query<{ slot: string }>(
    `select data->>'slot' as slot from pgboss.job
      where name = '__pgboss__send-it' and data->>'name' = 'chaos.tick' and state = 'completed'
      order by 1`,
  );
  return result.rows.map((row) => row.slot);
}

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
      // The schedule is `* * * * *`: wait until two minutes have been forwarded and their tasks run
      // (each tick once across three processes; a third minute cost CI a minute and proved no more).
      const deadline = Date.now() + 260_000;
      let minutes: string[] = [];
      let runs = 0;
      while (Date.now() < deadline) {
        await sleep(2000);
        minutes = await forwardedMinutes(client);
        runs = (await client.query<{ n: number }>('select count(*)::int as n from chaos.tick')).rows[0]!.n;
        if (minutes.length >= 2 && runs >= minutes.length) break;
      }
      // Stop every worker, so nothing is half-way between a forward and its run when we count.
      for (const worker of workers) worker.child.kill('SIGTERM');
      await Promise.all(workers.map((worker) => worker.exited));

      minutes = await forwardedMinutes(client);
      const jobs = await client.query<{ id: string; state: string }>(
        `select id::text, state from pgboss.job where name = 'chaos.tick'`,
      );
      const ticks = await client.query<{ job_id: string; pid: number }>('select job_id::text, pid from chaos.tick');
      const pids = new Set(ticks.rows.map((tick) => tick.pid));
      console.info(
        `schedule: minutes forwarded ${minutes.join(', ')}; ${jobs.rowCount} task job(s), ${ticks.rowCount} run(s), by ${pids.size} worker process(es)`,
      );
      expect(minutes.length).toBeGreaterThanOrEqual(2);
      // One forward per minute, minutes without a gap.
      expect(new Set(minutes).size).toBe(minutes.length);
      const times = minutes.map((minute) => Date.parse(`${minute.replace(' ', 'T')}Z`));
      for (let index = 1; index < times.length; index++) expect(times[index]! - times[index - 1]!).toBe(60_000);
      // One task job per forwarded minute, each run once (the tick's job id is its primary key).
      // A minute forwarded just as the workers stopped may leave its job unrun, never more than one.
      expect(jobs.rowCount).toBe(minutes.length);
      const completed = jobs.rows.filter((job) => job.state === 'completed');
      expect(jobs.rows.length - completed.length).toBeLessThanOrEqual(1);
      expect(ticks.rows.map((tick) => tick.job_id).sort()).toEqual(completed.map((job) => job.id).sort());
    } finally {
      await client.end();
    }
  }, 300_000);
});
