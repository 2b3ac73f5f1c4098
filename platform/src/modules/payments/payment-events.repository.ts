import type { Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';

/** Provider events already processed (`payment_event`), so a redelivered webhook is applied once. */

/** Claims an event; false when it was claimed before. */
export async function claimEvent(db: Kysely<DB>, provider: string, eventId: string, type: string): Promise<boolean> {
  const inserted = await db
    .insertInto('payment_event')
    .values({ provider, event_id: eventId, type })
    .onConflict((conflict) => conflict.doNothing())
    .executeTakeFirst();
  return (inserted.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Forgets a claimed event (it failed), so its redelivery is processed. */
export async function forgetEvent(db: Kysely<DB>, provider: string, eventId: string): Promise<void> {
  await db.deleteFrom('payment_event').where('provider', '=', provider).where('event_id', '=', eventId).execute();
}

export async function recordEventOutcome(
  db: Kysely<DB>,
  provider: string,
  eventId: string,
  outcome: string,
): Promise<void> {
  await db
    .updateTable('payment_event')
    .set({ outcome })
    .where('provider', '=', provider)
    .where('event_id', '=', eventId)
    .execute();
}
