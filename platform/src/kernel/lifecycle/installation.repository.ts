import type { Kysely, Selectable } from 'kysely';
import type { DB, Installation } from '#platform/db/platform.db.ts';

/** The installation's table (`installation`, one row), on the platform's tables. */

/** Creates the one installation row unless it exists (race-safe across processes). */
export async function insertInstallationOnce(db: Kysely<DB>): Promise<void> {
  await db
    .insertInto('installation')
    .values({ singleton: true })
    .onConflict((conflict) => conflict.column('singleton').doNothing())
    .execute();
}

export async function readInstallation(db: Kysely<DB>): Promise<Pick<Selectable<Installation>, 'id' | 'created_at'>> {
  return db.selectFrom('installation').select(['id', 'created_at']).executeTakeFirstOrThrow();
}
