import type { DB } from '#platform/db/platform.db.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import { insertInstallationOnce, readInstallation } from './installation.repository.ts';

/** This deployment's identity: created on first start, the same on every later start. */
export interface Installation {
  readonly id: string;
  readonly createdAt: Date;
}

/** Reads the installation record, creating it on first start (race-safe across processes). */
export async function ensureInstallation(database: Database): Promise<Installation> {
  const db = database.view<DB>('platform');
  await insertInstallationOnce(db);
  const row = await readInstallation(db);
  return { id: row.id, createdAt: row.created_at };
}
