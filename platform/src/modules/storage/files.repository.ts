import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, StoredFile as StoredFileTable } from '#platform/db/platform.db.ts';

/**
 * Stored files and their grants (`stored_file`, `stored_file_grant`) on the handle given: the
 * platform's tables on the pool, or inside a transaction (`tx.view<DB>('platform')`).
 */

export type FileRow = Selectable<StoredFileTable>;

/** A new file's row. */
export interface NewFile {
  readonly app: string;
  readonly use: string;
  readonly ownerId: string;
  readonly key: string;
  readonly name: string;
  readonly contentType: string;
  readonly size: number;
  readonly sha256: string | null;
  readonly status: 'uploading' | 'stored';
}

export async function insertFile(db: Kysely<DB>, file: NewFile): Promise<FileRow> {
  return db
    .insertInto('stored_file')
    .values({
      app: file.app,
      use: file.use,
      owner_id: file.ownerId,
      storage_key: file.key,
      name: file.name,
      content_type: file.contentType,
      size: String(file.size),
      sha256: file.sha256,
      status: file.status,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** One file; with `lock`, its row is held until the transaction ends. */
export async function findFile(db: Kysely<DB>, id: string, lock = false): Promise<FileRow | undefined> {
  const query = db.selectFrom('stored_file').selectAll().where('id', '=', id);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

/**
 * Serialises quota decisions of one owner until the transaction ends (two uploads finishing at
 * once cannot both fit in the room left for one).
 */
export async function lockOwner(db: Kysely<DB>, ownerId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`storage.quota:${ownerId}`}, 0))`.execute(db);
}

/** Bytes the owner holds: every file not being deleted, announced direct uploads included. */
export async function usedBytes(db: Kysely<DB>, ownerId: string): Promise<number> {
  const row = await db
    .selectFrom('stored_file')
    .select(sql<string>`coalesce(sum(size), 0)`.as('used'))
    .where('owner_id', '=', ownerId)
    .where('status', '<>', 'deleting')
    .executeTakeFirstOrThrow();
  return Number(row.used);
}

/** Confirms a direct upload (once): `uploading` becomes `stored` with its checked type. */
export async function confirmUpload(db: Kysely<DB>, id: string, contentType: string): Promise<FileRow | undefined> {
  return db
    .updateTable('stored_file')
    .set({ status: 'stored', content_type: contentType })
    .where('id', '=', id)
    .where('status', '=', 'uploading')
    .returningAll()
    .executeTakeFirst();
}

export async function setSha256(db: Kysely<DB>, id: string, sha256: string): Promise<void> {
  await db.updateTable('stored_file').set({ sha256 }).where('id', '=', id).execute();
}

/** Attaches a stored, not yet attached file to a record; undefined when it is not in that state. */
export async function attachFile(db: Kysely<DB>, id: string, record: string): Promise<FileRow | undefined> {
  return db
    .updateTable('stored_file')
    .set({ status: 'attached', record, attached_at: sql`now()` })
    .where('id', '=', id)
    .where('status', '=', 'stored')
    .returningAll()
    .executeTakeFirst();
}

/** Marks the files of an app's record for deletion; resolves with their ids. */
export async function markRecordDeleting(db: Kysely<DB>, app: string, record: string): Promise<string[]> {
  const rows = await db
    .updateTable('stored_file')
    .set({ status: 'deleting' })
    .where('app', '=', app)
    .where('record', '=', record)
    .where('status', '=', 'attached')
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** Marks one file for deletion (a refused upload, an owner's removal of an unattached file). */
export async function markDeleting(db: Kysely<DB>, id: string): Promise<boolean> {
  const row = await db
    .updateTable('stored_file')
    .set({ status: 'deleting' })
    .where('id', '=', id)
    .where('status', '<>', 'deleting')
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Marks uploads never attached and older than `before` for deletion, at most `limit`; resolves with their ids. */
export async function markOrphansDeleting(db: Kysely<DB>, before: Date, limit: number): Promise<string[]> {
  const rows = await db
    .updateTable('stored_file')
    .set({ status: 'deleting' })
    .where(
      'id',
      'in',
      db
        .selectFrom('stored_file')
        .select('id')
        .where('status', 'in', ['uploading', 'stored'])
        .where('created_at', '<', before)
        .orderBy('created_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** The storage keys of files marked for deletion, among `ids`. */
export async function findDeleting(
  db: Kysely<DB>,
  ids: readonly string[],
): Promise<{ id: string; storage_key: string }[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('stored_file')
    .select(['id', 'storage_key'])
    .where('id', 'in', ids)
    .where('status', '=', 'deleting')
    .execute();
}

/** Files marked for deletion whose task may have been lost, oldest first. */
export async function findStaleDeleting(db: Kysely<DB>, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('stored_file')
    .select('id')
    .where('status', '=', 'deleting')
    .orderBy('created_at')
    .limit(limit)
    .execute();
  return rows.map((row) => row.id);
}

export async function deleteRow(db: Kysely<DB>, id: string): Promise<void> {
  await db.deleteFrom('stored_file').where('id', '=', id).where('status', '=', 'deleting').execute();
}

export async function insertGrant(db: Kysely<DB>, fileId: string, userId: string): Promise<void> {
  await db
    .insertInto('stored_file_grant')
    .values({ file_id: fileId, user_id: userId })
    .onConflict((conflict) => conflict.doNothing())
    .execute();
}

export async function hasGrant(db: Kysely<DB>, fileId: string, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('stored_file_grant')
    .select('file_id')
    .where('file_id', '=', fileId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

/** The files of an app's record, oldest first. */
export async function listRecordFiles(db: Kysely<DB>, app: string, record: string): Promise<FileRow[]> {
  return db
    .selectFrom('stored_file')
    .selectAll()
    .where('app', '=', app)
    .where('record', '=', record)
    .where('status', '=', 'attached')
    .orderBy('created_at')
    .execute();
}
