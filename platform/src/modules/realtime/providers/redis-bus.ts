import type { Redis } from 'ioredis';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import { quitWithin } from '#platform/kernel/lifecycle/redis.ts';
import type { BusState, RealtimeBus } from '#platform/modules/realtime/realtime-bus.ts';

export interface RedisBusOptions {
  /** The process's Redis client: it publishes, and its duplicate subscribes. */
  readonly redis: Redis;
  /** The pub/sub channel; qualified by installation so deployments sharing a Redis stay apart. */
  readonly channel: string;
  /**
   * How often the subscriber proves it answers (a PING on the subscribed connection), and how
   * long it may take, in ms: one that stays silent is reported down and reconnected.
   */
  readonly heartbeatMs: number;
  readonly log: Logger;
}

const WARNING_INTERVAL_MS = 10_000;
/** How long a polite QUIT of the subscriber may take on shutdown before the socket is dropped. */
const QUIT_TIMEOUT_MS = 1000;

/**
 * Fan-out through Redis pub/sub, used when `REDIS_URL` is set. A subscribed connection can do
 * nothing else, so the subscriber is a duplicate of the shared client; ioredis reconnects and
 * resubscribes it by itself, and messages published in between are lost to this node. The bus is
 * reported up once a PING sent after the (re)subscription is answered, and down as soon as the
 * connection closes or a PING goes unanswered for `heartbeatMs`.
 */
export function createRedisBus(options: RedisBusOptions): RealtimeBus {
  const { log, channel, heartbeatMs } = options;
  let subscriber: Redis | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let state: BusState = 'down';
  const stateListeners: ((state: BusState) => void)[] = [];

  function report(next: BusState): void {
    if (next === state) return;
    state = next;
    for (const listener of stateListeners) listener(next);
  }

  /**
   * PINGs the subscriber. Commands on one connection are answered in order, so a PONG after a
   * (re)subscription proves the SUBSCRIBE took effect. A silent connection is dropped and redialled.
   */
  function probe(connection: Redis): void {
    clearTimeout(heartbeat);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no PONG within ${heartbeatMs} ms`)), heartbeatMs);
    });
    Promise.race([connection.ping(), timeout])
      .then(
        () => {
          if (connection !== subscriber || connection.status !== 'ready') return;
          report('up');
          heartbeat = setTimeout(() => probe(connection), heartbeatMs);
          heartbeat.unref();
        },
        (error: unknown) => {
          if (connection !== subscriber) return;
          report('down');
          log.warn({ err: error }, 'realtime subscriber silent; reconnecting');
          // Reconnects (and resubscribes); 'ready' probes again.
          connection.disconnect(true);
        },
      )
      .finally(() => clearTimeout(timer));
  }

  return {
    name: 'redis',
    async publish(payload) {
      await options.redis.publish(channel, payload);
    },
    async listen(onMessage) {
      const connection = options.redis.duplicate();
      subscriber = connection;
      let lastWarning = 0;
      let failing = false;
      // Until SUBSCRIBE is sent, a PONG proves nothing.
      let subscribed = false;
      const lost = (): void => {
        if (connection !== subscriber) return;
        clearTimeout(heartbeat);
        report('down');
      };
      connection.on('error', (error: Error) => {
        failing = true;
        lost();
        // An outage produces an error per reconnect attempt; one line every 10 s is enough.
        if (Date.now() - lastWarning > WARNING_INTERVAL_MS) {
          lastWarning = Date.now();
          log.warn({ err: error }, 'realtime subscriber connection lost; reconnecting');
        }
      });
      connection.on('close', lost);
      connection.on('reconnecting', lost);
      connection.on('end', lost);
      connection.on('ready', () => {
        if (connection !== subscriber) return;
        if (subscribed) probe(connection);
        if (!failing) return;
        failing = false;
        log.info('realtime subscriber reconnected');
      });
      connection.on('message', (from: string, message: string) => {
        if (from === channel) onMessage(message);
      });
      await connection.subscribe(channel);
      subscribed = true;
      probe(connection);
    },
    async check() {
      const status = subscriber?.status ?? 'not listening';
      if (status !== 'ready') throw new Error(`subscriber ${status}`);
      if (state !== 'up') throw new Error('subscriber not answering');
      return undefined;
    },
    onState(listener) {
      stateListeners.push(listener);
    },
    async close() {
      const connection = subscriber;
      subscriber = undefined;
      clearTimeout(heartbeat);
      report('down');
      if (connection === undefined) return;
      await quitWithin(connection, QUIT_TIMEOUT_MS);
    },
  };
}
