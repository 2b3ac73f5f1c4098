import { sql, type Kysely } from '@ballast/platform';

/**
 * The ElevenLabs conversations opened for each call: the server asks for each one (its id known
 * before the browser connects), so every conversation is bound to a metered call and is billed
 * from ElevenLabs' own record of it. `signed_url` is kept only until the conversation starts, so a
 * page that asks again gets the same single-use URL rather than a second conversation.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table coach.conversation (
      conversation_id text primary key,
      session_id uuid not null references coach.call (session_id),
      user_id uuid not null,
      signed_url text,
      issued_at timestamptz not null default now(),
      provider_seconds integer check (provider_seconds >= 0),
      transcript jsonb not null default '[]',
      summary text,
      reported_at timestamptz
    );
    create index conversation_session on coach.conversation (session_id, issued_at);
    create index conversation_unreported on coach.conversation (user_id) where reported_at is null;
  `.execute(db);
}
