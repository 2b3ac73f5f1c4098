import { AppError, type AppContext, type MeteredSession } from '@ballast/platform';
import { endReasonText, LOCAL_COACH_LINES, type VoiceSetup } from '../shared/calls.ts';
import type { CoachSettings } from '../settings.ts';
import type { DB as CoachDB } from './coach.db.ts';
import { createCallRepository, type ConversationRow } from './call.repository.ts';
import {
  createElevenLabs,
  readConversation,
  verifyElevenLabsSignature,
  type ConversationRecord,
  type ConversationWire,
} from './providers/elevenlabs.ts';
import { createCarePlanWriter } from './providers/care-plan-writer.ts';

export type CoachContext = AppContext<CoachSettings, CoachDB>;

/** Mismatches between the voice agent's and our metered duration beyond this are flagged for admins. */
export const MISMATCH_TOLERANCE_SECONDS = 5;

/** ElevenLabs' signed URLs open a conversation only within this long after they are issued. */
export const SIGNED_URL_LIFETIME_SECONDS = 15 * 60;

/** Post-call webhook body from ElevenLabs (`post_call_transcription`), the parts the coach reads. */
interface PostCallWebhook {
  readonly type?: unknown;
  readonly data?: ConversationWire;
}

/**
 * Where a conversation stands at ElevenLabs: being talked on, its signed URL not yet used,
 * ended but not yet final (`processing`), or final and recorded here.
 */
type ConversationState = 'talking' | 'unused' | 'processing' | 'reported';

// One service per app: keyed by the app's database handle, which task contexts share with it.
const services = new WeakMap<object, ReturnType<typeof build>>();

/** The coach's service for a context (built once per app). */
export function coachService(ctx: CoachContext) {
  let service = services.get(ctx.db);
  if (service === undefined) {
    service = build(ctx);
    services.set(ctx.db, service);
  }
  return service;
}

function formatSeconds(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

function build(ctx: CoachContext) {
  const db = ctx.db;
  const calls = createCallRepository(db);
  const eleven =
    ctx.settings.elevenLabs === undefined
      ? undefined
      : createElevenLabs({ ...ctx.settings.elevenLabs, service: ctx.external('elevenlabs') });
  const writer = createCarePlanWriter(ctx.ai);

  /** Tells operators (log and audit trail) that a call's durations disagree. */
  async function reportMismatch(
    sessionId: string,
    details: { providerSeconds: number | null; meteredSeconds: number } & Record<string, unknown>,
  ): Promise<void> {
    ctx.log.warn(
      { session: sessionId, providerSeconds: details.providerSeconds, metered: details.meteredSeconds },
      'call duration mismatch',
    );
    await ctx.audit({
      action: 'coach.duration_mismatch',
      target: { type: 'metered_session', id: sessionId },
      details,
    });
  }

  /**
   * Records ElevenLabs' final record of a conversation Ballast opened, once: stores it, bills its
   * call for it (metering charges what it adds beyond the metered time, when the call has ended),
   * and flags a call whose durations disagree. Undefined when the conversation is not one of ours.
   */
  async function recordConversation(record: ConversationRecord & { readonly durationSeconds: number }) {
    const recorded = await ctx.transaction(async ({ db: tx, tx: handle }) => {
      const conversation = await calls.conversation(record.conversationId, tx, true);
      if (conversation === undefined) return undefined;
      if (conversation.reported_at !== null) return { sessionId: conversation.session_id, duplicate: true as const };
      await calls.saveConversationReport(tx, record.conversationId, {
        seconds: record.durationSeconds,
        transcript: record.transcript,
        summary: record.summary,
      });
      const settlement = await ctx.metering.report(
        conversation.session_id,
        { key: `elevenlabs:${record.conversationId}`, seconds: record.durationSeconds },
        { tx: handle },
      );
      const totals = await calls.conversationTotals(tx, conversation.session_id);
      // Compared once the call has ended: while it is live its metered time is still growing.
      const mismatch = settlement.status === 'ended' ? Math.abs(totals.seconds - settlement.meteredSeconds) : null;
      const flagged = mismatch !== null && mismatch > MISMATCH_TOLERANCE_SECONDS;
      await calls.saveProviderReport(tx, conversation.session_id, {
        conversationId: record.conversationId,
        transcript: totals.transcript,
        summary: totals.summary,
        providerSeconds: totals.seconds,
        mismatchSeconds: mismatch,
        flagged,
      });
      return { sessionId: conversation.session_id, duplicate: false as const, settlement, flagged };
    });
    if (recorded === undefined) return undefined;
    if (recorded.duplicate) return { outcome: 'duplicate' };
    const { settlement, flagged, sessionId } = recorded;
    if (flagged) {
      await reportMismatch(sessionId, {
        providerSeconds: settlement.reportedSeconds,
        meteredSeconds: settlement.meteredSeconds,
        chargedSeconds: settlement.chargedSeconds,
        unsettledSeconds: settlement.unsettledSeconds,
      });
    }
    return {
      outcome: settlement.status === 'active' ? 'recorded' : flagged ? 'flagged' : 'reconciled',
      chargedSeconds: settlement.chargedNowSeconds,
      unsettledSeconds: settlement.unsettledSeconds,
    };
  }

  /** Asks ElevenLabs where a conversation stands, recording its final record when there is one. */
  async function refresh(conversation: ConversationRow): Promise<ConversationState> {
    if (conversation.reported_at !== null) return 'reported';
    const record = await eleven!.conversation(conversation.conversation_id);
    if (record === undefined) {
      if (Date.now() - conversation.issued_at.getTime() < SIGNED_URL_LIFETIME_SECONDS * 1000) return 'unused';
      // Its signed URL expired unused: nothing was talked on it.
      await recordConversation({
        conversationId: conversation.conversation_id,
        status: 'done',
        durationSeconds: 0,
        transcript: [],
        summary: null,
      });
      return 'reported';
    }
    if (conversation.signed_url !== null) await calls.forgetSignedUrl(conversation.conversation_id);
    if ((record.status === 'done' || record.status === 'failed') && record.durationSeconds !== null) {
      await recordConversation({ ...record, durationSeconds: record.durationSeconds });
      return 'reported';
    }
    return record.status === 'initiated' || record.status === 'in-progress' ? 'talking' : 'processing';
  }

  /**
   * The signed URL for a live call: the one already issued while its conversation has not
   * started (a page that asks again gets the same single-use URL, never a second conversation),
   * else a new conversation bound to the call (after a reload, once the last one has ended).
   */
  async function issueConversation(
    session: MeteredSession,
    checked: ReadonlyMap<string, ConversationState>,
  ): Promise<string> {
    return ctx.transaction(async ({ db: tx }) => {
      await calls.lockCall(tx, session.id);
      const latest = await calls.latestConversation(tx, session.id);
      // Not among those checked: a start racing this one has just issued it, unused so far.
      if (latest?.signed_url != null && (checked.get(latest.conversation_id) ?? 'unused') === 'unused') {
        return latest.signed_url;
      }
      const issued = await eleven!.signedUrl();
      await calls.insertConversation(tx, { ...issued, sessionId: session.id, userId: session.userId });
      return issued.signedUrl;
    });
  }

  async function meteredStart(userId: string): Promise<{ session: MeteredSession; resumed: boolean }> {
    try {
      return await ctx.metering.start(userId);
    } catch (error) {
      if (error instanceof AppError && error.code === 'metering.no_balance') {
        throw new AppError(
          'payment_failed',
          'coach.insufficient_talktime',
          'You have no talk-time left: buy a pack to start a call',
        );
      }
      if (error instanceof AppError && error.code === 'metering.unsettled') {
        const owed = Number(error.details?.['unsettledSeconds'] ?? 0);
        throw new AppError(
          'payment_failed',
          'coach.unsettled_talktime',
          `An earlier call ran ${formatSeconds(owed)} past your talk-time: buy a pack to settle it before your next call`,
          { details: { unsettledSeconds: owed } },
        );
      }
      throw error;
    }
  }

  return {
    calls,
    writer,
    voiceMode: eleven === undefined ? ('local' as const) : ('elevenlabs' as const),

    /**
     * Starts the caller's call, or resumes their live one (one live call per user). In ElevenLabs
     * mode the server opens each conversation and so knows it: a start while the caller is
     * talking on a conversation is refused (`coach.call_in_progress`), a start while the live
     * call's URL is unused gets that URL again, and a start after the conversation ended (a page
     * reload) opens a new conversation for the same call. Refused without talk-time, or while an
     * earlier call still owes talk-time.
     */
    async startCall(userId: string): Promise<{ session: MeteredSession; resumed: boolean; voice: VoiceSetup }> {
      const checked = new Map<string, ConversationState>();
      if (eleven !== undefined) {
        for (const conversation of await calls.unreportedConversations({ userId })) {
          const state = await refresh(conversation);
          checked.set(conversation.conversation_id, state);
          if (state === 'talking') {
            throw new AppError(
              'conflict',
              'coach.call_in_progress',
              'Your call is still connected in another tab or window: hang up there, or wait a few seconds and try again',
              { details: { callId: conversation.session_id } },
            );
          }
        }
      }
      const started = await meteredStart(userId);
      await calls.insertCall(db, {
        sessionId: started.session.id,
        userId,
        voiceMode: eleven === undefined ? 'local' : 'elevenlabs',
      });
      const voice: VoiceSetup =
        eleven === undefined
          ? { mode: 'local', lines: LOCAL_COACH_LINES }
          : { mode: 'elevenlabs', signedUrl: await issueConversation(started.session, checked) };
      return { ...started, voice };
    },

    /**
     * Resumes the caller's live call `sessionId` after a page reload: a heartbeat (arriving at
     * `arrivedAt`) keeps it alive, and the page gets its voice setup again (in ElevenLabs mode a
     * new conversation once the last one has ended, as `startCall` does). Never starts another
     * call: one that has ended meanwhile is refused with `coach.call_ended`, naming its end reason
     * and metered time, so the page can say why. Another user's or an unknown call answers 404.
     */
    async resumeCall(
      userId: string,
      sessionId: string,
      arrivedAt: number,
    ): Promise<{ session: MeteredSession; meteredSeconds: number; voice: VoiceSetup }> {
      const beat = await ctx.metering.heartbeat(userId, sessionId, arrivedAt);
      const session = beat.status === 'active' ? await ctx.metering.get(sessionId) : undefined;
      if (session === undefined || session.status !== 'active') {
        const ended = session ?? (await ctx.metering.get(sessionId));
        const reason = ended?.endReason ?? beat.endReason ?? null;
        throw new AppError(
          'conflict',
          'coach.call_ended',
          `The call has already ended: ${reason === null ? 'it is over' : (endReasonText[reason] ?? reason)}`,
          { details: { endReason: reason, meteredSeconds: ended?.meteredSeconds ?? beat.meteredSeconds } },
        );
      }
      if (eleven === undefined) {
        return { session, meteredSeconds: beat.meteredSeconds, voice: { mode: 'local', lines: LOCAL_COACH_LINES } };
      }
      const checked = new Map<string, ConversationState>();
      for (const conversation of await calls.unreportedConversations({ sessionId })) {
        const state = await refresh(conversation);
        checked.set(conversation.conversation_id, state);
        if (state === 'talking') {
          throw new AppError(
            'conflict',
            'coach.call_in_progress',
            'Your call is still connected in another tab or window: hang up there, or wait a few seconds and try again',
            { details: { callId: sessionId } },
          );
        }
      }
      return {
        session,
        meteredSeconds: beat.meteredSeconds,
        voice: { mode: 'elevenlabs', signedUrl: await issueConversation(session, checked) },
      };
    },

    /**
     * Asks ElevenLabs for the final record of each of a call's conversations not yet recorded
     * (and bills them); resolves with how many are not final yet.
     */
    async settleCall(sessionId: string): Promise<number> {
      if (eleven === undefined) return 0;
      let pending = 0;
      for (const conversation of await calls.unreportedConversations({ sessionId })) {
        if ((await refresh(conversation)) !== 'reported') pending += 1;
      }
      return pending;
    },

    /**
     * ElevenLabs' signed post-call webhook. A conversation Ballast opened is billed from it; a
     * report naming a call only through the browser-supplied `ballast_session_id` is stored and
     * reconciled against the metered time but never billed (the browser chose that variable).
     */
    async handlePostCall(rawBody: Buffer, signature: string | undefined): Promise<{ outcome: string }> {
      const secret = ctx.settings.elevenLabsWebhookSecret;
      if (secret === undefined) throw new AppError('not_found', 'http.not_found', 'Not found');
      verifyElevenLabsSignature(secret, signature, rawBody);
      let event: PostCallWebhook;
      try {
        event = JSON.parse(rawBody.toString('utf8')) as PostCallWebhook;
      } catch {
        throw new AppError('invalid_input', 'coach.invalid_webhook', 'The webhook body is not JSON');
      }
      if (event.type !== 'post_call_transcription' || typeof event.data?.conversation_id !== 'string') {
        return { outcome: 'ignored' };
      }
      const record = readConversation(event.data);
      if (record.durationSeconds !== null) {
        const bound = await recordConversation({ ...record, durationSeconds: record.durationSeconds });
        if (bound !== undefined) return bound;
      } else if ((await calls.conversation(record.conversationId)) !== undefined) {
        // Ours, but without a duration: the conversation API is asked after the call instead.
        return { outcome: 'ignored: no duration' };
      }
      const sessionId = event.data.conversation_initiation_client_data?.dynamic_variables?.['ballast_session_id'];
      if (typeof sessionId !== 'string') return { outcome: 'ignored: no session' };
      const call = await calls.call(sessionId).catch(() => undefined);
      const session = call === undefined ? undefined : await ctx.metering.get(sessionId);
      if (call === undefined || session === undefined) return { outcome: 'ignored: unknown session' };
      const providerSeconds = record.durationSeconds;
      const mismatch = providerSeconds === null ? null : Math.abs(providerSeconds - session.meteredSeconds);
      const flagged = mismatch !== null && mismatch > MISMATCH_TOLERANCE_SECONDS;
      await calls.saveProviderReport(db, sessionId, {
        conversationId: record.conversationId,
        transcript: record.transcript,
        summary: record.summary,
        providerSeconds,
        mismatchSeconds: mismatch,
        flagged,
      });
      if (flagged) await reportMismatch(sessionId, { providerSeconds, meteredSeconds: session.meteredSeconds });
      return { outcome: flagged ? 'flagged' : 'reconciled' };
    },
  };
}
