import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { PgBoss, fromKysely, type Queue } from 'pg-boss';
import type { DB as PgBossDB } from '#platform/db/pgboss.db.ts';
import type { DB } from '#platform/db/platform.db.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Database, Tx } from '#platform/kernel/db/database.ts';
import { createPreparingClient } from '#platform/kernel/db/prepared-statements.ts';
import type { ReadinessCheck, RegisteredTask } from '#platform/kernel/lifecycle/module.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { ScheduleDefinition, TaskDefinition } from '#platform/kernel/lifecycle/define-task.ts';
import * as jobs from './job-table.repository.ts';
import { claimDedupeKeys } from './task-dedupe.repository.ts';
import { createTaskWorker, taskLogger, type TaskWorker } from './task-worker.ts';

/** pg-boss keeps its tables here, apart from the platform's and the apps'. */
export const TASKS_SCHEMA = 'pgboss';
const DEAD_SUFFIX = '/dead';
/** An `enqueueMany` this large into a job table without statistics is followed by ANALYZE. */
const ANALYZE_AFTER_ROWS = 10_000;

/** Options of one enqueue. */
export interface EnqueueOptions {
  /**
   * The caller's open transaction: the task exists if and only if it commits. Without one the
   * task is stored at once.
   */
  readonly tx?: Tx;
  /** Not before this moment. */
  readonly runAt?: Date;
  /** Higher runs first (default: the task's priority). */
  readonly priority?: number;
  /**
   * A second enqueue with the same key (per task) is dropped, whenever it comes: while the first is
   * waiting, running, or long after it completed. Defaults to the task's own `dedupeKey(payload)`.
   */
  readonly dedupeKey?: string;
}

/** The counts of one queue, for operators and autoscaling. */
export interface QueueStats {
  readonly task: string;
  readonly waiting: number;
  readonly scheduled: number;
  readonly active: number;
  readonly completed: number;
  readonly failed: number;
  readonly deadLetters: number;
  /** Seconds the oldest task ready to run has waited (0 when none waits). */
  readonly oldestWaitingSeconds: number;
  /** Failed runs / all finished runs over the last hour (0 when none finished). */
  readonly failureRate: number;
}

/** A task that failed every retry, kept for an operator. */
export interface DeadLetter {
  readonly id: string;
  readonly task: string;
  readonly payload: unknown;
  readonly lastError: string;
  readonly attempts: number;
  readonly failedAt: Date;
}

/** Finished runs per minute, for the admin chart. */
export interface ThroughputPoint {
  readonly minute: Date;
  readonly completed: number;
  readonly failed: number;
}

export interface TaskEngineOptions {
  readonly database: Database;
  readonly log: Logger;
  readonly settings: {
    readonly concurrency: number;
    readonly prefetch: number;
    readonly heartbeatSeconds: number;
    readonly monitorIntervalSeconds: number;
    readonly pollIntervalSeconds: number;
    readonly keepCompletedSeconds: number;
    readonly poolMax: number;
  };
  /** Whether this process runs the maintenance and cron passes (worker processes do). */
  readonly supervise: boolean;
  /** Called after each run, for metrics. */
  readonly onRun?: (task: string, outcome: 'completed' | 'failed', seconds: number) => void;
  /** Called after each claim statement with how many tasks it claimed, for metrics. */
  readonly onClaim?: (task: string, claimed: number) => void;
}

/** Durable background tasks on pg-boss: enqueue (optionally in a transaction), work, inspect. */
export interface TaskEngine {
  /**
   * Makes the tasks of every module and app known (creating their queues) and the schedules to
   * keep in step with the code. Called once, before anything is enqueued.
   */
  register(tasks: readonly RegisteredTask[], schedules: readonly ScheduleDefinition[]): Promise<void>;
  /** Validates the payload and stores the task; resolves with its id, or null when deduplicated. */
  enqueue(task: string | TaskDefinition, payload: unknown, options?: EnqueueOptions): Promise<string | null>;
  /**
   * Enqueues many tasks of one kind in a few statements (1,000 per insert), all validated first;
   * with `tx` they exist if and only if it commits. Tasks with dedupe keys go one by one.
   * Resolves with how many were stored.
   */
  enqueueMany(
    task: string | TaskDefinition,
    payloads: readonly unknown[],
    options?: Pick<EnqueueOptions, 'tx' | 'runAt' | 'priority'>,
  ): Promise<number>;
  /** Starts claiming and running every task (task-worker.ts); claimed tasks get heartbeats. */
  startWorking(): Promise<void>;
  /**
   * Stops claiming, hands claimed tasks that have not started back to the queue, waits up to
   * `timeoutMs` for running tasks to finish, settles them, and closes the engine. Tasks still
   * running after that are aborted (their signal) and retried once their heartbeat lapses.
   */
  stop(timeoutMs: number): Promise<void>;
  stats(): Promise<QueueStats[]>;
  deadLetters(task?: string, limit?: number): Promise<DeadLetter[]>;
  /** Puts a dead letter back on its queue; resolves false when there is no such dead letter. */
  retryDeadLetter(id: string): Promise<boolean>;
  /** Deletes a dead letter; resolves false when there is no such dead letter. */
  discardDeadLetter(id: string): Promise<boolean>;
  /** Completed and failed runs per minute over the last `minutes`. */
  throughput(minutes?: number): Promise<ThroughputPoint[]>;
  readonly taskNames: readonly string[];
  /** `/readyz`: the queue answers; the detail gives its lag. */
  readinessCheck(): ReadinessCheck;
}

function deadLetterQueue(task: string): string {
  return `${task}${DEAD_SUFFIX}`;
}

function errorText(output: unknown): string {
  if (output === null || output === undefined) return 'unknown error';
  if (typeof output === 'object') {
    const value = output as Record<string, unknown>;
    if (typeof value['message'] === 'string') return value['message'];
    if (typeof value['value'] === 'string') return value['value'];
  }
  return JSON.stringify(output);
}

/** Seconds a claim lasts before pg-boss's supervisor fails it as expired. */
function expirySeconds(task: TaskDefinition): number {
  return task.timeoutSeconds + 5;
}

/**
 * Creates the task engine over pg-boss 12 in the `pgboss` schema: one queue per task, each with a
 * dead-letter queue, exponential backoff, a heartbeat so a dead worker's task is retried, and
 * LISTEN/NOTIFY wake-ups. Deduplication keys are kept in `platform.task_dedupe`, written in the
 * same transaction as the task.
 */
export async function createTaskEngine(options: TaskEngineOptions): Promise<TaskEngine> {
  const { database, log, settings } = options;
  const byName = new Map<string, TaskDefinition>();
  /** The app each app task belongs to: its handler receives that app's context. */
  const appOf = new Map<string, RegisteredTask['app']>();
  let schedules: readonly ScheduleDefinition[] = [];

  const boss = new PgBoss({
    connectionString: database.url,
    schema: TASKS_SCHEMA,
    max: settings.poolMax,
    application_name: 'ballast-tasks',
    // Keep-alive and client-side timeouts (passed through to pg): a silent database fails
    // pg-boss's statements instead of hanging its workers.
    ...database.clientOptions,
    // Passed through to pg's pool: its connections prepare pg-boss's repeated statements (its
    // statements name their result columns, so `*` in a subquery is no hazard).
    ...(database.preparedStatements
      ? { Client: createPreparingClient({ withParameters: 128, withoutParameters: 32, skipStar: false }) }
      : {}),
    notifyHeartbeatIntervalMs: database.listenerCheckMs,
    notifyHeartbeatTimeoutMs: database.listenerCheckMs,
    notifyKeepAliveInitialDelayMs: database.clientOptions.keepAliveInitialDelayMillis,
    // The task worker LISTENs on pg-boss's channel itself, through pg-boss's listener and the
    // options above (task-worker.ts); producers still NOTIFY.
    useListenNotify: false,
    supervise: options.supervise,
    schedule: options.supervise,
    superviseIntervalSeconds: settings.monitorIntervalSeconds,
    monitorIntervalSeconds: settings.monitorIntervalSeconds,
    cronWorkerIntervalSeconds: 5,
    instanceName: options.supervise ? 'worker' : 'web',
    openTelemetry: { enabled: false },
  });
  let lastWarning = 0;
  boss.on('error', (error: Error) => {
    if (Date.now() - lastWarning > 5000) {
      lastWarning = Date.now();
      log.warn({ err: error }, 'task engine error');
    }
  });
  boss.on('warning', (warning: { message: string }) => log.warn({ warning: warning.message }, 'task engine warning'));
  const jobTable = database.view<PgBossDB>(TASKS_SCHEMA);
  const versionBefore = await jobs.storedTaskSchemaVersion(jobTable, TASKS_SCHEMA);
  await boss.start({ attempts: 3 });
  // A new or migrated job table without statistics gets a plan that scans every ready row per
  // claim (measured 14.7 ms against 0.5 ms): give the planner statistics at once.
  let analysed = false;
  const analyzeIfNeeded = async (db: Kysely<PgBossDB>, force: boolean): Promise<void> => {
    try {
      if (force || (await jobs.jobTableLacksStatistics(db, TASKS_SCHEMA))) {
        await jobs.analyzeJobTable(db, TASKS_SCHEMA);
        analysed = !(await jobs.jobTableLacksStatistics(db, TASKS_SCHEMA));
      } else {
        analysed = true;
      }
    } catch (error) {
      log.warn({ err: error }, 'could not ANALYZE the task table');
    }
  };
  await analyzeIfNeeded(jobTable, versionBefore !== (await boss.schemaVersion()));

  async function createQueues(tasks: readonly TaskDefinition[]): Promise<void> {
    for (const task of tasks) {
      const dead = deadLetterQueue(task.name);
      await boss.createQueue(dead, { retentionSeconds: 30 * 86_400, deleteAfterSeconds: 7 * 86_400 });
      const queue: Omit<Queue, 'name'> = {
        policy: 'standard',
        retryLimit: task.retries,
        retryDelay: task.retryDelaySeconds,
        retryBackoff: true,
        retryDelayMax: 3600,
        expireInSeconds: expirySeconds(task),
        heartbeatSeconds: settings.heartbeatSeconds,
        deleteAfterSeconds: settings.keepCompletedSeconds,
        deadLetter: dead,
        notify: true,
      };
      // createQueue does nothing when the queue exists (under an advisory lock, so nodes starting
      // together are safe); updateQueue then applies options changed since it was created.
      await boss.createQueue(task.name, queue);
      const { policy: _policy, ...changeable } = queue;
      await boss.updateQueue(task.name, changeable);
    }
  }

  let worker: TaskWorker | undefined;
  let stopped = false;

  const engine: TaskEngine = {
    get taskNames() {
      return [...byName.keys()];
    },

    async register(tasks, scheduleList) {
      for (const { definition, app } of tasks) {
        if (byName.has(definition.name)) throw new Error(`two tasks are named ${definition.name}`);
        byName.set(definition.name, definition);
        appOf.set(definition.name, app);
      }
      for (const schedule of scheduleList) {
        if (!byName.has(schedule.task))
          throw new Error(`schedule ${schedule.name} names unknown task ${schedule.task}`);
      }
      schedules = scheduleList;
      await createQueues(tasks.map((task) => task.definition));
    },

    // The queue answers; the detail says how many tasks wait and the oldest one's age (queue
    // lag), which tells workers are behind but does not make a web node unready.
    readinessCheck: () => ({
      name: 'queue',
      run: async () => {
        const stats = await engine.stats();
        const waiting = stats.reduce((sum, queue) => sum + queue.waiting, 0);
        const oldest = Math.max(0, ...stats.map((queue) => queue.oldestWaitingSeconds));
        return `${waiting} waiting, oldest ${Math.round(oldest)} s`;
      },
    }),

    async enqueue(taskOrName, payload, enqueueOptions = {}) {
      const name = typeof taskOrName === 'string' ? taskOrName : taskOrName.name;
      const task = byName.get(name);
      if (task === undefined) throw new Error(`unknown task ${name}`);
      const parsed = task.payload.safeParse(payload);
      if (!parsed.success) {
        throw new AppError('invalid_input', 'tasks.invalid_payload', `payload of task ${name} is invalid`, {
          errors: parsed.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message })),
        });
      }
      const data = parsed.data as object;
      const dedupeKey = enqueueOptions.dedupeKey ?? task.dedupeKey?.(parsed.data);
      const sendOptions = {
        priority: enqueueOptions.priority ?? task.priority,
        ...(enqueueOptions.runAt === undefined ? {} : { startAfter: enqueueOptions.runAt }),
        ...(dedupeKey === undefined ? {} : { singletonKey: dedupeKey }),
      };
      const send = async (tx: Tx): Promise<string | null> => {
        const db = tx.view<DB>('platform');
        if (dedupeKey === undefined) return boss.send(name, data, { ...sendOptions, db: fromKysely(db) });
        // The key is claimed with the job's id chosen here: two statements, not three.
        const id = randomUUID();
        if ((await claimDedupeKeys(db, name, [{ key: dedupeKey, jobId: id }])).length === 0) return null;
        return boss.send(name, data, { ...sendOptions, id, db: fromKysely(db) });
      };
      const tx = enqueueOptions.tx;
      if (tx !== undefined) return send(tx);
      if (dedupeKey === undefined) return boss.send(name, data, sendOptions);
      return database.transaction(send);
    },

    async enqueueMany(taskOrName, payloads, enqueueOptions = {}) {
      const name = typeof taskOrName === 'string' ? taskOrName : taskOrName.name;
      const task = byName.get(name);
      if (task === undefined) throw new Error(`unknown task ${name}`);
      const parsed = payloads.map((payload, index) => {
        const result = task.payload.safeParse(payload);
        if (!result.success) {
          throw new AppError('invalid_input', 'tasks.invalid_payload', `payload ${index} of task ${name} is invalid`, {
            errors: result.error.issues.map((issue) => ({
              field: [index, ...issue.path].join('.'),
              message: issue.message,
            })),
          });
        }
        return result.data as object;
      });
      const jobOptions = {
        priority: enqueueOptions.priority ?? task.priority,
        ...(enqueueOptions.runAt === undefined ? {} : { startAfter: enqueueOptions.runAt }),
      };
      const dedupeKeyOf = task.dedupeKey;
      if (dedupeKeyOf !== undefined) {
        // Keys claimed in one statement (the first payload of a key wins, an earlier enqueue's key
        // stays), with the job ids chosen here so the claim records them at once; then the jobs
        // of the keys this call claimed, in one insert: two statements for the whole list.
        const wanted = new Map<string, { data: object; id: string }>();
        for (const data of parsed) {
          const key = dedupeKeyOf(data);
          if (!wanted.has(key)) wanted.set(key, { data, id: randomUUID() });
        }
        const store = async (tx: Tx): Promise<number> => {
          const claimed = await claimDedupeKeys(
            tx.view<DB>('platform'),
            name,
            [...wanted].map(([key, { id }]) => ({ key, jobId: id })),
          );
          const jobs = claimed.map((key) => ({ ...jobOptions, ...wanted.get(key)!, singletonKey: key }));
          if (jobs.length > 0) await boss.insert(name, jobs, { db: fromKysely(tx.view<PgBossDB>(TASKS_SCHEMA)) });
          return jobs.length;
        };
        return enqueueOptions.tx === undefined ? database.transaction(store) : store(enqueueOptions.tx);
      }
      const tx = enqueueOptions.tx?.view<PgBossDB>(TASKS_SCHEMA);
      for (let start = 0; start < parsed.length; start += 1000) {
        await boss.insert(
          name,
          parsed.slice(start, start + 1000).map((data) => ({ data, ...jobOptions })),
          tx === undefined ? {} : { db: fromKysely(tx) },
        );
      }
      // In the caller's transaction ANALYZE counts its uncommitted rows, so it runs there too.
      if (!analysed && parsed.length >= ANALYZE_AFTER_ROWS) await analyzeIfNeeded(tx ?? jobTable, false);
      return parsed.length;
    },

    async startWorking() {
      worker = createTaskWorker({
        boss,
        schema: TASKS_SCHEMA,
        database,
        log,
        tasks: [...byName.values()],
        settings,
        expirySeconds,
        context: (task, job, signal) => {
          let taskLog: Logger | undefined;
          return {
            ...appOf.get(task.name),
            id: job.id,
            attempt: job.retryCount + 1,
            // Most runs never log: the child logger is made on first use.
            get log() {
              return (taskLog ??= taskLogger(log, task, job));
            },
            signal,
          };
        },
        ...(options.onRun === undefined ? {} : { onRun: options.onRun }),
        ...(options.onClaim === undefined ? {} : { onClaim: options.onClaim }),
      });
      await worker.start();
      for (const schedule of schedules) {
        await boss.schedule(schedule.task, schedule.cron, schedule.payload ?? {}, {
          key: schedule.name,
          tz: 'UTC',
        });
      }
      // Schedules removed from the code stop firing.
      const wanted = new Set(schedules.map((schedule) => `${schedule.task} ${schedule.name}`));
      for (const existing of await boss.getSchedules()) {
        if (byName.has(existing.name) && !wanted.has(`${existing.name} ${existing.key}`)) {
          await boss.unschedule(existing.name, existing.key);
        }
      }
      log.info({ tasks: engine.taskNames, schedules: schedules.map((s) => s.name) }, 'task worker started');
    },

    async stop(timeoutMs) {
      if (stopped) return;
      stopped = true;
      await worker?.stop(timeoutMs);
      await boss.stop({ graceful: true, timeout: 1000, close: true });
    },

    async stats() {
      const names = [...byName.keys()];
      if (names.length === 0) return [];
      const counts = await jobs.countByState(jobTable, [...names, ...names.map(deadLetterQueue)]);
      const oldest = await jobs.oldestWaiting(jobTable, names);
      const hour = await jobs.outcomesLastHour(jobTable, names);
      return names.map((name) => {
        const of = (state: string, deferred = false) =>
          counts
            .filter((row) => row.name === name && row.state === state && row.deferred === deferred)
            .reduce((sum, row) => sum + Number(row.count), 0);
        const dead = counts
          .filter((row) => row.name === deadLetterQueue(name) && row.state === 'created')
          .reduce((sum, row) => sum + Number(row.count), 0);
        const recent = hour.find((row) => row.name === name);
        const done = Number(recent?.completed ?? 0) + Number(recent?.failed ?? 0);
        return {
          task: name,
          waiting: of('created') + of('retry'),
          scheduled: of('created', true),
          active: of('active'),
          completed: of('completed'),
          failed: of('failed'),
          deadLetters: dead,
          oldestWaitingSeconds: Math.max(0, oldest.find((row) => row.name === name)?.seconds ?? 0),
          failureRate: done === 0 ? 0 : Number(recent?.failed ?? 0) / done,
        };
      });
    },

    async deadLetters(task, limit = 100) {
      const queues = (task === undefined ? [...byName.keys()] : [task]).map(deadLetterQueue);
      const rows = await jobs.listDeadLetters(jobTable, queues, limit);
      return rows.map((row) => ({
        id: row.id,
        task: row.source_name ?? '',
        payload: row.data,
        lastError: errorText(row.source_output),
        attempts: (row.source_retry_count ?? 0) + 1,
        failedAt: row.created_on,
      }));
    },

    async retryDeadLetter(id) {
      const letter = (await engine.deadLetters(undefined, 100_000)).find((item) => item.id === id);
      if (letter === undefined) return false;
      const moved = await boss.redrive(deadLetterQueue(letter.task), { ids: [id] });
      return moved > 0;
    },

    async discardDeadLetter(id) {
      const letter = (await engine.deadLetters(undefined, 100_000)).find((item) => item.id === id);
      if (letter === undefined) return false;
      const result = (await boss.deleteJob(deadLetterQueue(letter.task), id)) as { affected?: number };
      return (result.affected ?? 0) > 0;
    },

    async throughput(minutes = 60) {
      const names = [...byName.keys()];
      const rows = await jobs.outcomesPerMinute(jobTable, names, minutes);
      const now = new Date();
      const start = Math.floor(now.getTime() / 60_000) * 60_000 - (minutes - 1) * 60_000;
      return Array.from({ length: minutes }, (_, index) => {
        const minute = new Date(start + index * 60_000);
        const row = rows.find((item) => item.minute.getTime() === minute.getTime());
        return { minute, completed: Number(row?.completed ?? 0), failed: Number(row?.failed ?? 0) };
      });
    },
  };
  return engine;
}
