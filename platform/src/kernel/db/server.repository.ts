import { sql, type Kysely } from 'kysely';
import type pg from 'pg';

/**
 * Statements about the database server itself (no table): its version and clock for the doctor,
 * the round trip that proves a connection answers, and the creation of the embedded server's
 * database.
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

/**
 * Creates the database unless it exists, on an administrative connection (to `postgres`). Another
 * process creating it between the check and the create is not an error.
 */
export async function createDatabaseUnlessExists(client: pg.Client, database: string): Promise<void> {
  const found = await client.query('select 1 from pg_database where datname = $1', [database]);
  if (found.rowCount !== 0) return;
  await client.query(`create database ${client.escapeIdentifier(database)}`).catch((error: unknown) => {
    if ((error as { code?: string }).code !== '42P04') throw error;
  });
}
