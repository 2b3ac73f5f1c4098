import {
  PermanentExternalError,
  TransientExternalError,
  retryAfterMs,
} from '#platform/kernel/resilience/external-service.ts';
import type { AiProviderName } from '../ai.settings.ts';

/** One turn of a conversation. */
export interface AiMessage {
  readonly role: 'user' | 'assistant';
  readonly content: string;
}

/** A document the answer may draw on (the user's own files); cited by its position, from 1. */
export interface AiDocument {
  readonly title: string;
  readonly text: string;
}

/** What an app asks of a model. */
export interface AiRequest {
  /** Instructions for the model (Anthropic's `system`, Gemini's `systemInstruction`, OpenAI's system message). */
  readonly system?: string;
  /** The conversation so far; the last one is the user's. */
  readonly messages: readonly AiMessage[];
  /** Documents to answer from: given to the model after the instructions, quoted by the local mode. */
  readonly documents?: readonly AiDocument[];
  /** Most tokens the answer may take (default 1024). */
  readonly maxOutputTokens?: number;
  readonly temperature?: number;
  /**
   * What the local mode answers (no provider configured), instead of quoting documents: an
   * app's own deterministic result, such as the coach's template care plan.
   */
  readonly localAnswer?: string;
}

/** Tokens an answer took, as the provider counted them, and the model that answered. */
export interface AiUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly model: string;
}

/** What a provider's stream yields: text as it arrives, then the usage once, last. */
export type AiEvent = { readonly type: 'text'; readonly text: string } | ({ readonly type: 'usage' } & AiUsage);

/**
 * One LLM provider behind Ballast's single interface. `stream` issues one request (no retries of
 * its own: the SDKs' retries are off, so the resilience wrapper's are the only ones), aborted by
 * `signal`, and throws `PermanentExternalError` for a refusal or `TransientExternalError` (with
 * the provider's `Retry-After`) for what is worth trying again.
 */
export interface AiProvider {
  readonly name: AiProviderName;
  readonly model: string;
  stream(request: AiRequest, signal: AbortSignal): AsyncIterable<AiEvent>;
}

/** Instructions with the documents appended, numbered for citation, for providers that read them. */
export function systemPrompt(request: AiRequest): string | undefined {
  const documents = request.documents ?? [];
  if (documents.length === 0) return request.system;
  const listed = documents
    .map(
      (document, index) =>
        `<document index="${index + 1}" title="${document.title.replaceAll('"', "'")}">\n${document.text}\n</document>`,
    )
    .join('\n');
  return [request.system ?? '', 'Answer from these documents and cite them as [n]:', listed]
    .filter((part) => part !== '')
    .join('\n\n');
}

/**
 * Turns an SDK's HTTP failure into what the resilience wrapper understands: 408, 409, 429 and 5xx
 * (and no status: the connection failed) are transient, with the response's `Retry-After`; any
 * other 4xx is a permanent refusal. The message names the status, never the key.
 */
export function classifyFailure(
  provider: AiProviderName,
  error: unknown,
  status: number | undefined,
  headers?: Parameters<typeof retryAfterMs>[0],
): Error {
  if (status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status)) {
    return new PermanentExternalError(provider, `${provider} refused the request (${status})`, {
      status,
      cause: error,
    });
  }
  const what =
    status === undefined
      ? `connection failed: ${error instanceof Error ? error.message : String(error)}`
      : `answered ${status}`;
  return new TransientExternalError(provider, `${provider} ${what}`, {
    ...(status === undefined ? {} : { status }),
    retryAfterMs: retryAfterMs(headers),
    cause: error,
  });
}

/** A stream that ended without its provider's end-of-answer marker: the connection was cut. */
export function cutShort(provider: AiProviderName): TransientExternalError {
  return new TransientExternalError(provider, `${provider} stream ended before the answer was complete`);
}
