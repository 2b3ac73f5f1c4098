import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { createDirectory, type Directory, type DirectoryUser } from './directory.service.ts';

/** The people of the platform as an app sees them. */
export interface DirectoryPort {
  /** A user by id, or undefined (unknown or disabled accounts included, marked). */
  user(id: string): Promise<DirectoryUser | undefined>;
  /**
   * Enabled users holding one of this app's roles, actively (pending requests excluded), e.g.
   * `usersWithRole('tc')` for `complaints:tc`; in a stable order (by id).
   */
  usersWithRole(role: string): Promise<DirectoryUser[]>;
}

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** Users by id and by role, for the apps. */
    directory: Directory;
  }
  interface AppPorts {
    readonly directory: DirectoryPort;
  }
}

/** A read-only view of accounts for the apps: who a user is, who holds a role. */
export const directoryModule = defineModule({
  name: 'directory',
  dependsOn: ['auth'],
  create: (ctx) => {
    const directory = createDirectory(ctx.database);
    return {
      service: directory,
      forApp: (app) => ({
        user: (id) => directory.user(id),
        usersWithRole: (role) => directory.usersWithRole(`${app.name}:${role}`),
      }),
    };
  },
});
