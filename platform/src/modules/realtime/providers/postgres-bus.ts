import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DB } from '#platform/db/platform.db.ts';
import { destroyConnection, type Database } from '#platform/kernel/db/database.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import { reconnectDelayMs, type BusState, type RealtimeBus } from '#platform/modules/realtime/realtime-bus.ts';
import { listenOn, notifyChannel, notifyChannelMany, probeConnection } from '../notify-channel.repository.ts';

/** The LISTEN/NOTIFY channel; a database is one deployment, so the name needs no qualifier. */
export const POSTGRES_BUS_CHANNEL = 'ballast_realtime';

/** Most messages one publishing statement carries. */
const PUBLISH_BATCH = 500;

export interface PostgresBusOptions {
  /**
   * The database: the listener is a dedicated connection outside the pool (with the pool's
   * keep-alive and timeouts); publishing borrows a pool connection for one statement of
   * `pg_notify`s: what is published while one is in flight goes in the next (group commit).
   */
  readonly database: Pick<Database, 'url' | 'view' | 'clientOptions' | 'listenerCheckMs'>;
  readonly log: Logger;
}

/**
 * Fan-out through PostgreSQL LISTEN/NOTIFY: nothing to run besides the database. One dedicated
 * connection per node listens. It must prove it answers every `listenerCheckMs` (a failover can
 * leave it connected to nothing, silently); when it drops or goes silent it is closed and
 * reopened with growing delays, and LISTEN is issued again. Messages published in between are
 * lost to this node (clients refetch after a reconnect).
 */
export function createPostgresBus(options: PostgresBusOptions): RealtimeBus {
  const { log, database } = options;
  const pool = database.view<DB>('platform');
  // A channel of this node alone: `check` sends itself a message on it, through the pool.
  const probeChannel = `ballast_probe_${randomBytes(6).toString('hex')}`;
  const probes = new Map<string, () => void>();
  let listener: pg.Client | undefined;
  let deliver: ((payload: string) => void) | undefined;
  let closed = false;
  let attempt = 0;
  let retry: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  const stateListeners: ((state: BusState) => void)[] = [];
  /** Messages waiting for the next publishing statement, and the statement in flight. */
  const waiting: { readonly payload: string; readonly done: (error?: Error) => void }[] = [];
  let sending: Promise<void> | undefined;

  /**
   * Sends what waits, a batch per statement, until nothing does: a lone message goes at once, and
   * a storm (every call of a mass hang-up told it ended) costs a round trip per batch, not per
   * message, so it neither queues behind the pool nor holds it.
   */
  async function sendWaiting(): Promise<void> {
    try {
      while (waiting.length > 0) {
        const batch = waiting.splice(0, PUBLISH_BATCH);
        try {
          await notifyChannelMany(
            pool,
            POSTGRES_BUS_CHANNEL,
            batch.map((message) => message.payload),
          );
          for (const message of batch) message.done();
        } catch (error) {
          for (const message of batch) message.done(error instanceof Error ? error : new Error(String(error)));
        }
      }
    } finally {
      // In the same step as the last check: a message published after it starts a new round.
      sending = undefined;
    }
  }

  function report(state: BusState): void {
    for (const listener of stateListeners) listener(state);
  }

  async function connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: database.url,
      application_name: 'ballast-realtime',
      ...database.clientOptions,
    });
    client.on('notification', (message) => {
      if (message.payload === undefined) return;
      if (message.channel === POSTGRES_BUS_CHANNEL) deliver?.(message.payload);
      else if (message.channel === probeChannel) probes.get(message.payload)?.();
    });
    client.on('error', (error) => lost(client, error));
    client.on('end', () => lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await listenOn(client, [POSTGRES_BUS_CHANNEL, probeChannel]);
    } catch (error) {
      destroyConnection(client);
      throw error;
    }
    if (closed) {
      destroyConnection(client);
      return;
    }
    listener = client;
    scheduleHeartbeat(client);
    // LISTEN has returned: every NOTIFY committed from now on reaches this connection.
    report('up');
  }

  /** Proves the connection answers; `query_timeout` fails a silent one, which `lost` replaces. */
  function scheduleHeartbeat(client: pg.Client): void {
    heartbeat = setTimeout(() => {
      probeConnection(client, database.listenerCheckMs).then(
        () => {
          if (client === listener) scheduleHeartbeat(client);
        },
        (error: unknown) => lost(client, error as Error),
      );
    }, database.listenerCheckMs);
    heartbeat.unref();
  }

  function lost(client: pg.Client, error: Error): void {
    if (client !== listener || closed) return;
    listener = undefined;
    clearTimeout(heartbeat);
    destroyConnection(client);
    report('down');
    // Logged once per outage; the attempts that follow are debug lines until one succeeds.
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
          log.debug({ err: error, attempt }, 'realtime listener reconnect failed');
          scheduleReconnect();
        },
      );
    }, delay);
  }

  return {
    name: 'postgres',
    publish(payload) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ payload, done: (error) => (error === undefined ? resolve() : reject(error)) });
        sending ??= sendWaiting();
      });
    },
    async listen(onMessage) {
      deliver = onMessage;
      await connect();
    },
    async check() {
      if (listener === undefined) throw new Error(`listener reconnecting (attempt ${attempt})`);
      // A round trip: NOTIFY through the pool, heard on the listener.
      const nonce = randomBytes(8).toString('hex');
      let timer: NodeJS.Timeout | undefined;
      const heard = new Promise<void>((resolve, reject) => {
        probes.set(nonce, resolve);
        timer = setTimeout(
          () => reject(new Error('the listener did not hear its own NOTIFY')),
          database.listenerCheckMs,
        );
      });
      heard.catch(() => {});
      try {
        const started = performance.now();
        await notifyChannel(pool, probeChannel, nonce);
        await heard;
        return `notify round trip ${Math.round(performance.now() - started)} ms`;
      } finally {
        clearTimeout(timer);
        probes.delete(nonce);
      }
    },
    onState(listener) {
      stateListeners.push(listener);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      clearTimeout(heartbeat);
      const client = listener;
      listener = undefined;
      if (client === undefined) return;
      report('down');
      // A polite end, bounded: a silent server never answers it.
      await Promise.race([client.end().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      destroyConnection(client);
    },
  };
}
