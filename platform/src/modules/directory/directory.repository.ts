import type { Database } from '#platform/kernel/db/database.ts';
import type { DB } from '#platform/db/platform.db.ts';
import type { DirectoryUser } from './directory.service.ts';

/** Reads users and their active roles for the directory (the auth module owns these tables). */
export function createDirectoryRepository(database: Database) {
  const db = database.view<DB>('platform');
  const users = () =>
    db
      .selectFrom('user as u')
      .leftJoin('user_role as r', (join) => join.onRef('r.user_id', '=', 'u.id').on('r.status', '=', 'active'))
      .select((eb) => [
        'u.id',
        'u.email',
        'u.display_name',
        eb('u.disabled_at', 'is not', null).$castTo<boolean>().as('disabled'),
        eb.fn.agg<string[] | null>('array_agg', ['r.role']).filterWhere('r.role', 'is not', null).as('roles'),
      ])
      .groupBy('u.id');
  const toUser = (row: {
    id: string;
    email: string;
    display_name: string | null;
    disabled: boolean;
    roles: string[] | null;
  }): DirectoryUser => ({
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    disabled: row.disabled,
    roles: row.roles ?? [],
  });
  return {
    async byId(id: string): Promise<DirectoryUser | undefined> {
      const row = await users().where('u.id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toUser(row);
    },
    /** Enabled holders of `role` (active), by id. */
    async withRole(role: string): Promise<DirectoryUser[]> {
      const rows = await users()
        .where('u.disabled_at', 'is', null)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('user_role as held')
              .select('held.user_id')
              .whereRef('held.user_id', '=', 'u.id')
              .where('held.role', '=', role)
              .where('held.status', '=', 'active'),
          ),
        )
        .orderBy('u.id')
        .execute();
      return rows.map(toUser);
    },
  };
}
