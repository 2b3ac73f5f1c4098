import type { Config } from '#platform/kernel/config/load-config.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { ExternalService } from '#platform/kernel/resilience/external-service.ts';
import type { AppContext, AppDefinition } from './define-app.ts';
import type { AppPorts, ModuleParts, ReadinessCheck, Registry } from './module.ts';

/** A module as the loader holds it once created. */
export interface CreatedModule {
  readonly name: string;
  readonly parts: ModuleParts<unknown, unknown>;
}

/**
 * What one app receives: its settings, its own schema, its logger, and each module's port bound to
 * it (`ctx.tasks`, `ctx.metering`, ...), keyed by module name.
 */
export function createAppContext(
  app: AppDefinition,
  modules: readonly CreatedModule[],
  kernel: {
    readonly config: Config;
    readonly database: Database;
    readonly log: Logger;
    readonly external: (name: string) => ExternalService;
  },
): AppContext {
  const { database } = kernel;
  // Each module types its own port (AppPorts is the sum of their declarations); here they are
  // gathered by name.
  const ports = Object.fromEntries(
    modules.flatMap(({ name, parts }) => (parts.forApp === undefined ? [] : [[name, parts.forApp(app)]])),
  ) as unknown as AppPorts;
  return {
    ...ports,
    name: app.name,
    settings: kernel.config.apps[app.name],
    publicUrl: kernel.config.http.publicUrl,
    db: database.view(app.name),
    transaction: (work) => database.transaction((tx) => work({ db: tx.view(app.name), tx })),
    within: (tx) => tx.view(app.name),
    log: kernel.log.child({ app: app.name }),
    external: kernel.external,
  };
}

/** Everything the modules and apps of one process declared: tasks, schedules and readiness checks. */
export function gatherRegistry(
  modules: readonly CreatedModule[],
  apps: readonly AppDefinition[],
  contexts: ReadonlyMap<string, AppContext>,
  kernelChecks: readonly ReadinessCheck[],
): Registry {
  return {
    tasks: [
      ...modules.flatMap(({ parts }) => (parts.tasks ?? []).map((definition) => ({ definition, app: undefined }))),
      ...apps.flatMap((app) => (app.tasks ?? []).map((definition) => ({ definition, app: contexts.get(app.name) }))),
    ],
    schedules: [
      ...modules.flatMap(({ parts }) => parts.schedules ?? []),
      ...apps.flatMap((app) => app.schedules ?? []),
    ],
    checks: [...kernelChecks, ...modules.flatMap(({ parts }) => parts.checks ?? [])],
    apps: new Map(apps.map((app) => [app.name, { definition: app, context: contexts.get(app.name)! }])),
  };
}
