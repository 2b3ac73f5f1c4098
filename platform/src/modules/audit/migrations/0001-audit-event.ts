import { sql, type Kysely } from 'kysely';

/** The audit trail: append-only for the role the application connects as. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_event')
    .addColumn('id', 'bigserial', (col) => col.primaryKey())
    .addColumn('at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('actor_id', 'uuid')
    .addColumn('actor_email', 'text')
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('before', 'jsonb')
    .addColumn('after', 'jsonb')
    .addColumn('details', 'jsonb')
    .execute();
  await db.schema.createIndex('audit_event_at').on('audit_event').column('at').execute();
  await db.schema.createIndex('audit_event_action_at').on('audit_event').columns(['action', 'at']).execute();
  // Append-only for the role the application connects as: history cannot be rewritten.
  await sql`
    create function platform.audit_event_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_event is append-only';
    end $$`.execute(db);
  await sql`
    create trigger audit_event_append_only before update or delete or truncate on platform.audit_event
    for each statement execute function platform.audit_event_append_only()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger audit_event_append_only on platform.audit_event`.execute(db);
  await sql`drop function platform.audit_event_append_only()`.execute(db);
  await db.schema.dropTable('audit_event').execute();
}
