import { z } from 'zod';
import { defineSettings } from '#platform/kernel/config/settings.ts';

/** Redis, for features shared across nodes (rate limits, fan-out). Optional on one machine. */
export const redisSettings = defineSettings('redis', {
  schema: z.object({
    REDIS_URL: z
      .string()
      .refine((value) => /^rediss?:\/\//.test(value), 'must be a redis:// or rediss:// URL')
      .optional()
      .describe('Redis connection string; unset, rate limits and fan-out stay within one process/database'),
  }),
  resolve: (values) => ({ url: values.REDIS_URL }),
});
