import type { Redis } from 'ioredis';

/** A metered session's hot state: what every heartbeat reads and writes, kept off the database. */
export interface LiveSession {
  readonly id: string;
  readonly userId: string;
  readonly app: string;
  readonly unit: string;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly maxSeconds: number;
  lastBeatAt: number;
  /** Seconds already written to the database and debited. */
  flushedSeconds: number;
  warned: boolean;
}

/**
 * Where live sessions are kept between heartbeats: Redis when configured (shared by every web
 * node, and surviving a web-process restart), else this process's memory (one node; a graceful
 * restart flushes first).
 */
export interface MeterStore {
  readonly shared: boolean;
  put(session: LiveSession): Promise<void>;
  get(id: string): Promise<LiveSession | undefined>;
  /**
   * Records `userId`'s heartbeat at `at` and returns the session; undefined, recording nothing,
   * when it is not live or is another user's.
   */
  beat(id: string, userId: string, at: number): Promise<LiveSession | undefined>;
  /** Removes the session and returns it as it was, in one step (a heartbeat lands before or not at all). */
  take(id: string): Promise<LiveSession | undefined>;
  /** `take` of many sessions at once (one round trip to Redis): those that were live, by id. */
  takeMany(ids: readonly string[]): Promise<Map<string, LiveSession>>;
  setFlushed(id: string, seconds: number): Promise<void>;
  /** Marks the warning sent; true only for the caller that marked it first. */
  markWarned(id: string): Promise<boolean>;
  remove(id: string): Promise<void>;
  /** Sessions whose last heartbeat is before `cutoff`. */
  silentSince(cutoff: number): Promise<string[]>;
  /** Sessions that reach their maximum length at or before `at`. */
  exhaustedBy(at: number): Promise<string[]>;
  /** Every live session this store holds (for a graceful stop). */
  ids(): Promise<string[]>;
}

export function createMemoryMeterStore(): MeterStore {
  const sessions = new Map<string, LiveSession>();
  return {
    shared: false,
    async put(session) {
      sessions.set(session.id, { ...session });
    },
    async get(id) {
      const session = sessions.get(id);
      return session === undefined ? undefined : { ...session };
    },
    async beat(id, userId, at) {
      const session = sessions.get(id);
      if (session === undefined || session.userId !== userId) return undefined;
      session.lastBeatAt = Math.max(session.lastBeatAt, at);
      return { ...session };
    },
    async setFlushed(id, seconds) {
      const session = sessions.get(id);
      if (session !== undefined) session.flushedSeconds = Math.max(session.flushedSeconds, seconds);
    },
    async markWarned(id) {
      const session = sessions.get(id);
      if (session === undefined || session.warned) return false;
      session.warned = true;
      return true;
    },
    async take(id) {
      const session = sessions.get(id);
      sessions.delete(id);
      return session === undefined ? undefined : { ...session };
    },
    async takeMany(ids) {
      const taken = new Map<string, LiveSession>();
      for (const id of ids) {
        const session = sessions.get(id);
        sessions.delete(id);
        if (session !== undefined) taken.set(id, { ...session });
      }
      return taken;
    },
    async remove(id) {
      sessions.delete(id);
    },
    async silentSince(cutoff) {
      return [...sessions.values()].filter((session) => session.lastBeatAt < cutoff).map((session) => session.id);
    },
    async exhaustedBy(at) {
      return [...sessions.values()]
        .filter((session) => session.startedAt + session.maxSeconds * 1000 <= at)
        .map((session) => session.id);
    },
    async ids() {
      return [...sessions.keys()];
    },
  };
}

// KEYS: session hash, beats zset. ARGV: id, at, user id. Returns the hash, or nil when not live
// or another user's.
const beatScript = `
if redis.call('hget', KEYS[1], 'userId') ~= ARGV[3] then return nil end
local last = tonumber(redis.call('hget', KEYS[1], 'lastBeatAt'))
local at = tonumber(ARGV[2])
if at > last then
  redis.call('hset', KEYS[1], 'lastBeatAt', at)
  redis.call('zadd', KEYS[2], at, ARGV[1])
end
return redis.call('hgetall', KEYS[1])
`;

function fromHash(id: string, hash: Record<string, string>): LiveSession | undefined {
  if (hash['userId'] === undefined) return undefined;
  return {
    id,
    userId: hash['userId'],
    app: hash['app'] ?? '',
    unit: hash['unit'] ?? '',
    startedAt: Number(hash['startedAt']),
    maxSeconds: Number(hash['maxSeconds']),
    lastBeatAt: Number(hash['lastBeatAt']),
    flushedSeconds: Number(hash['flushedSeconds'] ?? 0),
    warned: hash['warned'] === '1',
  };
}

/** Live sessions in Redis: one hash per session, and sorted sets by last heartbeat and by deadline. */
export function createRedisMeterStore(redis: Redis, prefix: string): MeterStore {
  const key = (id: string) => `${prefix}:session:${id}`;
  const beats = `${prefix}:beats`;
  const deadlines = `${prefix}:deadlines`;
  return {
    shared: true,
    async put(session) {
      await redis
        .multi()
        .hset(key(session.id), {
          userId: session.userId,
          app: session.app,
          unit: session.unit,
          startedAt: session.startedAt,
          maxSeconds: session.maxSeconds,
          lastBeatAt: session.lastBeatAt,
          flushedSeconds: session.flushedSeconds,
          warned: session.warned ? '1' : '0',
        })
        .zadd(beats, session.lastBeatAt, session.id)
        .zadd(deadlines, session.startedAt + session.maxSeconds * 1000, session.id)
        .exec();
    },
    async get(id) {
      return fromHash(id, await redis.hgetall(key(id)));
    },
    async beat(id, userId, at) {
      const flat = (await redis.eval(beatScript, 2, key(id), beats, id, at, userId)) as string[] | null;
      if (flat === null) return undefined;
      const hash: Record<string, string> = {};
      for (let index = 0; index < flat.length; index += 2) hash[flat[index]!] = flat[index + 1]!;
      return fromHash(id, hash);
    },
    async setFlushed(id, seconds) {
      // Only ever forward (two flushes may finish out of order).
      await redis.eval(
        `if redis.call('exists', KEYS[1]) == 1 and tonumber(redis.call('hget', KEYS[1], 'flushedSeconds')) < tonumber(ARGV[1]) then redis.call('hset', KEYS[1], 'flushedSeconds', ARGV[1]) end`,
        1,
        key(id),
        seconds,
      );
    },
    async markWarned(id) {
      const changed = (await redis.eval(
        `if redis.call('hget', KEYS[1], 'warned') == '0' then redis.call('hset', KEYS[1], 'warned', '1') return 1 end return 0`,
        1,
        key(id),
      )) as number;
      return changed === 1;
    },
    async take(id) {
      const results = await redis.multi().hgetall(key(id)).del(key(id)).zrem(beats, id).zrem(deadlines, id).exec();
      const [error, hash] = results?.[0] ?? [null, {}];
      if (error !== null) throw error;
      return fromHash(id, hash as Record<string, string>);
    },
    async takeMany(ids) {
      const taken = new Map<string, LiveSession>();
      if (ids.length === 0) return taken;
      const step = redis.multi();
      for (const id of ids) step.hgetall(key(id)).del(key(id)).zrem(beats, id).zrem(deadlines, id);
      const results = (await step.exec()) ?? [];
      ids.forEach((id, index) => {
        const [error, hash] = results[index * 4] ?? [null, {}];
        if (error !== null) throw error;
        const session = fromHash(id, hash as Record<string, string>);
        if (session !== undefined) taken.set(id, session);
      });
      return taken;
    },
    async remove(id) {
      await redis.multi().del(key(id)).zrem(beats, id).zrem(deadlines, id).exec();
    },
    async silentSince(cutoff) {
      return redis.zrangebyscore(beats, '-inf', `(${cutoff}`);
    },
    async exhaustedBy(at) {
      return redis.zrangebyscore(deadlines, '-inf', at);
    },
    async ids() {
      return redis.zrange(beats, '0', '-1');
    },
  };
}
