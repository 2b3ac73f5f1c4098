import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type AppDefinition, type Kysely } from '@ballast/platform';
import { applyTestLedgerChange, createTestUser, startTestBallast, type TestBallast } from '@ballast/platform/testing';
import coachApp from '../app.ts';
import { waitFor } from '../server/testing/wait-for.ts';

const coach = coachApp as AppDefinition;

let server: TestBallast;
let db: Kysely<unknown>;

beforeAll(async () => {
  // The default minimum (COACH_CARE_PLAN_MIN_SECONDS=60), the local template writer.
  server = await startTestBallast({
    apps: [coach],
    roles: ['web', 'worker'],
    env: { TASKS_POLL_INTERVAL_SECONDS: '1' },
  });
  db = server.ballast.database.db;
});

afterAll(async () => {
  await server.close();
});

/** A call of `seconds` that has ended, and the care plan task run on it to completion. */
async function endedCall(email: string, seconds: number): Promise<{ id: string; headers: Record<string, string> }> {
  const user = await createTestUser(server.ballast, email);
  await applyTestLedgerChange(server.ballast, {
    userId: user.id,
    app: 'coach',
    unit: 'seconds',
    kind: 'purchase',
    amount: 600,
    idempotencyKey: `credit:${email}`,
  });
  const headers = { ...user.headers, 'content-type': 'application/json' };
  const started = (await (
    await fetch(`${server.url}/api/coach/calls`, { method: 'POST', headers, body: '{}' })
  ).json()) as {
    call: { id: string };
  };
  const id = started.call.id;
  expect((await fetch(`${server.url}/api/coach/calls/${id}/end`, { method: 'POST', headers, body: '{}' })).status).toBe(
    200,
  );
  // The call as if it had lasted `seconds` (a test cannot talk for a minute and a half).
  await sql`update platform.metered_session set metered_seconds = ${seconds} where id = ${id}::uuid`.execute(db);
  const key = `minimum:${id}`;
  await server.ballast.tasks.enqueue('coach.write-care-plan', { sessionId: id }, { dedupeKey: key });
  await waitFor(async () => {
    const done = await sql<{ n: string }>`select count(*)::text as n from pgboss.job
      where name = 'coach.write-care-plan' and singleton_key = ${key} and state = 'completed'`.execute(db);
    return Number(done.rows[0]!.n) > 0 ? true : undefined;
  }, 'the care plan task');
  return { id, headers };
}

async function plansOf(headers: Record<string, string>) {
  const answer = (await (await fetch(`${server.url}/api/coach/care-plans`, { headers })).json()) as {
    carePlans: { sessionId: string }[];
    minSeconds: number;
  };
  return answer;
}

describe('the care plan minimum', () => {
  it('writes no care plan for a 30 s call', async () => {
    const { headers } = await endedCall('short-call@example.com', 30);
    const answer = await plansOf(headers);
    expect(answer.carePlans).toEqual([]);
    expect(answer.minSeconds).toBe(60);
    // The hang-up is in the audit trail, by the caller, in the transaction that ended the call.
    const ended = await sql<{ actor_email: string; details: { reason: string } }>`select actor_email, details
      from platform.audit_event where action = 'coach.call_ended'
      and details->>'userId' = (select id::text from platform."user" where email = 'short-call@example.com')`.execute(
      db,
    );
    expect(ended.rows).toMatchObject([{ actor_email: 'short-call@example.com', details: { reason: 'hung_up' } }]);
  });

  it('writes a care plan for a 90 s call', async () => {
    const { id, headers } = await endedCall('long-call@example.com', 90);
    const answer = await plansOf(headers);
    expect(answer.carePlans).toMatchObject([{ sessionId: id }]);
  });
});
