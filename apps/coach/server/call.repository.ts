import { sql, type Kysely } from '@ballast/platform';
import type { DB as CoachDB } from './coach.db.ts';
import type { CarePlanSource } from './providers/care-plan-writer.ts';

export interface CallRow {
  session_id: string;
  user_id: string;
  voice_mode: 'elevenlabs' | 'local';
  conversation_id: string | null;
  transcript: { role: string; text: string }[];
  summary: string | null;
  provider_seconds: number | null;
  duration_mismatch_seconds: number | null;
  flagged: boolean;
  created_at: Date;
}

export interface ConversationRow {
  conversation_id: string;
  session_id: string;
  user_id: string;
  signed_url: string | null;
  issued_at: Date;
  reported_at: Date | null;
}

export interface CarePlanRow {
  session_id: string;
  user_id: string;
  source: CarePlanSource;
  title: string;
  body: string;
  created_at: Date;
}

const conversationColumns = sql`conversation_id, session_id::text, user_id::text, signed_url, issued_at, reported_at`;

/** The coach's own tables (schema `coach`). */
export function createCallRepository(db: Kysely<CoachDB>) {
  return {
    async insertCall(
      tx: Kysely<CoachDB>,
      call: { sessionId: string; userId: string; voiceMode: CallRow['voice_mode'] },
    ) {
      await sql`insert into coach.call (session_id, user_id, voice_mode)
        values (${call.sessionId}::uuid, ${call.userId}::uuid, ${call.voiceMode}) on conflict do nothing`.execute(tx);
    },
    async call(sessionId: string, tx: Kysely<CoachDB> = db): Promise<CallRow | undefined> {
      const result = await sql<CallRow>`select session_id::text, user_id::text, voice_mode, conversation_id, transcript,
          summary, provider_seconds, duration_mismatch_seconds, flagged, created_at
        from coach.call where session_id = ${sessionId}::uuid`.execute(tx);
      return result.rows[0];
    },
    /** Holds the call's row until `tx` ends: one start at a time opens its conversations. */
    async lockCall(tx: Kysely<CoachDB>, sessionId: string): Promise<void> {
      await sql`select 1 from coach.call where session_id = ${sessionId}::uuid for update`.execute(tx);
    },
    async insertConversation(
      tx: Kysely<CoachDB>,
      conversation: { conversationId: string; sessionId: string; userId: string; signedUrl: string },
    ) {
      await sql`insert into coach.conversation (conversation_id, session_id, user_id, signed_url)
        values (${conversation.conversationId}, ${conversation.sessionId}::uuid, ${conversation.userId}::uuid,
          ${conversation.signedUrl})`.execute(tx);
    },
    async latestConversation(tx: Kysely<CoachDB>, sessionId: string): Promise<ConversationRow | undefined> {
      const result = await sql<ConversationRow>`select ${conversationColumns} from coach.conversation
        where session_id = ${sessionId}::uuid order by issued_at desc limit 1`.execute(tx);
      return result.rows[0];
    },
    /** Conversations ElevenLabs has not yet given its final record of, oldest first. */
    async unreportedConversations(by: { userId: string } | { sessionId: string }): Promise<ConversationRow[]> {
      const where = 'userId' in by ? sql`user_id = ${by.userId}::uuid` : sql`session_id = ${by.sessionId}::uuid`;
      const result = await sql<ConversationRow>`select ${conversationColumns} from coach.conversation
        where ${where} and reported_at is null order by issued_at`.execute(db);
      return result.rows;
    },
    /** One conversation; `lock` holds its row until `tx` ends. */
    async conversation(
      conversationId: string,
      tx: Kysely<CoachDB> = db,
      lock = false,
    ): Promise<ConversationRow | undefined> {
      const result = await sql<ConversationRow>`select ${conversationColumns} from coach.conversation
        where conversation_id = ${conversationId} ${lock ? sql`for update` : sql``}`.execute(tx);
      return result.rows[0];
    },
    /** The conversation has started: its single-use URL is of no more use to anyone. */
    async forgetSignedUrl(conversationId: string): Promise<void> {
      await sql`update coach.conversation set signed_url = null where conversation_id = ${conversationId}`.execute(db);
    },
    async saveConversationReport(
      tx: Kysely<CoachDB>,
      conversationId: string,
      report: { seconds: number; transcript: readonly { role: string; text: string }[]; summary: string | null },
    ): Promise<void> {
      await sql`update coach.conversation set provider_seconds = ${report.seconds},
          transcript = ${JSON.stringify(report.transcript)}::jsonb, summary = ${report.summary},
          signed_url = null, reported_at = now()
        where conversation_id = ${conversationId}`.execute(tx);
    },
    /** A call's conversations taken together: their reported seconds, transcripts in order and latest summary. */
    async conversationTotals(
      tx: Kysely<CoachDB>,
      sessionId: string,
    ): Promise<{ seconds: number; transcript: { role: string; text: string }[]; summary: string | null }> {
      const result = await sql<{
        seconds: number;
        transcript: { role: string; text: string }[];
        summary: string | null;
      }>`
        select coalesce((select sum(provider_seconds) from coach.conversation where session_id = ${sessionId}::uuid), 0)::int
            as seconds,
          coalesce((select jsonb_agg(line.value order by c.issued_at, line.ordinality)
            from coach.conversation c, jsonb_array_elements(c.transcript) with ordinality as line
            where c.session_id = ${sessionId}::uuid), '[]'::jsonb) as transcript,
          (select summary from coach.conversation where session_id = ${sessionId}::uuid and summary is not null
            order by issued_at desc limit 1) as summary`.execute(tx);
      return result.rows[0]!;
    },
    async saveTranscript(sessionId: string, transcript: readonly { role: string; text: string }[]) {
      await sql`update coach.call set transcript = ${JSON.stringify(transcript)}::jsonb
        where session_id = ${sessionId}::uuid`.execute(db);
    },
    async saveProviderReport(
      tx: Kysely<CoachDB>,
      sessionId: string,
      report: {
        conversationId: string;
        transcript: readonly { role: string; text: string }[];
        summary: string | null;
        providerSeconds: number | null;
        mismatchSeconds: number | null;
        flagged: boolean;
      },
    ) {
      await sql`update coach.call set conversation_id = ${report.conversationId},
          transcript = ${JSON.stringify(report.transcript)}::jsonb, summary = ${report.summary},
          provider_seconds = ${report.providerSeconds}, duration_mismatch_seconds = ${report.mismatchSeconds},
          flagged = ${report.flagged}
        where session_id = ${sessionId}::uuid`.execute(tx);
    },
    /** Flags a call for operators (`/api/coach/admin/calls/flagged`). */
    async flag(sessionId: string): Promise<void> {
      await sql`update coach.call set flagged = true where session_id = ${sessionId}::uuid`.execute(db);
    },
    async carePlan(sessionId: string, tx: Kysely<CoachDB> = db): Promise<CarePlanRow | undefined> {
      const result = await sql<CarePlanRow>`select session_id::text, user_id::text, source, title, body, created_at
        from coach.care_plan where session_id = ${sessionId}::uuid`.execute(tx);
      return result.rows[0];
    },
    async insertCarePlan(tx: Kysely<CoachDB>, plan: Omit<CarePlanRow, 'created_at'>): Promise<boolean> {
      const result = await sql`insert into coach.care_plan (session_id, user_id, source, title, body)
        values (${plan.session_id}::uuid, ${plan.user_id}::uuid, ${plan.source}, ${plan.title}, ${plan.body})
        on conflict do nothing`.execute(tx);
      return Number(result.numAffectedRows ?? 0) > 0;
    },
    async carePlans(userId: string): Promise<CarePlanRow[]> {
      const result = await sql<CarePlanRow>`select session_id::text, user_id::text, source, title, body, created_at
        from coach.care_plan where user_id = ${userId}::uuid order by created_at desc limit 100`.execute(db);
      return result.rows;
    },
    async calls(userId: string): Promise<CallRow[]> {
      const result = await sql<CallRow>`select session_id::text, user_id::text, voice_mode, conversation_id, transcript,
          summary, provider_seconds, duration_mismatch_seconds, flagged, created_at
        from coach.call where user_id = ${userId}::uuid order by created_at desc limit 100`.execute(db);
      return result.rows;
    },
    async flagged(): Promise<CallRow[]> {
      const result = await sql<CallRow>`select session_id::text, user_id::text, voice_mode, conversation_id, transcript,
          summary, provider_seconds, duration_mismatch_seconds, flagged, created_at
        from coach.call where flagged order by created_at desc limit 200`.execute(db);
      return result.rows;
    },
  };
}

export type CallRepository = ReturnType<typeof createCallRepository>;
