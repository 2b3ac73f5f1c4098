import { fromKysely, type Job, type PgBoss } from 'pg-boss';
import type { DB as PgBossDB } from '#platform/db/pgboss.db.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import { PermanentExternalError } from '#platform/kernel/resilience/external-service.ts';
import type { TaskContext, TaskDefinition } from '#platform/kernel/lifecycle/define-task.ts';
import { notifyChannel } from './job-table.repository.ts';

/**
 * A claimed task ahead of the slots is started only if the slots are expected to reach it within
 * this long, judged from the kind's recent run times: short tasks are claimed up to `prefetch`
 * ahead, long ones only as slots free, so one worker never sits on work another could start.
 */
const AHEAD_HORIZON_MS = 1000;
/** A run's deadline falls this long before its claim expires, so pg-boss never expires a live run. */
const EXPIRY_MARGIN_MS = 2000;
/** After the stop timeout, aborted handlers get this long to return and be settled. */
const ABORT_GRACE_MS = 500;

/** What pg-boss 12 answers to complete, fail, cancel and touch (its typings leave it empty). */
interface CommandResult {
  readonly affected?: number;
  /** The ids the statement changed: for fenced calls, those still held under the given attempt. */
  readonly settled?: readonly string[];
}

type Outcome = { readonly status: 'completed' } | { readonly status: 'failed' | 'dead'; readonly message: string };

/** One claimed task, from its claim until its settlement has been sent. */
interface Held {
  readonly job: Job<unknown>;
  readonly claimedAt: number;
  state: 'queued' | 'running';
  /** Its outcome is decided (finished, timed out, or its claim was lost); the slot may still be busy. */
  decided: boolean;
  controller?: AbortController;
  timer?: NodeJS.Timeout;
  started: number;
}

export interface TaskWorkerOptions {
  readonly boss: PgBoss;
  /** pg-boss's schema, which names the channel its inserts NOTIFY on. */
  readonly schema: string;
  readonly database: Database;
  readonly log: Logger;
  readonly tasks: readonly TaskDefinition[];
  readonly settings: {
    readonly concurrency: number;
    readonly prefetch: number;
    readonly heartbeatSeconds: number;
    readonly pollIntervalSeconds: number;
  };
  /** Seconds a claim of `task` lasts before pg-boss's supervisor expires it. */
  readonly expirySeconds: (task: TaskDefinition) => number;
  /** What a handler receives besides its payload. */
  readonly context: (task: TaskDefinition, job: Job<unknown>, signal: AbortSignal) => TaskContext;
  /** Called after each run, for metrics. */
  readonly onRun?: (task: string, outcome: 'completed' | 'failed', seconds: number) => void;
  /** Called after each claim statement with how many tasks it claimed, for metrics. */
  readonly onClaim?: (task: string, claimed: number) => void;
}

/** Claims, runs and settles tasks of every kind for one process. */
export interface TaskWorker {
  start(): Promise<void>;
  /**
   * Stops claiming and hands claimed-but-unstarted tasks back; waits up to `timeoutMs` for running
   * ones, then aborts the rest (their heartbeat lapses and they run again elsewhere); settles what
   * finished.
   */
  stop(timeoutMs: number): Promise<void>;
}

/** The logger a run of `job` writes with: bound to the task, its id and the attempt. */
export function taskLogger(log: Logger, task: TaskDefinition, job: Job<unknown>): Logger {
  return log.child({ task: task.name, taskId: job.id, attempt: job.retryCount + 1 });
}

/**
 * One task kind's loop: claims `concurrency + ahead − running − queued` tasks in one statement,
 * starts each as a slot frees, settles what finished while the previous settlement was in flight
 * in one statement, and heartbeats everything it holds in one statement.
 */
class TaskKindLoop {
  readonly #task: TaskDefinition;
  readonly #options: TaskWorkerOptions;
  readonly #concurrency: number;
  readonly #prefetch: number;
  readonly #queue: Held[] = [];
  readonly #held = new Map<string, Held>();
  readonly #returns = new Set<Promise<void>>();
  #pending: { entry: Held; outcome: Outcome }[] = [];
  #settling: Promise<void> | undefined;
  #running = 0;
  /** The claim statement in flight, if any (one at a time per kind). */
  #fetching: Promise<void> | undefined;
  /** The last claim came back full, or a wake-up came since: there may be more ready. */
  #more = true;
  #stopping = false;
  /** Set when tasks waited too long in the local queue; cleared when a run ends. */
  #aheadPaused = false;
  #averageRunMs: number | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #touching = false;
  #lastWarning = 0;

  constructor(task: TaskDefinition, options: TaskWorkerOptions) {
    this.#task = task;
    this.#options = options;
    this.#concurrency = task.concurrency ?? options.settings.concurrency;
    this.#prefetch = task.prefetch ?? options.settings.prefetch;
  }

  get running(): number {
    return this.#running;
  }

  start(): void {
    const expiryMs = this.#options.expirySeconds(this.#task) * 1000;
    // Often enough that a queued task is handed back before it has waited half its expiry.
    const everyMs = Math.min(this.#options.settings.heartbeatSeconds * 500, expiryMs / 4);
    this.#heartbeat = setInterval(() => void this.#beat(), everyMs);
    this.#pump();
  }

  /** New tasks may be ready (a NOTIFY, the poll, or the listener reconnected). */
  wake(): void {
    this.#more = true;
    this.#fetch();
  }

  /** Stops claiming and hands every queued task back unstarted. */
  stopClaiming(): void {
    this.#stopping = true;
    this.#sendBack(this.#queue.splice(0));
  }

  abortRunning(reason: Error): void {
    for (const entry of this.#held.values()) {
      if (entry.state === 'running') entry.controller?.abort(reason);
    }
  }

  /** Resolves once every decided outcome and every hand-back has been written. */
  async drain(): Promise<void> {
    while (this.#fetching !== undefined || this.#settling !== undefined || this.#returns.size > 0) {
      await this.#fetching;
      await this.#settling;
      await Promise.all(this.#returns);
    }
    clearInterval(this.#heartbeat);
  }

  #pump(): void {
    let stale: Held[] | undefined;
    const now = Date.now();
    while (this.#running < this.#concurrency && this.#queue.length > 0 && !this.#stopping) {
      const entry = this.#queue.shift()!;
      if (now - entry.claimedAt >= entry.job.expireInSeconds * 500) (stale ??= []).push(entry);
      else this.#start(entry, now);
    }
    if (stale !== undefined) this.#sendBack(stale);
    this.#fetch();
  }

  #ahead(): number {
    if (this.#aheadPaused || this.#averageRunMs === undefined) return 0;
    const reachable = Math.floor((this.#concurrency * AHEAD_HORIZON_MS) / Math.max(this.#averageRunMs, 0.001));
    return Math.min(this.#prefetch, reachable);
  }

  #fetch(): void {
    if (this.#stopping || this.#fetching !== undefined || !this.#more) return;
    const ahead = this.#ahead();
    const want = this.#concurrency + ahead - this.#running - this.#queue.length;
    if (want <= 0) return;
    // While a full round of slots is still queued, claim again only once half the room ahead is
    // free: a claim per finished task would cost a statement each (and PostgreSQL a plan each, for
    // a text with a batch size no statement before had).
    if (this.#queue.length > this.#concurrency && want < ahead / 2) return;
    this.#more = false;
    const name = this.#task.name;
    this.#fetching = this.#options.boss.fetch<unknown>(name, { batchSize: want }).then(
      (jobs) => {
        this.#fetching = undefined;
        this.#options.onClaim?.(name, jobs.length);
        if (jobs.length === want) this.#more = true;
        const claimedAt = Date.now();
        const entries = jobs.map((job): Held => ({ job, claimedAt, state: 'queued', decided: false, started: 0 }));
        for (const entry of entries) this.#held.set(entry.job.id, entry);
        if (this.#stopping) {
          this.#sendBack(entries);
          return;
        }
        this.#queue.push(...entries);
        this.#pump();
      },
      (error: unknown) => {
        this.#fetching = undefined;
        this.#warn(error, 'could not claim tasks; trying again at the next poll');
      },
    );
  }

  #start(entry: Held, now: number): void {
    const { job } = entry;
    const task = this.#task;
    const parsed = task.payload.safeParse(job.data);
    if (!parsed.success) {
      // It would fail the same way every time: straight to the dead letters.
      taskLogger(this.#options.log, task, job).error(
        { issues: parsed.error.issues },
        'task payload no longer valid: dead-lettered',
      );
      this.#options.onRun?.(task.name, 'failed', 0);
      this.#decide(entry, { status: 'dead', message: `invalid payload: ${parsed.error.message}` });
      return;
    }
    entry.state = 'running';
    this.#running++;
    const controller = new AbortController();
    entry.controller = controller;
    entry.started = performance.now();
    // The claim's expiry counts from the claim, not from the start: a run that waited in the local
    // queue ends before pg-boss would expire it (it waited at most half the expiry, see #pump).
    const limitMs = Math.min(
      task.timeoutSeconds * 1000,
      job.expireInSeconds * 1000 - (now - entry.claimedAt) - EXPIRY_MARGIN_MS,
    );
    entry.timer = setTimeout(() => this.#onDeadline(entry, limitMs), limitMs);
    let run: Promise<void>;
    try {
      run = task.handler(parsed.data, this.#options.context(task, job, controller.signal));
    } catch (error) {
      run = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    run.then(
      () => this.#finish(entry, undefined),
      (error: unknown) => this.#finish(entry, error ?? new Error('task rejected without a reason')),
    );
  }

  #finish(entry: Held, error: unknown): void {
    clearTimeout(entry.timer);
    this.#running--;
    const ms = performance.now() - entry.started;
    this.#averageRunMs = this.#averageRunMs === undefined ? ms : this.#averageRunMs + (ms - this.#averageRunMs) / 5;
    this.#aheadPaused = false;
    if (!entry.decided) {
      this.#options.onRun?.(this.#task.name, error === undefined ? 'completed' : 'failed', ms / 1000);
      this.#decide(entry, error === undefined ? { status: 'completed' } : this.#failure(entry, error));
    }
    this.#pump();
  }

  /** The run outlived its deadline: it is failed now; its slot stays taken until the handler returns. */
  #onDeadline(entry: Held, limitMs: number): void {
    if (entry.decided) return;
    const error = new Error(`task timed out after ${Math.round(limitMs / 100) / 10} s`);
    entry.controller?.abort(error);
    this.#options.onRun?.(this.#task.name, 'failed', limitMs / 1000);
    this.#decide(entry, this.#failure(entry, error));
  }

  #failure(entry: Held, error: unknown): Outcome {
    const log = taskLogger(this.#options.log, this.#task, entry.job);
    if (error instanceof PermanentExternalError) {
      // Retrying cannot help (the provider refused this request): straight to the dead letters.
      log.error({ err: error }, 'task refused permanently: dead-lettered without retries');
      return { status: 'dead', message: error.message };
    }
    const last = entry.job.retryCount + 1 > this.#task.retries;
    log[last ? 'error' : 'warn'](
      { err: error },
      last ? 'task failed for the last time: dead-lettered' : 'task failed: will retry',
    );
    return { status: 'failed', message: error instanceof Error ? error.message : String(error) };
  }

  #decide(entry: Held, outcome: Outcome): void {
    entry.decided = true;
    this.#pending.push({ entry, outcome });
    this.#flush();
  }

  /** Writes every outcome decided since the last settlement, unless one is still in flight. */
  #flush(): void {
    if (this.#settling !== undefined || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#settling = this.#settle(batch)
      .catch((error: unknown) =>
        this.#warn(error, 'could not settle finished tasks; they run again once their heartbeat lapses'),
      )
      .finally(() => {
        for (const { entry } of batch) this.#release(entry);
        this.#settling = undefined;
        this.#flush();
      });
  }

  async #settle(batch: readonly { entry: Held; outcome: Outcome }[]): Promise<void> {
    const { boss } = this.#options;
    const name = this.#task.name;
    const completed: Job<unknown>[] = [];
    const failed = new Map<string, Job<unknown>[]>();
    const dead: { job: Job<unknown>; message: string }[] = [];
    for (const { entry, outcome } of batch) {
      if (outcome.status === 'completed') completed.push(entry.job);
      else if (outcome.status === 'dead') dead.push({ job: entry.job, message: outcome.message });
      else failed.set(outcome.message, [...(failed.get(outcome.message) ?? []), entry.job]);
    }
    // Each call passes the jobs as claimed ({ id, retryCount }): pg-boss fences it to that attempt,
    // so a settlement that comes after the claim lapsed leaves the newer attempt alone.
    if (completed.length > 0) await boss.complete(name, completed);
    for (const [message, jobs] of failed) await boss.fail(name, jobs, { message });
    for (const { job, message } of dead) await this.#deadLetter(job, message);
  }

  /**
   * Fails `job` into the dead letters now, retries or not, with pg-boss's public calls in one
   * transaction: fail this attempt (it goes to `retry`), set its retry limit to 0 while it waits,
   * and fail it again, which moves it to the dead-letter queue as its last failure would.
   */
  async #deadLetter(job: Job<unknown>, message: string): Promise<void> {
    const { boss, database } = this.#options;
    const name = this.#task.name;
    await database.transaction(async (tx) => {
      const db = fromKysely(tx.view<PgBossDB>(this.#options.schema));
      const first = (await boss.fail(name, job, { message }, { db })) as CommandResult;
      if ((first.affected ?? 0) === 0) return;
      await boss.update(name, undefined, { id: job.id, retryLimit: 0, db });
      await boss.fail(name, job.id, { message }, { db });
    });
  }

  /**
   * Hands claimed tasks back unstarted (cancel, then resume, in one transaction, fenced to this
   * claim), so any worker can take them. pg-boss counts the next claim as an attempt.
   */
  #sendBack(entries: readonly Held[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) this.#release(entry);
    if (!this.#stopping) {
      this.#aheadPaused = true;
      this.#options.log.warn(
        { task: this.#task.name, count: entries.length },
        'claimed tasks waited half their expiry without a free slot: handed back unstarted',
      );
    }
    const { boss, database } = this.#options;
    const name = this.#task.name;
    const returning = database
      .transaction(async (tx) => {
        const db = fromKysely(tx.view<PgBossDB>(this.#options.schema));
        const cancelled = (await boss.cancel(
          name,
          entries.map((entry) => entry.job),
          { db },
        )) as CommandResult;
        const ids = cancelled.settled ?? [];
        if (ids.length > 0) await boss.resume(name, [...ids], { db });
      })
      .catch((error: unknown) =>
        this.#warn(error, 'could not hand back unstarted tasks; they run once their heartbeat lapses'),
      )
      .finally(() => this.#returns.delete(returning));
    this.#returns.add(returning);
  }

  #release(entry: Held): void {
    if (this.#held.get(entry.job.id) === entry) this.#held.delete(entry.job.id);
  }

  /** One touch for everything held; queued tasks near half their expiry are handed back first. */
  async #beat(): Promise<void> {
    if (this.#touching) return;
    const now = Date.now();
    const stale = this.#queue.filter((entry) => now - entry.claimedAt >= entry.job.expireInSeconds * 500);
    if (stale.length > 0) {
      for (const entry of stale) this.#queue.splice(this.#queue.indexOf(entry), 1);
      this.#sendBack(stale);
    }
    const entries = [...this.#held.values()].filter((entry) => !entry.decided);
    if (entries.length === 0) return;
    this.#touching = true;
    let touched: CommandResult;
    try {
      touched = await this.#options.boss.touch(
        this.#task.name,
        entries.map((entry) => entry.job),
      );
    } catch (error) {
      // A heartbeat that could not run says nothing about the claims.
      this.#warn(error, 'task heartbeat failed');
      return;
    } finally {
      this.#touching = false;
    }
    if (touched.settled === undefined) return;
    const refreshed = new Set(touched.settled);
    for (const entry of entries) {
      if (refreshed.has(entry.job.id) || entry.decided || this.#held.get(entry.job.id) !== entry) continue;
      // The claim lapsed and the task is another attempt's now: stop holding it.
      this.#release(entry);
      if (entry.state === 'queued') {
        const index = this.#queue.indexOf(entry);
        if (index >= 0) this.#queue.splice(index, 1);
      } else {
        entry.decided = true;
        entry.controller?.abort(new Error(`task ${entry.job.id} is no longer held by this worker`));
      }
      taskLogger(this.#options.log, this.#task, entry.job).warn('task claim lapsed: left to its next attempt');
    }
  }

  #warn(error: unknown, message: string): void {
    if (Date.now() - this.#lastWarning < 5000) return;
    this.#lastWarning = Date.now();
    this.#options.log.warn({ err: error, task: this.#task.name }, message);
  }
}

/**
 * Creates the worker over pg-boss's public calls (fetch, complete, fail, touch, cancel, resume,
 * update): one loop per task kind, woken by pg-boss's NOTIFY on a listener of pg-boss's own
 * (which reconnects by itself), with the poll as a backstop for retries and delayed tasks.
 */
export function createTaskWorker(options: TaskWorkerOptions): TaskWorker {
  const loops = new Map(options.tasks.map((task) => [task.name, new TaskKindLoop(task, options)]));
  let poll: NodeJS.Timeout | undefined;
  let listener: { close(): Promise<void> } | undefined;
  const wakeAll = () => {
    for (const loop of loops.values()) loop.wake();
  };
  const running = () => [...loops.values()].reduce((sum, loop) => sum + loop.running, 0);
  const waitForRuns = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (running() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  };

  return {
    async start() {
      const db = options.boss.getDb();
      try {
        if (db.listen === undefined) throw new Error('the database adapter cannot LISTEN');
        const channel = await notifyChannel(options.database.view<PgBossDB>(options.schema), options.schema);
        listener = await db.listen(channel, (name) => loops.get(name)?.wake(), wakeAll);
      } catch (error) {
        options.log.warn({ err: error }, 'task wake-ups unavailable: new tasks wait for the poll');
      }
      for (const loop of loops.values()) loop.start();
      poll = setInterval(wakeAll, options.settings.pollIntervalSeconds * 1000);
    },

    async stop(timeoutMs) {
      clearInterval(poll);
      await listener?.close();
      for (const loop of loops.values()) loop.stopClaiming();
      await waitForRuns(timeoutMs);
      if (running() > 0) {
        for (const loop of loops.values()) loop.abortRunning(new Error('the worker is stopping'));
        await waitForRuns(ABORT_GRACE_MS);
      }
      await Promise.all([...loops.values()].map((loop) => loop.drain()));
    },
  };
}
