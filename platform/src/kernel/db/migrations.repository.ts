import { sql, type Kysely } from 'kysely';
import type { EmptyDB } from './database.ts';

/**
 * The migrator's bookkeeping tables (`<schema>.kysely_migration*`), which Kysely's `Migrator`
 * creates and writes: read to list pending migrations, and rewritten once when a database from
 * before the per-module layout is adopted. The table names vary per owner, so these are SQL on
 * the root handle (or a transaction of it).
 */

/**
 * The names of the migrations recorded in `schema.table`; undefined when that table does not
 * exist yet (nothing of the owner was ever applied).
 */
export async function appliedMigrationNames(
  db: Kysely<EmptyDB>,
  schema: string,
  table: string,
): Promise<Set<string> | undefined> {
  try {
    const rows = await sql<{ name: string }>`select name from ${sql.id(schema, table)}`.execute(db);
    return new Set(rows.rows.map((row) => row.name));
  } catch (error) {
    if ((error as { code?: string }).code !== '42P01') throw error;
    return undefined;
  }
}

/** Whether the platform's single pre-module migration table still exists. */
export async function legacyPlatformTableExists(db: Kysely<EmptyDB>): Promise<boolean> {
  const found = await sql<{
    exists: boolean;
  }>`select to_regclass('platform.kysely_migration') is not null as exists`.execute(db);
  return found.rows[0]?.exists === true;
}

/** The legacy entries with these names, locked until the transaction ends. */
export async function lockLegacyEntries(
  db: Kysely<EmptyDB>,
  names: readonly string[],
): Promise<{ name: string; timestamp: string }[]> {
  const rows = await sql<{ name: string; timestamp: string }>`select name, timestamp from platform.kysely_migration
    where name = any(${names}) for update`.execute(db);
  return rows.rows;
}

/** Records `name` as applied at `timestamp` in `platform.<table>`, creating the table as Kysely's migrator would. */
export async function recordPlatformMigration(
  db: Kysely<EmptyDB>,
  table: string,
  name: string,
  timestamp: string,
): Promise<void> {
  // The same columns Kysely's migrator creates its tables with.
  await sql`create table if not exists ${sql.id('platform', table)}
    (name varchar(255) not null primary key, timestamp varchar(255) not null)`.execute(db);
  await sql`insert into ${sql.id('platform', table)} (name, timestamp) values (${name}, ${timestamp})
    on conflict do nothing`.execute(db);
}

export async function deleteLegacyEntries(db: Kysely<EmptyDB>, names: readonly string[]): Promise<void> {
  await sql`delete from platform.kysely_migration where name = any(${names})`.execute(db);
}
