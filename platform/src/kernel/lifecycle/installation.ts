import type { Generated } from 'kysely';
import type { Database } from '#platform/kernel/db/database.ts';

interface InstallationTables {
  installation: { id: Generated<string>; singleton: boolean; created_at: Generated<Date> };
}

/** This deployment's identity: created on first start, the same on every later start. */
export interface Installation {
  readonly id: string;
  readonly createdAt: Date;
}

/** Reads the installation record, creating it on first start (race-safe across processes). */
export async function ensureInstallation(database: Database): Promise<Installation> {
  const db = database.forSchema<InstallationTables>('platform');
  await db
    .insertInto('installation')
    .values({ singleton: true })
    .onConflict((oc) => oc.column('singleton').doNothing())
    .execute();
  const row = await db.selectFrom('installation').select(['id', 'created_at']).executeTakeFirstOrThrow();
  return { id: row.id, createdAt: row.created_at };
}
