// The app of bench/tasks/crash.ts: one short task that records each of its runs.
import { defineApp, defineTask, sql, z, type AppContext, type TaskContext } from '@ballast/platform';

/** Records its run (task number and process); retried 1 s after a failure. */
export const recordTask = defineTask({
  name: 'bench.record',
  payload: z.object({ n: z.number().int() }),
  retryDelaySeconds: 1,
  handler: async (payload, ctx: TaskContext<AppContext>) => {
    await sql`insert into bench.run (n, pid) values (${payload.n}, ${process.pid})`.execute(ctx.db);
  },
});

export const crashApp = defineApp({
  name: 'bench',
  title: 'Bench',
  summary: 'Tasks killed mid-drain.',
  status: 'available',
  tasks: [recordTask],
});
