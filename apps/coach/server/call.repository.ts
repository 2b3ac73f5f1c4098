import { sql, type Kysely } from '@ballast/platform';

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

export interface CarePlanRow {
  session_id: string;
  user_id: string;
  source: 'gemini' | 'template';
  title: string;
  body: string;
  created_at: Date;
}

/** The coach's own tables (schema `coach`). */
export function createCallRepository(db: Kysely<unknown>) {
  return {
    async insertCall(
      tx: Kysely<unknown>,
      call: { sessionId: string; userId: string; voiceMode: CallRow['voice_mode'] },
    ) {
      await sql`insert into coach.call (session_id, user_id, voice_mode)
        values (${call.sessionId}::uuid, ${call.userId}::uuid, ${call.voiceMode}) on conflict do nothing`.execute(tx);
    },
    async call(sessionId: string, tx: Kysely<unknown> = db): Promise<CallRow | undefined> {
      const result = await sql<CallRow>`select session_id::text, user_id::text, voice_mode, conversation_id, transcript,
          summary, provider_seconds, duration_mismatch_seconds, flagged, created_at
        from coach.call where session_id = ${sessionId}::uuid`.execute(tx);
      return result.rows[0];
    },
    async saveTranscript(sessionId: string, transcript: readonly { role: string; text: string }[]) {
      await sql`update coach.call set transcript = ${JSON.stringify(transcript)}::jsonb
        where session_id = ${sessionId}::uuid`.execute(db);
    },
    async saveProviderReport(
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
        where session_id = ${sessionId}::uuid`.execute(db);
    },
    async carePlan(sessionId: string, tx: Kysely<unknown> = db): Promise<CarePlanRow | undefined> {
      const result = await sql<CarePlanRow>`select session_id::text, user_id::text, source, title, body, created_at
        from coach.care_plan where session_id = ${sessionId}::uuid`.execute(tx);
      return result.rows[0];
    },
    async insertCarePlan(tx: Kysely<unknown>, plan: Omit<CarePlanRow, 'created_at'>): Promise<boolean> {
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
