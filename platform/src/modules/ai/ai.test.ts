import { describe, expect, it } from 'vitest';
import { createLogger } from '#platform/kernel/logging/logger.ts';
import { createMetrics } from '#platform/kernel/metrics/metrics.ts';
import { CancelledCallError } from '#platform/kernel/resilience/external-service.ts';
import {
  startFakeAnthropic,
  startFakeGemini,
  startFakeOpenAi,
  type FakeAiServer,
} from '#platform/testing/ai-servers.ts';
import { captureLogs } from '#platform/testing/logs.ts';
import { waitFor } from '#platform/testing/wait-for.ts';
import { createAiService, type AiServiceOptions } from './ai.service.ts';
import type { AiProviderName } from './ai.settings.ts';
import type { AiRequest } from './providers/provider.ts';

const providers: {
  name: Exclude<AiProviderName, 'local'>;
  start: () => Promise<FakeAiServer>;
  keyHeaders: string[];
}[] = [
  { name: 'anthropic', start: () => startFakeAnthropic(), keyHeaders: ['x-api-key', 'authorization'] },
  { name: 'gemini', start: () => startFakeGemini(), keyHeaders: ['x-goog-api-key'] },
  { name: 'openai', start: () => startFakeOpenAi(), keyHeaders: ['authorization'] },
];

const question: AiRequest = {
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'Say hello.' }],
  maxOutputTokens: 64,
};

async function setup(provider: (typeof providers)[number], options: Partial<AiServiceOptions> = {}) {
  const fake = await provider.start();
  const metrics = createMetrics({ role: 'test' });
  const logs = captureLogs();
  const log = createLogger({ level: 'debug', pretty: false, destination: logs.stream });
  const ai = createAiService({ timeoutMs: 2000, retries: 2, maxRetryWaitMs: 5000, ...options }, { metrics, log });
  const client = ai.client({ provider: provider.name, model: fake.model, apiKey: fake.apiKey, baseUrl: fake.url });
  const metric = async (pattern: RegExp) => (await metrics.registry.metrics()).match(pattern)?.[0];
  return { fake, client, logs, metric, [Symbol.asyncDispose]: () => fake.close() };
}

async function collect(stream: AsyncIterable<string>): Promise<{ deltas: string[]; error: unknown }> {
  const deltas: string[] = [];
  try {
    for await (const delta of stream) deltas.push(delta);
    return { deltas, error: undefined };
  } catch (error) {
    return { deltas, error };
  }
}

describe.each(providers)(
  '$name through its official SDK, against a local server speaking its wire format',
  (provider) => {
    it('streams the answer as text deltas and reports the tokens and model, the key only in a header', async () => {
      await using t = await setup(provider);
      const stream = t.client.stream(question);
      const { deltas, error } = await collect(stream);
      expect(error).toBeUndefined();
      expect(deltas).toEqual(['Hello', ', this is', ' a streamed', ' answer.']);
      expect(await stream.usage).toEqual({ inputTokens: 12, outputTokens: 4, model: t.fake.model });
      expect(t.fake.requests).toHaveLength(1);
      const sent = t.fake.requests[0]!;
      expect(provider.keyHeaders.map((name) => String(sent.headers[name])).join(' ')).toContain(t.fake.apiKey);
      expect(sent.url).not.toContain(t.fake.apiKey);
      expect(JSON.stringify(sent.body)).toContain('Say hello.');
      expect(JSON.stringify(sent.body)).toContain('You are terse.');
      expect(t.logs.text()).not.toContain(t.fake.apiKey);
      expect(
        await t.metric(
          new RegExp(
            `ai_requests_total\\{provider="${provider.name}",model="${t.fake.model}",outcome="success".*\\} 1`,
          ),
        ),
      ).toBeDefined();
      expect(
        await t.metric(new RegExp(`ai_tokens_total\\{provider="${provider.name}",[^}]*direction="output"[^}]*\\} 4`)),
      ).toBeDefined();
      expect(await t.metric(/ai_request_duration_seconds_count\{[^}]*\} 1/)).toBeDefined();
    });

    it('waits out a 429 for the Retry-After it asked, then answers', async () => {
      await using t = await setup(provider);
      t.fake.script({ kind: 'error', status: 429, retryAfter: '1' });
      const answer = await t.client.generate(question);
      expect(answer.text).toBe('Hello, this is a streamed answer.');
      expect(t.fake.requests).toHaveLength(2);
      const retried = t.logs.lines().find((line) => line['msg'] === 'retrying after a transient failure');
      expect(retried).toMatchObject({ retryAfterMs: 1000 });
      expect(retried!['delayMs']).toBeGreaterThanOrEqual(1000);
      expect(t.logs.text()).not.toContain(t.fake.apiKey);
    });

    it('retries a 500 and answers', async () => {
      await using t = await setup(provider);
      t.fake.script({ kind: 'error', status: 500 });
      const answer = await t.client.generate(question);
      expect(answer).toMatchObject({
        text: 'Hello, this is a streamed answer.',
        provider: provider.name,
        local: false,
      });
      expect(answer.usage.outputTokens).toBe(4);
      expect(t.fake.requests).toHaveLength(2);
    });

    it('does not retry a refusal (wrong key: 401) and says the provider refused', async () => {
      await using t = await setup(provider);
      const wrong = createAiService(
        { timeoutMs: 2000, retries: 2, maxRetryWaitMs: 5000 },
        {
          metrics: createMetrics({ role: 'test' }),
          log: createLogger({ level: 'info', pretty: false, destination: t.logs.stream }),
        },
      ).client({ provider: provider.name, model: t.fake.model, apiKey: 'not-the-key', baseUrl: t.fake.url });
      await expect(wrong.generate(question)).rejects.toMatchObject({ kind: 'unavailable', code: 'ai.refused' });
      expect(t.fake.requests).toHaveLength(1);
      expect(t.logs.text()).not.toContain('not-the-key');
    });

    it.each(['close', 'end'] as const)(
      'surfaces a stream cut mid-way (%s) as an error after the text that came, without retrying or hanging',
      async (how) => {
        await using t = await setup(provider);
        t.fake.script({ kind: 'cut', afterChunks: 2, how });
        const stream = t.client.stream(question);
        const { deltas, error } = await collect(stream);
        expect(deltas).toEqual(['Hello', ', this is']);
        expect(error).toMatchObject({ kind: 'unavailable', code: 'ai.failed' });
        await expect(stream.usage).rejects.toMatchObject({ code: 'ai.failed' });
        expect(t.fake.requests).toHaveLength(1);
        expect(
          await t.metric(new RegExp(`ai_requests_total\\{provider="${provider.name}",[^}]*outcome="error"[^}]*\\} 1`)),
        ).toBeDefined();
      },
    );

    it('gives up on a first token slower than the timeout, and the provider sees its request aborted', async () => {
      await using t = await setup(provider, { timeoutMs: 300, retries: 0 });
      t.fake.script({ kind: 'answer', firstTokenDelayMs: 5000 });
      await expect(t.client.generate(question)).rejects.toMatchObject({ kind: 'unavailable', code: 'ai.timeout' });
      await waitFor(
        () => t.fake.requests[0]?.closedEarly,
        (closed) => closed === true,
        5000,
      );
      expect(
        await t.metric(new RegExp(`ai_requests_total\\{provider="${provider.name}",[^}]*outcome="timeout"[^}]*\\} 1`)),
      ).toBeDefined();
    });

    it('retries after a slow first token, and the second attempt answers', async () => {
      await using t = await setup(provider, { timeoutMs: 300, retries: 1 });
      t.fake.script({ kind: 'answer', firstTokenDelayMs: 5000 });
      expect((await t.client.generate(question)).text).toBe('Hello, this is a streamed answer.');
      expect(t.fake.requests).toHaveLength(2);
      expect(t.fake.requests[0]!.closedEarly).toBe(true);
    });

    it('stops the stream and aborts the provider request when the caller cancels', async () => {
      await using t = await setup(provider);
      const many = Array.from({ length: 40 }, (_, index) => ` part ${index}`);
      t.fake.script({ kind: 'answer', chunks: many, chunkDelayMs: 50 });
      const controller = new AbortController();
      const stream = t.client.stream(question, { signal: controller.signal });
      const deltas: string[] = [];
      const reading = (async () => {
        for await (const delta of stream) {
          deltas.push(delta);
          if (deltas.length === 2) controller.abort();
        }
      })();
      await expect(reading).rejects.toBeInstanceOf(CancelledCallError);
      await expect(stream.usage).rejects.toBeInstanceOf(CancelledCallError);
      await waitFor(
        () => t.fake.requests[0]?.closedEarly,
        (closed) => closed === true,
        5000,
      );
      expect(deltas.length).toBeLessThan(many.length);
      expect(
        await t.metric(
          new RegExp(`ai_requests_total\\{provider="${provider.name}",[^}]*outcome="cancelled"[^}]*\\} 1`),
        ),
      ).toBeDefined();
    });

    it('aborts the provider request when the reader leaves the loop', async () => {
      await using t = await setup(provider);
      t.fake.script({ kind: 'answer', chunks: Array.from({ length: 40 }, () => ' more'), chunkDelayMs: 50 });
      for await (const delta of t.client.stream(question)) {
        expect(delta).toBe(' more');
        break;
      }
      await waitFor(
        () => t.fake.requests[0]?.closedEarly,
        (closed) => closed === true,
        5000,
      );
    });
  },
);

describe('local mode (no provider configured)', () => {
  function local() {
    const metrics = createMetrics({ role: 'test' });
    const log = createLogger({ level: 'info', pretty: false, destination: captureLogs().stream });
    const ai = createAiService({ timeoutMs: 2000, retries: 2, maxRetryWaitMs: 5000 }, { metrics, log });
    return {
      client: ai.client({ provider: 'local', model: 'local-extractive', apiKey: undefined, baseUrl: undefined }),
      metrics,
    };
  }
  const lease = { title: 'Lease.pdf', text: 'The tenant pays rent on the first day of each month. Pets need consent.' };

  it('streams a labelled extractive answer quoting the documents, with citations and usage', async () => {
    const { client, metrics } = local();
    expect(client.local).toBe(true);
    const stream = client.stream({ messages: [{ role: 'user', content: 'When is rent due?' }], documents: [lease] });
    const { deltas } = await collect(stream);
    expect(deltas.length).toBeGreaterThan(5);
    const text = deltas.join('');
    expect(text).toContain('(Local mode: no AI model is configured on this server.)');
    expect(text).toContain('> "The tenant pays rent on the first day of each month." [1]');
    expect(text).toContain('Sources: [1] Lease.pdf');
    expect(await stream.usage).toMatchObject({ model: 'local-extractive' });
    expect((await stream.usage).outputTokens).toBeGreaterThan(0);
    expect(await metrics.registry.metrics()).toMatch(
      /ai_requests_total\{provider="local",model="local-extractive",outcome="success"/,
    );
  });

  it("answers with the app's own local answer when it gives one", async () => {
    const { client } = local();
    const answer = await client.generate({
      messages: [{ role: 'user', content: 'Write my plan' }],
      localAnswer: 'Template plan: 1. Walk.',
    });
    expect(answer).toMatchObject({ text: 'Template plan: 1. Walk.', provider: 'local', local: true });
  });

  it('stops when cancelled', async () => {
    const { client } = local();
    const controller = new AbortController();
    const deltas: string[] = [];
    const reading = (async () => {
      for await (const delta of client.stream(
        { messages: [{ role: 'user', content: 'rent' }], localAnswer: 'one two three four five six seven' },
        { signal: controller.signal },
      )) {
        deltas.push(delta);
        controller.abort();
      }
    })();
    await expect(reading).rejects.toBeInstanceOf(CancelledCallError);
    expect(deltas).toEqual(['one ']);
  });
});
