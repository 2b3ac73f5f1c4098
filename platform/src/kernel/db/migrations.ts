import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Migrator, type Kysely, type Migration, type MigrationProvider, type MigrationResult } from 'kysely';
import type { EmptyDB } from './database.ts';
import * as bookkeeping from './migrations.repository.ts';

/**
 * The migrations of one owner (the platform or an app), applied in its own Postgres schema and
 * tracked in that schema's own `kysely_migration` table.
 */
export interface MigrationSet {
  /** Who owns the tables: a platform module (`auth`), the kernel, or an app (`coach`). */
  readonly owner: string;
  /** Postgres schema the owner's tables live in, e.g. `platform` or `coach`. */
  readonly schema: string;
  /** A folder of `NNNN-name.ts` files, each exporting `up` (and optionally `down`). */
  readonly folder: string;
  /** Table (in `schema`) that tracks what was applied; each owner in a shared schema has its own. */
  readonly table?: string;
}

/** What a migration run did, per schema. */
export interface MigrationReport {
  readonly owner: string;
  readonly schema: string;
  readonly applied: readonly string[];
}

/** Thrown when a migration fails; the failing set was rolled back as one transaction. */
export class MigrationError extends Error {
  readonly schema: string;
  readonly migration: string | undefined;
  constructor(schema: string, migration: string | undefined, cause: unknown) {
    super(`migration ${schema}/${migration ?? '?'} failed: ${(cause as Error | undefined)?.message ?? String(cause)}`, {
      cause,
    });
    this.name = 'MigrationError';
    this.schema = schema;
    this.migration = migration;
  }
}

const MIGRATION_TABLE = 'kysely_migration';

class FolderMigrationProvider implements MigrationProvider {
  readonly #folder: string;
  constructor(folder: string) {
    this.#folder = folder;
  }
  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const name of await listMigrationFiles(this.#folder)) {
      const module = (await import(pathToFileURL(path.join(this.#folder, name)).href)) as Partial<Migration>;
      if (typeof module.up !== 'function') throw new Error(`${name} does not export an up() function`);
      migrations[migrationName(name)] = { up: module.up, ...(module.down === undefined ? {} : { down: module.down }) };
    }
    return migrations;
  }
}

async function listMigrationFiles(folder: string): Promise<string[]> {
  let files: string[];
  try {
    files = await fs.readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return files.filter((file) => /^\d+[-_].+\.(ts|js)$/.test(file) && !/\.(test|d)\.ts$/.test(file)).sort();
}

function migrationName(file: string): string {
  return file.replace(/\.(ts|js)$/, '');
}

function migratorFor(db: Kysely<EmptyDB>, set: MigrationSet): Migrator {
  return new Migrator({
    // Unqualified table names inside a migration land in the owner's schema.
    db: db.withSchema(set.schema),
    provider: new FolderMigrationProvider(set.folder),
    migrationTableSchema: set.schema,
    migrationTableName: set.table ?? MIGRATION_TABLE,
    migrationLockTableName: `${set.table ?? MIGRATION_TABLE}_lock`,
  });
}

/**
 * Applies every pending migration, owner by owner, in the order given (the platform first).
 * Safe to run from several processes at once: Kysely's lock row serialises them and each owner's
 * migrations run in one transaction.
 */
export async function migrateToLatest(db: Kysely<EmptyDB>, sets: readonly MigrationSet[]): Promise<MigrationReport[]> {
  const reports: MigrationReport[] = [];
  await adoptLegacyPlatformMigrations(db);
  for (const set of sets) {
    const { error, results } = await migratorFor(db, set).migrateToLatest();
    if (error !== undefined) {
      const failed = results?.find((result: MigrationResult) => result.status === 'Error');
      throw new MigrationError(set.owner, failed?.migrationName, error);
    }
    reports.push({
      owner: set.owner,
      schema: set.schema,
      applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName),
    });
  }
  return reports;
}

/** A migration known to the code but not applied to the database. */
export interface PendingMigration {
  readonly owner: string;
  readonly schema: string;
  readonly name: string;
}

/**
 * Lists migrations the code has and the database lacks. Cheap enough for `/readyz`: one query
 * per schema, no catalogue introspection, no writes.
 */
export async function findPendingMigrations(
  db: Kysely<EmptyDB>,
  sets: readonly MigrationSet[],
): Promise<PendingMigration[]> {
  const pending: PendingMigration[] = [];
  for (const set of sets) {
    const known = (await listMigrationFiles(set.folder)).map(migrationName);
    if (known.length === 0) continue;
    const applied =
      (await bookkeeping.appliedMigrationNames(db, set.schema, set.table ?? MIGRATION_TABLE)) ?? new Set<string>();
    for (const name of known) if (!applied.has(name)) pending.push({ owner: set.owner, schema: set.schema, name });
  }
  return pending;
}

/**
 * Until every platform module owned its migrations, the platform's were one sequence in
 * `platform.kysely_migration`. A database migrated then is brought to the per-module layout once:
 * each old entry becomes the entries of the module migrations it was split into (their tables
 * exist already), in one transaction. Remove this when no database from before 2026-12 remains.
 */
const legacyPlatformMigrations: Readonly<Record<string, readonly (readonly [table: string, name: string])[]>> = {
  '0002-task-dedupe': [['kysely_migration_tasks', '0001-task-dedupe']],
  '0003-notify': [['kysely_migration_notify', '0001-notifications']],
  '0004-auth': [
    ['kysely_migration_audit', '0001-audit-event'],
    ['kysely_migration_auth', '0001-users'],
  ],
  '0005-payments-metering': [
    ['kysely_migration_payments', '0001-payments-ledger'],
    ['kysely_migration_metering', '0001-metered-session'],
  ],
  '0006-metering-reported-usage': [['kysely_migration_metering', '0002-reported-usage']],
};

async function adoptLegacyPlatformMigrations(db: Kysely<EmptyDB>): Promise<void> {
  const legacy = Object.keys(legacyPlatformMigrations);
  await db.transaction().execute(async (tx) => {
    if (!(await bookkeeping.legacyPlatformTableExists(tx))) return;
    for (const row of await bookkeeping.lockLegacyEntries(tx, legacy)) {
      for (const [table, name] of legacyPlatformMigrations[row.name] ?? []) {
        await bookkeeping.recordPlatformMigration(tx, table, name, row.timestamp);
      }
    }
    await bookkeeping.deleteLegacyEntries(tx, legacy);
  });
}
