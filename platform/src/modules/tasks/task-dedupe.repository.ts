import type { Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';

/**
 * Deduplication keys of tasks (`task_dedupe`), written in the same transaction as the task they
 * guard: run on `tx.view<DB>('platform')`.
 */

/** Takes the key for `task`; false when some earlier enqueue took it (then nothing changes). */
export async function claimDedupeKey(db: Kysely<DB>, task: string, key: string): Promise<boolean> {
  const claimed = await db
    .insertInto('task_dedupe')
    .values({ task, key })
    .onConflict((conflict) => conflict.doNothing())
    .returning('key')
    .executeTakeFirst();
  return claimed !== undefined;
}

/** Records which job a claimed key enqueued. */
export async function recordDedupeJob(db: Kysely<DB>, task: string, key: string, jobId: string): Promise<void> {
  await db.updateTable('task_dedupe').set({ job_id: jobId }).where('task', '=', task).where('key', '=', key).execute();
}
