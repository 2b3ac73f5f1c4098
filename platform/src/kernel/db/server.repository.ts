import { sql, type Kysely } from 'kysely';
import type pg from 'pg';

/**
 * Statements about the database server itself (no table): its version and clock for the doctor,
 * and the round trip that proves a connection answers.
 */

/** The server's version string and clock, for the doctor. */
export async function describeServer<Tables>(db: Kysely<Tables>): Promise<{ version: string; now: Date }> {
  const result = await sql<{ version: string; now: Date }>`select version() as version, now() as now`.execute(db);
  const row = result.rows[0];
  if (row === undefined) throw new Error('no answer from database');
  return row;
}

/**
 * `select 1` on one connection, with pg's own read timeout: a connection that does not answer
 * within `timeoutMs` fails, and is dropped on release rather than reused.
 */
export async function selectOne(client: pg.PoolClient, timeoutMs: number): Promise<void> {
  await client.query({ text: 'select 1', query_timeout: timeoutMs } as pg.QueryConfig);
}
