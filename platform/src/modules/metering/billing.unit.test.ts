import { describe, expect, it } from 'vitest';
import {
  billedUntil,
  isAlive,
  meteredSecondsAt,
  owedSeconds,
  readHeartbeat,
  splitOwed,
  type ChargeStanding,
  type EndReason,
  type HeartbeatReading,
} from './billing.ts';

const start = Date.parse('2026-12-01T10:00:00Z');
/** `seconds` after the session's start, as epoch milliseconds. */
const at = (seconds: number) => start + seconds * 1000;

describe('metered seconds at a moment', () => {
  it.each<[string, { maxSeconds: number; until: number; metered: number }]>([
    ['0 at the start', { maxSeconds: 600, until: at(0), metered: 0 }],
    ['0 before the start (a clock behind)', { maxSeconds: 600, until: at(-3), metered: 0 }],
    ['whole seconds, counted down', { maxSeconds: 600, until: at(12.999), metered: 12 }],
    ['1 after exactly one second', { maxSeconds: 600, until: at(1), metered: 1 }],
    ['the balance at exactly the balance', { maxSeconds: 600, until: at(600), metered: 600 }],
    ['the balance beyond it (clamped)', { maxSeconds: 600, until: at(9000), metered: 600 }],
  ])('counts %s', (_case, { maxSeconds, until, metered }) => {
    expect(meteredSecondsAt({ startedAt: start, maxSeconds }, until)).toBe(metered);
  });
});

describe('whether a session is still alive (10 s gap)', () => {
  it.each<[string, { lastBeat: number; now: number; alive: boolean }]>([
    ['alive with a heartbeat just now', { lastBeat: 20, now: 20, alive: true }],
    ['alive within the gap', { lastBeat: 20, now: 29.999, alive: true }],
    ['alive exactly at the gap', { lastBeat: 20, now: 30, alive: true }],
    ['silent a millisecond beyond the gap', { lastBeat: 20, now: 30.001, alive: false }],
    ['silent long after', { lastBeat: 20, now: 300, alive: false }],
  ])('is %s', (_case, { lastBeat, now, alive }) => {
    expect(isAlive(at(lastBeat), at(now), 10)).toBe(alive);
  });
});

describe('what an ending bills until (last heartbeat at 100 s, 10 s gap, 600 s balance)', () => {
  const session = { startedAt: start, maxSeconds: 600, lastBeatAt: at(100) };
  it.each<[string, { reason: EndReason; arrived: number; sinceLastBeatMs?: number; until: number }]>([
    ['a hang-up while the call is alive: its arrival', { reason: 'hung_up', arrived: 104, until: 104 }],
    ['a hang-up right at a heartbeat: that heartbeat', { reason: 'hung_up', arrived: 100, until: 100 }],
    ['a hang-up exactly at the gap: its arrival', { reason: 'hung_up', arrived: 110, until: 110 }],
    ['a hang-up beyond the gap: the last heartbeat plus the gap', { reason: 'hung_up', arrived: 130, until: 110 }],
    [
      'a hang-up the caller measured sooner after the last heartbeat: their measure',
      { reason: 'hung_up', arrived: 108, sinceLastBeatMs: 2500, until: 102.5 },
    ],
    [
      'a hang-up the caller measured later than its arrival: its arrival',
      { reason: 'hung_up', arrived: 104, sinceLastBeatMs: 7000, until: 104 },
    ],
    [
      'a hang-up with a negative measure: the last heartbeat',
      { reason: 'hung_up', arrived: 104, sinceLastBeatMs: -50, until: 100 },
    ],
    ['an operator’s end beyond the gap: as a hang-up', { reason: 'operator', arrived: 130, until: 110 }],
    ['a shutdown within the gap: as a hang-up', { reason: 'shutdown', arrived: 105, until: 105 }],
    ['lost heartbeats: the last heartbeat', { reason: 'heartbeat_lost', arrived: 115, until: 100 }],
    ['an empty balance: the moment it ran out', { reason: 'balance_exhausted', arrived: 601, until: 600 }],
  ])('bills %s', (_case, { reason, arrived, sinceLastBeatMs, until }) => {
    expect(billedUntil(session, { reason, at: at(arrived), gapSeconds: 10, sinceLastBeatMs })).toBe(at(until));
  });
});

describe('what a heartbeat reads (warning at 60 s left, flush every 30 s)', () => {
  const settings = { warningSeconds: 60, flushSeconds: 30 };
  it.each<[string, { maxSeconds: number; flushed: number; now: number; reading: HeartbeatReading }]>([
    [
      'nothing due early in the call',
      {
        maxSeconds: 600,
        flushed: 0,
        now: 10,
        reading: { meteredSeconds: 10, remainingSeconds: 590, exhausted: false, warning: false, flushDue: false },
      },
    ],
    [
      'no warning one second before the threshold',
      {
        maxSeconds: 600,
        flushed: 530,
        now: 539,
        reading: { meteredSeconds: 539, remainingSeconds: 61, exhausted: false, warning: false, flushDue: false },
      },
    ],
    [
      'the warning exactly at the threshold',
      {
        maxSeconds: 600,
        flushed: 530,
        now: 540,
        reading: { meteredSeconds: 540, remainingSeconds: 60, exhausted: false, warning: true, flushDue: false },
      },
    ],
    [
      'the warning from the start on a balance below the threshold',
      {
        maxSeconds: 45,
        flushed: 0,
        now: 0,
        reading: { meteredSeconds: 0, remainingSeconds: 45, exhausted: false, warning: true, flushDue: false },
      },
    ],
    [
      'a flush due with exactly one interval unwritten',
      {
        maxSeconds: 600,
        flushed: 30,
        now: 60,
        reading: { meteredSeconds: 60, remainingSeconds: 540, exhausted: false, warning: false, flushDue: true },
      },
    ],
    [
      'the balance used up exactly at the balance',
      {
        maxSeconds: 600,
        flushed: 570,
        now: 600,
        reading: { meteredSeconds: 600, remainingSeconds: 0, exhausted: true, warning: true, flushDue: true },
      },
    ],
    [
      'the balance used up beyond it (clamped)',
      {
        maxSeconds: 600,
        flushed: 590,
        now: 700,
        reading: { meteredSeconds: 600, remainingSeconds: 0, exhausted: true, warning: true, flushDue: false },
      },
    ],
  ])('finds %s', (_case, { maxSeconds, flushed, now, reading }) => {
    expect(readHeartbeat({ startedAt: start, maxSeconds, flushedSeconds: flushed }, at(now), settings)).toEqual(
      reading,
    );
  });
});

describe('what a settlement owes', () => {
  const ended = { status: 'ended', forgivenSeconds: 0 } as const;
  it.each<[string, { standing: ChargeStanding; owed: number }]>([
    [
      'nothing once the metered time is charged and nothing reported',
      { standing: { ...ended, meteredSeconds: 30, reportedSeconds: 0, chargedSeconds: 30 }, owed: 0 },
    ],
    [
      'nothing for a session of zero seconds',
      { standing: { ...ended, meteredSeconds: 0, reportedSeconds: 0, chargedSeconds: 0 }, owed: 0 },
    ],
    [
      'the reported time beyond the metered time',
      { standing: { ...ended, meteredSeconds: 10, reportedSeconds: 25, chargedSeconds: 10 }, owed: 15 },
    ],
    [
      'nothing for a report below the metered time',
      { standing: { ...ended, meteredSeconds: 30, reportedSeconds: 12, chargedSeconds: 30 }, owed: 0 },
    ],
    [
      'the metered time the balance did not cover when the session ended',
      { standing: { ...ended, meteredSeconds: 30, reportedSeconds: 0, chargedSeconds: 10 }, owed: 20 },
    ],
    [
      'nothing on a replay, the first settlement having charged it',
      { standing: { ...ended, meteredSeconds: 10, reportedSeconds: 25, chargedSeconds: 25 }, owed: 0 },
    ],
    [
      'only what a later report adds once a debt was forgiven',
      {
        standing: { status: 'ended', meteredSeconds: 0, reportedSeconds: 45, forgivenSeconds: 30, chargedSeconds: 10 },
        owed: 5,
      },
    ],
    [
      'nothing when more was forgiven and charged than billed',
      {
        standing: { status: 'ended', meteredSeconds: 5, reportedSeconds: 20, forgivenSeconds: 15, chargedSeconds: 10 },
        owed: 0,
      },
    ],
    [
      'nothing yet while the session is live',
      {
        standing: { status: 'active', meteredSeconds: 10, reportedSeconds: 25, forgivenSeconds: 0, chargedSeconds: 0 },
        owed: 0,
      },
    ],
  ])('is %s', (_case, { standing, owed }) => {
    expect(owedSeconds(standing)).toBe(owed);
  });

  it.each<[string, { owed: number; balance: number; chargeNow: number; unsettled: number }]>([
    ['nothing when nothing is owed', { owed: 0, balance: 100, chargeNow: 0, unsettled: 0 }],
    ['all of it within the balance', { owed: 15, balance: 100, chargeNow: 15, unsettled: 0 }],
    ['all of it at exactly the balance', { owed: 20, balance: 20, chargeNow: 20, unsettled: 0 }],
    ['the balance beyond it, the rest left owed', { owed: 50, balance: 20, chargeNow: 20, unsettled: 30 }],
    ['nothing from an empty balance, all left owed', { owed: 30, balance: 0, chargeNow: 0, unsettled: 30 }],
  ])('charges %s', (_case, { owed, balance, chargeNow, unsettled }) => {
    expect(splitOwed(owed, balance)).toEqual({ chargeNow, unsettled });
  });
});
