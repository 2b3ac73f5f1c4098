import Anthropic, { APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { classifyFailure, cutShort, systemPrompt, type AiEvent, type AiProvider, type AiRequest } from './provider.ts';

/**
 * Anthropic's Messages API through its official SDK (`@anthropic-ai/sdk`), streamed as Server-Sent
 * Events (`message_start`, `content_block_delta`, `message_delta`, `message_stop`). The key goes
 * in the `x-api-key` header; the SDK's own retries are off.
 */
export function createAnthropicProvider(options: {
  apiKey: string;
  model: string;
  baseUrl: string | undefined;
}): AiProvider {
  const client = new Anthropic({
    apiKey: options.apiKey,
    maxRetries: 0,
    // Ours is the timeout that counts (first token, then between tokens); this only bounds a lost request.
    timeout: 10 * 60_000,
    ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
  });
  return {
    name: 'anthropic',
    model: options.model,
    async *stream(request: AiRequest, signal: AbortSignal): AsyncGenerator<AiEvent> {
      const system = systemPrompt(request);
      let events;
      try {
        events = await client.messages.create(
          {
            model: options.model,
            max_tokens: request.maxOutputTokens ?? 1024,
            messages: request.messages.map((message) => ({ role: message.role, content: message.content })),
            ...(system === undefined ? {} : { system }),
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
            stream: true,
          },
          { signal },
        );
      } catch (error) {
        throw failure(error, signal);
      }
      let inputTokens = 0;
      let outputTokens = 0;
      let model = options.model;
      let stopped = false;
      try {
        for await (const event of events) {
          if (event.type === 'message_start') {
            model = event.message.model;
            inputTokens = event.message.usage.input_tokens;
            outputTokens = event.message.usage.output_tokens;
          } else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
            yield { type: 'text', text: event.delta.text };
          } else if (event.type === 'message_delta') {
            // Cumulative counts: the last message_delta carries the answer's total.
            outputTokens = event.usage.output_tokens;
            if (typeof event.usage.input_tokens === 'number') inputTokens = event.usage.input_tokens;
          } else if (event.type === 'message_stop') {
            stopped = true;
          }
        }
      } catch (error) {
        throw failure(error, signal);
      }
      if (!stopped) throw cutShort('anthropic');
      yield { type: 'usage', inputTokens, outputTokens, model };
    },
  };
}

function failure(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted || error instanceof APIUserAbortError) return error;
  if (error instanceof APIError) {
    // `instanceof` on the generic class narrows to APIError<any>; its defaults are what it holds.
    const known = error as APIError;
    return classifyFailure('anthropic', known, known.status, known.headers);
  }
  return classifyFailure('anthropic', error, undefined);
}
