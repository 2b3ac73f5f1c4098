import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, Document as DocumentTable } from '#platform/db/platform.db.ts';

/** Documents (`document`) on the handle given: the pool, or inside a transaction (`tx.view<DB>('platform')`). */

export type DocumentRow = Selectable<DocumentTable>;

export async function insertDocument(
  db: Kysely<DB>,
  document: { app: string; fileId: string; ownerId: string },
): Promise<DocumentRow> {
  return db
    .insertInto('document')
    .values({ app: document.app, file_id: document.fileId, owner_id: document.ownerId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findDocument(db: Kysely<DB>, id: string): Promise<DocumentRow | undefined> {
  return db.selectFrom('document').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Moves a queued (or retried) document to parsing; undefined when it is no longer waiting for a parser. */
export async function startParsing(db: Kysely<DB>, id: string): Promise<DocumentRow | undefined> {
  return db
    .updateTable('document')
    .set({ state: 'parsing', progress: 10, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('state', 'in', ['queued', 'parsing'])
    .returningAll()
    .executeTakeFirst();
}

export async function setProgress(db: Kysely<DB>, id: string, progress: number): Promise<void> {
  await db
    .updateTable('document')
    .set({ progress, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('state', '=', 'parsing')
    .execute();
}

/** Records a parse's outcome, unless the owner has typed the text meanwhile. */
export async function finishParsing(
  db: Kysely<DB>,
  id: string,
  result: {
    state: 'ready' | 'no_text' | 'failed';
    reason: string | null;
    text: string | null;
    pages: number | null;
    truncated: boolean;
  },
): Promise<void> {
  await db
    .updateTable('document')
    .set({ ...result, progress: 100, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('state', '=', 'parsing')
    .execute();
}

/** The owner's own text for a document (the manual fallback); undefined when it is not theirs. */
export async function setManualText(
  db: Kysely<DB>,
  id: string,
  app: string,
  ownerId: string,
  text: string,
): Promise<DocumentRow | undefined> {
  return db
    .updateTable('document')
    .set({ state: 'manual', text, reason: null, progress: 100, truncated: false, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('app', '=', app)
    .where('owner_id', '=', ownerId)
    .returningAll()
    .executeTakeFirst();
}
