import { createHmac } from 'node:crypto';
import { AppError, constantTimeEqual, PermanentExternalError, type ExternalService } from '@ballast/platform';

/** What ElevenLabs recorded of one conversation, in the parts Ballast reads. */
export interface ConversationRecord {
  readonly conversationId: string;
  /** `initiated` and `in-progress` are live; `processing` has ended; `done` and `failed` are final. */
  readonly status: string;
  readonly durationSeconds: number | null;
  readonly transcript: readonly { readonly role: string; readonly text: string }[];
  readonly summary: string | null;
}

/** The conversation as the post-call webhook's `data` and the conversation API both carry it. */
export interface ConversationWire {
  readonly conversation_id: string;
  readonly status?: string;
  readonly transcript?: readonly { readonly role: string; readonly message: string | null }[];
  readonly metadata?: { readonly call_duration_secs?: number };
  readonly analysis?: { readonly transcript_summary?: string | null };
  readonly conversation_initiation_client_data?: {
    readonly dynamic_variables?: Readonly<Record<string, unknown>>;
  };
}

/** Reads a conversation in ElevenLabs' wire format. */
export function readConversation(wire: ConversationWire): ConversationRecord {
  const duration = wire.metadata?.call_duration_secs;
  return {
    conversationId: wire.conversation_id,
    status: wire.status ?? 'done',
    durationSeconds:
      typeof duration === 'number' && Number.isFinite(duration) ? Math.max(0, Math.round(duration)) : null,
    transcript: (wire.transcript ?? []).map((line) => ({ role: line.role, text: line.message ?? '' })),
    summary: wire.analysis?.transcript_summary ?? null,
  };
}

/**
 * ElevenLabs Conversational AI through its documented HTTP API, with the `xi-api-key` header so
 * the key stays on the server: a signed WebSocket URL for the configured agent that opens one
 * conversation whose id is known before the browser connects
 * (`GET /v1/convai/conversation/get-signed-url?agent_id=...&include_conversation_id=true`), the
 * provider's record of a conversation (`GET /v1/convai/conversations/{conversation_id}`), and the
 * post-call webhook's `ElevenLabs-Signature` check.
 */
export function createElevenLabs(options: {
  apiKey: string;
  agentId: string;
  baseUrl: string;
  service: ExternalService;
}) {
  async function get<T>(url: URL, notFound: T): Promise<T> {
    return options.service.call(
      async (signal) => {
        const response = await fetch(url, {
          headers: { 'xi-api-key': options.apiKey, accept: 'application/json' },
          signal,
        });
        if (response.status === 404) return notFound;
        const body = (await response.json().catch(() => undefined)) as T | undefined;
        if (response.ok && body !== undefined) return body;
        const detail = `ElevenLabs answered ${response.status}`;
        if (response.status >= 400 && response.status < 500 && response.status !== 429) {
          throw new PermanentExternalError('elevenlabs', detail, { status: response.status });
        }
        throw new Error(detail);
      },
      { idempotent: true },
    );
  }

  return {
    /**
     * A signed URL that opens one conversation with the agent, and that conversation's id. The id
     * comes in the answer's `conversation_id`, or as the signed URL's `conversation_id` parameter.
     */
    async signedUrl(): Promise<{ signedUrl: string; conversationId: string }> {
      const url = new URL('/v1/convai/conversation/get-signed-url', options.baseUrl);
      url.searchParams.set('agent_id', options.agentId);
      url.searchParams.set('include_conversation_id', 'true');
      const body = await get<{ signed_url?: unknown; conversation_id?: unknown } | undefined>(url, undefined);
      const signedUrl = typeof body?.signed_url === 'string' ? body.signed_url : undefined;
      if (signedUrl === undefined) {
        throw new PermanentExternalError(
          'elevenlabs',
          'ElevenLabs answered without a signed URL (is the agent id right?)',
        );
      }
      const conversationId =
        typeof body?.conversation_id === 'string'
          ? body.conversation_id
          : (new URL(signedUrl).searchParams.get('conversation_id') ?? undefined);
      // Without the id the call could not be billed from ElevenLabs' record: refuse it.
      if (conversationId === undefined || conversationId === '') {
        throw new PermanentExternalError('elevenlabs', 'ElevenLabs answered without the conversation id');
      }
      return { signedUrl, conversationId };
    },

    /** ElevenLabs' record of a conversation; undefined while none exists (its signed URL is unused). */
    async conversation(conversationId: string): Promise<ConversationRecord | undefined> {
      const url = new URL(`/v1/convai/conversations/${encodeURIComponent(conversationId)}`, options.baseUrl);
      const wire = await get<ConversationWire | undefined>(url, undefined);
      return wire === undefined ? undefined : readConversation({ ...wire, conversation_id: conversationId });
    },
  };
}

export type ElevenLabs = ReturnType<typeof createElevenLabs>;

/**
 * Checks `ElevenLabs-Signature: t=<unix seconds>,v0=<hex HMAC-SHA256 of "<t>.<raw body>">`,
 * refusing signatures older than 30 minutes (replays).
 */
export function verifyElevenLabsSignature(
  secret: string,
  header: string | undefined,
  rawBody: Buffer,
  nowMs = Date.now(),
): void {
  const parts = Object.fromEntries((header ?? '').split(',').map((part) => part.split('=', 2) as [string, string]));
  const timestamp = Number(parts['t']);
  const given = parts['v0'];
  if (!Number.isInteger(timestamp) || given === undefined) {
    throw new AppError(
      'unauthenticated',
      'coach.invalid_webhook_signature',
      'Missing or malformed ElevenLabs-Signature',
    );
  }
  if (Math.abs(nowMs / 1000 - timestamp) > 30 * 60) {
    throw new AppError('unauthenticated', 'coach.invalid_webhook_signature', 'The webhook signature is too old');
  }
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
  if (!constantTimeEqual(expected, given)) {
    throw new AppError('unauthenticated', 'coach.invalid_webhook_signature', 'Invalid webhook signature');
  }
}

/** Signs a body as ElevenLabs does (for local tools and tests). */
export function signElevenLabsWebhook(
  secret: string,
  rawBody: string,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  return `t=${timestamp},v0=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
}
