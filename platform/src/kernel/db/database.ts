import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Config } from '#platform/kernel/config/load-config.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts';

/**
 * A Kysely handle with no tables declared: good for raw `sql` and schema changes. The platform
 * and each app get typed access to their own tables with `database.forSchema<Tables>(schema)`.
 */
export type AnyKysely = Kysely<Record<string, never>>;

/** The connection to the system of record, and the embedded server behind it if any. */
export interface Database {
  /** Kysely over the pool; unqualified table names resolve to `public`. */
  readonly db: AnyKysely;
  readonly pool: pg.Pool;
  /** The connection string, for components that need connections of their own (LISTEN, pg-boss). */
  readonly url: string;
  /** Set when Ballast runs the embedded PostgreSQL for this process. */
  readonly embedded: EmbeddedPostgres | undefined;
  /** Kysely bound to one schema: unqualified tables resolve there. */
  forSchema<Tables>(schema: string): Kysely<Tables>;
  /** Round-trips `select 1`; resolves with the latency in milliseconds. */
  ping(timeoutMs?: number): Promise<number>;
  /** Closes the pool, then stops the embedded server if this process owns it. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  readonly config: Config;
  readonly log: Logger;
  /** Name reported to PostgreSQL (`application_name`), e.g. `ballast-web`. */
  readonly applicationName: string;
}

/**
 * Connects to `DATABASE_URL`, or, when it is unset, starts (or attaches to) the embedded
 * PostgreSQL in the data folder.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const { config, log } = options;
  const embedded =
    config.db.url === undefined
      ? await startEmbeddedPostgres({ dataDir: config.dataDir, preferredPort: config.db.embeddedPort, log })
      : undefined;
  const connectionString = config.db.url ?? embedded?.url;
  if (connectionString === undefined) throw new Error('no database');
  const pool = new pg.Pool({
    connectionString,
    max: config.db.poolMax,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName,
    ...(config.db.statementTimeoutMs > 0 ? { statement_timeout: config.db.statementTimeoutMs } : {}),
  });
  // An idle client whose server went away emits here; without a listener the process would crash.
  pool.on('error', (error) => log.warn({ err: error }, 'idle database connection failed'));
  const db: AnyKysely = new Kysely({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  return {
    db,
    pool,
    url: connectionString,
    embedded,
    forSchema: <Tables>(schema: string) => db.withSchema(schema) as unknown as Kysely<Tables>,
    async ping(timeoutMs = 2000) {
      const started = performance.now();
      const connecting = pool.connect();
      const client = await withTimeout(connecting, timeoutMs, 'database connection').catch((error: unknown) => {
        // If the connection arrives after we gave up, hand it straight back to the pool.
        connecting.then(
          (late) => late.release(),
          () => {},
        );
        throw error;
      });
      let failure: Error | undefined;
      try {
        await withTimeout(client.query('select 1'), timeoutMs, 'database query');
        return performance.now() - started;
      } catch (error) {
        failure = error as Error;
        throw error;
      } finally {
        client.release(failure);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
      if (embedded !== undefined) await embedded.stop();
    },
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The server's version string and clock, for the doctor. */
export async function describeServer(db: AnyKysely): Promise<{ version: string; now: Date }> {
  const result = await sql<{ version: string; now: Date }>`select version() as version, now() as now`.execute(db);
  const row = result.rows[0];
  if (row === undefined) throw new Error('no answer from database');
  return row;
}
