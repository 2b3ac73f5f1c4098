import { ApiError, GoogleGenAI } from '@google/genai';
import { classifyFailure, cutShort, systemPrompt, type AiEvent, type AiProvider, type AiRequest } from './provider.ts';

/**
 * Gemini's `streamGenerateContent?alt=sse` through Google's official SDK (`@google/genai`). The key
 * goes in the `x-goog-api-key` header (never the URL); the SDK retries nothing without
 * `retryOptions`. Its errors carry no headers, so a fetch of our own keeps the failed response's
 * `Retry-After` for the resilience wrapper.
 */
export function createGeminiProvider(options: {
  apiKey: string;
  model: string;
  baseUrl: string | undefined;
}): AiProvider {
  return {
    name: 'gemini',
    model: options.model,
    async *stream(request: AiRequest, signal: AbortSignal): AsyncGenerator<AiEvent> {
      let failedHeaders: Headers | undefined;
      const client = new GoogleGenAI({
        apiKey: options.apiKey,
        httpOptions: {
          ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
          fetch: async (input: string | URL | Request, init?: RequestInit) => {
            const response = await fetch(input, init);
            if (!response.ok) failedHeaders = response.headers;
            return response;
          },
        },
      });
      const system = systemPrompt(request);
      let chunks;
      try {
        chunks = await client.models.generateContentStream({
          model: options.model,
          contents: request.messages.map((message) => ({
            role: message.role === 'assistant' ? 'model' : 'user',
            parts: [{ text: message.content }],
          })),
          config: {
            abortSignal: signal,
            maxOutputTokens: request.maxOutputTokens ?? 1024,
            ...(system === undefined ? {} : { systemInstruction: system }),
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          },
        });
      } catch (error) {
        throw failure(error, signal, failedHeaders);
      }
      let inputTokens = 0;
      let outputTokens = 0;
      let model = options.model;
      let finished = false;
      try {
        for await (const chunk of chunks) {
          const text = chunk.candidates?.[0]?.content?.parts
            ?.map((part) => (part.thought === true ? '' : (part.text ?? '')))
            .join('');
          if (text !== undefined && text !== '') yield { type: 'text', text };
          if (chunk.candidates?.[0]?.finishReason !== undefined) finished = true;
          if (chunk.modelVersion !== undefined) model = chunk.modelVersion;
          if (chunk.usageMetadata !== undefined) {
            inputTokens = chunk.usageMetadata.promptTokenCount ?? inputTokens;
            outputTokens =
              (chunk.usageMetadata.candidatesTokenCount ?? 0) + (chunk.usageMetadata.thoughtsTokenCount ?? 0) ||
              outputTokens;
          }
        }
      } catch (error) {
        throw failure(error, signal, failedHeaders);
      }
      // The last chunk carries a finishReason; a stream without one was cut.
      if (!finished) throw cutShort('gemini');
      yield { type: 'usage', inputTokens, outputTokens, model };
    },
  };
}

function failure(error: unknown, signal: AbortSignal, headers: Headers | undefined): unknown {
  if (signal.aborted) return error;
  if (error instanceof ApiError) return classifyFailure('gemini', error, error.status, headers);
  return classifyFailure('gemini', error, undefined);
}
