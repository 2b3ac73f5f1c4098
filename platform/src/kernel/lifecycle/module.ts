import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { Config } from '#platform/kernel/config/load-config.ts';
import type { SettingsModule } from '#platform/kernel/config/settings.ts';
import type { StartupProblem } from '#platform/kernel/errors/errors.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import type { ContentSources } from '#platform/kernel/http/security.ts';
import type { WebBuild } from '#platform/kernel/http/web-pages.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import type { ExternalService } from '#platform/kernel/resilience/external-service.ts';
import type { NotificationDefinition } from './define-notification.ts';
import type { ScheduleDefinition, TaskDefinition } from './define-task.ts';
import type { AppContext, AppDefinition } from './define-app.ts';
import type { Installation } from './installation.ts';

/** The parts of Ballast a process runs: the web server, the worker, or both (none: a CLI command). */
export type Role = 'web' | 'worker';

/**
 * What each platform module offers the others, by module name. Every module adds its own entry
 * from its `<name>.module.ts` (`declare module` merging), so `dependsOn: ['tasks']` gives a
 * typed `deps.tasks` without a container.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface PlatformServices {}

/**
 * The slice of each module an app receives, bound to that app (`ctx.tasks`, `ctx.metering`, ...).
 * Every module with a `forApp` adds its entry by declaration merging.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface AppPorts {}

/** The name of a platform module. */
export type ModuleName = Extract<keyof PlatformServices, string>;

/** One readiness probe of `/readyz`: resolves with a short detail when healthy, throws when not. */
export interface ReadinessCheck {
  readonly name: string;
  run(): Promise<string | undefined>;
  /**
   * For `/healthz`: cheap, synchronous, throws only when the process cannot recover by itself
   * and must be restarted (a liveness probe then restarts it).
   */
  readonly alive?: () => void;
}

/** A background task and the context its handler runs with (an app's context for app tasks). */
export interface RegisteredTask {
  readonly definition: TaskDefinition;
  /** The app the task belongs to; undefined for the platform's own tasks. */
  readonly app: AppContext | undefined;
}

/**
 * Everything the modules and apps of one process declared, gathered once all of them exist.
 * Modules read it when they mount routes and when they start; it never changes afterwards.
 */
export interface Registry {
  readonly tasks: readonly RegisteredTask[];
  readonly schedules: readonly ScheduleDefinition[];
  readonly checks: readonly ReadinessCheck[];
  /** Every app with its context, by name. */
  readonly apps: ReadonlyMap<string, { readonly definition: AppDefinition; readonly context: AppContext }>;
}

/** What every module and app of a process declares, before any is created. */
export interface Declarations {
  readonly modules: readonly AnyModule[];
  readonly apps: readonly AppDefinition[];
}

/** A component with a lifecycle that a module starts and stops. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Stops taking new work and finishes what runs. */
  stop(): Promise<void>;
}

/** Whether the process is draining (SIGTERM received): readiness fails while requests finish. */
export interface Lifecycle {
  isShuttingDown(): boolean;
}

/** What the kernel gives a module when it is created. */
export interface ModuleContext<Settings = unknown> {
  /** The whole configuration, parsed and frozen. */
  readonly config: Config;
  /** This module's own settings (`config[name]`). */
  readonly settings: Settings;
  /** A logger bound to `{ module: name }`. */
  readonly log: Logger;
  readonly database: Database;
  readonly redis: Redis | undefined;
  readonly metrics: Metrics;
  readonly installation: Installation;
  /** The roles this process runs. */
  readonly roles: readonly Role[];
  /** The apps this process serves (their static declarations). */
  readonly apps: readonly AppDefinition[];
  /** Every platform module's declaration (e.g. to gather the notification types all of them send). */
  readonly modules: readonly AnyModule[];
  /** The browser build: pages are served from it. */
  readonly web: WebBuild;
  readonly version: string;
  readonly lifecycle: Lifecycle;
  /** A resilience wrapper (timeout, retries for idempotent calls, circuit breaker) for one external service. */
  external(name: string): ExternalService;
}

/** What a module is once created: its service and what it adds to the process. */
export interface ModuleParts<Service, Port = never> {
  /** What dependent modules receive as `deps.<name>` (and the host as `ballast.<name>`). */
  readonly service: Service;
  /**
   * Registered on the root before rate limits and routes: who is calling (`request.user`) and
   * whether they may call the route. Only the auth module has one.
   */
  readonly identify?: (server: FastifyInstance) => PromiseLike<unknown>;
  /** The module's HTTP routes and pages, mounted at the root. */
  readonly routes?: (server: FastifyInstance, registry: Registry) => PromiseLike<unknown>;
  /** Site-wide notices the home page shows at the top (payments that move no money). */
  readonly notices?: readonly string[];
  /** Origins the platform's pages load scripts, frames or connections from for this module. */
  readonly contentSources?: ContentSources;
  readonly tasks?: readonly TaskDefinition[];
  readonly schedules?: readonly ScheduleDefinition[];
  readonly checks?: readonly ReadinessCheck[];
  /**
   * Called once every module and app exists, in dependency order, before anything is served:
   * take in what the others declared (task queues, the apps' hooks).
   */
  readonly init?: (registry: Registry) => Promise<void>;
  /** Called by `start()` in dependency order (for every role): begin background work, listen on the bus. */
  readonly start?: () => Promise<void>;
  /** Called in reverse order on shutdown: finish what runs, let go of connections. */
  readonly stop?: () => Promise<void>;
  /** The slice of this module one app receives, bound to it. */
  readonly forApp?: (app: AppDefinition) => Port;
}

/**
 * A platform capability, declared once: its name and the modules it needs, its settings and
 * tables, the notification types it sends, the start-up rules it enforces, and how it is created.
 * The loader creates modules in dependency order, gathers their routes, tasks, schedules and
 * checks, starts them, and stops them in reverse.
 */
export interface ModuleDefinition<
  Name extends ModuleName = ModuleName,
  Deps extends ModuleName = ModuleName,
  Settings = unknown,
> {
  readonly name: Name;
  readonly dependsOn: readonly Deps[];
  readonly settings?: SettingsModule<Name, z.ZodObject, Settings>;
  /** Folder of this module's migrations (tables in the `platform` schema, tracked per module). */
  readonly migrations?: string;
  /** Notification types this module sends, named `platform.*`. */
  readonly notifications?: readonly NotificationDefinition[];
  /** Start-up rules beyond single settings (they may look at what others declare); every problem is listed at once. */
  readonly checkStartup?: (config: Config, declared: Declarations) => StartupProblem[];
  /**
   * What `ballast doctor` probes for this module on a deployment, without creating the module
   * (nothing is served, nothing is written but probe objects it removes again).
   */
  readonly doctor?: (probe: DoctorProbe) => readonly DoctorCheck[] | Promise<readonly DoctorCheck[]>;
  readonly create: (
    ctx: ModuleContext<Settings>,
    deps: Pick<PlatformServices, Deps>,
  ) =>
    | ModuleParts<PlatformServices[Name], ModulePort<Name>>
    | Promise<ModuleParts<PlatformServices[Name], ModulePort<Name>>>;
}

/** One line of `ballast doctor`: a probe's outcome, the reason, and the fix when it is not a pass. */
export interface DoctorCheck {
  readonly name: string;
  readonly status: 'pass' | 'warn' | 'fail';
  readonly message: string;
  readonly fix?: string;
}

/** What a module's doctor probe is given: the deployment's settings and apps. */
export interface DoctorProbe {
  readonly config: Config;
  readonly apps: readonly AppDefinition[];
  /** NODE_ENV=production: what is fine on a laptop may be a warning or a failure here. */
  readonly production: boolean;
}

/** The port a module gives apps, when it gives one. */
export type ModulePort<Name extends ModuleName> = Name extends keyof AppPorts ? AppPorts[Name] : never;

/** Any module declaration, as the loader handles them. */
export interface AnyModule {
  readonly name: ModuleName;
  readonly dependsOn: readonly ModuleName[];
  readonly settings?: SettingsModule;
  readonly migrations?: string;
  readonly notifications?: readonly NotificationDefinition[];
  readonly checkStartup?: (config: Config, declared: Declarations) => StartupProblem[];
  /**
   * What `ballast doctor` probes for this module on a deployment, without creating the module
   * (nothing is served, nothing is written but probe objects it removes again).
   */
  readonly doctor?: (probe: DoctorProbe) => readonly DoctorCheck[] | Promise<readonly DoctorCheck[]>;
  readonly create: (
    ctx: ModuleContext<never>,
    deps: never,
  ) => ModuleParts<unknown, unknown> | Promise<ModuleParts<unknown, unknown>>;
}

/** Declares a platform module (see `ModuleDefinition`); checks its name. */
export function defineModule<Name extends ModuleName, Deps extends ModuleName = never, Settings = undefined>(
  definition: ModuleDefinition<Name, Deps, Settings>,
): ModuleDefinition<Name, Deps, Settings> {
  if (!/^[a-z][a-z0-9]*$/.test(definition.name)) throw new Error(`module name "${definition.name}" must be lower-case`);
  if (definition.settings !== undefined && definition.settings.key !== definition.name) {
    throw new Error(`module ${definition.name}: its settings key must be "${definition.name}"`);
  }
  return Object.freeze({ ...definition });
}

/**
 * Orders modules so each comes after those it depends on (Kahn's algorithm, keeping the listed
 * order among equals). Throws on an unknown dependency, a duplicate or a cycle, naming them.
 */
export function orderModules<M extends { readonly name: string; readonly dependsOn: readonly string[] }>(
  modules: readonly M[],
): M[] {
  const byName = new Map<string, M>();
  for (const module of modules) {
    if (byName.has(module.name)) throw new Error(`two modules are named ${module.name}`);
    byName.set(module.name, module);
  }
  for (const module of modules) {
    for (const dependency of module.dependsOn) {
      if (!byName.has(dependency)) throw new Error(`module ${module.name} depends on unknown module ${dependency}`);
    }
  }
  const ordered: M[] = [];
  const placed = new Set<string>();
  while (ordered.length < modules.length) {
    const next = modules.find(
      (module) => !placed.has(module.name) && module.dependsOn.every((dependency) => placed.has(dependency)),
    );
    if (next === undefined) {
      const stuck = modules.filter((module) => !placed.has(module.name)).map((module) => module.name);
      throw new Error(`modules depend on each other in a cycle: ${stuck.join(', ')}`);
    }
    ordered.push(next);
    placed.add(next.name);
  }
  return ordered;
}
