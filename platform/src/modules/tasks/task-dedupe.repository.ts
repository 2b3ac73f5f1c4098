import type { Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';

/**
 * Deduplication keys of tasks (`task_dedupe`), written in the same transaction as the task they
 * guard: run on `tx.view<DB>('platform')`.
 */

/**
 * Takes many keys for `task` at once, each recording the job it will enqueue; resolves with the
 * keys this call took (those some earlier enqueue holds are left as they are).
 */
export async function claimDedupeKeys(
  db: Kysely<DB>,
  task: string,
  keys: readonly { readonly key: string; readonly jobId: string }[],
): Promise<string[]> {
  if (keys.length === 0) return [];
  const claimed = await db
    .insertInto('task_dedupe')
    // In key order: two batches racing over the same keys wait for each other, never deadlock.
    .values(
      [...keys]
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map(({ key, jobId }) => ({ task, key, job_id: jobId })),
    )
    .onConflict((conflict) => conflict.doNothing())
    .returning('key')
    .execute();
  return claimed.map((row) => row.key);
}
