import type { Database } from '#platform/kernel/db/database.ts';
import { createDirectoryRepository } from './directory.repository.ts';

/** A user as apps see them: enough to address and assign, nothing about credentials. */
export interface DirectoryUser {
  readonly id: string;
  readonly email: string;
  readonly displayName: string | null;
  readonly disabled: boolean;
  /** Active roles, full names (`complaints:tc`). */
  readonly roles: readonly string[];
}

export type Directory = ReturnType<typeof createDirectory>;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who a user is and who holds a role, read from the accounts' tables. */
export function createDirectory(database: Database) {
  const users = createDirectoryRepository(database);
  return {
    async user(id: string): Promise<DirectoryUser | undefined> {
      // Not a user id at all: nobody, rather than a database error.
      if (!uuid.test(id)) return undefined;
      return users.byId(id);
    },
    usersWithRole: (role: string): Promise<DirectoryUser[]> => users.withRole(role),
  };
}
