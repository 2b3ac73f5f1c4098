import pg from 'pg';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import { reconnectDelayMs, type RealtimeBus } from '#platform/modules/realtime/realtime-bus.ts';

/** The LISTEN/NOTIFY channel; a database is one deployment, so the name needs no qualifier. */
export const POSTGRES_BUS_CHANNEL = 'ballast_realtime';

export interface PostgresBusOptions {
  /** The database's connection string: the listener is a dedicated connection, outside the pool. */
  readonly connectionString: string;
  /** Publishing borrows a pool connection for one `pg_notify`. */
  readonly pool: pg.Pool;
  readonly log: Logger;
}

/**
 * Fan-out through PostgreSQL LISTEN/NOTIFY: nothing to run besides the database. One dedicated
 * connection per node listens; when it drops, it is reopened with growing delays, and messages
 * published in between are lost to this node (clients refetch after a reconnect).
 */
export function createPostgresBus(options: PostgresBusOptions): RealtimeBus {
  const { log } = options;
  let listener: pg.Client | undefined;
  let deliver: ((payload: string) => void) | undefined;
  let closed = false;
  let attempt = 0;
  let retry: NodeJS.Timeout | undefined;

  async function connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: options.connectionString,
      application_name: 'ballast-realtime',
      keepAlive: true,
    });
    client.on('notification', (message) => {
      if (message.channel === POSTGRES_BUS_CHANNEL && message.payload !== undefined) deliver?.(message.payload);
    });
    client.on('error', (error) => lost(client, error));
    client.on('end', () => lost(client, undefined));
    try {
      await client.connect();
      await client.query(`listen ${POSTGRES_BUS_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (closed) {
      await client.end();
      return;
    }
    listener = client;
  }

  function lost(client: pg.Client, error: Error | undefined): void {
    if (client !== listener || closed) return;
    listener = undefined;
    client.end().catch(() => {});
    log.warn({ err: error }, 'realtime listener connection lost; reconnecting');
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    const delay = reconnectDelayMs(attempt);
    attempt += 1;
    retry = setTimeout(() => {
      retry = undefined;
      connect().then(
        () => {
          if (closed) return;
          log.info({ attempts: attempt }, 'realtime listener reconnected');
          attempt = 0;
        },
        (error: unknown) => {
          if (closed) return;
          log.warn({ err: error, attempt }, 'realtime listener reconnect failed');
          scheduleReconnect();
        },
      );
    }, delay);
  }

  return {
    name: 'postgres',
    async publish(payload) {
      await options.pool.query('select pg_notify($1, $2)', [POSTGRES_BUS_CHANNEL, payload]);
    },
    async listen(onMessage) {
      deliver = onMessage;
      await connect();
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      const client = listener;
      listener = undefined;
      await client?.end().catch(() => {});
    },
  };
}
