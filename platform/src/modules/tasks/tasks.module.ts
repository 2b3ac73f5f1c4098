import type { z } from 'zod';
import type { Tx } from '#platform/kernel/db/database.ts';
import { assertOwnedBy } from '#platform/kernel/lifecycle/define-app.ts';
import type { TaskDefinition } from '#platform/kernel/lifecycle/define-task.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { createTaskEngine, type TaskEngine } from './task-engine.ts';
import { countTaskWork, observeQueues } from './task-metrics.ts';
import { tasksAdminRoutes } from './tasks-admin.routes.ts';
import { taskSettings } from './tasks.settings.ts';

/** Options of one enqueue from an app. */
export interface AppEnqueueOptions {
  /** The caller's open transaction: the task exists if and only if it commits. */
  readonly tx?: Tx;
  /** Not before this moment. */
  readonly runAt?: Date;
  /** Higher runs first (default: the task's priority). */
  readonly priority?: number;
  /** A second enqueue with the same key (per task) is dropped, whenever it comes. */
  readonly dedupeKey?: string;
}

/** Background tasks as an app sees them: only its own, typed by each task's payload schema. */
export interface TasksPort {
  /**
   * Validates the payload and stores the task (with `{ tx }`, inside your transaction). Resolves
   * with its id, or null when a task with the same dedupe key exists.
   */
  enqueue<Schema extends z.ZodType>(
    task: TaskDefinition<Schema, never>,
    payload: z.input<Schema>,
    options?: AppEnqueueOptions,
  ): Promise<string | null>;
  /** Enqueues many tasks of one kind in a few statements; resolves with how many were stored. */
  enqueueMany<Schema extends z.ZodType>(
    task: TaskDefinition<Schema, never>,
    payloads: readonly z.input<Schema>[],
    options?: Pick<AppEnqueueOptions, 'tx' | 'runAt' | 'priority'>,
  ): Promise<number>;
}

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** Durable background tasks on pg-boss: enqueue, work, inspect dead letters. */
    tasks: TaskEngine;
  }
  interface AppPorts {
    readonly tasks: TasksPort;
  }
}

/**
 * Background tasks: pg-boss in the `pgboss` schema. Every process can enqueue; worker processes
 * also run the tasks and schedules every module and app declared.
 */
export const tasksModule = defineModule({
  name: 'tasks',
  dependsOn: [],
  settings: taskSettings,
  migrations: new URL('./migrations/', import.meta.url).pathname,
  create: async (ctx) => {
    const working = ctx.roles.includes('worker');
    const counters = countTaskWork(ctx.metrics);
    const engine = await createTaskEngine({
      database: ctx.database,
      log: ctx.log,
      settings: ctx.settings,
      supervise: working,
      onRun: (task, outcome, seconds) => counters.onRun(task, outcome, seconds),
      onClaim: (task, claimed) => counters.onClaim(task, claimed),
    });
    observeQueues(ctx.metrics, engine, ctx.log);
    return {
      service: engine,
      routes: (server) => server.register(tasksAdminRoutes, { config: ctx.config, tasks: engine }),
      checks: [engine.readinessCheck()],
      init: (registry) => engine.register(registry.tasks, registry.schedules),
      start: async () => {
        if (working) await engine.startWorking();
      },
      // Stop claiming; running tasks get most of the shutdown budget (less the web drain) to finish.
      stop: () => {
        const drainMs = ctx.roles.includes('web') ? ctx.config.http.shutdownDrainDelayMs : 0;
        return engine.stop(working ? Math.max(1000, ctx.config.http.shutdownTimeoutMs - drainMs - 2000) : 1000);
      },
      forApp: (app) => ({
        enqueue: (task, payload, options) => {
          assertOwnedBy(app.name, 'tasks', task.name);
          return engine.enqueue(task, payload, options);
        },
        enqueueMany: (task, payloads, options) => {
          assertOwnedBy(app.name, 'tasks', task.name);
          return engine.enqueueMany(task, payloads, options);
        },
      }),
    };
  },
});
