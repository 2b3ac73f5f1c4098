import type { z } from 'zod';
import type { Logger } from '#platform/kernel/logging/logger.ts';

/** What every run of a task knows about itself. */
export interface TaskRun {
  /** The job id, stable across retries. */
  readonly id: string;
  /** 1 on the first run, 2 on the first retry, ... */
  readonly attempt: number;
  /** A logger bound to the task name, id and attempt. */
  readonly log: Logger;
  /** Aborted when the run times out or the worker is forced to stop; long handlers should pass it on. */
  readonly signal: AbortSignal;
}

/**
 * What a task handler receives besides its payload: the run, and for an app's task the app's
 * context (`ctx.db`, `ctx.tasks`, `ctx.notify`, ...). Platform tasks use their module's services.
 */
export type TaskContext<App = unknown> = App & TaskRun;

/**
 * A kind of background work. `name` reads `app.verb-noun` (`coach.send-care-plan`).
 * The payload schema is checked when the task is enqueued and again when it runs.
 */
export interface TaskDefinition<Schema extends z.ZodType = z.ZodType, App = unknown> {
  readonly name: string;
  readonly payload: Schema;
  /** Runs the task; throw to have it retried. (Method syntax: a registry holds tasks of every app.) */
  handler(payload: z.output<Schema>, ctx: TaskContext<App>): Promise<void>;
  /** Retries after the first failure before the task is dead-lettered. */
  readonly retries: number;
  /** Delay before the first retry, in seconds; each later one roughly doubles (with jitter), up to an hour. */
  readonly retryDelaySeconds: number;
  /** Longest one run may take, in seconds, before it is failed and retried. */
  readonly timeoutSeconds: number;
  /** Derives a deduplication key from the payload: a second enqueue with the same key is dropped. */
  readonly dedupeKey?: (payload: z.output<Schema>) => string;
  /** Runs at most this many of this task at once on one worker (default: TASKS_CONCURRENCY). */
  readonly concurrency?: number;
  /** Claims at most this many of this task ahead of the free slots on one worker (default: TASKS_PREFETCH). */
  readonly prefetch?: number;
  /** Queue priority when the enqueue gives none; higher runs first. */
  readonly priority: number;
}

export interface DefineTaskOptions<Schema extends z.ZodType, App> {
  readonly name: string;
  readonly payload: Schema;
  readonly handler: (payload: z.output<Schema>, ctx: TaskContext<App>) => Promise<void>;
  readonly retries?: number;
  readonly retryDelaySeconds?: number;
  readonly timeoutSeconds?: number;
  readonly dedupeKey?: (payload: z.output<Schema>) => string;
  readonly concurrency?: number;
  readonly prefetch?: number;
  readonly priority?: number;
}

const taskName = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$/;

/** Declares a task. Defaults: 5 retries starting 5 s apart, a 5 minute timeout, TASKS_CONCURRENCY at once per worker. */
export function defineTask<Schema extends z.ZodType, App = unknown>(
  options: DefineTaskOptions<Schema, App>,
): TaskDefinition<Schema, App> {
  if (!taskName.test(options.name)) {
    throw new Error(`task name "${options.name}" must read app.verb-noun, e.g. coach.send-care-plan`);
  }
  return Object.freeze({
    name: options.name,
    payload: options.payload,
    handler: options.handler,
    retries: options.retries ?? 5,
    retryDelaySeconds: options.retryDelaySeconds ?? 5,
    timeoutSeconds: options.timeoutSeconds ?? 300,
    priority: options.priority ?? 0,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
    ...(options.dedupeKey === undefined ? {} : { dedupeKey: options.dedupeKey }),
  });
}

/** A cron schedule that enqueues a task once per tick, however many nodes run. */
export interface ScheduleDefinition {
  readonly name: string;
  /** Five-field cron expression (minute resolution), evaluated in UTC. */
  readonly cron: string;
  /** The task to enqueue on each tick. */
  readonly task: string;
  /** The payload given to the task on each tick. */
  readonly payload?: unknown;
}

/** Declares a schedule. */
export function defineSchedule(options: ScheduleDefinition): ScheduleDefinition {
  if (!taskName.test(options.name)) {
    throw new Error(`schedule name "${options.name}" must read app.verb-noun, e.g. complaints.escalate-overdue`);
  }
  if (options.cron.trim().split(/\s+/).length !== 5) {
    throw new Error(`schedule ${options.name}: cron "${options.cron}" must have five fields`);
  }
  return Object.freeze({ ...options });
}
