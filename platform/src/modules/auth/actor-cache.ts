/** How one lookup was answered: from memory, from the database and then kept, or from the database because the cache may not be used now. */
export type ActorCacheResult = 'hit' | 'miss' | 'bypass';

export interface ActorCacheOptions {
  /** How long a row read from the database is served from memory, in seconds; 0 turns the cache off. */
  readonly ttlSeconds: number;
  /** Most users kept; the oldest entry makes room for a new one. */
  readonly maxEntries?: number;
  /** Counts every lookup by result (the `auth_actor_cache_lookups_total` metric). */
  readonly onLookup?: (result: ActorCacheResult) => void;
  /** The clock, in ms (tests pass their own). */
  readonly now?: () => number;
}

/**
 * The rows that decide what each user may do (token generation, disabled, roles), kept in memory
 * for a short time so that an authenticated request does not read the database.
 *
 * It is only correct while every change to such a row reaches this node: the node that makes a
 * change calls `forget` after commit, every other node calls it on the bus message. Hence:
 * - it starts bypassed, and is used only while the bus reports up (`setBusUp(true)`); going down
 *   or coming back up empties it, since messages sent in between were lost to this node;
 * - a database read that was overtaken by a `forget` of its user (or a `clear`) is returned to its
 *   caller but not kept: it may have read the row from before the change.
 */
export interface ActorCache<Row> {
  /**
   * The user's row: from memory when a kept copy is younger than the TTL and `usable(row)` holds,
   * otherwise `load()`'s answer, kept unless the cache is bypassed or the read was overtaken by an
   * invalidation. An undefined answer (no such user) is never kept.
   */
  read(userId: string, load: () => Promise<Row | undefined>, usable?: (row: Row) => boolean): Promise<Row | undefined>;
  /** Drops the user's copy and spoils reads of that user in flight. */
  forget(userId: string): void;
  /** Drops every copy and spoils every read in flight. */
  clear(): void;
  /** The bus is up (use the cache) or down (empty it and read the database every time). */
  setBusUp(up: boolean): void;
  /** Users kept now. */
  readonly size: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;

/** A read in flight: set stale when an invalidation of its user overtakes it. */
interface PendingRead {
  stale: boolean;
}

/** Creates an empty, bypassed actor cache (see `ActorCache`). */
export function createActorCache<Row>(options: ActorCacheOptions): ActorCache<Row> {
  const ttlMs = options.ttlSeconds * 1000;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { readonly row: Row; readonly expiresAt: number }>();
  const pending = new Map<string, Set<PendingRead>>();
  let busUp = false;

  function spoil(reads: Set<PendingRead> | undefined): void {
    for (const read of reads ?? []) read.stale = true;
  }

  function clear(): void {
    entries.clear();
    for (const reads of pending.values()) spoil(reads);
  }

  return {
    async read(userId, load, usable) {
      if (ttlMs === 0 || !busUp) {
        options.onLookup?.('bypass');
        return load();
      }
      const entry = entries.get(userId);
      if (entry !== undefined) {
        if (entry.expiresAt > now() && (usable === undefined || usable(entry.row))) {
          options.onLookup?.('hit');
          return entry.row;
        }
        entries.delete(userId);
      }
      options.onLookup?.('miss');
      const read: PendingRead = { stale: false };
      const reads = pending.get(userId) ?? new Set<PendingRead>();
      reads.add(read);
      pending.set(userId, reads);
      let row: Row | undefined;
      try {
        row = await load();
      } finally {
        reads.delete(read);
        if (reads.size === 0 && pending.get(userId) === reads) pending.delete(userId);
      }
      // The bus may have gone down while the read ran: `setBusUp(false)` spoiled it then.
      if (row !== undefined && !read.stale && busUp) {
        if (entries.size >= maxEntries && !entries.has(userId)) entries.delete(entries.keys().next().value!);
        entries.set(userId, { row, expiresAt: now() + ttlMs });
      }
      return row;
    },
    forget(userId) {
      entries.delete(userId);
      spoil(pending.get(userId));
    },
    clear,
    setBusUp(up) {
      busUp = up;
      clear();
    },
    get size() {
      return entries.size;
    },
  };
}
