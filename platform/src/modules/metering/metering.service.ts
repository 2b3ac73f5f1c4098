import { sql, type Kysely, type Transaction } from 'kysely';
import { queryable, txOf, type EmptyDB, type Tx, type TxLike } from '#platform/kernel/db/database.ts';
import client from 'prom-client';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { AnyKysely } from '#platform/kernel/db/database.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import type { Ledger } from '#platform/modules/payments/ledger.ts';
import type { Realtime } from '#platform/modules/realtime/realtime-hub.ts';
import type { LiveSession, MeterStore } from './meter-store.ts';

/** Why a session ended. */
export const endReasons = ['hung_up', 'heartbeat_lost', 'balance_exhausted', 'operator', 'shutdown'] as const;
export type EndReason = (typeof endReasons)[number];

export interface MeteredSession {
  readonly id: string;
  readonly userId: string;
  readonly app: string;
  readonly unit: string;
  readonly status: 'active' | 'ended';
  readonly startedAt: Date;
  readonly maxSeconds: number;
  readonly meteredSeconds: number;
  readonly endedAt: Date | null;
  readonly endReason: EndReason | null;
  readonly details: Record<string, unknown>;
  /** What the session still owes beyond what the balance could cover (see `report`). */
  readonly unsettledSeconds: number;
}

/** Where an ended session's charge stands after a provider's report (or its end) was settled. */
export interface Settlement {
  readonly sessionId: string;
  readonly status: 'active' | 'ended';
  readonly meteredSeconds: number;
  /** The sum of every provider report for the session (0 when none). */
  readonly reportedSeconds: number;
  /** Debited for the session in all, metered time included. */
  readonly chargedSeconds: number;
  /** Debited by this settlement (0 when a replay or a race had already settled it). */
  readonly chargedNowSeconds: number;
  /** Owed beyond what the balance held: new sessions are refused until it is paid or cleared. */
  readonly unsettledSeconds: number;
}

export interface HeartbeatAnswer {
  readonly status: 'active' | 'ended';
  readonly sessionId: string;
  readonly meteredSeconds: number;
  readonly remainingSeconds: number;
  /** True from the warning threshold on: the balance runs out soon. */
  readonly warning: boolean;
  readonly endReason?: EndReason | null;
}

/** Called inside the transaction that ends a session (enqueue follow-up work with this `tx`). */
export type SessionEndedHook = (session: MeteredSession, tx: Tx) => Promise<void>;

export interface MeteringOptions {
  readonly db: AnyKysely;
  /** The payments module's ledger: usage is debited from it. */
  readonly ledger: Ledger;
  readonly store: MeterStore;
  readonly log: Logger;
  readonly metrics?: Metrics | undefined;
  readonly settings: { readonly gapSeconds: number; readonly flushSeconds: number; readonly warningSeconds: number };
  /** Live updates to the user: `metering.warning`, `metering.ended`. */
  readonly realtime?: Realtime | undefined;
  readonly onEnded: (app: string) => SessionEndedHook | undefined;
  readonly now?: () => number;
}

interface SessionRow {
  id: string;
  user_id: string;
  app: string;
  unit: string;
  status: 'active' | 'ended';
  started_at: Date;
  max_seconds: number;
  metered_seconds: number;
  last_heartbeat_at: Date;
  warned_at: Date | null;
  ended_at: Date | null;
  end_reason: EndReason | null;
  details: Record<string, unknown>;
  unsettled_seconds: number;
}

function toSession(row: SessionRow): MeteredSession {
  return {
    id: row.id,
    userId: row.user_id,
    app: row.app,
    unit: row.unit,
    status: row.status,
    startedAt: row.started_at,
    maxSeconds: row.max_seconds,
    meteredSeconds: row.metered_seconds,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    details: row.details,
    unsettledSeconds: row.unsettled_seconds,
  };
}

const columns = sql`id::text, user_id::text, app, unit, status, started_at, max_seconds, metered_seconds,
  last_heartbeat_at, warned_at, ended_at, end_reason, details, unsettled_seconds`;

export type Metering = ReturnType<typeof createMetering>;

const unknownSession = () => new AppError('not_found', 'metering.unknown_session', 'No such session');

/**
 * Sessions billed by the second from heartbeats. Heartbeats touch only the store (Redis or
 * memory); the database sees a session when it starts, about every `flushSeconds` while it runs
 * (one transaction: the debit and the session's counter, guarded so a flush or an end never
 * debits the same seconds twice), and when it ends. Metered time runs from the start to the last
 * heartbeat, or to the hang-up when that comes within the gap; it never exceeds the balance the
 * session started with.
 */
export function createMetering(options: MeteringOptions) {
  const db = options.db as unknown as Kysely<unknown>;
  const { ledger, store, log, settings } = options;
  const now = options.now ?? Date.now;
  let loop: NodeJS.Timeout | undefined;

  const writes = options.metrics
    ? new client.Counter({
        name: 'metering_database_writes_total',
        help: 'Session rows metering wrote to the database (start, flush, end)',
        labelNames: ['kind'] as const,
        registers: [options.metrics.registry],
      })
    : undefined;
  const transactions = options.metrics
    ? new client.Counter({
        name: 'metering_flush_transactions_total',
        help: 'Transactions that flushed metered time (each covers up to 1,000 sessions)',
        registers: [options.metrics.registry],
      })
    : undefined;

  async function row(id: string, tx: Kysely<unknown> = db, lock = false): Promise<SessionRow | undefined> {
    const result = await sql<SessionRow>`select ${columns} from platform.metered_session where id = ${id}::uuid
      ${lock ? sql`for update` : sql``}`.execute(tx);
    return result.rows[0];
  }

  function meteredAt(session: LiveSession, until: number): number {
    return Math.max(0, Math.min(session.maxSeconds, Math.floor((until - session.startedAt) / 1000)));
  }

  /** Brings the database up to `total` metered seconds: debit the difference, once. */
  async function settle(tx: Kysely<unknown>, current: SessionRow, total: number, lastBeatAt: number): Promise<number> {
    const delta = total - current.metered_seconds;
    if (delta > 0) {
      await ledger.debitUpTo(
        {
          userId: current.user_id,
          app: current.app,
          unit: current.unit,
          kind: 'usage',
          amount: delta,
          reference: `session:${current.id}`,
          idempotencyKey: `session:${current.id}:${total}`,
        },
        // Every caller holds a transaction (the next change types it as a Tx throughout).
        { tx: txOf(tx as Transaction<EmptyDB>) },
      );
    }
    const metered = Math.max(total, current.metered_seconds);
    await sql`update platform.metered_session set metered_seconds = ${metered},
        last_heartbeat_at = greatest(last_heartbeat_at, ${new Date(lastBeatAt)})
      where id = ${current.id}::uuid`.execute(tx);
    return metered;
  }

  /**
   * Brings an ended session's charge up to what it owes: the larger of its metered time and what
   * providers reported, less what an operator forgave. What was charged is read from the ledger
   * (every debit of the session carries its reference), so a replayed or racing settlement finds
   * nothing left to take; each debit's key names the total charged before it. The balance gives
   * what it holds; the rest is recorded as unsettled. A live session is left as it is. Call it
   * holding the session's row lock.
   */
  async function settleOwed(tx: Kysely<unknown>, id: string): Promise<Settlement> {
    const result = await sql<{
      user_id: string;
      app: string;
      unit: string;
      status: 'active' | 'ended';
      metered_seconds: number;
      forgiven_seconds: number;
      unsettled_seconds: number;
      reported: number;
      charged: string;
    }>`select s.user_id::text, s.app, s.unit, s.status, s.metered_seconds, s.forgiven_seconds, s.unsettled_seconds,
        (select coalesce(sum(r.seconds), 0)::int from platform.metered_report r where r.session_id = s.id) as reported,
        (select coalesce(-sum(e.amount), 0)::text from platform.ledger_entry e
          where e.app = s.app and e.reference = ${`session:${id}`} and e.kind = 'usage') as charged
      from platform.metered_session s where s.id = ${id}::uuid`.execute(tx);
    const current = result.rows[0]!;
    let charged = Number(current.charged);
    const owed = Math.max(current.metered_seconds, current.reported) - current.forgiven_seconds;
    // A live session is settled when it ends: its metered time is still growing.
    let unsettled = current.status === 'active' ? 0 : Math.max(0, owed - charged);
    let chargedNow = 0;
    if (unsettled > 0) {
      const debit = await ledger.debitUpTo(
        {
          userId: current.user_id,
          app: current.app,
          unit: current.unit,
          kind: 'usage',
          amount: unsettled,
          reference: `session:${id}`,
          idempotencyKey: `session:${id}:owed:${charged}`,
        },
        // Every caller holds a transaction (the next change types it as a Tx throughout).
        { tx: txOf(tx as Transaction<EmptyDB>) },
      );
      chargedNow = debit.applied ? -debit.amount : 0;
      charged += chargedNow;
      unsettled -= chargedNow;
    }
    if (unsettled !== current.unsettled_seconds) {
      await sql`update platform.metered_session set unsettled_seconds = ${unsettled} where id = ${id}::uuid`.execute(
        tx,
      );
    }
    if (chargedNow > 0 || unsettled > 0) {
      log.info(
        { session: id, metered: current.metered_seconds, reported: current.reported, chargedNow, unsettled },
        'metered session settled beyond its metered time',
      );
    }
    return {
      sessionId: id,
      status: current.status,
      meteredSeconds: current.metered_seconds,
      reportedSeconds: current.reported,
      chargedSeconds: charged,
      chargedNowSeconds: chargedNow,
      unsettledSeconds: unsettled,
    };
  }

  /** Takes what the user's earlier sessions in `app` still owe from the balance; resolves with what remains owed. */
  async function collectOwed(userId: string, app: string): Promise<number> {
    const owing = await sql<{ id: string }>`select id::text from platform.metered_session
      where user_id = ${userId}::uuid and app = ${app} and unsettled_seconds > 0`.execute(db);
    if (owing.rows.length === 0) return 0;
    return db.transaction().execute(async (tx) => {
      const locked = await sql<{ id: string }>`select id::text from platform.metered_session
        where user_id = ${userId}::uuid and app = ${app} and unsettled_seconds > 0 order by id for update`.execute(tx);
      let left = 0;
      for (const { id } of locked.rows) left += (await settleOwed(tx, id)).unsettledSeconds;
      return left;
    });
  }

  async function flush(session: LiveSession): Promise<void> {
    const total = meteredAt(session, session.lastBeatAt);
    if (total <= session.flushedSeconds) return;
    await db.transaction().execute(async (tx) => {
      const current = await row(session.id, tx, true);
      if (current === undefined || current.status !== 'active') return;
      await settle(tx, current, total, session.lastBeatAt);
    });
    writes?.inc({ kind: 'flush' });
    await store.setFlushed(session.id, total);
  }

  /** Sessions whose metered time is due to be written, flushed together once a second. */
  const due = new Map<string, LiveSession>();

  function flushSoon(session: LiveSession): void {
    due.set(session.id, session);
  }

  /**
   * Writes the due sessions in one transaction per 1,000: lock their rows, debit each one's new
   * seconds (once per key, never below zero), move their counters. A handful of statements
   * whatever the number of calls.
   */
  async function flushDue(): Promise<void> {
    while (due.size > 0) {
      const batch = [...due.values()].slice(0, 1000);
      for (const session of batch) due.delete(session.id);
      const written: { id: string; total: number }[] = [];
      await db.transaction().execute(async (tx) => {
        const locked = await sql<{ id: string; user_id: string; app: string; unit: string; metered_seconds: number }>`
          select id::text, user_id::text, app, unit, metered_seconds from platform.metered_session
          where id = any(${batch.map((session) => session.id)}::uuid[]) and status = 'active'
          order by id for update`.execute(tx);
        const rows = new Map(locked.rows.map((current) => [current.id, current]));
        const work = batch.flatMap((session) => {
          const current = rows.get(session.id);
          const total = meteredAt(session, session.lastBeatAt);
          return current === undefined || total <= current.metered_seconds ? [] : [{ session, current, total }];
        });
        if (work.length === 0) return;
        await ledger.debitManyUpTo(
          txOf(tx),
          'usage',
          work.map(({ session, current, total }) => ({
            userId: current.user_id,
            app: current.app,
            unit: current.unit,
            amount: total - current.metered_seconds,
            reference: `session:${session.id}`,
            idempotencyKey: `session:${session.id}:${total}`,
          })),
        );
        await sql`update platform.metered_session m set metered_seconds = x.total,
            last_heartbeat_at = greatest(m.last_heartbeat_at, x.beat)
          from unnest(${work.map((item) => item.session.id)}::uuid[], ${work.map((item) => item.total)}::int[],
            ${work.map((item) => new Date(item.session.lastBeatAt).toISOString())}::timestamptz[]) as x(id, total, beat)
          where m.id = x.id`.execute(tx);
        for (const item of work) written.push({ id: item.session.id, total: item.total });
      });
      transactions?.inc();
      writes?.inc({ kind: 'flush' }, written.length);
      for (const item of written) await store.setFlushed(item.id, item.total);
    }
  }

  async function publish(userId: string, app: string, event: string, data: unknown): Promise<void> {
    try {
      await options.realtime?.publish({ app, channel: `user:${userId}`, event, data });
    } catch (error) {
      log.warn({ err: error, event }, 'metering: live update not sent');
    }
  }

  /** Rebuilds a live session from its row (memory store after a restart, or a sweep). */
  function liveFrom(current: SessionRow, lastBeatAt: number): LiveSession {
    return {
      id: current.id,
      userId: current.user_id,
      app: current.app,
      unit: current.unit,
      startedAt: current.started_at.getTime(),
      maxSeconds: current.max_seconds,
      lastBeatAt,
      flushedSeconds: current.metered_seconds,
      warned: current.warned_at !== null,
    };
  }

  async function end(
    id: string,
    reason: EndReason,
    at = now(),
    hangUp: { actorId?: string; sinceLastBeatMs?: number } = {},
  ): Promise<MeteredSession> {
    let ended: MeteredSession | undefined;
    let endedNow = false;
    let taken: LiveSession | undefined;
    try {
      await db.transaction().execute(async (tx) => {
        const current = await row(id, tx, true);
        if (current === undefined || (hangUp.actorId !== undefined && current.user_id !== hangUp.actorId)) {
          throw new AppError('not_found', 'metering.unknown_session', 'No such session');
        }
        if (current.status === 'ended') {
          ended = toSession(current);
          return;
        }
        // Taken out of the store under the row lock: a heartbeat either landed before (and is
        // billed here) or finds no live session and waits for this transaction, so no heartbeat
        // is acknowledged and then left unbilled.
        taken = await store.take(id);
        const session = taken ?? liveFrom(current, current.last_heartbeat_at.getTime());
        if (reason === 'heartbeat_lost' && session.lastBeatAt >= at - settings.gapSeconds * 1000) {
          // A heartbeat arrived after the silence was noticed: the call goes on.
          if (taken !== undefined) await store.put(taken);
          taken = undefined;
          ended = toSession(current);
          return;
        }
        // A hang-up counts until it arrived if the call was still alive, otherwise until its last
        // heartbeat plus the gap; and no later than the caller's own measure of the time from their
        // last acknowledged heartbeat to the hang-up (a hang-up queued behind others is not billed
        // for its wait; the caller can only shorten the bill by less than the gap, which stopping
        // heartbeats would do anyway).
        const until =
          reason === 'heartbeat_lost'
            ? session.lastBeatAt
            : reason === 'balance_exhausted'
              ? session.startedAt + session.maxSeconds * 1000
              : Math.min(
                  at,
                  session.lastBeatAt + settings.gapSeconds * 1000,
                  session.lastBeatAt + Math.max(0, hangUp.sinceLastBeatMs ?? Number.POSITIVE_INFINITY),
                );
        const metered = await settle(tx, current, meteredAt(session, until), Math.min(until, at));
        const result = await sql<SessionRow>`update platform.metered_session
          set status = 'ended', ended_at = ${new Date(at)}, end_reason = ${reason}, metered_seconds = ${metered}
          where id = ${id}::uuid returning ${columns}`.execute(tx);
        // Usage a provider reported while the call was live, or metered time the balance no
        // longer covered (it fell during the call), is charged or recorded as owed now.
        const settled = await settleOwed(tx, id);
        ended = { ...toSession(result.rows[0]!), unsettledSeconds: settled.unsettledSeconds };
        await options.onEnded(current.app)?.(ended, txOf(tx));
        endedNow = true;
      });
    } catch (error) {
      // Not ended after all: the session goes back to the store as it was.
      if (taken !== undefined) await store.put(taken).catch(() => undefined);
      throw error;
    }
    const session = ended!;
    if (session.status === 'ended') await store.remove(id);
    if (endedNow) {
      writes?.inc({ kind: 'end' });
      log.info({ session: id, reason, metered: session.meteredSeconds }, 'metered session ended');
      await publish(session.userId, session.app, 'metering.ended', {
        sessionId: id,
        reason: session.endReason,
        meteredSeconds: session.meteredSeconds,
      });
    }
    return session;
  }

  function endedAnswer(session: MeteredSession, warning = false): HeartbeatAnswer {
    return {
      status: 'ended',
      sessionId: session.id,
      meteredSeconds: session.meteredSeconds,
      remainingSeconds: 0,
      warning,
      endReason: session.endReason,
    };
  }

  async function tick(): Promise<void> {
    await flushDue();
    const at = now();
    for (const id of await store.exhaustedBy(at)) await end(id, 'balance_exhausted', at).catch(() => undefined);
    for (const id of await store.silentSince(at - settings.gapSeconds * 1000)) {
      await end(id, 'heartbeat_lost', at).catch((error: unknown) =>
        log.warn({ err: error, id }, 'metering: end failed'),
      );
    }
  }

  return {
    store,

    /**
     * Starts (or resumes) the caller's session in `app`. A new session first pays what earlier
     * ones still owe (`report`) from the balance; it is refused while anything stays owed
     * (`metering.unsettled`, with `unsettledSeconds`) or when the balance is zero.
     */
    async start(input: {
      userId: string;
      app: string;
      unit: string;
      details?: Record<string, unknown>;
    }): Promise<{ session: MeteredSession; resumed: boolean }> {
      const existing = await sql<SessionRow>`select ${columns} from platform.metered_session
        where user_id = ${input.userId}::uuid and app = ${input.app} and status = 'active'`.execute(db);
      const open = existing.rows[0];
      if (open !== undefined) {
        const live = await store.get(open.id);
        if (live !== undefined && live.lastBeatAt >= now() - settings.gapSeconds * 1000) {
          return { session: toSession(open), resumed: true };
        }
        await end(open.id, 'heartbeat_lost');
      }
      const owed = await collectOwed(input.userId, input.app);
      if (owed > 0) {
        throw new AppError(
          'payment_failed',
          'metering.unsettled',
          `An earlier session used ${owed} more than your balance held: pay it before starting another`,
          { details: { unsettledSeconds: owed } },
        );
      }
      const balance = await ledger.balanceOf({ userId: input.userId, app: input.app, unit: input.unit });
      if (balance <= 0) {
        throw new AppError('payment_failed', 'metering.no_balance', 'Your balance is empty: buy more to start');
      }
      const startedAt = now();
      const inserted = await sql<SessionRow>`insert into platform.metered_session
          (user_id, app, unit, started_at, max_seconds, last_heartbeat_at, details)
        values (${input.userId}::uuid, ${input.app}, ${input.unit}, ${new Date(startedAt)}, ${balance},
          ${new Date(startedAt)}, ${JSON.stringify(input.details ?? {})}::jsonb)
        on conflict do nothing
        returning ${columns}`.execute(db);
      const created = inserted.rows[0];
      if (created === undefined) {
        // Two starts raced: the other one won; resume it.
        const winner = await sql<SessionRow>`select ${columns} from platform.metered_session
          where user_id = ${input.userId}::uuid and app = ${input.app} and status = 'active'`.execute(db);
        return { session: toSession(winner.rows[0]!), resumed: true };
      }
      writes?.inc({ kind: 'start' });
      await store.put(liveFrom(created, startedAt));
      return { session: toSession(created), resumed: false };
    },

    /**
     * A heartbeat from the user's browser, `at` when it arrived (default now; a request that
     * waited in a queue is billed at its arrival, not when it was served). Ends the session when
     * its time is up.
     */
    async heartbeat(userId: string, id: string, arrivedAt?: number, app?: string): Promise<HeartbeatAnswer> {
      const at = Math.min(arrivedAt ?? now(), now());
      let live = await store.beat(id, userId, at);
      // Another app's session of the same user: not this app's to keep alive.
      if (live !== undefined && app !== undefined && live.app !== app) throw unknownSession();
      if (live === undefined) {
        const current = await row(id);
        if (current === undefined || current.user_id !== userId || (app !== undefined && current.app !== app)) {
          throw unknownSession();
        }
        if (current.status === 'ended') return endedAnswer(toSession(current));
        // Not in the store: being ended right now, or a memory store after a restart. Decided
        // under the row lock, so an end in progress finishes first.
        const adopted = await db.transaction().execute(async (tx) => {
          const locked = (await row(id, tx, true))!;
          if (locked.status === 'ended') return { ended: toSession(locked) };
          const again = await store.beat(id, userId, at);
          if (again !== undefined) return { live: again };
          const last = locked.last_heartbeat_at.getTime();
          if (last < at - settings.gapSeconds * 1000) return { silent: true };
          await store.put(liveFrom(locked, last));
          return { live: (await store.beat(id, userId, at))! };
        });
        if (adopted.ended !== undefined) return endedAnswer(adopted.ended);
        if (adopted.live === undefined) return endedAnswer(await end(id, 'heartbeat_lost', at));
        live = adopted.live;
      }
      const metered = meteredAt(live, at);
      if (metered >= live.maxSeconds) return endedAnswer(await end(id, 'balance_exhausted', at), true);
      const remaining = live.maxSeconds - metered;
      const warning = remaining <= settings.warningSeconds;
      if (warning && !live.warned && (await store.markWarned(id))) {
        await sql`update platform.metered_session set warned_at = now() where id = ${id}::uuid`.execute(db);
        await publish(live.userId, live.app, 'metering.warning', { sessionId: id, remainingSeconds: remaining });
      }
      if (metered - live.flushedSeconds >= settings.flushSeconds) flushSoon(live);
      return { status: 'active', sessionId: id, meteredSeconds: metered, remainingSeconds: remaining, warning };
    },

    /**
     * Ends a session for its user (hang-up, with `actor`) or for an operator. Billed up to
     * `arrivedAt` (when the request arrived; default now), and, for a hang-up that says so, no
     * later than `sinceLastBeatMs` after the last heartbeat (the caller's own measure from the
     * answer to their last heartbeat to the hang-up). Idempotent.
     */
    async end(
      id: string,
      reason: EndReason,
      options: { actor?: { userId: string }; arrivedAt?: number; sinceLastBeatMs?: number } = {},
    ): Promise<MeteredSession> {
      return end(id, reason, Math.min(options.arrivedAt ?? now(), now()), {
        actorId: options.actor?.userId,
        sinceLastBeatMs: options.sinceLastBeatMs,
      });
    },

    /**
     * Records a provider's own measure of what a session used (a voice agent's record of the
     * conversation), in the session's unit, once per `key`: a second report under the same key
     * only raises it. The session is billed the larger of its metered time and the sum of its
     * reports: once it has ended (at once, or when it ends), the difference is debited up to what
     * the balance holds, exactly once however often reports are replayed or race, and the rest is
     * recorded as unsettled, which refuses new sessions until paid (`start` takes it first) or
     * cleared (`forgive`). Pass `tx` to make it part of the caller's transaction.
     */
    async report(
      id: string,
      report: { key: string; seconds: number },
      options: { tx?: TxLike; app?: string } = {},
    ): Promise<Settlement> {
      if (!Number.isSafeInteger(report.seconds) || report.seconds < 0 || report.key === '') {
        throw new AppError('invalid_input', 'metering.invalid_report', 'A report is a key and a whole number >= 0');
      }
      const work = async (tx: Kysely<unknown>): Promise<Settlement> => {
        const current = await row(id, tx, true);
        // Another app's session is none of the caller's business: as if it did not exist.
        if (current === undefined || (options.app !== undefined && current.app !== options.app)) {
          throw unknownSession();
        }
        await sql`insert into platform.metered_report (session_id, key, seconds)
          values (${id}::uuid, ${report.key}, ${report.seconds})
          on conflict (session_id, key) do update set seconds = greatest(metered_report.seconds, excluded.seconds)`.execute(
          tx,
        );
        return settleOwed(tx, id);
      };
      return options.tx === undefined ? db.transaction().execute(work) : work(queryable(options.tx) as Kysely<unknown>);
    },

    /** What the user's ended sessions in `app` still owe beyond their balance. */
    async unsettled(userId: string, app: string): Promise<number> {
      const result = await sql<{ owed: number }>`select coalesce(sum(unsettled_seconds), 0)::int as owed
        from platform.metered_session where user_id = ${userId}::uuid and app = ${app} and unsettled_seconds > 0`.execute(
        db,
      );
      return result.rows[0]!.owed;
    },

    /** Sessions of `app` that still owe, newest first (for operators). */
    async listUnsettled(app: string, limit = 200): Promise<MeteredSession[]> {
      const result = await sql<SessionRow>`select ${columns} from platform.metered_session
        where app = ${app} and unsettled_seconds > 0 order by started_at desc limit ${limit}`.execute(db);
      return result.rows.map(toSession);
    },

    /**
     * An operator clears what a session owes: it no longer blocks the user, and later reports
     * charge only what they add. Resolves with the seconds cleared.
     */
    async forgive(id: string, app?: string): Promise<number> {
      return db.transaction().execute(async (tx) => {
        const current = await row(id, tx, true);
        if (current === undefined || (app !== undefined && current.app !== app)) throw unknownSession();
        await sql`update platform.metered_session set forgiven_seconds = forgiven_seconds + unsettled_seconds,
            unsettled_seconds = 0 where id = ${id}::uuid`.execute(tx);
        return current.unsettled_seconds;
      });
    },

    /** Throws the answer to a session that is not the caller's to see (404, as for no session at all). */
    refuseUnknown(): never {
      throw unknownSession();
    },

    async get(id: string): Promise<MeteredSession | undefined> {
      const current = await row(id);
      return current === undefined ? undefined : toSession(current);
    },

    async list(userId: string, app: string, limit = 50): Promise<MeteredSession[]> {
      const result = await sql<SessionRow>`select ${columns} from platform.metered_session
        where user_id = ${userId}::uuid and app = ${app} order by started_at desc limit ${limit}`.execute(db);
      return result.rows.map(toSession);
    },

    /** Merges facts into a session's details (a provider's conversation id, a reconciliation). */
    async annotate(id: string, details: Record<string, unknown>): Promise<void> {
      await sql`update platform.metered_session set details = details || ${JSON.stringify(details)}::jsonb
        where id = ${id}::uuid`.execute(db);
    },

    /**
     * Ends active sessions nobody is watching: silent in the database for longer than a live
     * session can be (gap + flush interval + margin). Run by a schedule on a worker.
     */
    async sweep(): Promise<number> {
      const cutoff = new Date(now() - (settings.gapSeconds + settings.flushSeconds + 10) * 1000);
      const stale = await sql<{ id: string }>`select id::text from platform.metered_session
        where status = 'active' and last_heartbeat_at < ${cutoff}`.execute(db);
      let ended = 0;
      // A session still beating on some node (shared store) is left alone by `end` itself.
      for (const { id } of stale.rows) if ((await end(id, 'heartbeat_lost')).status === 'ended') ended += 1;
      return ended;
    },

    /** Runs the once-a-second check (gaps and exhausted balances) on a web node. */
    startLoop(): void {
      let running = false;
      loop ??= setInterval(() => {
        if (running) return;
        running = true;
        void tick()
          .catch((error: unknown) => log.error({ err: error }, 'metering loop failed'))
          .finally(() => {
            running = false;
          });
      }, 1000);
      loop.unref();
    },

    /** Stops the loop and writes every local session's time (a memory store would lose it). */
    async stop(): Promise<void> {
      if (loop !== undefined) clearInterval(loop);
      loop = undefined;
      await flushDue().catch((error: unknown) => log.error({ err: error }, 'metering: final flush failed'));
      if (store.shared) return;
      for (const id of await store.ids()) {
        const live = await store.get(id);
        if (live !== undefined) await flush(live).catch(() => undefined);
        if (live !== undefined) {
          await sql`update platform.metered_session set last_heartbeat_at = greatest(last_heartbeat_at, ${new Date(live.lastBeatAt)})
            where id = ${id}::uuid`.execute(db);
        }
      }
    },
  };
}
