import { sql, type Kysely } from 'kysely';

/** Metered sessions: one row per call, billed by the second from heartbeats. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table platform.metered_session (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references platform."user"(id) on delete cascade,
      app text not null,
      unit text not null,
      status text not null default 'active' check (status in ('active', 'ended')),
      started_at timestamptz not null,
      max_seconds integer not null check (max_seconds > 0),
      last_heartbeat_at timestamptz not null,
      metered_seconds integer not null default 0 check (metered_seconds >= 0),
      warned_at timestamptz,
      ended_at timestamptz,
      end_reason text,
      details jsonb not null default '{}'
    );
    -- One live session per user and app: starting again resumes it.
    create unique index metered_session_live on platform.metered_session (user_id, app) where status = 'active';
    create index metered_session_active on platform.metered_session (last_heartbeat_at) where status = 'active';
  `.execute(db);
}
