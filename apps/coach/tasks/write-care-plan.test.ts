import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type AppDefinition, type Kysely } from '@ballast/platform';
import {
  applyTestLedgerChange,
  createTestUser,
  startFakeGemini,
  startTestBallast,
  type FakeAiServer,
  type TestBallast,
} from '@ballast/platform/testing';
import coachApp from '../app.ts';
import { signElevenLabsWebhook } from '../server/providers/elevenlabs.ts';
import { waitFor } from '../server/testing/wait-for.ts';

const coach = coachApp as AppDefinition;

let gemini: FakeAiServer;
let server: TestBallast;
let db: Kysely<unknown>;
const webhookSecret = 'wsec_test_elevenlabs_local';

beforeAll(async () => {
  // A local server speaking Gemini's streaming API; the first request is answered 503 (overloaded).
  gemini = await startFakeGemini();
  gemini.script(
    { kind: 'error', status: 503 },
    {
      kind: 'answer',
      chunks: ['1. Walk for ten minutes after lunch.', '\n2. Call a friend this week.'],
      inputTokens: 120,
      outputTokens: 20,
    },
  );
  server = await startTestBallast({
    apps: [coach],
    roles: ['web', 'worker'],
    env: {
      COACH_AI_PROVIDER: 'gemini',
      COACH_AI_API_KEY: gemini.apiKey,
      COACH_AI_BASE_URL: gemini.url,
      COACH_ELEVENLABS_WEBHOOK_SECRET: webhookSecret,
      TASKS_POLL_INTERVAL_SECONDS: '1',
      // These calls last a moment: every call gets a plan here (the minimum is tested beside).
      COACH_CARE_PLAN_MIN_SECONDS: '0',
    },
  });
  db = server.ballast.database.db;
});

afterAll(async () => {
  await server.close();
  await gemini.close();
});

async function emailsTo(email: string) {
  const rows = await sql<{ subject: string; text: string }>`select subject, text_body as text from platform.dev_inbox
    where recipient = ${email} and channel = 'email' and subject ilike '%care plan%'`.execute(db);
  return rows.rows;
}

describe('care plans', () => {
  it('writes the plan with the coach’s AI provider (Gemini) after a failure and retry, stores it, and emails it once', async () => {
    const user = await createTestUser(server.ballast, 'plan@example.com');
    await applyTestLedgerChange(server.ballast, {
      userId: user.id,
      app: 'coach',
      unit: 'seconds',
      kind: 'purchase',
      amount: 300,
      idempotencyKey: 'plan-credit',
    });
    const headers = { ...user.headers, 'content-type': 'application/json' };
    const started = (await (
      await fetch(`${server.url}/api/coach/calls`, { method: 'POST', headers, body: '{}' })
    ).json()) as {
      call: { id: string };
    };
    const id = started.call.id;
    await fetch(`${server.url}/api/coach/calls/${id}/end`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ transcript: [{ role: 'user', text: 'I have trouble sleeping' }] }),
    });

    const emails = await waitFor(async () => {
      const found = await emailsTo('plan@example.com');
      return found.length > 0 ? found : undefined;
    }, 'the care plan email');
    expect(emails).toHaveLength(1);
    expect(emails[0]!.text).toContain('Walk for ten minutes');
    // The first call failed (503) and the AI module retried; the prompt carried the transcript.
    expect(gemini.requests.length).toBe(2);
    expect(gemini.requests[0]!.url).toContain('/models/gemini-2.5-flash:streamGenerateContent');
    expect(gemini.requests[0]!.headers['x-goog-api-key']).toBe(gemini.apiKey);
    expect(gemini.requests[0]!.url).not.toContain(gemini.apiKey);
    expect(JSON.stringify(gemini.requests.at(-1)!.body)).toContain('I have trouble sleeping');
    expect(server.logs.text()).not.toContain(gemini.apiKey);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/ai_requests_total\{provider="gemini",model="gemini-2.5-flash",outcome="success"[^}]*\} 1/);
    expect(metrics).toMatch(/ai_tokens_total\{provider="gemini",model="gemini-2.5-flash",direction="input"[^}]*\} 120/);

    const plans = (await (await fetch(`${server.url}/api/coach/care-plans`, { headers })).json()) as {
      carePlans: { sessionId: string; source: string }[];
    };
    expect(plans.carePlans).toMatchObject([{ sessionId: id, source: 'gemini' }]);

    // The task runs again (a crash after emailing, redelivered): no second email, no second plan.
    const calls = gemini.requests.length;
    await server.ballast.tasks.enqueue('coach.write-care-plan', { sessionId: id }, { dedupeKey: `again:${id}` });
    await waitFor(async () => {
      const done = await sql<{ n: string }>`select count(*)::text as n from pgboss.job
        where name = 'coach.write-care-plan' and singleton_key = ${`again:${id}`} and state = 'completed'`.execute(db);
      return Number(done.rows[0]!.n) > 0 ? true : undefined;
    }, 'the second run');
    expect(await emailsTo('plan@example.com')).toHaveLength(1);
    expect(gemini.requests.length).toBe(calls);
  });

  it('stores ElevenLabs’ signed post-call report and flags a duration that disagrees by more than 5 s', async () => {
    const user = await createTestUser(server.ballast, 'reconcile@example.com');
    await applyTestLedgerChange(server.ballast, {
      userId: user.id,
      app: 'coach',
      unit: 'seconds',
      kind: 'purchase',
      amount: 300,
      idempotencyKey: 'reconcile-credit',
    });
    const headers = { ...user.headers, 'content-type': 'application/json' };
    const id = (
      (await (await fetch(`${server.url}/api/coach/calls`, { method: 'POST', headers, body: '{}' })).json()) as {
        call: { id: string };
      }
    ).call.id;
    await fetch(`${server.url}/api/coach/calls/${id}/end`, { method: 'POST', headers, body: '{}' });
    const body = JSON.stringify({
      type: 'post_call_transcription',
      event_timestamp: Math.floor(Date.now() / 1000),
      data: {
        agent_id: 'agent_test',
        conversation_id: 'conv_reconcile_1',
        status: 'done',
        transcript: [
          { role: 'agent', message: 'Hello, how are you?' },
          { role: 'user', message: 'Tired.' },
        ],
        metadata: { call_duration_secs: 42 },
        analysis: { transcript_summary: 'The caller feels tired.' },
        conversation_initiation_client_data: { dynamic_variables: { ballast_session_id: id } },
      },
    });
    const post = (signature: string) =>
      fetch(`${server.url}/api/coach/webhooks/elevenlabs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'elevenlabs-signature': signature },
        body,
      });
    expect((await post(signElevenLabsWebhook('wrong secret', body))).status).toBe(401);
    const old = signElevenLabsWebhook(webhookSecret, body, Math.floor(Date.now() / 1000) - 3600);
    expect((await post(old)).status).toBe(401);
    const accepted = await post(signElevenLabsWebhook(webhookSecret, body));
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ outcome: 'flagged' });
    const row = await sql<{ provider_seconds: number; flagged: boolean; summary: string }>`select provider_seconds,
        flagged, summary from coach.call where session_id = ${id}::uuid`.execute(db);
    expect(row.rows[0]).toEqual({ provider_seconds: 42, flagged: true, summary: 'The caller feels tired.' });
  });
});
