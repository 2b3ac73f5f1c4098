import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, Job, JobState } from '#platform/db/pgboss.db.ts';

/**
 * pg-boss's tables (`job`, `version`), read for statistics, dead letters and upkeep; pg-boss itself
 * writes them. Every function runs on the handle it is given: `database.view<DB>('pgboss')`, or
 * the same inside a transaction (`tx.view<DB>('pgboss')`). Catalog lookups, ANALYZE and the
 * aggregates with `filter` are SQL.
 */

/**
 * pg-boss's schema version as stored, or null when pg-boss is not installed yet (read before
 * pg-boss starts, to tell whether its start installed or migrated the schema).
 */
export async function storedTaskSchemaVersion(db: Kysely<DB>, schema: string): Promise<number | null> {
  const table = await sql<{ found: string | null }>`select to_regclass(${`${schema}.version`})::text as found`.execute(
    db,
  );
  if (table.rows[0]?.found == null) return null;
  const row = await db.selectFrom('version').select('version').executeTakeFirst();
  return row?.version ?? null;
}

/**
 * Whether some partition of pg-boss's job table has no column statistics: never analysed, or
 * analysed while empty. The planner then guesses a couple of rows and claims with a full scan.
 */
export async function jobTableLacksStatistics(db: Kysely<DB>, schema: string): Promise<boolean> {
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
export async function analyzeJobTable(db: Kysely<DB>, schema: string): Promise<void> {
  await sql`analyze ${sql.table(`${schema}.job`)}`.execute(db);
}

/**
 * The channel pg-boss NOTIFYs on when a task is stored in a `notify` queue: pg-boss 12 derives it
 * in the database from its schema's name (its `notifyChannelSql`), and so does this.
 */
export async function notifyChannel(db: Kysely<DB>, schema: string): Promise<string> {
  const result = await sql<{
    channel: string;
  }>`select 'pgboss_' || left(encode(sha224(convert_to(${schema}, 'UTF8')), 'hex'), 24) as channel`.execute(db);
  const row = result.rows[0];
  if (row === undefined) throw new Error('no notify channel');
  return row.channel;
}

/** Jobs of the named queues counted by state; `deferred` marks created jobs not due yet. */
export type StateCount = Pick<Selectable<Job>, 'name'> & { state: JobState; deferred: boolean; count: string };

export async function countByState(db: Kysely<DB>, names: readonly string[]): Promise<StateCount[]> {
  const result = await sql<StateCount>`
    select name, state, (state = 'created' and start_after > now()) as deferred, count(*)::text as count
    from pgboss.job where name = any(${names})
    group by 1, 2, 3`.execute(db);
  return result.rows;
}

/** Per queue, how long the oldest job ready to run has waited, in seconds. */
export async function oldestWaiting(
  db: Kysely<DB>,
  names: readonly string[],
): Promise<(Pick<Selectable<Job>, 'name'> & { seconds: number })[]> {
  return db
    .selectFrom('job')
    .select(['name', sql<number>`extract(epoch from now() - min(start_after))::float8`.as('seconds')])
    .where('name', '=', anyOf(names))
    .where('state', 'in', ['created', 'retry'])
    .where('start_after', '<=', sql<Date>`now()`)
    .groupBy('name')
    .execute();
}

/** Per queue, the runs that completed and failed over the last hour. */
export async function outcomesLastHour(
  db: Kysely<DB>,
  names: readonly string[],
): Promise<(Pick<Selectable<Job>, 'name'> & { completed: string; failed: string })[]> {
  const result = await sql<Pick<Selectable<Job>, 'name'> & { completed: string; failed: string }>`
    select name, count(*) filter (where state = 'completed')::text as completed,
      count(*) filter (where state = 'failed')::text as failed
    from pgboss.job where name = any(${names}) and completed_on > now() - interval '1 hour'
    group by 1`.execute(db);
  return result.rows;
}

export type DeadLetterRow = Pick<
  Selectable<Job>,
  'id' | 'source_name' | 'data' | 'source_output' | 'source_retry_count' | 'created_on'
>;

/** The dead letters waiting in the given dead-letter queues, newest first. */
export async function listDeadLetters(
  db: Kysely<DB>,
  queues: readonly string[],
  limit: number,
): Promise<DeadLetterRow[]> {
  return db
    .selectFrom('job')
    .select(['id', 'source_name', 'data', 'source_output', 'source_retry_count', 'created_on'])
    .where('name', '=', anyOf(queues))
    .where('state', '=', 'created')
    .orderBy('created_on', 'desc')
    .limit(limit)
    .execute();
}

/** Completed and failed runs of the named queues per minute, over the last `minutes` (minutes with none left out). */
export async function outcomesPerMinute(
  db: Kysely<DB>,
  names: readonly string[],
  minutes: number,
): Promise<{ minute: Date; completed: string; failed: string }[]> {
  const result = await sql<{ minute: Date; completed: string; failed: string }>`
    select date_trunc('minute', completed_on) as minute,
      count(*) filter (where state = 'completed')::text as completed,
      count(*) filter (where state = 'failed')::text as failed
    from pgboss.job
    where name = any(${names}) and completed_on > date_trunc('minute', now()) - make_interval(mins => ${minutes - 1})
    group by 1 order by 1`.execute(db);
  return result.rows;
}

/** `= any($1)`: one array parameter, however many queues (and the same plan for any count). */
function anyOf(values: readonly string[]) {
  return sql<string>`any(${values})`;
}
