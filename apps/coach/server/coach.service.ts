import { AppError, type AppContext, type Kysely, type MeteredSession } from '@ballast/platform';
import { LOCAL_COACH_LINES, type VoiceSetup } from '../shared/calls.ts';
import type { CoachSettings } from '../settings.ts';
import { createCallRepository } from './call.repository.ts';
import { createElevenLabs, verifyElevenLabsSignature } from './providers/elevenlabs.ts';
import { createGeminiWriter, createTemplateWriter, type CarePlanWriter } from './providers/care-plan-writer.ts';

export type CoachContext = AppContext<CoachSettings>;

/** Mismatches between the voice agent's and our metered duration beyond this are flagged for admins. */
export const MISMATCH_TOLERANCE_SECONDS = 5;

/** Post-call webhook body from ElevenLabs (`post_call_transcription`), the parts the coach reads. */
interface PostCallWebhook {
  readonly type: string;
  readonly data: {
    readonly conversation_id: string;
    readonly transcript?: readonly { readonly role: string; readonly message: string | null }[];
    readonly metadata?: { readonly call_duration_secs?: number };
    readonly analysis?: { readonly transcript_summary?: string | null };
    readonly conversation_initiation_client_data?: {
      readonly dynamic_variables?: Readonly<Record<string, unknown>>;
    };
  };
}

const services = new WeakMap<CoachContext, ReturnType<typeof build>>();

/** The coach's service for a context (built once per context). */
export function coachService(ctx: CoachContext) {
  let service = services.get(ctx);
  if (service === undefined) {
    service = build(ctx);
    services.set(ctx, service);
  }
  return service;
}

function build(ctx: CoachContext) {
  const db = ctx.db<unknown>();
  const calls = createCallRepository(db);
  const eleven =
    ctx.settings.elevenLabs === undefined
      ? undefined
      : createElevenLabs({ ...ctx.settings.elevenLabs, service: ctx.external('elevenlabs') });
  const gemini = ctx.settings.gemini;
  const writer: CarePlanWriter =
    gemini === undefined
      ? createTemplateWriter()
      : createGeminiWriter({
          apiKey: gemini.apiKey,
          model: gemini.model,
          baseUrl: gemini.baseUrl,
          service: ctx.external('gemini'),
        });

  return {
    calls,
    writer,
    voiceMode: eleven === undefined ? ('local' as const) : ('elevenlabs' as const),

    /** Starts (or resumes) the caller's call: refused with a clear error when there is no talk-time. */
    async startCall(userId: string): Promise<{ session: MeteredSession; resumed: boolean; voice: VoiceSetup }> {
      let started: { session: MeteredSession; resumed: boolean };
      try {
        started = await ctx.metering.start({ userId, app: 'coach', unit: 'seconds' });
      } catch (error) {
        if (error instanceof AppError && error.code === 'metering.no_balance') {
          throw new AppError(
            'payment_failed',
            'coach.insufficient_talktime',
            'You have no talk-time left: buy a pack to start a call',
          );
        }
        throw error;
      }
      const voiceMode = eleven === undefined ? 'local' : 'elevenlabs';
      await calls.insertCall(db, { sessionId: started.session.id, userId, voiceMode });
      const voice: VoiceSetup =
        eleven === undefined
          ? { mode: 'local', lines: LOCAL_COACH_LINES }
          : { mode: 'elevenlabs', signedUrl: await eleven.signedUrl() };
      return { ...started, voice };
    },

    /** Stores the post-call report and reconciles its duration with what we metered. */
    async handlePostCall(rawBody: Buffer, signature: string | undefined): Promise<{ outcome: string }> {
      const secret = ctx.settings.elevenLabsWebhookSecret;
      if (secret === undefined) throw new AppError('not_found', 'http.not_found', 'Not found');
      verifyElevenLabsSignature(secret, signature, rawBody);
      const event = JSON.parse(rawBody.toString('utf8')) as PostCallWebhook;
      if (event.type !== 'post_call_transcription') return { outcome: 'ignored' };
      const sessionId = event.data.conversation_initiation_client_data?.dynamic_variables?.['ballast_session_id'];
      if (typeof sessionId !== 'string') return { outcome: 'ignored: no session' };
      const call = await calls.call(sessionId).catch(() => undefined);
      const session = call === undefined ? undefined : await ctx.metering.get(sessionId);
      if (call === undefined || session === undefined) return { outcome: 'ignored: unknown session' };
      const providerSeconds = event.data.metadata?.call_duration_secs ?? null;
      const mismatch = providerSeconds === null ? null : Math.abs(providerSeconds - session.meteredSeconds);
      const flagged = mismatch !== null && mismatch > MISMATCH_TOLERANCE_SECONDS;
      await calls.saveProviderReport(sessionId, {
        conversationId: event.data.conversation_id,
        transcript: (event.data.transcript ?? []).map((line) => ({ role: line.role, text: line.message ?? '' })),
        summary: event.data.analysis?.transcript_summary ?? null,
        providerSeconds,
        mismatchSeconds: mismatch,
        flagged,
      });
      if (flagged) {
        ctx.log.warn(
          { session: sessionId, providerSeconds, metered: session.meteredSeconds },
          'call duration mismatch',
        );
        await ctx.audit({
          action: 'coach.duration_mismatch',
          target: { type: 'metered_session', id: sessionId },
          details: { providerSeconds, meteredSeconds: session.meteredSeconds },
        });
      }
      return { outcome: flagged ? 'flagged' : 'reconciled' };
    },
  };
}

/** Called in the transaction that ends a session: the care plan task commits with it. */
export async function onCallEnded(session: MeteredSession, tx: Kysely<unknown>, ctx: CoachContext): Promise<void> {
  await ctx.enqueue('coach.write-care-plan', { sessionId: session.id }, { tx, dedupeKey: `care-plan:${session.id}` });
}
