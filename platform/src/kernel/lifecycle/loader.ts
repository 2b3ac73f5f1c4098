import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import { defaultProjectRoot, loadConfig, type Config } from '#platform/kernel/config/load-config.ts';
import { openDatabase, type Database } from '#platform/kernel/db/database.ts';
import { migrateToLatest } from '#platform/kernel/db/migrations.ts';
import { StartupError } from '#platform/kernel/errors/errors.ts';
import { createServer } from '#platform/kernel/http/server.ts';
import { defaultWebDir, loadWebBuild, type WebBuild } from '#platform/kernel/http/web-pages.ts';
import { createLogger, shouldPrettyPrint, type Logger } from '#platform/kernel/logging/logger.ts';
import { createMetrics, type Metrics } from '#platform/kernel/metrics/metrics.ts';
import { externalServices } from '#platform/kernel/resilience/external-services.ts';
import { createAppContext, gatherRegistry, type CreatedModule } from './app-context.ts';
import { databaseCheck, diskCheck, embeddedDatabaseCheck, migrationsCheck, redisCheck } from './checks.ts';
import type { AppContext, AppDefinition } from './define-app.ts';
import { ensureInstallation, type Installation } from './installation.ts';
import { migrationSetsFor, settingsModulesOf } from './migration-sets.ts';
import { connectRedis, quitWithin } from './redis.ts';
import { orderModules, type AnyModule, type PlatformServices, type Role } from './module.ts';
import { checkPortFree, portInUse } from './port.ts';
import { readVersion } from './version.ts';

export type { Role } from './module.ts';
export { migrationSetsFor, settingsModulesOf } from './migration-sets.ts';

export interface CreateBallastOptions {
  readonly apps: readonly AppDefinition[];
  /** The platform modules to load, in any order (the host passes every module of the platform). */
  readonly modules: readonly AnyModule[];
  /** The environment; only the process entry point passes `process.env`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly roles: readonly Role[];
  readonly projectRoot?: string;
  /** Where log lines go (tests read them); stdout by default. */
  readonly logDestination?: DestinationStream;
  /** The browser build to serve (read from dist/web when not given). */
  readonly web?: { readonly dir: string; readonly build: WebBuild };
  /**
   * Called once when the process can no longer serve and will not recover by itself (its embedded
   * PostgreSQL died and every restart failed); `/healthz` fails from then on. The CLI exits non-zero.
   */
  readonly onFatal?: (error: Error) => void;
}

/** One running Ballast process: the kernel's handles, and each module's service by its name. */
export type Ballast = PlatformServices & {
  readonly config: Config;
  readonly log: Logger;
  readonly database: Database;
  readonly redis: Redis | undefined;
  readonly metrics: Metrics;
  readonly installation: Installation;
  readonly version: string;
  readonly server: FastifyInstance | undefined;
  /** What one app receives (its context), for tools and tests. */
  app(name: string): AppContext;
  /** Starts every module (working tasks on a worker) and listens (web). Resolves with the URL when serving. */
  start(): Promise<string | undefined>;
  /**
   * Graceful stop, idempotent: stop accepting, drain in-flight requests and websockets, stop the
   * modules in reverse (a worker after its running tasks), close Redis and the database.
   */
  stop(): Promise<void>;
};

/**
 * Boots a Ballast process. Parses every setting (refusing unsafe production settings), opens the
 * database and applies pending migrations, creates each module after those it depends on, gives
 * each app its context, gathers the tasks, schedules and checks of all of them, and builds the web
 * server when the process serves. Call `start()` to run.
 */
export async function createBallast(options: CreateBallastOptions): Promise<Ballast> {
  const { apps, roles } = options;
  const projectRoot = options.projectRoot ?? defaultProjectRoot;
  const modules = orderModules(options.modules);
  const config = loadConfig({
    env: options.env,
    modules: settingsModulesOf(modules),
    apps: settingsModulesOf(apps),
    projectRoot,
  });
  const problems = modules.flatMap((module) => module.checkStartup?.(config, { modules, apps }) ?? []);
  if (problems.length > 0) throw new StartupError(problems);
  const role = roles.join('+');
  const log = createLogger({
    level: config.log.level,
    pretty: shouldPrettyPrint(config),
    base: { role },
    ...(options.logDestination === undefined ? {} : { destination: options.logDestination }),
  });
  const version = readVersion(projectRoot);
  const serving = roles.includes('web');
  // Before the slow part (the embedded database): a taken port is said at once.
  if (serving && !(await checkPortFree(config.http.host, config.http.port))) {
    throw new StartupError([portInUse(config.http.port)]);
  }
  const database = await openDatabase({
    config,
    log,
    applicationName: `ballast-${role}`,
    ...(options.onFatal === undefined ? {} : { onEmbeddedFailure: options.onFatal }),
  });
  const created: CreatedModule[] = [];
  let redis: Redis | undefined;
  try {
    const migrationSets = migrationSetsFor(modules, apps);
    if (config.db.migrateOnStart) {
      for (const report of await migrateToLatest(database.db, migrationSets)) {
        if (report.applied.length > 0) log.info({ owner: report.owner, applied: report.applied }, 'migrations applied');
      }
    }
    const installation = await ensureInstallation(database);
    redis = config.redis.url === undefined ? undefined : connectRedis(config.redis.url, log);
    const metrics = createMetrics({ pool: database.pool, poolMax: config.db.poolMax, role });
    const external = externalServices({ metrics, log });
    let shuttingDown = false;
    const lifecycle = { isShuttingDown: () => shuttingDown };
    const web = options.web ?? { dir: defaultWebDir, build: loadWebBuild(defaultWebDir) };
    const services: Record<string, unknown> = {};
    for (const module of modules) {
      const deps = Object.fromEntries(module.dependsOn.map((name) => [name, services[name]]));
      // Each module declares the types of its settings and deps; here they are handed over by name.
      const parts = await module.create(
        {
          config,
          settings: (config as unknown as Record<string, unknown>)[module.name],
          log: log.child({ module: module.name }),
          database,
          redis,
          metrics,
          installation,
          roles,
          apps,
          modules,
          web: web.build,
          version,
          lifecycle,
          external,
        } as never,
        deps as never,
      );
      services[module.name] = parts.service;
      created.push({ name: module.name, parts });
    }
    const contexts = new Map(
      apps.map((app) => [app.name, createAppContext(app, created, { config, database, log, external })]),
    );
    const registry = gatherRegistry(created, apps, contexts, [
      databaseCheck(database),
      migrationsCheck(database, migrationSets),
      diskCheck(config.dataDir),
      ...(database.embedded?.owned === true ? [embeddedDatabaseCheck(database.embedded)] : []),
      ...(redis === undefined ? [] : [redisCheck(redis)]),
    ]);
    for (const { parts } of created) await parts.init?.(registry);
    const server = serving
      ? await createServer({
          config,
          log,
          apps,
          contexts,
          modules: created.map(({ parts }) => parts),
          registry,
          redis,
          metrics,
          lifecycle,
          version,
          web,
        })
      : undefined;

    const connectedRedis = redis;
    let stopping: Promise<void> | undefined;
    return {
      ...(services as unknown as PlatformServices),
      config,
      log,
      database,
      redis,
      metrics,
      installation,
      version,
      server,
      app(name) {
        const context = contexts.get(name);
        if (context === undefined) throw new Error(`no app ${name}`);
        return context;
      },
      async start() {
        for (const { parts } of created) await parts.start?.();
        if (server === undefined) {
          log.info({ version, roles }, 'Ballast worker started');
          return undefined;
        }
        await server
          .listen({ host: config.http.host, port: config.http.port, backlog: config.http.listenBacklog })
          .catch((error: unknown) => {
            if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
              throw new StartupError([portInUse(config.http.port)]);
            }
            throw error;
          });
        const address = server.server.address();
        const port = typeof address === 'object' && address !== null ? address.port : config.http.port;
        const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
        const url = `http://${host}:${port}`;
        log.info({ url, version, roles }, 'Ballast is serving');
        return url;
      },
      stop() {
        stopping ??= (async () => {
          shuttingDown = true;
          const drainDelayMs = config.http.shutdownDrainDelayMs;
          if (server?.server.listening === true && drainDelayMs > 0) {
            // /readyz now fails and every response closes its connection: a load balancer stops
            // sending here while requests already on their way are still served.
            log.info({ drainDelayMs }, 'shutting down: /readyz fails; still serving while the load balancer notices');
            await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
          }
          log.info('shutting down: draining requests');
          if (server !== undefined) await server.close();
          for (const { parts } of [...created].reverse()) await parts.stop?.();
          if (connectedRedis !== undefined) await quitWithin(connectedRedis, 1000);
          await database.close();
          log.info('shutdown complete');
          await new Promise<void>((resolve) => log.flush(() => resolve()));
        })();
        return stopping;
      },
    };
  } catch (error) {
    for (const { parts } of created.reverse()) await parts.stop?.().catch(() => {});
    redis?.disconnect();
    await database.close();
    throw error;
  }
}
