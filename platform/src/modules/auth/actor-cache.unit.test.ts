import { describe, expect, it } from 'vitest';
import { createActorCache, type ActorCacheResult } from './actor-cache.ts';

interface Row {
  readonly generation: number;
  readonly roles: readonly string[];
}

/** A user table in memory: `load` counts its reads; `hold` keeps the next read open until released. */
function makeTable(initial: Row) {
  let row: Row | undefined = initial;
  let reads = 0;
  let held: { began: () => void; gate: Promise<void> } | undefined;
  return {
    set(next: Row | undefined) {
      row = next;
    },
    get reads() {
      return reads;
    },
    /** The next read takes its snapshot at once (`started`) and answers only after `release()`. */
    hold() {
      let release!: () => void;
      let began!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const started = new Promise<void>((resolve) => (began = resolve));
      held = { began, gate };
      return { started, release };
    },
    load: async (): Promise<Row | undefined> => {
      reads++;
      const snapshot = row;
      const pending = held;
      held = undefined;
      if (pending !== undefined) {
        pending.began();
        await pending.gate;
      }
      return snapshot;
    },
  };
}

function makeCache(ttlSeconds = 60) {
  let clock = 1_000_000;
  const lookups: ActorCacheResult[] = [];
  const cache = createActorCache<Row>({ ttlSeconds, now: () => clock, onLookup: (result) => lookups.push(result) });
  return {
    cache,
    lookups,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

const reader = { generation: 1, roles: ['coach:member'] };
const promoted = { generation: 1, roles: ['coach:member', 'coach:admin'] };
const revoked = { generation: 2, roles: ['coach:member'] };

describe('the actor cache', () => {
  it('reads the database on every lookup until the bus reports up', async () => {
    const { cache, lookups } = makeCache();
    const table = makeTable(reader);
    await cache.read('u1', table.load);
    await cache.read('u1', table.load);
    expect(table.reads).toBe(2);
    expect(lookups).toEqual(['bypass', 'bypass']);
    expect(cache.size).toBe(0);
  });

  it('answers from memory within the TTL and reads again once it has passed', async () => {
    const { cache, lookups, advance } = makeCache(60);
    cache.setBusUp(true);
    const table = makeTable(reader);
    expect(await cache.read('u1', table.load)).toEqual(reader);
    table.set(promoted);
    advance(59_999);
    expect(await cache.read('u1', table.load)).toEqual(reader);
    expect(table.reads).toBe(1);
    advance(1);
    expect(await cache.read('u1', table.load)).toEqual(promoted);
    expect(table.reads).toBe(2);
    expect(lookups).toEqual(['miss', 'hit', 'miss']);
  });

  it('keeps nothing with a TTL of 0', async () => {
    const { cache, lookups } = makeCache(0);
    cache.setBusUp(true);
    const table = makeTable(reader);
    await cache.read('u1', table.load);
    await cache.read('u1', table.load);
    expect(table.reads).toBe(2);
    expect(lookups).toEqual(['bypass', 'bypass']);
  });

  it('reads again after the user is forgotten, and only that user', async () => {
    const { cache } = makeCache();
    cache.setBusUp(true);
    const first = makeTable(reader);
    const second = makeTable(reader);
    await cache.read('u1', first.load);
    await cache.read('u2', second.load);
    first.set(promoted);
    cache.forget('u1');
    expect(await cache.read('u1', first.load)).toEqual(promoted);
    expect(await cache.read('u2', second.load)).toEqual(reader);
    expect([first.reads, second.reads]).toEqual([2, 1]);
  });

  it('reads again when the kept row fails the caller’s check (a token newer than the kept generation)', async () => {
    const { cache } = makeCache();
    cache.setBusUp(true);
    const table = makeTable(reader);
    await cache.read('u1', table.load);
    table.set(revoked);
    const row = await cache.read('u1', table.load, (kept) => kept.generation >= 2);
    expect(row).toEqual(revoked);
    expect(table.reads).toBe(2);
    expect(await cache.read('u1', table.load, (kept) => kept.generation >= 2)).toEqual(revoked);
    expect(table.reads).toBe(2);
  });

  it('does not keep a read that an invalidation of its user overtook', async () => {
    const { cache } = makeCache();
    cache.setBusUp(true);
    const table = makeTable(reader);
    const held = table.hold();
    // The read takes its snapshot before the change commits ...
    const racing = cache.read('u1', table.load);
    await held.started;
    table.set(revoked);
    // ... and the invalidation arrives before the read answers.
    cache.forget('u1');
    held.release();
    expect(await racing).toEqual(reader);
    expect(cache.size).toBe(0);
    expect(await cache.read('u1', table.load)).toEqual(revoked);
    expect(table.reads).toBe(2);
  });

  it('keeps a read that an invalidation of another user overtook', async () => {
    const { cache } = makeCache();
    cache.setBusUp(true);
    const table = makeTable(reader);
    const held = table.hold();
    const racing = cache.read('u1', table.load);
    await held.started;
    cache.forget('u2');
    held.release();
    await racing;
    expect(cache.size).toBe(1);
  });

  it('empties itself and reads the database on every lookup while the bus is down, and caches again once it is up', async () => {
    const { cache, lookups } = makeCache();
    cache.setBusUp(true);
    const table = makeTable(reader);
    await cache.read('u1', table.load);
    cache.setBusUp(false);
    expect(cache.size).toBe(0);
    // A change whose message this node never hears.
    table.set(revoked);
    expect(await cache.read('u1', table.load)).toEqual(revoked);
    expect(await cache.read('u1', table.load)).toEqual(revoked);
    expect(cache.size).toBe(0);
    cache.setBusUp(true);
    await cache.read('u1', table.load);
    await cache.read('u1', table.load);
    expect(table.reads).toBe(4);
    expect(lookups).toEqual(['miss', 'bypass', 'bypass', 'miss', 'hit']);
  });

  it('does not keep a read that was in flight when the bus went down or came back', async () => {
    const { cache } = makeCache();
    cache.setBusUp(true);
    const table = makeTable(reader);
    const held = table.hold();
    const racing = cache.read('u1', table.load);
    await held.started;
    cache.setBusUp(false);
    cache.setBusUp(true);
    held.release();
    await racing;
    expect(cache.size).toBe(0);
  });

  it('never keeps an unknown user', async () => {
    const { cache } = makeCache();
    cache.setBusUp(true);
    const table = makeTable(reader);
    table.set(undefined);
    expect(await cache.read('u1', table.load)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('makes room by dropping the oldest entry when full', async () => {
    let clock = 0;
    const cache = createActorCache<Row>({ ttlSeconds: 60, maxEntries: 2, now: () => clock });
    cache.setBusUp(true);
    const tables = [makeTable(reader), makeTable(reader), makeTable(reader)];
    await cache.read('u0', tables[0]!.load);
    await cache.read('u1', tables[1]!.load);
    await cache.read('u2', tables[2]!.load);
    expect(cache.size).toBe(2);
    clock += 1;
    await cache.read('u1', tables[1]!.load);
    await cache.read('u2', tables[2]!.load);
    await cache.read('u0', tables[0]!.load);
    expect(tables.map((table) => table.reads)).toEqual([2, 1, 1]);
  });
});
