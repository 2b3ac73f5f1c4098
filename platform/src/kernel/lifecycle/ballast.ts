import { sql } from 'kysely';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import type { AppContext, AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import { z } from 'zod';
import { loadConfig, type Config, defaultProjectRoot } from '#platform/kernel/config/load-config.ts';
import type { SettingsModule } from '#platform/kernel/config/settings.ts';
import { openDatabase, type Database } from '#platform/kernel/db/database.ts';
import { migrateToLatest, type MigrationSet } from '#platform/kernel/db/migrations.ts';
import {
  databaseCheck,
  diskCheck,
  embeddedDatabaseCheck,
  migrationsCheck,
  queueCheck,
  realtimeCheck,
  redisCheck,
  type ReadinessCheck,
} from '#platform/modules/health/checks.ts';
import { createServer } from '#platform/kernel/http/server.ts';
import { createLogger, shouldPrettyPrint, type Logger } from '#platform/kernel/logging/logger.ts';
import { createMetrics, type Metrics } from '#platform/kernel/metrics/metrics.ts';
import {
  authenticateWithTicket,
  createRealtimeHub,
  type Realtime,
  type RealtimeHooks,
} from '#platform/modules/realtime/realtime-hub.ts';
import { defineSchedule, defineTask, type TaskDefinition } from '#platform/modules/tasks/define-task.ts';
import { createTaskEngine, type TaskEngine } from '#platform/modules/tasks/task-engine.ts';
import { StartupError, type StartupProblem } from '#platform/kernel/errors/errors.ts';
import type { NotificationDefinition } from '#platform/modules/notify/define-notification.ts';
import { createNotifier, type Notifier } from '#platform/modules/notify/notifier.ts';
import { createDevInboxSenders } from '#platform/modules/notify/providers/dev-inbox.ts';
import { createSmtpSender } from '#platform/modules/notify/providers/smtp.ts';
import { createTwilioSender } from '#platform/modules/notify/providers/twilio.ts';
import { createExternalService, type ExternalService } from '#platform/kernel/resilience/external-service.ts';
import { authNotifications } from '#platform/modules/auth/auth.notifications.ts';
import { paymentReceiptNotice } from '#platform/modules/payments/payments.notifications.ts';
import {
  createPaymentsService,
  type PaymentCatalog,
  type PaymentsService,
} from '#platform/modules/payments/payments.service.ts';
import { createRazorpayProvider } from '#platform/modules/payments/providers/razorpay.ts';
import { createMetering, type Metering } from '#platform/modules/metering/metering.service.ts';
import { createMemoryMeterStore, createRedisMeterStore } from '#platform/modules/metering/meter-store.ts';
import { recordAudit } from '#platform/modules/audit/audit.ts';
import { createTestGateway, type TestGateway } from '#platform/modules/payments/providers/test-gateway.ts';
import { createAuthService, type AuthService, type RoleDefinition } from '#platform/modules/auth/auth.service.ts';
import { loadKeyRing } from '#platform/modules/auth/signing-keys.ts';
import { instrumentTasks } from '#platform/modules/tasks/task-metrics.ts';
import { ensureInstallation, type Installation } from './installation.ts';
import { checkPortFree, portInUse } from './port.ts';
import { readVersion } from './version.ts';

/** The parts of Ballast a process runs: the web server, the worker, or both. */
export type Role = 'web' | 'worker';

/** Tasks the platform itself defines besides notification delivery, named `platform.*`. */
export const platformTasks: TaskDefinition[] = [];

/** Notification types the platform itself sends (account emails, ...), named `platform.*`. */
export const platformNotifications: NotificationDefinition[] = [...authNotifications, paymentReceiptNotice];

/** The roles every app declares, with their full names (`complaints:tc`). */
export function roleDefinitionsOf(apps: readonly AppDefinition[]): RoleDefinition[] {
  return apps.flatMap((app) =>
    (app.roles ?? []).map((role) => ({
      name: `${app.name}:${role.name}`,
      title: role.title,
      selfService: role.selfService ?? false,
      requiresApproval: role.requiresApproval ?? false,
      approvers: role.approvers ?? [],
    })),
  );
}

/**
 * In production, a notification type that uses a channel with no provider configured would fail
 * every send: refuse to start instead, naming the types.
 */
export function checkNotificationChannels(
  config: Config,
  definitions: readonly NotificationDefinition[],
): StartupProblem[] {
  if (!config.isProduction) return [];
  const problems: StartupProblem[] = [];
  const using = (channel: 'email' | 'sms') =>
    definitions.filter((definition) => definition.channels.includes(channel)).map((definition) => definition.type);
  if (config.notify.smtpUrl === undefined && using('email').length > 0) {
    problems.push({
      setting: 'SMTP_URL',
      message: `is missing, but these notifications send email: ${using('email').join(', ')}`,
      fix: 'set SMTP_URL=smtps://user:password@smtp.example.com:465',
    });
  }
  if (config.notify.twilio === undefined && using('sms').length > 0) {
    problems.push({
      setting: 'TWILIO_ACCOUNT_SID',
      message: `is missing, but these notifications send SMS: ${using('sms').join(', ')}`,
      fix: 'set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM',
    });
  }
  return problems;
}

/** A component with a lifecycle that Ballast starts after the database and stops before it. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Stops taking new work and finishes what runs. */
  stop(): Promise<void>;
}

export interface CreateBallastOptions {
  readonly apps: readonly AppDefinition[];
  /** The environment; only the process entry point passes `process.env`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly roles: readonly Role[];
  readonly projectRoot?: string;
  /** Where log lines go (tests read them); stdout by default. */
  readonly logDestination?: DestinationStream;
  /** Who may open live-update sockets and follow which topics (default: signed tickets, own-app topics). */
  readonly realtime?: RealtimeHooks;
  /**
   * Called once when the process can no longer serve and will not recover by itself (its embedded
   * PostgreSQL died and every restart failed); `/healthz` fails from then on. The CLI exits non-zero.
   */
  readonly onFatal?: (error: Error) => void;
}

/** One running Ballast process. */
export interface Ballast {
  readonly config: Config;
  readonly log: Logger;
  readonly database: Database;
  readonly redis: Redis | undefined;
  readonly metrics: Metrics;
  readonly installation: Installation;
  readonly server: FastifyInstance | undefined;
  /** Live updates: publish from any role; the web role serves the sockets. */
  readonly realtime: Realtime;
  /** Background tasks: enqueue from any role; worked by the worker role. */
  readonly tasks: TaskEngine;
  /** Notifications: in-app, email, SMS. */
  readonly notify: Notifier;
  /** Accounts, sessions, roles. */
  readonly auth: AuthService;
  /** Selling packs and the ledger of balances (test gateway without Razorpay keys). */
  readonly payments: PaymentsService;
  /** The local test gateway, when payments run in test mode. */
  readonly testGateway: TestGateway | undefined;
  /** Metered sessions. */
  readonly metering: Metering;
  readonly version: string;
  /** Starts listening (web) and working (worker). Resolves with the URL when serving. */
  start(): Promise<string | undefined>;
  /**
   * Graceful stop, idempotent: stop accepting, drain in-flight requests and websockets, stop
   * the worker after its running tasks, close Redis and the database, stop the embedded server.
   */
  stop(): Promise<void>;
}

/** The platform's own migrations live beside its source. */
export const platformMigrations: MigrationSet = {
  schema: 'platform',
  folder: path.resolve(import.meta.dirname, '../../../migrations'),
};

/** The migration sets of the platform and the given apps, in the order they apply. */
export function migrationSetsFor(apps: readonly AppDefinition[]): MigrationSet[] {
  return [
    platformMigrations,
    ...apps.flatMap((app) => (app.migrations === undefined ? [] : [{ schema: app.name, folder: app.migrations }])),
  ];
}

/** Settings modules of the given apps. */
export function appSettingsModules(apps: readonly AppDefinition[]): SettingsModule[] {
  return apps.flatMap((app) => (app.settings === undefined ? [] : [app.settings]));
}

/**
 * Boots a Ballast process: parses the configuration (refusing unsafe production settings),
 * opens the database (embedded or `DATABASE_URL`), applies pending migrations, and builds the
 * web server and/or the worker. Call `start()` to serve.
 */
export async function createBallast(options: CreateBallastOptions): Promise<Ballast> {
  const projectRoot = options.projectRoot ?? defaultProjectRoot;
  const config = loadConfig({ env: options.env, apps: appSettingsModules(options.apps), projectRoot });
  const notificationDefinitions = [...platformNotifications, ...options.apps.flatMap((app) => app.notifications ?? [])];
  const channelProblems = checkNotificationChannels(config, notificationDefinitions);
  if (channelProblems.length > 0) throw new StartupError(channelProblems);
  const catalogs = new Map<string, PaymentCatalog>();
  for (const app of options.apps) {
    if (app.payments !== undefined) catalogs.set(app.name, app.payments(config.apps[app.name]));
  }
  if (
    config.isProduction &&
    catalogs.size > 0 &&
    config.payments.razorpay === undefined &&
    !config.payments.allowTestModeInProduction
  ) {
    throw new StartupError([
      {
        setting: 'RAZORPAY_KEY_ID',
        message: `is missing, but ${[...catalogs.keys()].join(', ')} sell(s) with payments: production would take no money`,
        fix: 'set RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET (on a staging site: PAYMENTS_TEST_MODE=true and ALLOW_TEST_PAYMENTS_IN_PRODUCTION=true)',
      },
    ]);
  }
  const role = options.roles.join('+');
  const log = createLogger({
    level: config.log.level,
    pretty: shouldPrettyPrint(config),
    base: { role },
    ...(options.logDestination === undefined ? {} : { destination: options.logDestination }),
  });
  const version = readVersion(projectRoot);
  const serving = options.roles.includes('web');
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
  let redis: Redis | undefined;
  let taskEngine: TaskEngine | undefined;
  try {
    const migrationSets = migrationSetsFor(options.apps);
    if (config.db.migrateOnStart) {
      for (const report of await migrateToLatest(database.db, migrationSets)) {
        if (report.applied.length > 0)
          log.info({ schema: report.schema, applied: report.applied }, 'migrations applied');
      }
    }
    const installation = await ensureInstallation(database);
    redis = config.redis.url === undefined ? undefined : connectRedis(config.redis.url, log);
    const metrics = createMetrics({ pool: database.pool, poolMax: config.db.poolMax, role });
    const working = options.roles.includes('worker');
    const taskMetrics = instrumentTasks(metrics, () => taskEngine, log);
    const devInbox = createDevInboxSenders(database.db);
    const externalService = (name: string) =>
      createExternalService(
        { name, timeoutMs: 15_000, retries: 0, breaker: { consecutiveFailures: 5, halfOpenAfterMs: 30_000 } },
        { metrics, log },
      );
    const twilio = config.notify.twilio;
    // The hub is created after the notifier (it needs the task engine first); pushes wait for it.
    const live: { hub?: Realtime } = {};
    const notify = createNotifier({
      db: database.db,
      log,
      definitions: notificationDefinitions,
      email:
        config.notify.smtpUrl === undefined
          ? devInbox.email
          : createSmtpSender({ url: config.notify.smtpUrl, service: externalService('smtp') }),
      sms: twilio === undefined ? devInbox.sms : createTwilioSender({ ...twilio, service: externalService('twilio') }),
      emailFrom: config.notify.emailFrom,
      enqueue: (task, payload, enqueueOptions) => {
        if (taskEngine === undefined) throw new Error('task engine not ready');
        return taskEngine.enqueue(task, payload, enqueueOptions);
      },
      push: async (userId, notification) => {
        // A platform notification reaches the user in whichever app they have open.
        const prefix = notification.type.slice(0, notification.type.indexOf('.'));
        const apps = options.apps.some((app) => app.name === prefix) ? [prefix] : options.apps.map((app) => app.name);
        for (const app of apps) {
          await live.hub?.publish({ app, channel: `user:${userId}`, event: 'notification', data: notification });
        }
      },
    });
    const keys = await loadKeyRing({ configured: config.auth.signingKeys, dataDir: config.dataDir });
    const googleClientId = config.auth.googleClientId;
    const auth = createAuthService({
      db: database.db,
      keys,
      tokens: {
        // Stable across nodes and restarts: PUBLIC_URL in production, a fixed name in development.
        issuer: config.auth.issuer ?? (config.isProduction ? config.http.publicUrl : 'http://localhost'),
        audience: config.auth.audience,
        ttlSeconds: config.auth.tokenTtlSeconds,
      },
      notify,
      log,
      publicUrl: config.http.publicUrl,
      roles: roleDefinitionsOf(options.apps),
      google:
        googleClientId === undefined ? undefined : { clientId: googleClientId, jwksUrl: config.auth.googleJwksUrl },
      // Sockets opened with a revoked token close on every node.
      onTokensRevoked: async (userId, generation) => liveUpdates.closeRevoked(userId, generation),
    });
    const razorpay = config.payments.razorpay;
    const testGateway: TestGateway | undefined =
      razorpay === undefined
        ? createTestGateway({
            db: database.db,
            // A local secret, stable per installation, known only to this server.
            secret: createHmac('sha256', config.security.signingSecret).update('payments-test-gateway').digest('hex'),
          })
        : undefined;
    const payments = createPaymentsService({
      db: database.db,
      provider: testGateway ?? createRazorpayProvider({ ...razorpay!, service: externalService('razorpay') }),
      catalogs,
      notifier: notify,
      log: log.child({ module: 'payments' }),
      publicUrl: config.http.publicUrl,
    });
    const meterStore =
      redis === undefined
        ? createMemoryMeterStore()
        : createRedisMeterStore(redis, `ballast:metering:${installation.id}`);
    const appContexts = new Map<string, AppContext>();
    const metering = createMetering({
      db: database.db,
      store: meterStore,
      log: log.child({ module: 'metering' }),
      metrics,
      settings: config.metering,
      realtime: () => live.hub,
      onEnded: (app) => {
        const definition = options.apps.find((item) => item.name === app);
        const hook = definition?.metering?.onEnded;
        const ctx = appContexts.get(app);
        return hook === undefined || ctx === undefined ? undefined : (session, tx) => hook(session, tx, ctx);
      },
    });
    const liveUpdates: Realtime = {
      publish: async (message) => {
        if (live.hub === undefined) throw new Error('realtime not ready');
        return live.hub.publish(message);
      },
      countLocalConnections: (app) => live.hub?.countLocalConnections(app) ?? 0,
      closeRevoked: async (userId, generation) => {
        if (live.hub === undefined) throw new Error('realtime not ready');
        return live.hub.closeRevoked(userId, generation);
      },
    };
    const externals: Record<string, ExternalService> = {};
    for (const definition of options.apps) {
      appContexts.set(definition.name, {
        settings: config.apps[definition.name],
        config,
        db: <Tables>() => database.forSchema<Tables>(definition.name),
        log: log.child({ app: definition.name }),
        enqueue: (task, payload, enqueueOptions) => {
          if (taskEngine === undefined) throw new Error('task engine not ready');
          return taskEngine.enqueue(task, payload, enqueueOptions);
        },
        notify: (type, message) => notify.send(type, message),
        payments,
        metering,
        realtime: liveUpdates,
        audit: (entry) => recordAudit(database.db, entry),
        external: (name) => (externals[name] ??= externalService(name)),
        lookupUser: async (id) => {
          const found = await sql<{ email: string; display_name: string | null }>`select email, display_name
            from platform."user" where id = ${id}::uuid`.execute(database.db);
          const row = found.rows[0];
          return row === undefined ? undefined : { email: row.email, displayName: row.display_name };
        },
      });
    }
    const meters = options.apps.some((app) => app.metering !== undefined);
    const sweepTask = defineTask({
      name: 'platform.sweep-metered-sessions',
      payload: z.object({}).passthrough(),
      retries: 0,
      handler: async (_payload, ctx) => {
        const ended = await metering.sweep();
        if (ended > 0) ctx.log.info({ ended }, 'ended metered sessions whose heartbeats stopped');
      },
    });
    const tasks = await createTaskEngine({
      database,
      log,
      notify: (type, message) => notify.send(type, message),
      tasks: [
        notify.deliveryTask,
        ...platformTasks,
        ...(meters ? [sweepTask] : []),
        ...options.apps.flatMap((app) => {
          const tasks = app.tasks;
          return typeof tasks === 'function' ? tasks(appContexts.get(app.name)!) : (tasks ?? []);
        }),
      ],
      schedules: [
        ...(meters
          ? [defineSchedule({ name: 'platform.sweep-metered-sessions', cron: '* * * * *', task: sweepTask.name })]
          : []),
        ...options.apps.flatMap((app) => app.schedules ?? []),
      ],
      settings: config.tasks,
      supervise: working,
      onRun: (task, outcome, seconds) => taskMetrics.onRun(task, outcome, seconds),
      onClaim: (task, claimed) => taskMetrics.onClaim(task, claimed),
    });
    taskEngine = tasks;
    const ticketAuthenticator = authenticateWithTicket(config.security.signingSecret);
    const realtime = createRealtimeHub({
      config,
      apps: options.apps.map((app) => app.name),
      database,
      redis,
      metrics,
      log,
      installationId: installation.id,
      serve: options.roles.includes('web'),
      requests: (app, name) => {
        const requests = options.apps.find((item) => item.name === app)?.realtimeRequests;
        // Own names only: `constructor` or `__proto__` must not find Object's.
        const handler = requests !== undefined && Object.hasOwn(requests, name) ? requests[name] : undefined;
        const ctx = appContexts.get(app);
        return handler === undefined || ctx === undefined ? undefined : (userId, data) => handler(userId, data, ctx);
      },
      // Signed-in users connect with their session (cookie or bearer); a short-lived ticket
      // still works for clients that cannot send either on a WebSocket handshake.
      hooks: {
        authenticate: async (request) =>
          request.user === null
            ? ticketAuthenticator(request)
            : { userId: request.user.id, tokenGeneration: request.user.tokenGeneration },
        ...options.realtime,
      },
    });
    live.hub = realtime;
    const checks: ReadinessCheck[] = [
      databaseCheck(database),
      migrationsCheck(database, migrationSets),
      diskCheck(config.dataDir),
      queueCheck(tasks),
      ...(serving ? [realtimeCheck(realtime)] : []),
      ...(database.embedded?.owned === true ? [embeddedDatabaseCheck(database.embedded)] : []),
      ...(redis === undefined ? [] : [redisCheck(redis)]),
    ];
    let shuttingDown = false;
    const drainDelayMs = serving ? config.http.shutdownDrainDelayMs : 0;
    const server = serving
      ? await createServer({
          config,
          log,
          apps: options.apps,
          database,
          redis,
          metrics,
          checks: () => checks,
          tasks,
          notifier: notify,
          auth,
          payments: catalogs.size > 0 ? { service: payments, testGateway } : undefined,
          appContexts,
          isShuttingDown: () => shuttingDown,
          version,
          realtime,
        })
      : undefined;
    const services: Service[] = [realtime];
    if (options.roles.includes('web') && meters) {
      services.push({
        name: 'metering',
        start: async () => metering.startLoop(),
        stop: () => metering.stop(),
      });
    }
    if (working) {
      services.push({
        name: 'task worker',
        start: () => tasks.startWorking(),
        // Stop claiming; running tasks get most of the shutdown budget (less the drain) to finish.
        stop: () => tasks.stop(Math.max(1000, config.http.shutdownTimeoutMs - drainDelayMs - 2000)),
      });
    }

    let stopping: Promise<void> | undefined;
    const connectedRedis = redis;
    return {
      config,
      log,
      database,
      redis,
      metrics,
      installation,
      server,
      realtime,
      tasks,
      notify,
      auth,
      payments,
      testGateway,
      metering,
      version,
      async start() {
        for (const service of services) await service.start();
        if (server === undefined) {
          log.info({ version }, 'Ballast worker started');
          return undefined;
        }
        await server.listen({ host: config.http.host, port: config.http.port }).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
            throw new StartupError([portInUse(config.http.port)]);
          throw error;
        });
        const address = server.server.address();
        const port = typeof address === 'object' && address !== null ? address.port : config.http.port;
        const url = `http://${config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host}:${port}`;
        log.info({ url, version, roles: options.roles }, 'Ballast is serving');
        return url;
      },
      stop() {
        stopping ??= (async () => {
          shuttingDown = true;
          if (server?.server.listening === true && drainDelayMs > 0) {
            // /readyz now fails and every response closes its connection: a load balancer stops
            // sending here while requests already on their way are still served.
            log.info({ drainDelayMs }, 'shutting down: /readyz fails; still serving while the load balancer notices');
            await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
          }
          log.info('shutting down: draining requests');
          if (server !== undefined) await server.close();
          for (const service of [...services].reverse()) await service.stop();
          if (!working) await tasks.stop(1000);
          if (connectedRedis !== undefined) await connectedRedis.quit().catch(() => connectedRedis.disconnect());
          await database.close();
          log.info('shutdown complete');
          await new Promise<void>((resolve) => log.flush(() => resolve()));
        })();
        return stopping;
      },
    };
  } catch (error) {
    await taskEngine?.stop(1000).catch(() => {});
    redis?.disconnect();
    await database.close();
    throw error;
  }
}

function connectRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, connectTimeout: 5000, lazyConnect: false });
  let lastWarning = 0;
  redis.on('error', (error: Error) => {
    // A Redis outage produces an error per reconnect attempt; one line every 10 s is enough.
    if (Date.now() - lastWarning > 10_000) {
      lastWarning = Date.now();
      log.warn({ err: error }, 'redis unavailable');
    }
  });
  return redis;
}
