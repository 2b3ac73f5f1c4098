/**
 * @ballast/platform/host: what the CLI and tools need to run Ballast (not for apps): boot a
 * process with every platform module, migrate, check a deployment, manage signing keys.
 */
import type { AppDefinition } from './kernel/lifecycle/define-app.ts';
import {
  createBallast as loadBallast,
  migrationSetsFor as migrationSetsOf,
  settingsModulesOf,
  type Ballast,
  type CreateBallastOptions,
} from './kernel/lifecycle/loader.ts';
import type { MigrationSet } from './kernel/db/migrations.ts';
import type { SettingsModule } from './kernel/config/settings.ts';
import { platformModules } from './modules/index.ts';

export type { Ballast, Role } from './kernel/lifecycle/loader.ts';
import { loadConfig as loadKernelConfig, type Config, type LoadConfigOptions } from './kernel/config/load-config.ts';

export type { Config } from './kernel/config/load-config.ts';
export { StartupError } from './kernel/errors/errors.ts';
export { createLogger, shouldPrettyPrint } from './kernel/logging/logger.ts';
export { openDatabase, type Database } from './kernel/db/database.ts';
export { findPendingMigrations, migrateToLatest, type MigrationSet } from './kernel/db/migrations.ts';
export { formatDoctorReport, runDoctor, type DoctorCheck, type DoctorReport } from './modules/health/doctor.ts';
export { newSigningJwk, rotateDevKey } from './modules/auth/signing-keys.ts';
export { platformModules } from './modules/index.ts';

/** Options of `createBallast`: the apps, the environment and the roles (every platform module is loaded). */
export type HostOptions = Omit<CreateBallastOptions, 'modules'>;

/** Boots a Ballast process with every platform module and the given apps (see the loader). */
export function createBallast(options: HostOptions): Promise<Ballast> {
  return loadBallast({ ...options, modules: platformModules });
}

/** The migration sets of the kernel, every platform module and the given apps, in the order they apply. */
export function migrationSetsFor(apps: readonly AppDefinition[]): MigrationSet[] {
  return migrationSetsOf(platformModules, apps);
}

/**
 * Parses every setting of the kernel, every platform module and the given apps' settings modules
 * (`apps`), refusing unsafe production values (see the kernel's `loadConfig`).
 */
export function loadConfig(options: Omit<LoadConfigOptions, 'modules'>): Config {
  return loadKernelConfig({ ...options, modules: settingsModulesOf(platformModules) });
}

/** The settings modules of every platform module (`modules`) and of the given apps (`apps`), for `loadConfig`. */
export function settingsModulesFor(apps: readonly AppDefinition[]): {
  modules: SettingsModule[];
  apps: SettingsModule[];
} {
  return { modules: settingsModulesOf(platformModules), apps: settingsModulesOf(apps) };
}
