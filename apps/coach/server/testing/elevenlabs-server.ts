import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signElevenLabsWebhook } from '../providers/elevenlabs.ts';

/** A conversation as the local ElevenLabs keeps it (its `GET /v1/convai/conversations/:id` shape). */
interface FakeConversation {
  agent_id: string;
  conversation_id: string;
  status: 'initiated' | 'in-progress' | 'processing' | 'done' | 'failed';
  transcript: { role: 'user' | 'agent'; message: string | null; time_in_call_secs: number }[];
  metadata: { start_time_unix_secs: number; call_duration_secs: number };
  analysis: { transcript_summary: string | null };
  conversation_initiation_client_data: { dynamic_variables: Record<string, string> };
  has_audio: boolean;
  has_user_audio: boolean;
  has_response_audio: boolean;
}

/**
 * A local server speaking ElevenLabs' documented Conversational AI API, `xi-api-key` header
 * required: `GET /v1/convai/conversation/get-signed-url?agent_id=...&include_conversation_id=true`
 * (a single-use signed WebSocket URL and the id of the conversation it opens) and
 * `GET /v1/convai/conversations/{conversation_id}` (404 until the URL is used; then the
 * conversation's status, transcript and `metadata.call_duration_secs`). It also plays the browser
 * and the agent: `talk` opens a conversation on its URL, `hangUp` ends it with a duration, and
 * `webhook` builds the signed `post_call_transcription` delivery ElevenLabs would send.
 */
export interface FakeElevenLabs {
  readonly url: string;
  readonly apiKey: string;
  readonly agentId: string;
  readonly webhookSecret: string;
  /** The conversations of the signed URLs handed out, in order. */
  readonly issued: string[];
  /** Requests received (`GET /v1/convai/conversations/conv_1`), for assertions. */
  readonly requests: string[];
  talk(conversationId: string): void;
  hangUp(conversationId: string, seconds: number, said?: string): void;
  webhook(conversationId: string): { body: string; headers: Record<string, string> };
  close(): Promise<void>;
}

/**
 * `conversationIdIn`: where the signed-URL answer carries the conversation id when it is asked
 * for (the answer's `conversation_id`, the URL's `conversation_id` parameter, or nowhere).
 */
export async function startFakeElevenLabs(
  options: { conversationIdIn?: 'answer' | 'url' | 'nowhere' } = {},
): Promise<FakeElevenLabs> {
  const conversationIdIn = options.conversationIdIn ?? 'answer';
  const apiKey = `xi_test_${randomBytes(8).toString('hex')}`;
  const agentId = 'agent_coach_test';
  const webhookSecret = `wsec_${randomBytes(12).toString('hex')}`;
  const issued: string[] = [];
  const requests: string[] = [];
  const conversations = new Map<string, FakeConversation>();

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    requests.push(`${request.method} ${url.pathname}`);
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.headers['xi-api-key'] !== apiKey) {
      answer(401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
      return;
    }
    if (request.method === 'GET' && url.pathname === '/v1/convai/conversation/get-signed-url') {
      if (url.searchParams.get('agent_id') !== agentId) {
        answer(404, { detail: { status: 'agent_not_found', message: 'Agent not found' } });
        return;
      }
      const signature = randomBytes(12).toString('hex');
      // Every signed URL opens one conversation; its id is in the answer only when asked for.
      const conversationId = `conv_${randomBytes(10).toString('hex')}`;
      issued.push(conversationId);
      const asked = url.searchParams.get('include_conversation_id') === 'true';
      const signedUrl = new URL('wss://api.elevenlabs.io/v1/convai/conversation');
      signedUrl.searchParams.set('agent_id', agentId);
      signedUrl.searchParams.set('conversation_signature', signature);
      if (asked && conversationIdIn === 'url') signedUrl.searchParams.set('conversation_id', conversationId);
      answer(
        200,
        asked && conversationIdIn === 'answer'
          ? { signed_url: signedUrl.href, conversation_id: conversationId }
          : { signed_url: signedUrl.href },
      );
      return;
    }
    const match = /^\/v1\/convai\/conversations\/([^/]+)$/.exec(url.pathname);
    if (request.method === 'GET' && match !== null) {
      const conversation = conversations.get(decodeURIComponent(match[1]!));
      if (conversation === undefined) {
        answer(404, { detail: { status: 'conversation_not_found', message: 'Conversation not found' } });
        return;
      }
      answer(200, conversation);
      return;
    }
    answer(404, { detail: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  function conversation(conversationId: string): FakeConversation {
    if (!issued.includes(conversationId)) throw new Error(`no signed URL was issued for ${conversationId}`);
    let found = conversations.get(conversationId);
    if (found === undefined) {
      found = {
        agent_id: agentId,
        conversation_id: conversationId,
        status: 'in-progress',
        transcript: [
          { role: 'agent', message: 'Hello, I am your coach. How are you feeling today?', time_in_call_secs: 0 },
        ],
        metadata: { start_time_unix_secs: Math.floor(Date.now() / 1000), call_duration_secs: 0 },
        analysis: { transcript_summary: null },
        conversation_initiation_client_data: { dynamic_variables: {} },
        has_audio: true,
        has_user_audio: true,
        has_response_audio: true,
      };
      conversations.set(conversationId, found);
    }
    return found;
  }

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    apiKey,
    agentId,
    webhookSecret,
    issued,
    requests,
    talk(conversationId) {
      conversation(conversationId);
    },
    hangUp(conversationId, seconds, said = 'I have been sleeping badly.') {
      const ended = conversation(conversationId);
      ended.status = 'done';
      ended.metadata.call_duration_secs = seconds;
      ended.transcript.push({ role: 'user', message: said, time_in_call_secs: 3 });
      ended.analysis.transcript_summary = 'The caller talked about their sleep.';
    },
    webhook(conversationId) {
      const body = JSON.stringify({
        type: 'post_call_transcription',
        event_timestamp: Math.floor(Date.now() / 1000),
        data: conversation(conversationId),
      });
      return {
        body,
        headers: {
          'content-type': 'application/json',
          'elevenlabs-signature': signElevenLabsWebhook(webhookSecret, body),
        },
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
