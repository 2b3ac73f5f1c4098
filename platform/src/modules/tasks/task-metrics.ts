import client from 'prom-client';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import type { QueueStats, TaskEngine } from './task-engine.ts';

/** This process's task runs (by task and outcome, with durations) and claims: give them to the engine. */
export function countTaskWork(metrics: Metrics) {
  const registers = [metrics.registry];
  const runs = new client.Counter({
    name: 'tasks_runs_total',
    help: 'Task runs finished by this process, by task and outcome',
    labelNames: ['task', 'outcome'] as const,
    registers,
  });
  const runSeconds = new client.Histogram({
    name: 'tasks_run_duration_seconds',
    help: 'How long task runs took in this process',
    labelNames: ['task'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers,
  });
  const claims = new client.Histogram({
    name: 'tasks_claimed_per_fetch',
    help: 'Tasks each claim statement of this process took, by task (its count is the number of claim statements)',
    labelNames: ['task'] as const,
    buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers,
  });
  return {
    onRun(task: string, outcome: 'completed' | 'failed', seconds: number): void {
      runs.inc({ task, outcome });
      runSeconds.observe({ task }, seconds);
    },
    onClaim(task: string, claimed: number): void {
      claims.observe({ task }, claimed);
    },
  };
}

/**
 * Queue depth and age per task (what an autoscaler watches) and dead letters. Read from the
 * database at scrape time, so every node reports the same.
 */
export function observeQueues(metrics: Metrics, engine: TaskEngine, log: Logger): void {
  const registers = [metrics.registry];
  // prom-client collects gauges in parallel; one database read per scrape feeds all three.
  let reading: { at: number; stats: Promise<QueueStats[]> } | undefined;
  const readStats = async (): Promise<QueueStats[]> => {
    if (reading === undefined || Date.now() - reading.at > 1000) reading = { at: Date.now(), stats: engine.stats() };
    try {
      return await reading.stats;
    } catch (error) {
      log.warn({ err: error }, 'could not read task queue statistics for /metrics');
      return [];
    }
  };
  new client.Gauge({
    name: 'tasks_queue_depth',
    help: 'Tasks by state per queue (waiting: ready to run now; scheduled: due later)',
    labelNames: ['task', 'state'] as const,
    registers,
    async collect() {
      for (const queue of await readStats()) {
        this.set({ task: queue.task, state: 'waiting' }, queue.waiting);
        this.set({ task: queue.task, state: 'scheduled' }, queue.scheduled);
        this.set({ task: queue.task, state: 'active' }, queue.active);
      }
    },
  });
  new client.Gauge({
    name: 'tasks_oldest_waiting_seconds',
    help: 'Age of the oldest task ready to run, per queue',
    labelNames: ['task'] as const,
    registers,
    async collect() {
      for (const queue of await readStats()) this.set({ task: queue.task }, queue.oldestWaitingSeconds);
    },
  });
  new client.Gauge({
    name: 'tasks_dead_letters',
    help: 'Tasks that failed every retry and wait for an operator, per queue',
    labelNames: ['task'] as const,
    registers,
    async collect() {
      for (const queue of await readStats()) this.set({ task: queue.task }, queue.deadLetters);
    },
  });
}
