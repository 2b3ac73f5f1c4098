import path from 'node:path';
import type { SettingsModule } from '#platform/kernel/config/settings.ts';
import type { MigrationSet } from '#platform/kernel/db/migrations.ts';
import type { AppDefinition } from './define-app.ts';
import { orderModules, type AnyModule } from './module.ts';

/** The kernel's own migrations (the installation record) live beside the loader. */
const kernelMigrations: MigrationSet = {
  owner: 'kernel',
  schema: 'platform',
  folder: path.join(import.meta.dirname, 'migrations'),
};

/** The migration sets of the kernel, the modules (in dependency order) and the apps, in the order they apply. */
export function migrationSetsFor(modules: readonly AnyModule[], apps: readonly AppDefinition[]): MigrationSet[] {
  return [
    kernelMigrations,
    ...orderModules(modules).flatMap((module) =>
      module.migrations === undefined
        ? []
        : [
            {
              owner: module.name,
              schema: 'platform',
              folder: module.migrations,
              table: `kysely_migration_${module.name}`,
            },
          ],
    ),
    ...apps.flatMap((app) =>
      app.migrations === undefined ? [] : [{ owner: app.name, schema: app.name, folder: app.migrations }],
    ),
  ];
}

/** The settings modules of the given platform modules and apps. */
export function settingsModulesOf(
  items: readonly { readonly settings?: SettingsModule | undefined }[],
): SettingsModule[] {
  return items.flatMap((item) => (item.settings === undefined ? [] : [item.settings]));
}
