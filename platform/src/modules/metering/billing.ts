/**
 * The arithmetic of metered sessions, apart from any I/O: how many seconds a session has run at a
 * moment, what an ending bills until, when the balance warning is due, and what a settlement
 * charges and leaves owed. Times are epoch milliseconds; amounts are whole seconds.
 */

/** Why a session ended. */
export const endReasons = ['hung_up', 'heartbeat_lost', 'balance_exhausted', 'operator', 'shutdown'] as const;
export type EndReason = (typeof endReasons)[number];

/** What billing needs of a live session. */
export interface SessionClock {
  readonly startedAt: number;
  /** The balance the session started with: it is never billed beyond it. */
  readonly maxSeconds: number;
}

/** Seconds from the start to `until`, whole seconds counted down, never below 0 nor above `maxSeconds`. */
export function meteredSecondsAt(session: SessionClock, until: number): number {
  return Math.max(0, Math.min(session.maxSeconds, Math.floor((until - session.startedAt) / 1000)));
}

/** True while a session last heard at `lastBeatAt` is still alive at `at`: the gap has not passed. */
export function isAlive(lastBeatAt: number, at: number, gapSeconds: number): boolean {
  return lastBeatAt >= at - gapSeconds * 1000;
}

/** How a session ends, for `billedUntil`. */
export interface Ending {
  readonly reason: EndReason;
  /** When the end arrived. */
  readonly at: number;
  readonly gapSeconds: number;
  /**
   * For a hang-up: the caller's own measure of the time from the answer to their last heartbeat
   * to the hang-up (negative counts as 0).
   */
  readonly sinceLastBeatMs?: number | undefined;
}

/**
 * The moment an ending session is billed until. Lost heartbeats: the last heartbeat. An empty
 * balance: the moment it ran out. Otherwise (a hang-up, an operator): the end's arrival if the call
 * was still alive, else the last heartbeat plus the gap; and no later than the caller's own measure
 * after their last heartbeat (a hang-up queued behind others is not billed for its wait; the caller
 * can only shorten the bill by less than the gap, which stopping heartbeats would do anyway).
 */
export function billedUntil(session: SessionClock & { readonly lastBeatAt: number }, ending: Ending): number {
  switch (ending.reason) {
    case 'heartbeat_lost':
      return session.lastBeatAt;
    case 'balance_exhausted':
      return session.startedAt + session.maxSeconds * 1000;
    case 'hung_up':
    case 'operator':
    case 'shutdown':
      return Math.min(
        ending.at,
        session.lastBeatAt + ending.gapSeconds * 1000,
        session.lastBeatAt + Math.max(0, ending.sinceLastBeatMs ?? Number.POSITIVE_INFINITY),
      );
  }
}

/** What a heartbeat finds. */
export interface HeartbeatReading {
  readonly meteredSeconds: number;
  readonly remainingSeconds: number;
  /** The balance is used up: the session ends. */
  readonly exhausted: boolean;
  /** From the warning threshold on: the balance runs out soon. */
  readonly warning: boolean;
  /** Enough unwritten time has accrued that it is due to be flushed to the database. */
  readonly flushDue: boolean;
}

/** Reads a live session at a heartbeat arriving at `at`. */
export function readHeartbeat(
  session: SessionClock & { readonly flushedSeconds: number },
  at: number,
  settings: { readonly warningSeconds: number; readonly flushSeconds: number },
): HeartbeatReading {
  const metered = meteredSecondsAt(session, at);
  const remaining = session.maxSeconds - metered;
  return {
    meteredSeconds: metered,
    remainingSeconds: remaining,
    exhausted: remaining <= 0,
    warning: remaining <= settings.warningSeconds,
    flushDue: metered - session.flushedSeconds >= settings.flushSeconds,
  };
}

/** A session's charge as it stands. */
export interface ChargeStanding {
  readonly status: 'active' | 'ended';
  readonly meteredSeconds: number;
  /** The sum of the provider's reports (0 when none). */
  readonly reportedSeconds: number;
  /** Cleared by an operator. */
  readonly forgivenSeconds: number;
  /** Debited for the session so far. */
  readonly chargedSeconds: number;
}

/**
 * What an ended session still owes: the larger of its metered and reported time, less what was
 * forgiven and what was charged already (never below 0). A live session owes nothing yet: its
 * metered time is still growing, and it is settled when it ends.
 */
export function owedSeconds(standing: ChargeStanding): number {
  if (standing.status === 'active') return 0;
  const billed = Math.max(standing.meteredSeconds, standing.reportedSeconds);
  return Math.max(0, billed - standing.forgivenSeconds - standing.chargedSeconds);
}

/** Splits what is owed into what the balance covers now and what stays owed (unsettled). */
export function splitOwed(owed: number, balance: number): { chargeNow: number; unsettled: number } {
  const chargeNow = Math.max(0, Math.min(owed, balance));
  return { chargeNow, unsettled: owed - chargeNow };
}
