import type { SettingsOf } from '#platform/kernel/config/load-config.ts';
import { z } from 'zod';
import { defineSettings, integerSetting } from '#platform/kernel/config/settings.ts';

/** The background task engine (pg-boss in its own schema). */
export const taskSettings = defineSettings('tasks', {
  schema: z.object({
    TASKS_CONCURRENCY: integerSetting(4, 1, 256).describe(
      'Tasks of one kind a worker process runs at once, unless the task sets its own concurrency',
    ),
    TASKS_PREFETCH: integerSetting(200, 0, 10_000).describe(
      'Tasks of one kind a worker claims ahead of its free slots, for short tasks (fewer when runs are long; 0 claims only free slots)',
    ),
    TASKS_HEARTBEAT_SECONDS: integerSetting(10, 10, 600).describe(
      'Claimed tasks heartbeat at half this interval; one silent this long (its worker died) is failed at the next monitor pass and retried',
    ),
    TASKS_MONITOR_INTERVAL_SECONDS: integerSetting(5, 1, 300).describe(
      'How often workers fail tasks whose heartbeat lapsed and refresh queue statistics',
    ),
    TASKS_POLL_INTERVAL_SECONDS: integerSetting(2, 1, 300).describe(
      'How often workers look for retries and delayed tasks coming due (new tasks wake them at once via LISTEN/NOTIFY)',
    ),
    TASKS_KEEP_COMPLETED_SECONDS: integerSetting(86_400, 60, 30 * 86_400).describe(
      'How long finished tasks are kept for statistics and inspection, in seconds',
    ),
    TASKS_POOL_MAX: integerSetting(6, 2, 200).describe('Database connections the task engine opens per process'),
  }),
  resolve: (values) => ({
    concurrency: values.TASKS_CONCURRENCY,
    prefetch: values.TASKS_PREFETCH,
    heartbeatSeconds: values.TASKS_HEARTBEAT_SECONDS,
    monitorIntervalSeconds: values.TASKS_MONITOR_INTERVAL_SECONDS,
    pollIntervalSeconds: values.TASKS_POLL_INTERVAL_SECONDS,
    keepCompletedSeconds: values.TASKS_KEEP_COMPLETED_SECONDS,
    poolMax: values.TASKS_POOL_MAX,
  }),
});

declare module '#platform/kernel/config/load-config.ts' {
  interface ModuleConfig {
    readonly tasks: SettingsOf<typeof taskSettings>;
  }
}
