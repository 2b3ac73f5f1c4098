import { sql, type Kysely } from 'kysely';

/**
 * Stored files: one row per upload, under a random key (never the user's name), owned by a user,
 * belonging to an app's record once attached; grants let others download. Sizes count towards the
 * owner's quota until the file is gone.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table platform.stored_file (
      id uuid primary key default gen_random_uuid(),
      app text not null,
      use text not null,
      owner_id uuid not null references platform."user"(id) on delete cascade,
      storage_key text not null unique,
      name text not null,
      content_type text not null,
      size bigint not null check (size >= 0),
      sha256 text,
      -- uploading: a direct upload announced, not yet confirmed; stored: checked, not attached;
      -- attached: belongs to a record; deleting: its blob is being removed by a task.
      status text not null check (status in ('uploading', 'stored', 'attached', 'deleting')),
      record text,
      created_at timestamptz not null default now(),
      attached_at timestamptz,
      check ((status = 'attached') = (record is not null) or status = 'deleting')
    );
    create index stored_file_owner on platform.stored_file (owner_id) where status <> 'deleting';
    create index stored_file_record on platform.stored_file (app, record) where record is not null;
    create index stored_file_orphan on platform.stored_file (created_at) where status in ('uploading', 'stored');

    create table platform.stored_file_grant (
      file_id uuid not null references platform.stored_file (id) on delete cascade,
      user_id uuid not null references platform."user"(id) on delete cascade,
      granted_at timestamptz not null default now(),
      primary key (file_id, user_id)
    );
  `.execute(db);
}
