import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Database } from '#platform/kernel/db/database.ts';
import type { EmbeddedPostgres } from '#platform/kernel/db/embedded-postgres.ts';
import { findPendingMigrations, type MigrationSet } from '#platform/kernel/db/migrations.ts';
import type { ReadinessCheck } from './module.ts';

export type { ReadinessCheck } from './module.ts';

export interface CheckResult {
  readonly status: 'ok' | 'fail';
  readonly latencyMs: number;
  readonly detail?: string;
}

export interface ReadinessReport {
  readonly status: 'ok' | 'fail';
  readonly checks: Record<string, CheckResult>;
}

const CHECK_TIMEOUT_MS = 2000;

/** Runs every check in parallel, each bounded by a timeout, and reports per-check status. */
export async function runChecks(checks: readonly ReadinessCheck[]): Promise<ReadinessReport> {
  const entries = await Promise.all(
    checks.map(async (check): Promise<[string, CheckResult]> => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        const detail = await Promise.race([
          check.run(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
          }),
        ]);
        return [check.name, { status: 'ok', latencyMs: elapsed(started), ...(detail === undefined ? {} : { detail }) }];
      } catch (error) {
        return [check.name, { status: 'fail', latencyMs: elapsed(started), detail: describeFailure(error) }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const report = Object.fromEntries(entries);
  return { status: entries.every(([, result]) => result.status === 'ok') ? 'ok' : 'fail', checks: report };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/** A one-line reason without stack, host names or credentials. */
function describeFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const line = (message.split('\n')[0] ?? message).replace(/\b\w+:\/\/[^\s]+/g, '<url>').slice(0, 200);
  return typeof code === 'string' ? `${code}: ${line}` : line;
}

/** The database answers `select 1`. */
export function databaseCheck(database: Database): ReadinessCheck {
  return {
    name: 'database',
    run: async () => {
      await database.ping(CHECK_TIMEOUT_MS);
      return undefined;
    },
  };
}

/** The embedded PostgreSQL this process runs is up; dead for good fails liveness too. */
export function embeddedDatabaseCheck(embedded: EmbeddedPostgres): ReadinessCheck {
  const status = (): string => {
    const now = embedded.status();
    if (now === 'restarting') throw new Error('died; restarting it');
    if (now === 'failed') throw new Error('died and could not be restarted');
    return now;
  };
  return {
    name: 'embedded-database',
    run: async () => status(),
    alive: () => {
      if (embedded.status() === 'failed') status();
    },
  };
}

/** Runs every liveness part; resolves with the first failure, or undefined when alive. */
export function findFatal(checks: readonly ReadinessCheck[]): string | undefined {
  for (const check of checks) {
    try {
      check.alive?.();
    } catch (error) {
      return `${check.name}: ${describeFailure(error)}`;
    }
  }
  return undefined;
}

/** Every migration the code knows has been applied. */
export function migrationsCheck(database: Database, sets: readonly MigrationSet[]): ReadinessCheck {
  return {
    name: 'migrations',
    run: async () => {
      const pending = await findPendingMigrations(database.db, sets);
      if (pending.length > 0) {
        throw new Error(`${pending.length} pending: ${pending.map((m) => `${m.owner}/${m.name}`).join(', ')}`);
      }
      return 'current';
    },
  };
}

/** Redis answers PING. */
export function redisCheck(redis: Redis): ReadinessCheck {
  return {
    name: 'redis',
    run: async () => {
      const answer = await redis.ping();
      if (answer !== 'PONG') throw new Error(`unexpected answer ${String(answer)}`);
      return undefined;
    },
  };
}

/** The data folder accepts a write (uploads, embedded data, generated secrets live there). */
export function diskCheck(dataDir: string): ReadinessCheck {
  return {
    name: 'disk',
    run: async () => {
      await fs.mkdir(dataDir, { recursive: true });
      const probe = path.join(dataDir, `.write-probe-${randomBytes(6).toString('hex')}`);
      await fs.writeFile(probe, 'ok');
      await fs.rm(probe, { force: true });
      const stats = await fs.statfs(dataDir);
      const freeMiB = Math.floor((stats.bavail * stats.bsize) / (1024 * 1024));
      return `${freeMiB} MiB free`;
    },
  };
}
