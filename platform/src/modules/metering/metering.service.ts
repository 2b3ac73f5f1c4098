import client from 'prom-client';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database, Tx } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import type { Ledger } from '#platform/modules/payments/ledger.ts';
import type { Realtime } from '#platform/modules/realtime/realtime-hub.ts';
import {
  billedUntil,
  isAlive,
  meteredSecondsAt,
  owedSeconds,
  readHeartbeat,
  splitOwed,
  type EndReason,
} from './billing.ts';
import type { LiveSession, MeterStore } from './meter-store.ts';
import * as sessions from './sessions.repository.ts';

export { endReasons, type EndReason } from './billing.ts';

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
export type SessionEndedHook = (sessions: readonly MeteredSession[], tx: Tx) => Promise<void>;

export interface MeteringOptions {
  readonly database: Database;
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

function toSession(row: sessions.SessionRow): MeteredSession {
  return {
    id: row.id,
    userId: row.user_id,
    app: row.app,
    unit: row.unit,
    // The table's checks allow only these.
    status: row.status as MeteredSession['status'],
    startedAt: row.started_at,
    maxSeconds: row.max_seconds,
    meteredSeconds: row.metered_seconds,
    endedAt: row.ended_at,
    endReason: row.end_reason as EndReason | null,
    details: row.details as Record<string, unknown>,
    unsettledSeconds: row.unsettled_seconds,
  };
}

export type Metering = ReturnType<typeof createMetering>;

/** Most sessions one batched end writes in a transaction. */
const END_BATCH_SIZE = 500;

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
  const { database, ledger, store, log, settings } = options;
  const db = database.view<DB>('platform');
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

  /** Brings the database up to `total` metered seconds: debit the difference, once. */
  async function settle(tx: Tx, current: sessions.SessionRow, total: number, lastBeatAt: number): Promise<number> {
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
        { tx },
      );
    }
    const metered = Math.max(total, current.metered_seconds);
    await sessions.recordProgress(tx.view<DB>('platform'), current.id, {
      meteredSeconds: metered,
      lastBeatAt: new Date(lastBeatAt),
    });
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
  async function settleOwed(tx: Tx, id: string): Promise<Settlement> {
    const scope = tx.view<DB>('platform');
    const current = (await sessions.readCharge(scope, id))!;
    const status = current.status as Settlement['status'];
    const charged = Number(current.charged);
    const owed = owedSeconds({
      status,
      meteredSeconds: current.metered_seconds,
      reportedSeconds: current.reported,
      forgivenSeconds: current.forgiven_seconds,
      chargedSeconds: charged,
    });
    const account = { userId: current.user_id, app: current.app, unit: current.unit };
    const split = owed > 0 ? splitOwed(owed, await ledger.lockBalance(tx, account)) : { chargeNow: 0, unsettled: 0 };
    const applied =
      split.chargeNow > 0 &&
      (
        await ledger.applyChange(
          {
            ...account,
            kind: 'usage',
            amount: -split.chargeNow,
            reference: `session:${id}`,
            idempotencyKey: `session:${id}:owed:${charged}`,
          },
          { tx },
        )
      ).applied;
    // A key applied before took nothing now: all of it stays owed.
    const { chargeNow: chargedNow, unsettled } = applied ? split : { chargeNow: 0, unsettled: owed };
    if (unsettled !== current.unsettled_seconds) await sessions.setUnsettled(scope, id, unsettled);
    if (chargedNow > 0 || unsettled > 0) {
      log.info(
        { session: id, metered: current.metered_seconds, reported: current.reported, chargedNow, unsettled },
        'metered session settled beyond its metered time',
      );
    }
    return {
      sessionId: id,
      status,
      meteredSeconds: current.metered_seconds,
      reportedSeconds: current.reported,
      chargedSeconds: charged + chargedNow,
      chargedNowSeconds: chargedNow,
      unsettledSeconds: unsettled,
    };
  }

  /** Takes what the user's earlier sessions in `app` still owe from the balance; resolves with what remains owed. */
  async function collectOwed(userId: string, app: string): Promise<number> {
    if ((await sessions.owingSessionIds(db, userId, app)).length === 0) return 0;
    return database.transaction(async (tx) => {
      const locked = await sessions.owingSessionIds(tx.view<DB>('platform'), userId, app, true);
      let left = 0;
      for (const id of locked) left += (await settleOwed(tx, id)).unsettledSeconds;
      return left;
    });
  }

  async function flush(session: LiveSession): Promise<void> {
    const total = meteredSecondsAt(session, session.lastBeatAt);
    if (total <= session.flushedSeconds) return;
    await database.transaction(async (tx) => {
      const current = await sessions.findSession(tx.view<DB>('platform'), session.id, true);
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
      await database.transaction(async (tx) => {
        const scope = tx.view<DB>('platform');
        const locked = await sessions.lockLiveSessions(
          scope,
          batch.map((session) => session.id),
        );
        const rows = new Map(locked.map((current) => [current.id, current]));
        const work = batch.flatMap((session) => {
          const current = rows.get(session.id);
          const total = meteredSecondsAt(session, session.lastBeatAt);
          return current === undefined || total <= current.metered_seconds ? [] : [{ session, current, total }];
        });
        if (work.length === 0) return;
        await ledger.debitManyUpTo(
          tx,
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
        await sessions.recordFlushes(
          scope,
          work.map(({ session, total }) => ({ id: session.id, total, lastBeatAt: session.lastBeatAt })),
        );
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
  function liveFrom(current: sessions.SessionRow, lastBeatAt: number): LiveSession {
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
    hangUp: { actorId?: string | undefined; app?: string | undefined; sinceLastBeatMs?: number | undefined } = {},
  ): Promise<MeteredSession> {
    let ended: MeteredSession | undefined;
    let endedNow = false;
    let taken: LiveSession | undefined;
    try {
      await database.transaction(async (tx) => {
        const scope = tx.view<DB>('platform');
        const current = await sessions.findSession(scope, id, true);
        if (
          current === undefined ||
          (hangUp.actorId !== undefined && current.user_id !== hangUp.actorId) ||
          (hangUp.app !== undefined && current.app !== hangUp.app)
        ) {
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
        if (reason === 'heartbeat_lost' && isAlive(session.lastBeatAt, at, settings.gapSeconds)) {
          // A heartbeat arrived after the silence was noticed: the call goes on.
          if (taken !== undefined) await store.put(taken);
          taken = undefined;
          ended = toSession(current);
          return;
        }
        const until = billedUntil(session, {
          reason,
          at,
          gapSeconds: settings.gapSeconds,
          sinceLastBeatMs: hangUp.sinceLastBeatMs,
        });
        const metered = await settle(tx, current, meteredSecondsAt(session, until), Math.min(until, at));
        const row = await sessions.endSession(scope, id, { at: new Date(at), reason, meteredSeconds: metered });
        // Usage a provider reported while the call was live, or metered time the balance no
        // longer covered (it fell during the call), is charged or recorded as owed now.
        const settled = await settleOwed(tx, id);
        ended = { ...toSession(row), unsettledSeconds: settled.unsettledSeconds };
        await options.onEnded(current.app)?.([ended], tx);
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

  /** An end waiting for the next batch, and how to answer its caller. */
  interface PendingEnd {
    readonly id: string;
    readonly reason: EndReason;
    readonly at: number;
    readonly hangUp: { actorId?: string | undefined; app?: string | undefined; sinceLastBeatMs?: number | undefined };
    readonly resolve: (session: MeteredSession) => void;
    readonly reject: (error: unknown) => void;
  }

  const pendingEnds: PendingEnd[] = [];
  let endsInFlight: Promise<void> | undefined;

  /**
   * Ends a session in the next batch (`endBatch`): ends that arrive while a batch is being written
   * wait for it and then go together, so a storm of hang-ups costs a transaction per batch, not
   * one per call. A lone end goes at once, as before.
   */
  function endSoon(id: string, reason: EndReason, at: number, hangUp: PendingEnd['hangUp']): Promise<MeteredSession> {
    return new Promise<MeteredSession>((resolve, reject) => {
      pendingEnds.push({ id, reason, at, hangUp, resolve, reject });
      endsInFlight ??= drainEnds();
    });
  }

  async function drainEnds(): Promise<void> {
    try {
      while (pendingEnds.length > 0) {
        // A session appears once per batch (a second end of it waits for the next, and finds it ended).
        const batch: PendingEnd[] = [];
        const later: PendingEnd[] = [];
        const ids = new Set<string>();
        for (const pending of pendingEnds.splice(0, pendingEnds.length)) {
          if (batch.length < END_BATCH_SIZE && !ids.has(pending.id)) {
            ids.add(pending.id);
            batch.push(pending);
          } else later.push(pending);
        }
        pendingEnds.unshift(...later);
        try {
          await endBatch(batch);
        } catch (error) {
          // One session's failure (its app's hook, say) must not fail the others: each on its own.
          log.warn({ err: error, sessions: batch.length }, 'metering: batched end failed; ending one by one');
          for (const pending of batch) {
            await end(pending.id, pending.reason, pending.at, pending.hangUp).then(pending.resolve, pending.reject);
          }
        }
      }
    } finally {
      // In the same step as the loop's last check: an end that arrives after it starts a new
      // round instead of waiting, unseen, for some later end to start one.
      endsInFlight = undefined;
    }
  }

  /**
   * Ends a batch of sessions in one transaction, each exactly as `end` would: lock the rows (id
   * order, as the flush does), take each live session out of the store under its lock, debit every
   * session's last seconds at once (once per key, never below zero), end the rows in one
   * statement that also reads what each has been charged, settle the few that owe more (a
   * provider's report, a balance that fell), then the app's hook per session. Callers whose
   * session is not theirs get `not_found`; an ended session answers as it is.
   */
  async function endBatch(batch: readonly PendingEnd[]): Promise<void> {
    const taken = new Map<string, LiveSession>();
    const answers: { pending: PendingEnd; session: MeteredSession; endedNow: boolean }[] = [];
    const refused: PendingEnd[] = [];
    try {
      await database.transaction(async (tx) => {
        const scope = tx.view<DB>('platform');
        answers.length = 0;
        refused.length = 0;
        const rows = new Map(
          (
            await sessions.lockSessions(
              scope,
              batch.map((pending) => pending.id),
            )
          ).map((row) => [row.id, row]),
        );
        const ending: { pending: PendingEnd; current: sessions.SessionRow; total: number; until: number }[] = [];
        const live: { pending: PendingEnd; current: sessions.SessionRow }[] = [];
        for (const pending of batch) {
          const current = rows.get(pending.id);
          if (
            current === undefined ||
            (pending.hangUp.actorId !== undefined && current.user_id !== pending.hangUp.actorId) ||
            (pending.hangUp.app !== undefined && current.app !== pending.hangUp.app)
          ) {
            refused.push(pending);
          } else if (current.status === 'ended') {
            answers.push({ pending, session: toSession(current), endedNow: false });
          } else live.push({ pending, current });
        }
        // Taken under the row locks, as in `end` (a heartbeat landed before and is billed here, or
        // waits), all in one step: one round trip to a Redis store, not one per session.
        for (const [id, session] of await store.takeMany(live.map(({ pending }) => pending.id))) taken.set(id, session);
        for (const { pending, current } of live) {
          const held = taken.get(pending.id);
          const session = held ?? liveFrom(current, current.last_heartbeat_at.getTime());
          if (pending.reason === 'heartbeat_lost' && isAlive(session.lastBeatAt, pending.at, settings.gapSeconds)) {
            if (held !== undefined) await store.put(held);
            taken.delete(pending.id);
            answers.push({ pending, session: toSession(current), endedNow: false });
            continue;
          }
          const until = billedUntil(session, {
            reason: pending.reason,
            at: pending.at,
            gapSeconds: settings.gapSeconds,
            sinceLastBeatMs: pending.hangUp.sinceLastBeatMs,
          });
          ending.push({
            pending,
            current,
            total: meteredSecondsAt(session, until),
            until: Math.min(until, pending.at),
          });
        }
        if (ending.length === 0) return;
        await ledger.debitManyUpTo(
          tx,
          'usage',
          ending
            .filter(({ current, total }) => total > current.metered_seconds)
            .map(({ current, total }) => ({
              userId: current.user_id,
              app: current.app,
              unit: current.unit,
              amount: total - current.metered_seconds,
              reference: `session:${current.id}`,
              idempotencyKey: `session:${current.id}:${total}`,
            })),
        );
        // Each row ended, with what it has been charged so far (this batch's debits included).
        const ended = new Map(
          (
            await sessions.endSessions(
              scope,
              ending.map(({ pending, current, total, until }) => ({
                id: current.id,
                at: new Date(pending.at),
                reason: pending.reason,
                meteredSeconds: Math.max(total, current.metered_seconds),
                lastBeatAt: new Date(until),
              })),
            )
          ).map((row) => [row.id, row]),
        );
        for (const { pending, current } of ending) {
          const charge = ended.get(current.id)!;
          const owed = owedSeconds({
            status: 'ended',
            meteredSeconds: charge.metered_seconds,
            reportedSeconds: charge.reported,
            forgivenSeconds: charge.forgiven_seconds,
            chargedSeconds: Number(charge.charged),
          });
          // Most sessions owe nothing more: their metered time was just debited in full.
          const unsettled =
            owed > 0 || charge.unsettled_seconds !== 0
              ? (await settleOwed(tx, current.id)).unsettledSeconds
              : charge.unsettled_seconds;
          const session = { ...toSession(charge), unsettledSeconds: unsettled };
          answers.push({ pending, session, endedNow: true });
        }
        // Each app's hook once, with all of its sessions ended here.
        const byApp = Map.groupBy(
          answers.filter((answer) => answer.endedNow).map((answer) => answer.session),
          (session) => session.app,
        );
        for (const [app, endedHere] of byApp) await options.onEnded(app)?.(endedHere, tx);
      });
    } catch (error) {
      // Not ended after all: every session taken goes back to the store as it was.
      for (const live of taken.values()) await store.put(live).catch(() => undefined);
      throw error;
    }
    for (const pending of refused) pending.reject(unknownSession());
    // Together (a Redis store pipelines them): answers do not wait for one removal after another.
    await Promise.all(
      answers.filter(({ session }) => session.status === 'ended').map(({ session }) => store.remove(session.id)),
    );
    for (const { pending, session, endedNow } of answers) {
      if (!endedNow) {
        pending.resolve(session);
        continue;
      }
      writes?.inc({ kind: 'end' });
      log.info(
        { session: session.id, reason: pending.reason, metered: session.meteredSeconds },
        'metered session ended',
      );
      // Answered at once: the live update to the user's other sockets goes out behind it (a storm
      // of hang-ups sends them in a few statements), and a failure to send it is logged there.
      pending.resolve(session);
      void publish(session.userId, session.app, 'metering.ended', {
        sessionId: session.id,
        reason: session.endReason,
        meteredSeconds: session.meteredSeconds,
      });
    }
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
      const open = await sessions.findLiveSession(db, input.userId, input.app);
      if (open !== undefined) {
        const live = await store.get(open.id);
        if (live !== undefined && isAlive(live.lastBeatAt, now(), settings.gapSeconds)) {
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
      const created = await sessions.insertSession(db, {
        userId: input.userId,
        app: input.app,
        unit: input.unit,
        startedAt: new Date(startedAt),
        maxSeconds: balance,
        details: input.details ?? {},
      });
      if (created === undefined) {
        // Two starts raced: the other one won; resume it.
        const winner = await sessions.findLiveSession(db, input.userId, input.app);
        return { session: toSession(winner!), resumed: true };
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
        const current = await sessions.findSession(db, id);
        if (current === undefined || current.user_id !== userId || (app !== undefined && current.app !== app)) {
          throw unknownSession();
        }
        if (current.status === 'ended') return endedAnswer(toSession(current));
        // Not in the store: being ended right now, or a memory store after a restart. Decided
        // under the row lock, so an end in progress finishes first.
        const adopted = await database.transaction(async (tx) => {
          const locked = (await sessions.findSession(tx.view<DB>('platform'), id, true))!;
          if (locked.status === 'ended') return { ended: toSession(locked) };
          const again = await store.beat(id, userId, at);
          if (again !== undefined) return { live: again };
          const last = locked.last_heartbeat_at.getTime();
          if (!isAlive(last, at, settings.gapSeconds)) return { silent: true };
          await store.put(liveFrom(locked, last));
          return { live: (await store.beat(id, userId, at))! };
        });
        if (adopted.ended !== undefined) return endedAnswer(adopted.ended);
        if (adopted.live === undefined) return endedAnswer(await end(id, 'heartbeat_lost', at));
        live = adopted.live;
      }
      const reading = readHeartbeat(live, at, settings);
      if (reading.exhausted) return endedAnswer(await end(id, 'balance_exhausted', at), true);
      const { meteredSeconds, remainingSeconds, warning } = reading;
      if (warning && !live.warned && (await store.markWarned(id))) {
        await sessions.markWarned(db, id);
        await publish(live.userId, live.app, 'metering.warning', { sessionId: id, remainingSeconds });
      }
      if (reading.flushDue) flushSoon(live);
      return { status: 'active', sessionId: id, meteredSeconds, remainingSeconds, warning };
    },

    /**
     * Ends a session for its user (hang-up, with `actor`) or for an operator. Billed up to
     * `arrivedAt` (when the request arrived; default now), and, for a hang-up that says so, no
     * later than `sinceLastBeatMs` after the last heartbeat (the caller's own measure from the
     * answer to their last heartbeat to the hang-up). With `app`, another app's session is refused
     * as unknown (checked under the row lock, so an app's port needs no read of its own). Idempotent.
     */
    async end(
      id: string,
      reason: EndReason,
      options: { actor?: { userId: string }; app?: string; arrivedAt?: number; sinceLastBeatMs?: number } = {},
    ): Promise<MeteredSession> {
      return endSoon(id, reason, Math.min(options.arrivedAt ?? now(), now()), {
        actorId: options.actor?.userId,
        app: options.app,
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
      options: { tx?: Tx; app?: string } = {},
    ): Promise<Settlement> {
      if (!Number.isSafeInteger(report.seconds) || report.seconds < 0 || report.key === '') {
        throw new AppError('invalid_input', 'metering.invalid_report', 'A report is a key and a whole number >= 0');
      }
      const work = async (tx: Tx): Promise<Settlement> => {
        const scope = tx.view<DB>('platform');
        const current = await sessions.findSession(scope, id, true);
        // Another app's session is none of the caller's business: as if it did not exist.
        if (current === undefined || (options.app !== undefined && current.app !== options.app)) {
          throw unknownSession();
        }
        await sessions.recordReport(scope, id, report.key, report.seconds);
        return settleOwed(tx, id);
      };
      return options.tx === undefined ? database.transaction(work) : work(options.tx);
    },

    /** What the user's ended sessions in `app` still owe beyond their balance. */
    async unsettled(userId: string, app: string): Promise<number> {
      return sessions.unsettledTotal(db, userId, app);
    },

    /** Sessions of `app` that still owe, newest first (for operators). */
    async listUnsettled(app: string, limit = 200): Promise<MeteredSession[]> {
      return (await sessions.listUnsettled(db, app, limit)).map(toSession);
    },

    /**
     * An operator clears what a session owes: it no longer blocks the user, and later reports
     * charge only what they add. Resolves with the seconds cleared.
     */
    async forgive(id: string, app?: string): Promise<number> {
      return database.transaction(async (tx) => {
        const scope = tx.view<DB>('platform');
        const current = await sessions.findSession(scope, id, true);
        if (current === undefined || (app !== undefined && current.app !== app)) throw unknownSession();
        await sessions.forgiveUnsettled(scope, id);
        return current.unsettled_seconds;
      });
    },

    /** Throws the answer to a session that is not the caller's to see (404, as for no session at all). */
    refuseUnknown(): never {
      throw unknownSession();
    },

    async get(id: string): Promise<MeteredSession | undefined> {
      const current = await sessions.findSession(db, id);
      return current === undefined ? undefined : toSession(current);
    },

    async list(userId: string, app: string, limit = 50): Promise<MeteredSession[]> {
      return (await sessions.listSessions(db, userId, app, limit)).map(toSession);
    },

    /** Merges facts into a session's details (a provider's conversation id, a reconciliation). */
    async annotate(id: string, details: Record<string, unknown>): Promise<void> {
      await sessions.annotateSession(db, id, details);
    },

    /**
     * Ends active sessions nobody is watching: silent in the database for longer than a live
     * session can be (gap + flush interval + margin). Run by a schedule on a worker.
     */
    async sweep(): Promise<number> {
      const cutoff = new Date(now() - (settings.gapSeconds + settings.flushSeconds + 10) * 1000);
      const stale = await sessions.staleSessionIds(db, cutoff);
      let ended = 0;
      // A session still beating on some node (shared store) is left alone by `end` itself.
      for (const id of stale) if ((await end(id, 'heartbeat_lost')).status === 'ended') ended += 1;
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
      await endsInFlight;
      await flushDue().catch((error: unknown) => log.error({ err: error }, 'metering: final flush failed'));
      if (store.shared) return;
      for (const id of await store.ids()) {
        const live = await store.get(id);
        if (live !== undefined) await flush(live).catch(() => undefined);
        if (live !== undefined) await sessions.recordProgress(db, id, { lastBeatAt: new Date(live.lastBeatAt) });
      }
    },
  };
}
