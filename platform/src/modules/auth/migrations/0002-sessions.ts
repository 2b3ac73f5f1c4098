import { sql, type Kysely } from 'kysely';

/**
 * One row per sign-in (a browser or an API client holding a token): listed on the account page,
 * and what "sign out other sessions" removes. A row counts only while its `generation` equals the
 * user's `token_generation` (a password change or sign-out everywhere ends every earlier one).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('session')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('user.id').onDelete('cascade'))
    .addColumn('generation', 'integer', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('user_agent', 'text', (col) => col.check(sql`length(user_agent) <= 300`))
    .addColumn('ip', 'text', (col) => col.check(sql`length(ip) <= 64`))
    .execute();
  await db.schema.createIndex('session_user_id').on('session').columns(['user_id', 'generation']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('session').execute();
}
