import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, Json, MeteredSession as MeteredSessionTable } from '#platform/db/platform.db.ts';

/**
 * Metered sessions and the reports providers make of them (`metered_session`, `metered_report`),
 * on the handle given: the platform's tables on the pool, or inside a transaction
 * (`tx.view<DB>('platform')`). The batched flush and the reading of a session's charge are SQL.
 */

export type SessionRow = Pick<
  Selectable<MeteredSessionTable>,
  | 'id'
  | 'user_id'
  | 'app'
  | 'unit'
  | 'status'
  | 'started_at'
  | 'max_seconds'
  | 'metered_seconds'
  | 'last_heartbeat_at'
  | 'warned_at'
  | 'ended_at'
  | 'end_reason'
  | 'details'
  | 'unsettled_seconds'
>;

/** A session's charge as it stands: its counters, the sum of its reports, what the ledger debited for it. */
export type ChargeRow = Pick<
  Selectable<MeteredSessionTable>,
  'user_id' | 'app' | 'unit' | 'status' | 'metered_seconds' | 'forgiven_seconds' | 'unsettled_seconds'
> & { reported: number; charged: string };

/** A session's row as the batched flush locks it. */
export type FlushRow = Pick<Selectable<MeteredSessionTable>, 'id' | 'user_id' | 'app' | 'unit' | 'metered_seconds'>;

const sessionColumns = [
  'id',
  'user_id',
  'app',
  'unit',
  'status',
  'started_at',
  'max_seconds',
  'metered_seconds',
  'last_heartbeat_at',
  'warned_at',
  'ended_at',
  'end_reason',
  'details',
  'unsettled_seconds',
] as const;

const jsonb = (value: unknown) => sql<Json>`${JSON.stringify(value)}::jsonb`;

/** One session; with `lock`, its row is held until the transaction ends. */
export async function findSession(db: Kysely<DB>, id: string, lock = false): Promise<SessionRow | undefined> {
  return db
    .selectFrom('metered_session')
    .select(sessionColumns)
    .where('id', '=', id)
    .$if(lock, (query) => query.forUpdate())
    .executeTakeFirst();
}

/** The user's live session in `app`, if any (there is at most one). */
export async function findLiveSession(db: Kysely<DB>, userId: string, app: string): Promise<SessionRow | undefined> {
  return db
    .selectFrom('metered_session')
    .select(sessionColumns)
    .where('user_id', '=', userId)
    .where('app', '=', app)
    .where('status', '=', 'active')
    .executeTakeFirst();
}

/** Opens a session; undefined when the user already has a live one in `app` (a racing start won). */
export async function insertSession(
  db: Kysely<DB>,
  session: {
    userId: string;
    app: string;
    unit: string;
    startedAt: Date;
    maxSeconds: number;
    details: Record<string, unknown>;
  },
): Promise<SessionRow | undefined> {
  return db
    .insertInto('metered_session')
    .values({
      user_id: session.userId,
      app: session.app,
      unit: session.unit,
      started_at: session.startedAt,
      max_seconds: session.maxSeconds,
      last_heartbeat_at: session.startedAt,
      details: jsonb(session.details),
    })
    .onConflict((conflict) => conflict.doNothing())
    .returning(sessionColumns)
    .executeTakeFirst();
}

/** Moves the last heartbeat forward (never back) and, when given, sets the metered time written and debited. */
export async function recordProgress(
  db: Kysely<DB>,
  id: string,
  progress: { lastBeatAt: Date; meteredSeconds?: number },
): Promise<void> {
  await db
    .updateTable('metered_session')
    .set((eb) => ({
      ...(progress.meteredSeconds === undefined ? {} : { metered_seconds: progress.meteredSeconds }),
      last_heartbeat_at: eb.fn<Date>('greatest', ['last_heartbeat_at', eb.val(progress.lastBeatAt)]),
    }))
    .where('id', '=', id)
    .execute();
}

export async function endSession(
  db: Kysely<DB>,
  id: string,
  end: { at: Date; reason: string; meteredSeconds: number },
): Promise<SessionRow> {
  return db
    .updateTable('metered_session')
    .set({ status: 'ended', ended_at: end.at, end_reason: end.reason, metered_seconds: end.meteredSeconds })
    .where('id', '=', id)
    .returning(sessionColumns)
    .executeTakeFirstOrThrow();
}

export async function markWarned(db: Kysely<DB>, id: string): Promise<void> {
  await db
    .updateTable('metered_session')
    .set((eb) => ({ warned_at: eb.fn<Date>('now') }))
    .where('id', '=', id)
    .execute();
}

/** Merges facts into a session's details. */
export async function annotateSession(db: Kysely<DB>, id: string, details: Record<string, unknown>): Promise<void> {
  await db
    .updateTable('metered_session')
    .set({ details: sql<Json>`details || ${jsonb(details)}` })
    .where('id', '=', id)
    .execute();
}

/**
 * Reads where a session's charge stands, in one statement: its counters, the sum of its reports,
 * and what the ledger debited for it as usage (every debit of the session carries its reference;
 * `ledger_entry_reference` indexes them).
 */
export async function readCharge(db: Kysely<DB>, id: string): Promise<ChargeRow | undefined> {
  const result = await sql<ChargeRow>`select s.user_id::text, s.app, s.unit, s.status, s.metered_seconds,
      s.forgiven_seconds, s.unsettled_seconds,
      (select coalesce(sum(r.seconds), 0)::int from platform.metered_report r where r.session_id = s.id) as reported,
      (select coalesce(-sum(e.amount), 0)::text from platform.ledger_entry e
        where e.app = s.app and e.reference = ${`session:${id}`} and e.kind = 'usage') as charged
    from platform.metered_session s where s.id = ${id}::uuid`.execute(db);
  return result.rows[0];
}

export async function setUnsettled(db: Kysely<DB>, id: string, seconds: number): Promise<void> {
  await db.updateTable('metered_session').set({ unsettled_seconds: seconds }).where('id', '=', id).execute();
}

/** The user's sessions in `app` that still owe; with `lock`, their rows are held, locked in id order. */
export async function owingSessionIds(db: Kysely<DB>, userId: string, app: string, lock = false): Promise<string[]> {
  const rows = await db
    .selectFrom('metered_session')
    .select('id')
    .where('user_id', '=', userId)
    .where('app', '=', app)
    .where('unsettled_seconds', '>', 0)
    .$if(lock, (query) => query.orderBy('id').forUpdate())
    .execute();
  return rows.map((row) => row.id);
}

/** What the user's sessions in `app` still owe, in all. */
export async function unsettledTotal(db: Kysely<DB>, userId: string, app: string): Promise<number> {
  const row = await db
    .selectFrom('metered_session')
    .select(sql<number>`coalesce(sum(unsettled_seconds), 0)::int`.as('owed'))
    .where('user_id', '=', userId)
    .where('app', '=', app)
    .where('unsettled_seconds', '>', 0)
    .executeTakeFirstOrThrow();
  return row.owed;
}

/** Sessions of `app` that still owe, newest first. */
export async function listUnsettled(db: Kysely<DB>, app: string, limit: number): Promise<SessionRow[]> {
  return db
    .selectFrom('metered_session')
    .select(sessionColumns)
    .where('app', '=', app)
    .where('unsettled_seconds', '>', 0)
    .orderBy('started_at', 'desc')
    .limit(limit)
    .execute();
}

/** The user's sessions in `app`, newest first. */
export async function listSessions(db: Kysely<DB>, userId: string, app: string, limit: number): Promise<SessionRow[]> {
  return db
    .selectFrom('metered_session')
    .select(sessionColumns)
    .where('user_id', '=', userId)
    .where('app', '=', app)
    .orderBy('started_at', 'desc')
    .limit(limit)
    .execute();
}

/** Clears what a session owes: counted as forgiven from then on. */
export async function forgiveUnsettled(db: Kysely<DB>, id: string): Promise<void> {
  await db
    .updateTable('metered_session')
    .set((eb) => ({ forgiven_seconds: eb('forgiven_seconds', '+', eb.ref('unsettled_seconds')), unsettled_seconds: 0 }))
    .where('id', '=', id)
    .execute();
}

/** Live sessions last heard of before `cutoff`. */
export async function staleSessionIds(db: Kysely<DB>, cutoff: Date): Promise<string[]> {
  const rows = await db
    .selectFrom('metered_session')
    .select('id')
    .where('status', '=', 'active')
    .where('last_heartbeat_at', '<', cutoff)
    .execute();
  return rows.map((row) => row.id);
}

/** Records a provider's report under its key; a second report under the same key only raises it. */
export async function recordReport(db: Kysely<DB>, sessionId: string, key: string, seconds: number): Promise<void> {
  await db
    .insertInto('metered_report')
    .values({ session_id: sessionId, key, seconds })
    .onConflict((conflict) =>
      conflict
        .columns(['session_id', 'key'])
        .doUpdateSet((eb) => ({ seconds: eb.fn<number>('greatest', ['metered_report.seconds', 'excluded.seconds']) })),
    )
    .execute();
}

/** Locks the live sessions among `ids`, in id order (one batch never deadlocks another). */
export async function lockLiveSessions(db: Kysely<DB>, ids: readonly string[]): Promise<FlushRow[]> {
  const locked = await sql<FlushRow>`select id::text, user_id::text, app, unit, metered_seconds
    from platform.metered_session
    where id = any(${ids}::uuid[]) and status = 'active'
    order by id for update`.execute(db);
  return locked.rows;
}

/** Writes many sessions' metered time at once, each last heartbeat moved forward (never back). */
export async function recordFlushes(
  db: Kysely<DB>,
  flushes: readonly { id: string; total: number; lastBeatAt: number }[],
): Promise<void> {
  await sql`update platform.metered_session m set metered_seconds = x.total,
      last_heartbeat_at = greatest(m.last_heartbeat_at, x.beat)
    from unnest(${flushes.map((flush) => flush.id)}::uuid[], ${flushes.map((flush) => flush.total)}::int[],
      ${flushes.map((flush) => new Date(flush.lastBeatAt).toISOString())}::timestamptz[]) as x(id, total, beat)
    where m.id = x.id`.execute(db);
}

/**
 * Locks the sessions among `ids` (live or ended), in id order, as `findSession` reads them. One
 * text for any number of ids (`= any`, planned once per connection), not an `in` list per length.
 */
export async function lockSessions(db: Kysely<DB>, ids: readonly string[]): Promise<SessionRow[]> {
  return db
    .selectFrom('metered_session')
    .select(sessionColumns)
    .where('id', '=', sql<string>`any(${ids}::uuid[])`)
    .orderBy('id')
    .forUpdate()
    .execute();
}

/** A session's row as a batched end leaves it, with what it has been charged (`ChargeRow`). */
export type EndedRow = SessionRow & ChargeRow;

/**
 * Ends many sessions at once: each its end, reason and metered time, its last heartbeat moved
 * forward (never back). Each row comes back with what the session has been charged, read from the
 * ledger as this transaction left it (the batch's own debits, written before, included).
 */
export async function endSessions(
  db: Kysely<DB>,
  ends: readonly { id: string; at: Date; reason: string; meteredSeconds: number; lastBeatAt: Date }[],
): Promise<EndedRow[]> {
  const result = await sql<EndedRow>`update platform.metered_session m set status = 'ended', ended_at = x.at,
      end_reason = x.reason, metered_seconds = x.metered, last_heartbeat_at = greatest(m.last_heartbeat_at, x.beat)
    from unnest(${ends.map((end) => end.id)}::uuid[], ${ends.map((end) => end.at.toISOString())}::timestamptz[],
      ${ends.map((end) => end.reason)}::text[], ${ends.map((end) => end.meteredSeconds)}::int[],
      ${ends.map((end) => end.lastBeatAt.toISOString())}::timestamptz[]) as x(id, at, reason, metered, beat)
    where m.id = x.id
    returning m.id::text, m.user_id::text, m.app, m.unit, m.status, m.started_at, m.max_seconds, m.metered_seconds,
      m.last_heartbeat_at, m.warned_at, m.ended_at, m.end_reason, m.details, m.unsettled_seconds, m.forgiven_seconds,
      (select coalesce(sum(r.seconds), 0)::int from platform.metered_report r where r.session_id = m.id) as reported,
      (select coalesce(-sum(e.amount), 0)::text from platform.ledger_entry e
        where e.app = m.app and e.reference = 'session:' || m.id::text and e.kind = 'usage') as charged`.execute(db);
  return result.rows;
}
