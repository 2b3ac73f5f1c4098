import { sql, type Kysely } from 'kysely';

/** The installation record: one row, created on first start, kept forever. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('installation')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('singleton', 'boolean', (col) =>
      col
        .notNull()
        .defaultTo(true)
        .unique()
        .check(sql`singleton`),
    )
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('installation').execute();
}
