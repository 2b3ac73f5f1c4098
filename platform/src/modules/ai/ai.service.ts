import { createHash } from 'node:crypto';
import client from 'prom-client';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import {
  CancelledCallError,
  ExternalTimeoutError,
  PermanentExternalError,
  createExternalService,
  type ExternalService,
} from '#platform/kernel/resilience/external-service.ts';
import { defaultModels, type AiProviderName } from './ai.settings.ts';
import { createAnthropicProvider } from './providers/anthropic.ts';
import { createGeminiProvider } from './providers/gemini.ts';
import { createLocalProvider } from './providers/local.ts';
import { createOpenAiProvider } from './providers/openai.ts';
import { cutShort, type AiEvent, type AiProvider, type AiRequest, type AiUsage } from './providers/provider.ts';

/** Which provider and model answer, with their key and address. Unset parts fall back (see `resolveAiChoice`). */
export interface AiChoice {
  readonly provider?: AiProviderName | undefined;
  readonly model?: string | undefined;
  readonly apiKey?: string | undefined;
  readonly baseUrl?: string | undefined;
}

/** A choice with every part decided. */
export interface ResolvedAiChoice {
  readonly provider: AiProviderName;
  readonly model: string;
  readonly apiKey: string | undefined;
  readonly baseUrl: string | undefined;
}

/**
 * An app's choice over the platform default: an app naming its own provider uses its own model,
 * key and address, each falling back to the `AI_*` one only when `AI_PROVIDER` names the same
 * provider; an app naming none uses the default, with its own model if it set one.
 */
export function resolveAiChoice(defaults: AiChoice, app: AiChoice | undefined): ResolvedAiChoice {
  const provider = app?.provider ?? defaults.provider ?? 'local';
  const inherited = provider === (defaults.provider ?? 'local') ? defaults : {};
  return {
    provider,
    model: app?.model ?? inherited.model ?? defaultModels[provider],
    apiKey: app?.apiKey ?? inherited.apiKey,
    baseUrl: app?.baseUrl ?? inherited.baseUrl,
  };
}

/**
 * An answer as it streams: iterate it for text deltas; `usage` resolves once the answer is
 * complete (and rejects if it fails or is cancelled). Breaking out of the loop, or aborting the
 * signal given to `stream`, stops it and aborts the provider's request.
 */
export interface AiStream extends AsyncIterable<string> {
  readonly usage: Promise<AiUsage>;
  readonly provider: AiProviderName;
  readonly model: string;
  /** True in local mode (no provider configured): the answer is extractive or the app's own, and labelled. */
  readonly local: boolean;
}

/** A whole answer (`generate`). */
export interface AiAnswer {
  readonly text: string;
  readonly usage: AiUsage;
  readonly provider: AiProviderName;
  readonly local: boolean;
}

/** One configured provider: what the app's port calls. */
export interface AiClient {
  readonly provider: AiProviderName;
  readonly model: string;
  readonly local: boolean;
  /** Streams an answer; `signal` cancels it (the user left). */
  stream(request: AiRequest, options?: { signal?: AbortSignal }): AiStream;
  /** The whole answer at once (streamed underneath, so the same timeouts apply). */
  generate(request: AiRequest, options?: { signal?: AbortSignal }): Promise<AiAnswer>;
}

export interface AiServiceOptions {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly maxRetryWaitMs: number;
}

interface AiMetrics {
  readonly requests: client.Counter<'provider' | 'model' | 'outcome'>;
  readonly tokens: client.Counter<'provider' | 'model' | 'direction'>;
  readonly duration: client.Histogram<'provider' | 'model'>;
  readonly firstToken: client.Histogram<'provider' | 'model'>;
}

const metricsByRegistry = new WeakMap<client.Registry, AiMetrics>();

function aiMetrics(metrics: Metrics): AiMetrics {
  const existing = metricsByRegistry.get(metrics.registry);
  if (existing !== undefined) return existing;
  const registers = [metrics.registry];
  const buckets = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];
  const created: AiMetrics = {
    requests: new client.Counter({
      name: 'ai_requests_total',
      help: 'LLM requests by provider, model and outcome (success, error, timeout, cancelled, unavailable, refused)',
      labelNames: ['provider', 'model', 'outcome'] as const,
      registers,
    }),
    tokens: new client.Counter({
      name: 'ai_tokens_total',
      help: 'Tokens of completed LLM answers as the provider counted them, by direction (input, output)',
      labelNames: ['provider', 'model', 'direction'] as const,
      registers,
    }),
    duration: new client.Histogram({
      name: 'ai_request_duration_seconds',
      help: 'LLM request latency from the call to the last token (retries included)',
      labelNames: ['provider', 'model'] as const,
      buckets,
      registers,
    }),
    firstToken: new client.Histogram({
      name: 'ai_time_to_first_token_seconds',
      help: 'LLM latency from the call to the first text delta (retries included)',
      labelNames: ['provider', 'model'] as const,
      buckets,
      registers,
    }),
  };
  metricsByRegistry.set(metrics.registry, created);
  return created;
}

function createProvider(choice: ResolvedAiChoice): AiProvider {
  if (choice.provider === 'local') return createLocalProvider();
  if (choice.apiKey === undefined) throw new Error(`AI provider ${choice.provider} needs an API key`);
  const options = { apiKey: choice.apiKey, model: choice.model, baseUrl: choice.baseUrl };
  switch (choice.provider) {
    case 'anthropic':
      return createAnthropicProvider(options);
    case 'gemini':
      return createGeminiProvider(options);
    case 'openai':
      return createOpenAiProvider(options);
  }
}

/** Waits for `promise`, but at most `ms`: then calls `onTimeout` (abort the request) and rejects. */
async function within<T>(promise: Promise<T>, ms: number, onTimeout: () => ExternalTimeoutError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

type Outcome = 'success' | 'error' | 'timeout' | 'cancelled' | 'unavailable' | 'refused';

/** What an app sees when an answer fails: a 503 naming the provider (tasks retry it). */
function asAppError(provider: AiProviderName, error: unknown): [Outcome, unknown] {
  if (error instanceof CancelledCallError) return ['cancelled', error];
  if (error instanceof AppError) return ['unavailable', error];
  if (error instanceof ExternalTimeoutError) {
    return [
      'timeout',
      new AppError('unavailable', 'ai.timeout', `The AI provider (${provider}) did not answer in time; try again`, {
        cause: error,
      }),
    ];
  }
  if (error instanceof PermanentExternalError) {
    return [
      'refused',
      new AppError('unavailable', 'ai.refused', `The AI provider (${provider}) refused the request`, {
        details: { provider, status: error.status },
        cause: error,
      }),
    ];
  }
  return [
    'error',
    new AppError('unavailable', 'ai.failed', `The AI provider (${provider}) failed to answer; try again`, {
      details: { provider },
      cause: error,
    }),
  ];
}

/**
 * The AI service: one client per provider choice (cached), each call through a resilience
 * wrapper per provider and address (its breaker shared by every app using it). A call's first
 * token is awaited under the timeout, with retries (Retry-After honoured) for 429, 5xx, timeouts
 * and dropped connections; once text has reached the caller nothing is retried (it would repeat
 * itself), and each later token must come within the timeout too, so a stalled or cut stream
 * surfaces as an error instead of a hang.
 */
export function createAiService(options: AiServiceOptions, deps: { readonly metrics: Metrics; readonly log: Logger }) {
  const recorded = aiMetrics(deps.metrics);
  const services = new Map<string, ExternalService>();
  const clients = new Map<string, AiClient>();

  function serviceFor(choice: ResolvedAiChoice): ExternalService {
    const key = `${choice.provider} ${choice.baseUrl ?? ''}`;
    let service = services.get(key);
    if (service === undefined) {
      service = createExternalService(
        {
          name: `ai-${choice.provider}`,
          timeoutMs: options.timeoutMs,
          retries: options.retries,
          retryDelayMs: 500,
          maxRetryDelayMs: options.maxRetryWaitMs,
          breaker: { consecutiveFailures: 5, halfOpenAfterMs: 30_000 },
        },
        deps,
      );
      services.set(key, service);
    }
    return service;
  }

  function build(choice: ResolvedAiChoice): AiClient {
    const provider = createProvider(choice);
    const service = serviceFor(choice);
    const labels = { provider: choice.provider, model: choice.model };
    const local = choice.provider === 'local';

    function stream(request: AiRequest, streamOptions: { signal?: AbortSignal } = {}): AiStream {
      let settle!: { resolve: (usage: AiUsage) => void; reject: (error: unknown) => void };
      const usage = new Promise<AiUsage>((resolve, reject) => (settle = { resolve, reject }));
      // A caller that only reads the text must not cause an unhandled rejection.
      usage.catch(() => {});
      const caller = streamOptions.signal;

      async function* run(): AsyncGenerator<string> {
        const lifetime = new AbortController();
        const cancel = () => lifetime.abort(caller?.reason);
        if (caller?.aborted === true) cancel();
        caller?.addEventListener('abort', cancel, { once: true });
        const started = performance.now();
        let outcome: Outcome = 'cancelled';
        let opened:
          { events: AsyncIterator<AiEvent>; head: IteratorResult<AiEvent>; request: AbortController } | undefined;
        try {
          opened = await service.call(
            async (attemptSignal) => {
              // The attempt's own request: aborted by the wrapper's timeout while the first token is
              // awaited, and by the caller for as long as the answer streams.
              const attempt = new AbortController();
              const abortAttempt = () => attempt.abort();
              attemptSignal.addEventListener('abort', abortAttempt, { once: true });
              const events = provider.stream(request, attempt.signal)[Symbol.asyncIterator]();
              try {
                let head = await events.next();
                // A usage event first would mean an empty answer; that is a result, keep it.
                while (!head.done && head.value.type === 'text' && head.value.text === '') head = await events.next();
                return { events, head, request: attempt };
              } catch (error) {
                attempt.abort();
                throw error;
              } finally {
                attemptSignal.removeEventListener('abort', abortAttempt);
              }
            },
            { idempotent: true, signal: lifetime.signal },
          );
          lifetime.signal.addEventListener('abort', () => opened?.request.abort(), { once: true });
          let next = opened.head;
          let final: AiUsage | undefined;
          let first = true;
          while (!next.done) {
            const event = next.value;
            if (event.type === 'text') {
              if (first) recorded.firstToken.observe(labels, (performance.now() - started) / 1000);
              first = false;
              yield event.text;
            } else {
              final = { inputTokens: event.inputTokens, outputTokens: event.outputTokens, model: event.model };
            }
            if (lifetime.signal.aborted) throw new CancelledCallError(service.name, { cause: lifetime.signal.reason });
            const request = opened.request;
            next = await within(opened.events.next(), options.timeoutMs, () => {
              request.abort();
              return new ExternalTimeoutError(service.name, options.timeoutMs);
            }).catch((error: unknown) => {
              throw lifetime.signal.aborted ? new CancelledCallError(service.name, { cause: error }) : error;
            });
          }
          if (final === undefined) throw cutShort(choice.provider);
          outcome = 'success';
          recorded.tokens.inc({ ...labels, direction: 'input' }, final.inputTokens);
          recorded.tokens.inc({ ...labels, direction: 'output' }, final.outputTokens);
          settle.resolve(final);
        } catch (error) {
          const [failed, surfaced] = asAppError(choice.provider, error);
          outcome = failed;
          if (failed !== 'cancelled') {
            deps.log.warn(
              {
                provider: choice.provider,
                model: choice.model,
                err: error instanceof Error ? error.message : String(error),
              },
              'AI answer failed',
            );
          }
          settle.reject(surfaced);
          throw surfaced;
        } finally {
          caller?.removeEventListener('abort', cancel);
          if (outcome !== 'success') {
            // The caller left (or it failed): stop the provider's request and its stream.
            lifetime.abort();
            opened?.request.abort();
            void opened?.events.return?.(undefined).catch(() => {});
            if (outcome === 'cancelled') settle.reject(new CancelledCallError(service.name));
          }
          recorded.requests.inc({ ...labels, outcome });
          recorded.duration.observe(labels, (performance.now() - started) / 1000);
        }
      }

      const generator = run();
      return {
        usage,
        provider: choice.provider,
        model: choice.model,
        local,
        [Symbol.asyncIterator]: () => generator,
      };
    }

    return {
      provider: choice.provider,
      model: choice.model,
      local,
      stream,
      async generate(request, generateOptions) {
        const answer = stream(request, generateOptions);
        let text = '';
        for await (const delta of answer) text += delta;
        return { text, usage: await answer.usage, provider: choice.provider, local };
      },
    };
  }

  return {
    /** The client for a provider choice, made once per distinct choice. */
    client(choice: ResolvedAiChoice): AiClient {
      const key = [
        choice.provider,
        choice.model,
        choice.baseUrl ?? '',
        // Keyed by a digest: the key itself is kept nowhere but in the SDK client.
        choice.apiKey === undefined ? '' : createHash('sha256').update(choice.apiKey).digest('hex'),
      ].join(' ');
      let made = clients.get(key);
      if (made === undefined) {
        made = build(choice);
        clients.set(key, made);
      }
      return made;
    },
  };
}

export type AiService = ReturnType<typeof createAiService>;
