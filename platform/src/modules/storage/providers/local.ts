import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, ByteRange } from './blob-store.ts';

/** Keys are ours (random hex and slashes); anything else is refused before it touches a path. */
const safeKey = /^[a-z0-9]+(\/[a-z0-9.-]+)*$/;

/**
 * Files in a local folder (`DATA_DIR/storage` by default). A write goes to a temporary file that is
 * renamed into place once complete, so a failed or cut upload never leaves a partial object.
 */
export function createLocalBlobStore(directory: string): BlobStore {
  const pathOf = (key: string): string => {
    if (!safeKey.test(key) || key.includes('..')) throw new Error(`invalid storage key ${key}`);
    return path.join(directory, key);
  };
  return {
    driver: 'local',
    async put(key, body) {
      const target = pathOf(key);
      await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      const partial = `${target}.part-${randomBytes(6).toString('hex')}`;
      try {
        await pipeline(body, fs.createWriteStream(partial, { flags: 'wx', mode: 0o600, highWaterMark: 1024 * 1024 }));
        await fsp.rename(partial, target);
      } catch (error) {
        await fsp.rm(partial, { force: true });
        throw error;
      }
    },
    async get(key, range?: ByteRange) {
      const file = pathOf(key);
      await fsp.access(file);
      // Large reads: a download is a few hundred reads of 1 MiB, not thousands of 64 KiB ones.
      const chunks = { highWaterMark: 1024 * 1024 };
      return fs.createReadStream(
        file,
        range === undefined ? chunks : { ...chunks, start: range.start, end: range.end },
      );
    },
    async size(key) {
      try {
        return (await fsp.stat(pathOf(key))).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async delete(key) {
      await fsp.rm(pathOf(key), { force: true });
    },
    async close() {},
  };
}
