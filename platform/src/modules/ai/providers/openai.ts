import OpenAI, { APIError, APIUserAbortError } from 'openai';
import { classifyFailure, cutShort, systemPrompt, type AiEvent, type AiProvider, type AiRequest } from './provider.ts';

/**
 * OpenAI's Chat Completions API through its official SDK (`openai`), streamed as chunks with
 * `stream_options.include_usage`, so the last chunk carries the token usage. The key goes in the
 * `Authorization` header; the SDK's own retries are off.
 */
export function createOpenAiProvider(options: {
  apiKey: string;
  model: string;
  baseUrl: string | undefined;
}): AiProvider {
  const client = new OpenAI({
    apiKey: options.apiKey,
    maxRetries: 0,
    timeout: 10 * 60_000,
    ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
  });
  return {
    name: 'openai',
    model: options.model,
    async *stream(request: AiRequest, signal: AbortSignal): AsyncGenerator<AiEvent> {
      const system = systemPrompt(request);
      let chunks;
      try {
        chunks = await client.chat.completions.create(
          {
            model: options.model,
            max_completion_tokens: request.maxOutputTokens ?? 1024,
            messages: [
              ...(system === undefined ? [] : [{ role: 'system' as const, content: system }]),
              ...request.messages.map((message) => ({ role: message.role, content: message.content })),
            ],
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
            stream: true,
            stream_options: { include_usage: true },
          },
          { signal },
        );
      } catch (error) {
        throw failure(error, signal);
      }
      let usage: { inputTokens: number; outputTokens: number } | undefined;
      let finished = false;
      let model = options.model;
      try {
        for await (const chunk of chunks) {
          model = chunk.model || model;
          const choice = chunk.choices[0];
          const text = choice?.delta.content;
          if (typeof text === 'string' && text !== '') yield { type: 'text', text };
          if (choice?.finish_reason) finished = true;
          if (chunk.usage)
            usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
        }
      } catch (error) {
        throw failure(error, signal);
      }
      // With include_usage the usage chunk comes last; without it the stream was cut.
      if (!finished || usage === undefined) throw cutShort('openai');
      yield { type: 'usage', ...usage, model };
    },
  };
}

function failure(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted || error instanceof APIUserAbortError) return error;
  if (error instanceof APIError) {
    // `instanceof` on the generic class narrows to APIError<any>; its defaults are what it holds.
    const known = error as APIError;
    return classifyFailure('openai', known, known.status, known.headers);
  }
  return classifyFailure('openai', error, undefined);
}
