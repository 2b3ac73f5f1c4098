import { sql, type Kysely } from '@ballast/platform';

/**
 * Calls (one per metered session, with the voice mode and what the voice agent reported after
 * the call) and the care plans written from them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table coach.call (
      session_id uuid primary key,
      user_id uuid not null,
      voice_mode text not null check (voice_mode in ('elevenlabs', 'local')),
      conversation_id text unique,
      transcript jsonb not null default '[]',
      summary text,
      provider_seconds integer,
      duration_mismatch_seconds integer,
      flagged boolean not null default false,
      created_at timestamptz not null default now()
    );
    create index call_user on coach.call (user_id, created_at desc);
    create index call_flagged on coach.call (created_at desc) where flagged;

    create table coach.care_plan (
      session_id uuid primary key references coach.call (session_id),
      user_id uuid not null,
      source text not null check (source in ('gemini', 'template')),
      title text not null,
      body text not null,
      created_at timestamptz not null default now()
    );
    create index care_plan_user on coach.care_plan (user_id, created_at desc);
  `.execute(db);
}
