import { sql, type Kysely, type Selectable } from '@ballast/platform';
import type { Call, CarePlan, Conversation, DB as CoachDB } from './coach.db.ts';
import type { CarePlanSource } from './providers/care-plan-writer.ts';

/**
 * One line of a call's transcript, as stored in the `transcript` jsonb columns (a type literal, not
 * an interface, so that it is a JSON value to the generated column types).
 */
export type TranscriptLine = { role: string; text: string };

/**
 * A call, with the columns the schema's checks narrow: `voice_mode` is 'elevenlabs' or 'local',
 * `transcript` an array of lines.
 */
export type CallRow = Omit<Selectable<Call>, 'voice_mode' | 'transcript'> & {
  voice_mode: 'elevenlabs' | 'local';
  transcript: TranscriptLine[];
};

export type ConversationRow = Pick<
  Selectable<Conversation>,
  'conversation_id' | 'session_id' | 'user_id' | 'signed_url' | 'issued_at' | 'reported_at'
>;

/** A care plan; `source` is the provider that wrote it or 'template' (the schema's check). */
export type CarePlanRow = Omit<Selectable<CarePlan>, 'source'> & { source: CarePlanSource };

const callColumns = [
  'session_id',
  'user_id',
  'voice_mode',
  'conversation_id',
  'transcript',
  'summary',
  'provider_seconds',
  'duration_mismatch_seconds',
  'flagged',
  'created_at',
] as const;

const conversationColumns = [
  'conversation_id',
  'session_id',
  'user_id',
  'signed_url',
  'issued_at',
  'reported_at',
] as const;

const carePlanColumns = ['session_id', 'user_id', 'source', 'title', 'body', 'created_at'] as const;

/** A transcript as a jsonb value (node-postgres would send a bare array as a PostgreSQL array). */
function transcriptJson(transcript: readonly TranscriptLine[]) {
  return sql<TranscriptLine[]>`cast(${JSON.stringify(transcript)} as jsonb)`;
}

const now = () => sql<Date>`now()`;

/**
 * The coach's own tables (schema `coach`), on the app's handle (`ctx.db`) or, where a function
 * takes `tx`, on the handle of an open transaction. A call's conversation totals are SQL.
 */
export function createCallRepository(db: Kysely<CoachDB>) {
  const calls = (on: Kysely<CoachDB>) =>
    on.selectFrom('call').select(callColumns).$narrowType<Pick<CallRow, 'voice_mode' | 'transcript'>>();
  const carePlans = (on: Kysely<CoachDB>) =>
    on.selectFrom('care_plan').select(carePlanColumns).$narrowType<Pick<CarePlanRow, 'source'>>();

  return {
    async insertCall(
      tx: Kysely<CoachDB>,
      call: { sessionId: string; userId: string; voiceMode: CallRow['voice_mode'] },
    ): Promise<void> {
      await tx
        .insertInto('call')
        .values({ session_id: call.sessionId, user_id: call.userId, voice_mode: call.voiceMode })
        .onConflict((conflict) => conflict.doNothing())
        .execute();
    },
    async call(sessionId: string, tx: Kysely<CoachDB> = db): Promise<CallRow | undefined> {
      return calls(tx).where('session_id', '=', sessionId).executeTakeFirst();
    },
    /** The calls of these sessions (those that have one), in one statement. */
    async callsOf(sessionIds: readonly string[], tx: Kysely<CoachDB> = db): Promise<CallRow[]> {
      if (sessionIds.length === 0) return [];
      return calls(tx).where('session_id', 'in', sessionIds).execute();
    },
    /** Holds the call's row until `tx` ends: one start at a time opens its conversations. */
    async lockCall(tx: Kysely<CoachDB>, sessionId: string): Promise<void> {
      await tx.selectFrom('call').select('session_id').where('session_id', '=', sessionId).forUpdate().execute();
    },
    async insertConversation(
      tx: Kysely<CoachDB>,
      conversation: { conversationId: string; sessionId: string; userId: string; signedUrl: string },
    ): Promise<void> {
      await tx
        .insertInto('conversation')
        .values({
          conversation_id: conversation.conversationId,
          session_id: conversation.sessionId,
          user_id: conversation.userId,
          signed_url: conversation.signedUrl,
        })
        .execute();
    },
    async latestConversation(tx: Kysely<CoachDB>, sessionId: string): Promise<ConversationRow | undefined> {
      return tx
        .selectFrom('conversation')
        .select(conversationColumns)
        .where('session_id', '=', sessionId)
        .orderBy('issued_at', 'desc')
        .limit(1)
        .executeTakeFirst();
    },
    /** Conversations ElevenLabs has not yet given its final record of, oldest first. */
    async unreportedConversations(by: { userId: string } | { sessionId: string }): Promise<ConversationRow[]> {
      return db
        .selectFrom('conversation')
        .select(conversationColumns)
        .where('userId' in by ? 'user_id' : 'session_id', '=', 'userId' in by ? by.userId : by.sessionId)
        .where('reported_at', 'is', null)
        .orderBy('issued_at')
        .execute();
    },
    /** One conversation; `lock` holds its row until `tx` ends. */
    async conversation(
      conversationId: string,
      tx: Kysely<CoachDB> = db,
      lock = false,
    ): Promise<ConversationRow | undefined> {
      return tx
        .selectFrom('conversation')
        .select(conversationColumns)
        .where('conversation_id', '=', conversationId)
        .$if(lock, (query) => query.forUpdate())
        .executeTakeFirst();
    },
    /** The conversation has started: its single-use URL is of no more use to anyone. */
    async forgetSignedUrl(conversationId: string): Promise<void> {
      await db
        .updateTable('conversation')
        .set({ signed_url: null })
        .where('conversation_id', '=', conversationId)
        .execute();
    },
    async saveConversationReport(
      tx: Kysely<CoachDB>,
      conversationId: string,
      report: { seconds: number; transcript: readonly TranscriptLine[]; summary: string | null },
    ): Promise<void> {
      await tx
        .updateTable('conversation')
        .set({
          provider_seconds: report.seconds,
          transcript: transcriptJson(report.transcript),
          summary: report.summary,
          signed_url: null,
          reported_at: now(),
        })
        .where('conversation_id', '=', conversationId)
        .execute();
    },
    /** A call's conversations taken together: their reported seconds, transcripts in order and latest summary. */
    async conversationTotals(
      tx: Kysely<CoachDB>,
      sessionId: string,
    ): Promise<{ seconds: number; transcript: TranscriptLine[]; summary: Conversation['summary'] }> {
      const result = await sql<{ seconds: number; transcript: TranscriptLine[]; summary: Conversation['summary'] }>`
        select coalesce((select sum(provider_seconds) from coach.conversation where session_id = ${sessionId}::uuid), 0)::int
            as seconds,
          coalesce((select jsonb_agg(line.value order by c.issued_at, line.ordinality)
            from coach.conversation c, jsonb_array_elements(c.transcript) with ordinality as line
            where c.session_id = ${sessionId}::uuid), '[]'::jsonb) as transcript,
          (select summary from coach.conversation where session_id = ${sessionId}::uuid and summary is not null
            order by issued_at desc limit 1) as summary`.execute(tx);
      return result.rows[0]!;
    },
    async saveTranscript(sessionId: string, transcript: readonly TranscriptLine[]): Promise<void> {
      await db
        .updateTable('call')
        .set({ transcript: transcriptJson(transcript) })
        .where('session_id', '=', sessionId)
        .execute();
    },
    async saveProviderReport(
      tx: Kysely<CoachDB>,
      sessionId: string,
      report: {
        conversationId: string;
        transcript: readonly TranscriptLine[];
        summary: string | null;
        providerSeconds: number | null;
        mismatchSeconds: number | null;
        flagged: boolean;
      },
    ): Promise<void> {
      await tx
        .updateTable('call')
        .set({
          conversation_id: report.conversationId,
          transcript: transcriptJson(report.transcript),
          summary: report.summary,
          provider_seconds: report.providerSeconds,
          duration_mismatch_seconds: report.mismatchSeconds,
          flagged: report.flagged,
        })
        .where('session_id', '=', sessionId)
        .execute();
    },
    /** Flags a call for operators (`/api/coach/admin/calls/flagged`). */
    async flag(sessionId: string): Promise<void> {
      await db.updateTable('call').set({ flagged: true }).where('session_id', '=', sessionId).execute();
    },
    async carePlan(sessionId: string, tx: Kysely<CoachDB> = db): Promise<CarePlanRow | undefined> {
      return carePlans(tx).where('session_id', '=', sessionId).executeTakeFirst();
    },
    /** Stores the call's care plan unless it has one; false when it had. */
    async insertCarePlan(tx: Kysely<CoachDB>, plan: Omit<CarePlanRow, 'created_at'>): Promise<boolean> {
      const inserted = await tx
        .insertInto('care_plan')
        .values({
          session_id: plan.session_id,
          user_id: plan.user_id,
          source: plan.source,
          title: plan.title,
          body: plan.body,
        })
        .onConflict((conflict) => conflict.doNothing())
        .returning('session_id')
        .executeTakeFirst();
      return inserted !== undefined;
    },
    async carePlans(userId: string): Promise<CarePlanRow[]> {
      return carePlans(db).where('user_id', '=', userId).orderBy('created_at', 'desc').limit(100).execute();
    },
    async calls(userId: string): Promise<CallRow[]> {
      return calls(db).where('user_id', '=', userId).orderBy('created_at', 'desc').limit(100).execute();
    },
    async flagged(): Promise<CallRow[]> {
      return calls(db).where('flagged', '=', true).orderBy('created_at', 'desc').limit(200).execute();
    },
  };
}

export type CallRepository = ReturnType<typeof createCallRepository>;
