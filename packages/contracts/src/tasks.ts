import { z } from 'zod';
import { timestamp } from './common.ts';

/** One task's queue: counts by state, the oldest waiting age, and the last hour's failure rate. */
export const queueStats = z.object({
  task: z.string(),
  waiting: z.number(),
  scheduled: z.number(),
  active: z.number(),
  completed: z.number(),
  failed: z.number(),
  deadLetters: z.number(),
  /** Seconds the oldest task ready to run has waited (0 when none waits). */
  oldestWaitingSeconds: z.number(),
  /** Failed runs / all finished runs over the last hour (0 when none finished). */
  failureRate: z.number(),
});

/** A task that failed every retry, kept for an operator. */
export const deadLetter = z.object({
  id: z.string(),
  task: z.string(),
  payload: z.unknown(),
  lastError: z.string(),
  attempts: z.number(),
  failedAt: timestamp,
});

/** The operator page's data, for tools. */
export const tasksOverviewAnswer = z.object({
  queues: z.array(queueStats).readonly(),
  deadLetters: z.array(deadLetter).readonly(),
});

export const deadLetterParams = z.object({ id: z.uuid() });
