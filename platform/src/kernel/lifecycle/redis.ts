import { Redis } from 'ioredis';
import type { Logger } from '#platform/kernel/logging/logger.ts';

/** Connects to Redis; an outage is logged once every 10 s rather than once per reconnect attempt. */
export function connectRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, connectTimeout: 5000, lazyConnect: false });
  let lastWarning = 0;
  redis.on('error', (error: Error) => {
    if (Date.now() - lastWarning > 10_000) {
      lastWarning = Date.now();
      log.warn({ err: error }, 'redis unavailable');
    }
  });
  return redis;
}

/**
 * Closes a Redis connection politely (QUIT) but never waits longer than `timeoutMs` for the
 * answer: a server that went silent would otherwise hold shutdown forever. Then drops the socket.
 */
export async function quitWithin(connection: Redis, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    await Promise.race([connection.quit().catch(() => {}), timeout]);
  } finally {
    clearTimeout(timer);
    connection.disconnect();
  }
}
