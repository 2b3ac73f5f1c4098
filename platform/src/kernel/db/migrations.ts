import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Migrator, sql, type Migration, type MigrationProvider, type MigrationResult } from 'kysely';
import type { AnyKysely } from './database.ts';

/**
 * The migrations of one owner (the platform or an app), applied in its own Postgres schema and
 * tracked in that schema's own `kysely_migration` table.
 */
export interface MigrationSet {
  /** Postgres schema the owner's tables live in, e.g. `platform` or `coach`. */
  readonly schema: string;
  /** A folder of `NNNN-name.ts` files, each exporting `up` (and optionally `down`). */
  readonly folder: string;
}

/** What a migration run did, per schema. */
export interface MigrationReport {
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

function migratorFor(db: AnyKysely, set: MigrationSet): Migrator {
  return new Migrator({
    // Unqualified table names inside a migration land in the owner's schema.
    db: db.withSchema(set.schema),
    provider: new FolderMigrationProvider(set.folder),
    migrationTableSchema: set.schema,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
  });
}

/**
 * Applies every pending migration, owner by owner, in the order given (the platform first).
 * Safe to run from several processes at once: Kysely's lock row serialises them and each owner's
 * migrations run in one transaction.
 */
export async function migrateToLatest(db: AnyKysely, sets: readonly MigrationSet[]): Promise<MigrationReport[]> {
  const reports: MigrationReport[] = [];
  for (const set of sets) {
    const { error, results } = await migratorFor(db, set).migrateToLatest();
    if (error !== undefined) {
      const failed = results?.find((result: MigrationResult) => result.status === 'Error');
      throw new MigrationError(set.schema, failed?.migrationName, error);
    }
    reports.push({
      schema: set.schema,
      applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName),
    });
  }
  return reports;
}

/** A migration known to the code but not applied to the database. */
export interface PendingMigration {
  readonly schema: string;
  readonly name: string;
}

/**
 * Lists migrations the code has and the database lacks. Cheap enough for `/readyz`: one query
 * per schema, no catalogue introspection, no writes.
 */
export async function findPendingMigrations(db: AnyKysely, sets: readonly MigrationSet[]): Promise<PendingMigration[]> {
  const pending: PendingMigration[] = [];
  for (const set of sets) {
    const known = (await listMigrationFiles(set.folder)).map(migrationName);
    if (known.length === 0) continue;
    let applied: Set<string>;
    try {
      const rows = await sql<{ name: string }>`select name from ${sql.id(set.schema, MIGRATION_TABLE)}`.execute(db);
      applied = new Set(rows.rows.map((row) => row.name));
    } catch (error) {
      if ((error as { code?: string }).code !== '42P01') throw error;
      applied = new Set();
    }
    for (const name of known) if (!applied.has(name)) pending.push({ schema: set.schema, name });
  }
  return pending;
}
