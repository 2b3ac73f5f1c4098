import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * What a local LLM server does with one request. Requests take scripted behaviours in order;
 * once the script is used up, each gets a normal answer.
 */
export type FakeAiBehaviour =
  /** A complete streamed answer: `chunks` of text, the first after `firstTokenDelayMs`, the rest `chunkDelayMs` apart. */
  | {
      readonly kind: 'answer';
      readonly chunks?: readonly string[];
      readonly firstTokenDelayMs?: number;
      readonly chunkDelayMs?: number;
      readonly inputTokens?: number;
      readonly outputTokens?: number;
    }
  /** An error answer in the provider's format (429 rate limit, 500, 503 overloaded, 401...), with an optional `Retry-After`. */
  | { readonly kind: 'error'; readonly status: number; readonly retryAfter?: string }
  /**
   * A stream cut after `afterChunks` text chunks: the connection closed mid-body, the chunked body
   * never terminated (`close`), or the body ended cleanly without the provider's end-of-answer
   * events (`end`).
   */
  | { readonly kind: 'cut'; readonly afterChunks: number; readonly how: 'close' | 'end' };

/** One request as the local server received it. */
export interface FakeAiRequest {
  readonly method: string;
  /** Path and query, as sent (a key in it would show here). */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
  /** Set when the client closed the connection before the answer was complete (a cancellation). */
  closedEarly: boolean;
}

/** A local server speaking one LLM provider's documented streaming wire format. */
export interface FakeAiServer {
  /** Base URL to give the SDK (the provider's `baseURL`/`baseUrl`). */
  readonly url: string;
  /** The API key it accepts (any other gets a 401 in the provider's format). */
  readonly apiKey: string;
  /** The model it reports answering with. */
  readonly model: string;
  readonly requests: FakeAiRequest[];
  /** Appends behaviours for the next requests. */
  script(...behaviours: FakeAiBehaviour[]): void;
  close(): Promise<void>;
}

/** The provider-specific half: where it listens, how it checks the key, how its stream looks. */
interface Dialect {
  readonly accepts: (method: string, path: string) => boolean;
  readonly keyOf: (request: http.IncomingMessage) => string | undefined;
  readonly basePath: string;
  readonly errorBody: (status: number) => unknown;
  /** SSE frames before the first text chunk. */
  readonly start: (model: string, inputTokens: number) => string[];
  readonly chunk: (model: string, text: string, index: number) => string[];
  /** SSE frames after the last text chunk (the end-of-answer markers and usage). */
  readonly end: (model: string, inputTokens: number, outputTokens: number) => string[];
}

function sse(data: unknown, event?: string): string {
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`;
}

const defaultChunks = ['Hello', ', this is', ' a streamed', ' answer.'];

async function startFakeAiServer(dialect: Dialect, options: { apiKey: string; model: string }): Promise<FakeAiServer> {
  const requests: FakeAiRequest[] = [];
  const queue: FakeAiBehaviour[] = [];
  const sockets = new Set<Socket>();

  async function respond(request: http.IncomingMessage, response: http.ServerResponse, received: FakeAiRequest) {
    const path = (request.url ?? '').split('?')[0] ?? '';
    if (!dialect.accepts(request.method ?? '', path)) {
      response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(dialect.errorBody(404)));
      return;
    }
    if (dialect.keyOf(request) !== options.apiKey) {
      response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify(dialect.errorBody(401)));
      return;
    }
    const behaviour = queue.shift() ?? { kind: 'answer' };
    if (behaviour.kind === 'error') {
      response.writeHead(behaviour.status, {
        'content-type': 'application/json',
        ...(behaviour.retryAfter === undefined ? {} : { 'retry-after': behaviour.retryAfter }),
      });
      response.end(JSON.stringify(dialect.errorBody(behaviour.status)));
      return;
    }
    const chunks = behaviour.kind === 'answer' ? (behaviour.chunks ?? defaultChunks) : defaultChunks;
    const inputTokens = (behaviour.kind === 'answer' ? behaviour.inputTokens : undefined) ?? 12;
    const outputTokens = (behaviour.kind === 'answer' ? behaviour.outputTokens : undefined) ?? chunks.length;
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    response.flushHeaders();
    const write = (frames: string[]) => {
      for (const frame of frames) if (!response.destroyed) response.write(frame);
    };
    write(dialect.start(options.model, inputTokens));
    for (const [index, text] of chunks.entries()) {
      if (behaviour.kind === 'cut' && index === behaviour.afterChunks) {
        // A FIN, not a reset: the client reads what was sent, then finds the body unfinished.
        if (behaviour.how === 'close') response.socket?.end();
        else response.end();
        return;
      }
      const delay =
        behaviour.kind === 'answer' ? (index === 0 ? behaviour.firstTokenDelayMs : behaviour.chunkDelayMs) : 0;
      if (delay !== undefined && delay > 0) await sleep(delay);
      if (received.closedEarly) return;
      write(dialect.chunk(options.model, text, index));
    }
    write(dialect.end(options.model, inputTokens, outputTokens));
    response.end();
  }

  const server = http.createServer((request, response) => {
    const body: Buffer[] = [];
    request.on('data', (chunk: Buffer) => body.push(chunk));
    request.on('end', () => {
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(Buffer.concat(body).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        // Left empty: the assertion on the body will say so.
      }
      const received: FakeAiRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: parsed,
        closedEarly: false,
      };
      requests.push(received);
      response.on('close', () => {
        if (!response.writableFinished) received.closedEarly = true;
      });
      void respond(request, response, received);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${dialect.basePath}`,
    apiKey: options.apiKey,
    model: options.model,
    requests,
    script: (...behaviours) => queue.push(...behaviours),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const anthropicErrors: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/**
 * Anthropic's Messages API (`POST /v1/messages`, `x-api-key` or `Authorization: Bearer`), streaming Server-Sent Events as
 * documented: `message_start`, `content_block_start`, `ping`, `content_block_delta` (text_delta),
 * `content_block_stop`, `message_delta` (stop_reason and cumulative usage), `message_stop`.
 */
export function startFakeAnthropic(options: { apiKey?: string; model?: string } = {}): Promise<FakeAiServer> {
  return startFakeAiServer(
    {
      basePath: '',
      accepts: (method, path) => method === 'POST' && path === '/v1/messages',
      // The documented `x-api-key`, or `Authorization: Bearer` as recent SDKs send it.
      keyOf: (request) =>
        (request.headers['x-api-key'] as string | undefined) ??
        /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1],
      errorBody: (status) => ({
        type: 'error',
        error: { type: anthropicErrors[status] ?? 'api_error', message: `Local Anthropic answered ${status}` },
      }),
      start: (model, inputTokens) => [
        sse(
          {
            type: 'message_start',
            message: {
              id: 'msg_local_1',
              type: 'message',
              role: 'assistant',
              content: [],
              model,
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: inputTokens, output_tokens: 1 },
            },
          },
          'message_start',
        ),
        sse(
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
          'content_block_start',
        ),
        sse({ type: 'ping' }, 'ping'),
      ],
      chunk: (_model, text) => [
        sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta'),
      ],
      end: (_model, _input, outputTokens) => [
        sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
        sse(
          {
            type: 'message_delta',
            delta: { stop_reason: 'end_turn', stop_sequence: null },
            usage: { output_tokens: outputTokens },
          },
          'message_delta',
        ),
        sse({ type: 'message_stop' }, 'message_stop'),
      ],
    },
    { apiKey: options.apiKey ?? 'sk-ant-local-test-key', model: options.model ?? 'claude-sonnet-4-5' },
  );
}

const googleStatus: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/**
 * Gemini's `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` (or `/v1/`, as SDK 3 calls it) (`x-goog-api-key`): each
 * event a GenerateContentResponse (`candidates[].content.parts[].text`, `usageMetadata`,
 * `modelVersion`), the last with `finishReason: "STOP"` and the candidate token count.
 */
export function startFakeGemini(options: { apiKey?: string; model?: string } = {}): Promise<FakeAiServer> {
  const model = options.model ?? 'gemini-2.5-flash';
  return startFakeAiServer(
    {
      basePath: '',
      accepts: (method, path) => method === 'POST' && /^\/v1(beta)?\/models\/[^/:]+:streamGenerateContent$/.test(path),
      keyOf: (request) => request.headers['x-goog-api-key'] as string | undefined,
      errorBody: (status) => ({
        error: { code: status, message: `Local Gemini answered ${status}`, status: googleStatus[status] ?? 'UNKNOWN' },
      }),
      start: () => [],
      chunk: (name, text) => [
        sse({
          candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0 }],
          usageMetadata: { promptTokenCount: 12, totalTokenCount: 12 },
          modelVersion: name,
        }),
      ],
      end: (name, inputTokens, outputTokens) => [
        sse({
          candidates: [{ content: { parts: [{ text: '' }], role: 'model' }, finishReason: 'STOP', index: 0 }],
          usageMetadata: {
            promptTokenCount: inputTokens,
            candidatesTokenCount: outputTokens,
            totalTokenCount: inputTokens + outputTokens,
          },
          modelVersion: name,
        }),
      ],
    },
    { apiKey: options.apiKey ?? 'gemini-local-test-key', model },
  );
}

/**
 * OpenAI's `POST /v1/chat/completions` (`Authorization: Bearer`), streaming
 * `chat.completion.chunk` objects as `data:` events: deltas, a chunk with `finish_reason`, and
 * (with `stream_options.include_usage`) a last chunk with empty `choices` and the usage, then
 * `data: [DONE]`.
 */
export function startFakeOpenAi(options: { apiKey?: string; model?: string } = {}): Promise<FakeAiServer> {
  const chunkOf = (model: string, choices: unknown[], usage: unknown = null) =>
    sse({ id: 'chatcmpl-local-1', object: 'chat.completion.chunk', created: 1_796_256_000, model, choices, usage });
  return startFakeAiServer(
    {
      basePath: '/v1',
      accepts: (method, path) => method === 'POST' && path === '/v1/chat/completions',
      keyOf: (request) => /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1],
      errorBody: (status) => ({
        error: {
          message: `Local OpenAI answered ${status}`,
          type: status === 429 ? 'requests' : status === 401 ? 'invalid_request_error' : 'server_error',
          param: null,
          code: status === 429 ? 'rate_limit_exceeded' : status === 401 ? 'invalid_api_key' : null,
        },
      }),
      start: (model) => [
        chunkOf(model, [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
      ],
      chunk: (model, text) => [chunkOf(model, [{ index: 0, delta: { content: text }, finish_reason: null }])],
      end: (model, inputTokens, outputTokens) => [
        chunkOf(model, [{ index: 0, delta: {}, finish_reason: 'stop' }]),
        chunkOf(model, [], {
          prompt_tokens: inputTokens,
          completion_tokens: outputTokens,
          total_tokens: inputTokens + outputTokens,
        }),
        'data: [DONE]\n\n',
      ],
    },
    { apiKey: options.apiKey ?? 'sk-openai-local-test-key', model: options.model ?? 'gpt-4.1-mini' },
  );
}
