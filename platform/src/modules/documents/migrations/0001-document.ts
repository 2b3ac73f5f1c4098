import { sql, type Kysely } from 'kysely';

/**
 * Documents: the text extracted from a stored file (PDF, DOCX, text), parsed by a task in a
 * sandboxed worker, or typed in by its owner when the file could not be read.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table platform.document (
      id uuid primary key default gen_random_uuid(),
      app text not null,
      file_id uuid not null references platform.stored_file (id) on delete cascade,
      owner_id uuid not null references platform."user"(id) on delete cascade,
      -- queued -> parsing -> ready | no_text | failed; manual once the owner typed the text.
      state text not null default 'queued' check (state in ('queued', 'parsing', 'ready', 'no_text', 'failed', 'manual')),
      progress integer not null default 0 check (progress between 0 and 100),
      -- Why it failed: encrypted, unreadable, too_large, timeout, memory, unsupported.
      reason text,
      text text,
      pages integer,
      truncated boolean not null default false,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index document_file on platform.document (file_id);
  `.execute(db);
}
