import { sql, type Kysely } from 'kysely';
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
  // In key order: two batches racing over the same keys wait for each other, never deadlock. One
  // text for any number of keys (arrays, `unnest`ed), so it is planned once per connection.
  const sorted = [...keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const { rows: claimed } = await sql<{ key: string }>`insert into platform.task_dedupe (task, key, job_id)
    select ${task}, x.key, x.job_id from unnest(${sorted.map((k) => k.key)}::text[], ${sorted.map((k) => k.jobId)}::uuid[])
      as x(key, job_id)
    on conflict do nothing
    returning key`.execute(db);
  return claimed.map((row) => row.key);
}
