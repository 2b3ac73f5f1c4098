import { createHmac } from 'node:crypto';
import { AppError, constantTimeEqual, PermanentExternalError, type ExternalService } from '@ballast/platform';

/**
 * ElevenLabs Conversational AI through its documented HTTP API: a signed WebSocket URL for the
 * configured agent (`GET /v1/convai/conversation/get-signed-url`, `xi-api-key` header), so the
 * key stays on the server; and the post-call webhook's `ElevenLabs-Signature` check.
 */
export function createElevenLabs(options: {
  apiKey: string;
  agentId: string;
  baseUrl: string;
  service: ExternalService;
}) {
  return {
    async signedUrl(): Promise<string> {
      const url = new URL('/v1/convai/conversation/get-signed-url', options.baseUrl);
      url.searchParams.set('agent_id', options.agentId);
      return options.service.call(
        async (signal) => {
          const response = await fetch(url, {
            headers: { 'xi-api-key': options.apiKey, accept: 'application/json' },
            signal,
          });
          const body = (await response.json().catch(() => ({}))) as { signed_url?: string; detail?: unknown };
          if (response.ok && typeof body.signed_url === 'string') return body.signed_url;
          const detail = `ElevenLabs answered ${response.status}`;
          if (response.status >= 400 && response.status < 500 && response.status !== 429) {
            throw new PermanentExternalError('elevenlabs', detail, { status: response.status });
          }
          throw new Error(detail);
        },
        { idempotent: true },
      );
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
