import {
  Kysely,
  PostgresDialect,
  type PostgresCursor,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import type { Config } from '#platform/kernel/config/load-config.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import { isDatabaseUnavailable } from './connection-errors.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts';
import { selectOne } from './server.repository.ts';
import { createPreparingClient } from './prepared-statements.ts';

/** Tables by name, as Kysely types them (the generated `*.db.ts` files declare one per schema). */
export type TableMap = Record<string, Record<string, unknown>>;

/** A database type with no tables: the root every typed view is derived from. */
export type EmptyDB = Record<never, never>;

/**
 * An open transaction that any module or app can join: pass it as `{ tx }` to a platform call
 * (enqueue a task, send a notification, write the ledger) and that write commits or rolls back with
 * yours. `tx.view<Tables>(schema)` is a typed handle on the same connection.
 */
export interface Tx {
  view<Tables extends TableMap>(schema: string): Kysely<Tables>;
}

/** Wraps a root transaction as a `Tx`. */
function txOf(trx: Transaction<EmptyDB>): Tx {
  return {
    view: <Tables extends TableMap>(schema: string): Kysely<Tables> => trx.withSchema(schema).withTables<Tables>(),
  };
}

/** The connection to the system of record, and the embedded server behind it if any. */
export interface Database {
  /**
   * Kysely over the pool with no tables declared: for the migrator and statements about the
   * server itself. Modules and apps query their tables through `view`, typed by the generated
   * `*.db.ts` files, in their repositories.
   */
  readonly db: Kysely<EmptyDB>;
  readonly pool: pg.Pool;
  /** The connection string, for components that need connections of their own (LISTEN, pg-boss). */
  readonly url: string;
  /**
   * TCP keep-alive and client-side timeouts every connection to the database carries, the
   * pool's and those of components with connections of their own, so a database that goes
   * silent (a failover that leaves old connections hanging) fails their statements instead of
   * hanging them forever.
   */
  readonly clientOptions: DatabaseClientOptions;
  /** How often a long-lived LISTEN connection must prove it still answers, in ms. */
  readonly listenerCheckMs: number;
  /** Whether pools prepare repeated statements (`DATABASE_PREPARED_STATEMENTS`, `createPreparingClient`). */
  readonly preparedStatements: boolean;
  /** Set when Ballast runs the embedded PostgreSQL for this process. */
  readonly embedded: EmbeddedPostgres | undefined;
  /** A typed handle on one schema's tables (`Tables` from its generated `*.db.ts`): unqualified tables resolve there. */
  view<Tables extends TableMap>(schema: string): Kysely<Tables>;
  /** Runs `work` in one transaction; pass the `Tx` it receives to other modules' calls as `{ tx }`. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
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
  /**
   * Called once when the embedded PostgreSQL this process runs died and could not be restarted
   * within `EMBEDDED_DB_RESTARTS` attempts: the process cannot recover by itself.
   */
  readonly onEmbeddedFailure?: (error: Error) => void;
}

/** pg connection settings shared by every connection Ballast opens (see `Database.clientOptions`). */
export interface DatabaseClientOptions {
  readonly keepAlive: true;
  /** Idle time before the first keep-alive probe; Node then probes every second, ten times. */
  readonly keepAliveInitialDelayMillis: number;
  readonly connectionTimeoutMillis: number;
  /** Client-side: no answer within this long fails the statement and the connection is dropped. */
  readonly query_timeout?: number;
  /** Server-side: PostgreSQL cancels a statement running longer. */
  readonly statement_timeout?: number;
}

/** The keep-alive and timeout settings of `config.db`, as pg takes them. */
export function clientOptionsOf(settings: Config['db']): DatabaseClientOptions {
  return {
    keepAlive: true,
    keepAliveInitialDelayMillis: settings.keepAliveDelayMs,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    ...(settings.queryTimeoutMs > 0 ? { query_timeout: settings.queryTimeoutMs } : {}),
    ...(settings.statementTimeoutMs > 0 ? { statement_timeout: settings.statementTimeoutMs } : {}),
  };
}

/**
 * Closes a connection's socket at once. `client.end()` politely waits for the server's goodbye,
 * which a silent server never sends: the socket would stay open for good.
 */
export function destroyConnection(client: pg.Client | pg.PoolClient): void {
  // pg-pool reaches the socket the same way when a connection attempt times out.
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * The pool as Kysely sees it, except that a connection whose statement failed because the
 * database stopped answering (timed out, dropped) is closed instead of returned to the pool:
 * Kysely releases connections without saying how their statements went, and a connection
 * whose statement timed out would otherwise fail every later statement queued behind it.
 */
function discardingBrokenConnections(pool: pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      let broken: Error | undefined;
      function query<R>(text: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>>;
      function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
      function query(
        text: string | PostgresCursor<unknown>,
        parameters: readonly unknown[] = [],
      ): Promise<PostgresQueryResult<unknown>> | PostgresCursor<unknown> {
        // Kysely streams through a cursor only when the dialect is given one; this one is not.
        if (typeof text !== 'string') throw new Error('streaming queries are not configured');
        return client.query(text, [...parameters]).then(
          (result) => ({
            command: result.command as PostgresQueryResult<unknown>['command'],
            rowCount: result.rowCount ?? 0,
            rows: result.rows,
          }),
          (error: unknown) => {
            if (isDatabaseUnavailable(error)) broken ??= error as Error;
            throw error;
          },
        );
      }
      return { query, release: (destroy) => client.release(broken ?? destroy) };
    },
    end: () => pool.end(),
  };
}

/**
 * Connects to `DATABASE_URL`, or, when it is unset, starts (or attaches to) the embedded
 * PostgreSQL in the data folder.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const { config, log } = options;
  const embedded =
    config.db.url === undefined
      ? await startEmbeddedPostgres({
          dataDir: config.dataDir,
          preferredPort: config.db.embeddedPort,
          log,
          restarts: config.db.embeddedRestarts,
          ...(options.onEmbeddedFailure === undefined ? {} : { onFailure: options.onEmbeddedFailure }),
        })
      : undefined;
  const connectionString = config.db.url ?? embedded?.url;
  if (connectionString === undefined) throw new Error('no database');
  const clientOptions = clientOptionsOf(config.db);
  const pool = new pg.Pool({
    connectionString,
    max: config.db.poolMax,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName,
    ...clientOptions,
    // Repeated statements prepared per connection; `*` selects stay unprepared (see PreparingOptions).
    ...(config.db.preparedStatements
      ? { Client: createPreparingClient({ withParameters: 256, withoutParameters: 32, skipStar: true }) }
      : {}),
  });
  // An idle client whose server went away emits here; without a listener the process would crash.
  pool.on('error', (error) => log.warn({ err: error }, 'idle database connection failed'));
  // A connection given up on (timed out, dropped) is closed at once rather than politely.
  pool.on('release', (error: Error | undefined, client: pg.PoolClient) => {
    if (isDatabaseUnavailable(error)) destroyConnection(client);
  });
  const db = new Kysely<EmptyDB>({ dialect: new PostgresDialect({ pool: discardingBrokenConnections(pool) }) });
  let closed = false;
  return {
    db,
    pool,
    url: connectionString,
    clientOptions,
    listenerCheckMs: config.db.listenerCheckMs,
    preparedStatements: config.db.preparedStatements,
    embedded,
    view: <Tables extends TableMap>(schema: string) => db.withSchema(schema).withTables<Tables>(),
    transaction: <T>(work: (tx: Tx) => Promise<T>) => db.transaction().execute((trx) => work(txOf(trx))),
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
        await selectOne(client, timeoutMs);
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
