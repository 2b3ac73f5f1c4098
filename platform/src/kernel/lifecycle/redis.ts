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
