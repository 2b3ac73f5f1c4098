import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Reads `read()` every 50 ms until `done` accepts its value, and resolves with that value;
 * rejects after `timeoutMs`, naming the last value read.
 */
export async function waitFor<T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await sleep(50);
  }
}
