import { sql, type Kysely } from 'kysely';

/**
 * Deduplication keys of enqueued tasks, written in the enqueue's transaction. pg-boss's own
 * singleton policies only hold while a job waits or runs; a key here holds for good, which is
 * what "send this receipt once" needs.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('task_dedupe')
    .addColumn('task', 'text', (col) => col.notNull())
    .addColumn('key', 'text', (col) => col.notNull())
    .addColumn('job_id', 'uuid')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('task_dedupe_pkey', ['task', 'key'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('task_dedupe').execute();
}
