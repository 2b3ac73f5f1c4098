import { sql, type Kysely } from 'kysely';

/**
 * What a provider reports a session used (a voice agent's own record of the conversation), once
 * per report key, and what a session still owes when the balance could not cover its usage
 * (unsettled: it blocks new sessions until paid or cleared by an operator).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table platform.metered_session
      add column unsettled_seconds integer not null default 0 check (unsettled_seconds >= 0),
      add column forgiven_seconds integer not null default 0 check (forgiven_seconds >= 0);
    create index metered_session_unsettled on platform.metered_session (user_id, app) where unsettled_seconds > 0;

    create table platform.metered_report (
      session_id uuid not null references platform.metered_session (id) on delete cascade,
      key text not null,
      seconds integer not null check (seconds >= 0),
      reported_at timestamptz not null default now(),
      primary key (session_id, key)
    );

    -- What a session was charged is read from the ledger by its reference when it is settled.
    create index ledger_entry_reference on platform.ledger_entry (app, reference) where reference is not null;
  `.execute(db);
}
