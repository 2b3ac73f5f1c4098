import { sql, type Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';

/**
 * The `session` table: one row per sign-in. A row is live while its `generation` equals its
 * user's `token_generation`; rows of earlier generations are ended and cleared as new ones come.
 */

/** A live session as the account page lists it. */
export interface SessionRow {
  readonly id: string;
  readonly created_at: Date;
  readonly last_seen_at: Date;
  readonly user_agent: string | null;
  readonly ip: string | null;
}

/** The longest user agent kept, in characters (the rest is cut). */
export const MAX_USER_AGENT = 300;

/** Records a sign-in in the user's current generation, clearing the user's ended sessions; its id. */
export async function insertSession(
  db: Kysely<DB>,
  session: { userId: string; generation: number; userAgent?: string | undefined; ip?: string | undefined },
): Promise<string> {
  await db
    .deleteFrom('session')
    .where('user_id', '=', session.userId)
    .where('generation', '<', session.generation)
    .execute();
  const row = await db
    .insertInto('session')
    .values({
      user_id: session.userId,
      generation: session.generation,
      user_agent: session.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
      ip: session.ip?.slice(0, 64) ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Moves one of the user's sessions to a new generation (its token is re-issued); false when it is gone. */
export async function renewSession(
  db: Kysely<DB>,
  session: { id: string; userId: string; generation: number },
): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ generation: session.generation, last_seen_at: sql<Date>`now()` })
    .where('id', '=', session.id)
    .where('user_id', '=', session.userId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Whether the user's session exists, locking its row until the transaction ends. */
export async function lockSession(db: Kysely<DB>, userId: string, id: string): Promise<boolean> {
  const row = await db
    .selectFrom('session')
    .select('id')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes every session of the user but `keepId`; how many went. */
export async function deleteOtherSessions(db: Kysely<DB>, userId: string, keepId: string): Promise<number> {
  const result = await db
    .deleteFrom('session')
    .where('user_id', '=', userId)
    .where('id', '<>', keepId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deletes every session of the user. */
export async function deleteSessions(db: Kysely<DB>, userId: string): Promise<void> {
  await db.deleteFrom('session').where('user_id', '=', userId).execute();
}

/** The user's live sessions, most recently seen first (at most 100). */
export async function listSessions(db: Kysely<DB>, userId: string): Promise<SessionRow[]> {
  return db
    .selectFrom('session as s')
    .innerJoin('user as u', (join) =>
      join.onRef('u.id', '=', 's.user_id').onRef('u.token_generation', '=', 's.generation'),
    )
    .select(['s.id', 's.created_at', 's.last_seen_at', 's.user_agent', 's.ip'])
    .where('s.user_id', '=', userId)
    .orderBy('s.last_seen_at', 'desc')
    .limit(100)
    .execute();
}

/** Notes that a session was used now. */
export async function touchSession(db: Kysely<DB>, id: string): Promise<void> {
  await db
    .updateTable('session')
    .set({ last_seen_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}
