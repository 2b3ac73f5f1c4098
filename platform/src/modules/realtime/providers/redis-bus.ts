import type { Redis } from 'ioredis';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { RealtimeBus } from '#platform/modules/realtime/realtime-bus.ts';

export interface RedisBusOptions {
  /** The process's Redis client: it publishes, and its duplicate subscribes. */
  readonly redis: Redis;
  /** The pub/sub channel; qualified by installation so deployments sharing a Redis stay apart. */
  readonly channel: string;
  readonly log: Logger;
}

const WARNING_INTERVAL_MS = 10_000;

/**
 * Fan-out through Redis pub/sub, used when `REDIS_URL` is set. A subscribed connection can do
 * nothing else, so the subscriber is a duplicate of the shared client; ioredis reconnects and
 * resubscribes it by itself, and messages published in between are lost to this node.
 */
export function createRedisBus(options: RedisBusOptions): RealtimeBus {
  const { log, channel } = options;
  let subscriber: Redis | undefined;

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
      connection.on('error', (error: Error) => {
        failing = true;
        // An outage produces an error per reconnect attempt; one line every 10 s is enough.
        if (Date.now() - lastWarning > WARNING_INTERVAL_MS) {
          lastWarning = Date.now();
          log.warn({ err: error }, 'realtime subscriber connection lost; reconnecting');
        }
      });
      connection.on('ready', () => {
        if (!failing) return;
        failing = false;
        log.info('realtime subscriber reconnected');
      });
      connection.on('message', (from: string, message: string) => {
        if (from === channel) onMessage(message);
      });
      await connection.subscribe(channel);
    },
    async check() {
      const status = subscriber?.status ?? 'not listening';
      if (status !== 'ready') throw new Error(`subscriber ${status}`);
      return undefined;
    },
    async close() {
      const connection = subscriber;
      subscriber = undefined;
      await connection?.quit().catch(() => connection.disconnect());
    },
  };
}
