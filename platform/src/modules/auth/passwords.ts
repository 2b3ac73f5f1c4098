import os from 'node:os';
import argon2 from 'argon2';

/** OWASP's current argon2id parameters: 19 MiB, 2 iterations, 1 lane. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * At most this many argon2 computations at once: one core short of all of them, so a sign-in
 * storm queues here instead of starving the event loop (health checks and every other request).
 */
const HASH_SLOTS = Math.max(1, os.availableParallelism() - 1);
let busySlots = 0;
const waiting: (() => void)[] = [];

async function withHashSlot<T>(work: () => Promise<T>): Promise<T> {
  if (busySlots >= HASH_SLOTS) await new Promise<void>((resolve) => waiting.push(resolve));
  else busySlots++;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next === undefined) busySlots--;
    else next();
  }
}

/** argon2id hash, computed on libuv's thread pool (never on the event loop). */
export function hashPassword(password: string): Promise<string> {
  return withHashSlot(() => argon2.hash(password, ARGON2_OPTIONS));
}

/** A hash of a random password, to spend the same time when an account does not exist. */
let dummyHash: Promise<string> | undefined;

/**
 * Verifies a password against a stored hash; with no hash (unknown account) it verifies against a
 * dummy so both answers take the same time.
 */
export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  if (hash === null || hash === undefined) {
    dummyHash ??= hashPassword(`dummy-${Math.random()}`);
    const dummy = await dummyHash;
    await withHashSlot(() => argon2.verify(dummy, password).catch(() => false));
    return false;
  }
  return withHashSlot(() => argon2.verify(hash, password).catch(() => false));
}

/** Whether a stored hash was made with weaker parameters than today's (rehash on next sign-in). */
export function needsRehash(hash: string): boolean {
  return argon2.needsRehash(hash, ARGON2_OPTIONS);
}
