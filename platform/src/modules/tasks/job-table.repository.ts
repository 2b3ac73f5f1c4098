import { sql, type Kysely } from 'kysely';
import type { AnyKysely } from '#platform/kernel/db/database.ts';

type Db = Kysely<unknown> | Kysely<never> | AnyKysely;

/**
 * pg-boss's schema version as stored, or null when pg-boss is not installed yet (read before
 * pg-boss starts, to tell whether its start installed or migrated the schema).
 */
export async function storedTaskSchemaVersion(db: Db, schema: string): Promise<number | null> {
  const table = await sql<{ found: string | null }>`select to_regclass(${`${schema}.version`})::text as found`.execute(
    db,
  );
  if (table.rows[0]?.found == null) return null;
  const version = await sql<{ version: number }>`select version from ${sql.table(`${schema}.version`)}`.execute(db);
  return version.rows[0]?.version ?? null;
}

/**
 * Whether some partition of pg-boss's job table has no column statistics: never analysed, or
 * analysed while empty. The planner then guesses a couple of rows and claims with a full scan.
 */
export async function jobTableLacksStatistics(db: Db, schema: string): Promise<boolean> {
  const result = await sql<{ lacking: boolean }>`
    select exists (
      select 1 from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_namespace n on n.oid = c.relnamespace
      where i.inhparent = ${`${schema}.job`}::regclass
        and not exists (select 1 from pg_stats s where s.schemaname = n.nspname and s.tablename = c.relname)
    ) as lacking`.execute(db);
  return result.rows[0]?.lacking ?? false;
}

/** ANALYZE of pg-boss's job table and its partitions. */
export async function analyzeJobTable(db: Db, schema: string): Promise<void> {
  await sql`analyze ${sql.table(`${schema}.job`)}`.execute(db);
}
