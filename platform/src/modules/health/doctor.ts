import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { Redis as RedisClient } from 'ioredis';
import type { AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import { defaultProjectRoot, loadConfig, type Config } from '#platform/kernel/config/load-config.ts';
import { StartupError } from '#platform/kernel/errors/errors.ts';
import { openDatabase, type Database } from '#platform/kernel/db/database.ts';
import { describeServer } from '#platform/kernel/db/server.repository.ts';
import { findPendingMigrations } from '#platform/kernel/db/migrations.ts';
import { createLogger } from '#platform/kernel/logging/logger.ts';
import { migrationSetsFor, settingsModulesOf } from '#platform/kernel/lifecycle/loader.ts';
import { platformModules } from '#platform/modules/index.ts';
import { diskCheck } from '#platform/kernel/lifecycle/checks.ts';
import { describeTrustProxy } from '#platform/kernel/http/trust-proxy.ts';
import { orderModules, type DoctorCheck } from '#platform/kernel/lifecycle/module.ts';

export type { DoctorCheck } from '#platform/kernel/lifecycle/module.ts';

export interface DoctorReport {
  readonly environment: string;
  readonly checkedAt: string;
  readonly checks: readonly DoctorCheck[];
  /** True when no check failed. */
  readonly ready: boolean;
}

export interface RunDoctorOptions {
  readonly apps: readonly AppDefinition[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly projectRoot?: string;
}

const MIN_NODE: readonly [number, number] = [22, 12];

/**
 * Checks a deployment from live probes (settings, Node, database reachable and migrated, clock,
 * Redis, disk, file storage, secrets, CORS, TLS) and reports each as pass, warn or fail with the reason
 * and the fix. It writes nothing except a probe file it removes again.
 */
export async function runDoctor(options: RunDoctorOptions): Promise<DoctorReport> {
  const projectRoot = options.projectRoot ?? defaultProjectRoot;
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck): void => {
    checks.push(check);
  };
  const environment = options.env['NODE_ENV'] ?? 'development';

  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const nodeOk = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  add({
    name: 'node',
    status: nodeOk ? 'pass' : 'fail',
    message: `Node ${process.version}${nodeOk ? '' : `; Ballast needs >= ${MIN_NODE.join('.')}`}`,
    ...(nodeOk ? {} : { fix: 'run through npm scripts or npx, which use the Node 24 the project installs' }),
  });

  const settingsModules = { modules: settingsModulesOf(platformModules), apps: settingsModulesOf(options.apps) };
  let config: Config | undefined;
  try {
    config = loadConfig({ env: options.env, ...settingsModules, projectRoot, devSecrets: 'read-only' });
    add({ name: 'settings', status: 'pass', message: `every setting valid for ${environment}` });
  } catch (error) {
    if (!(error instanceof StartupError)) throw error;
    for (const problem of error.problems) {
      add({
        name: 'settings',
        status: 'fail',
        message: `${problem.setting} ${problem.message}`,
        ...(problem.fix === undefined ? {} : { fix: problem.fix }),
      });
    }
    // Probe the rest with the same values outside the production rules, so one bad secret does
    // not hide an unreachable database.
    try {
      config = loadConfig({
        env: { ...options.env, NODE_ENV: 'development' },
        ...settingsModules,
        projectRoot,
        devSecrets: 'read-only',
      });
    } catch {
      config = undefined;
    }
  }
  if (config === undefined) {
    return finish(environment, checks);
  }
  const production = environment === 'production';

  checkSecrets(config, production, add);
  checkCors(config, production, add);
  checkTls(config, production, add);
  checkProxy(config, production, add);

  const embeddedRefused =
    production && options.env['DATABASE_URL'] === undefined && options.env['ALLOW_EMBEDDED_DB'] !== 'true';
  if (embeddedRefused) {
    add({ name: 'database', status: 'fail', message: 'not probed: no DATABASE_URL', fix: 'set DATABASE_URL' });
  } else {
    await checkDatabase(config, options.apps, production, add);
  }
  await checkRedis(config, production, add);

  try {
    const detail = await diskCheck(config.dataDir).run();
    const freeMiB = Number(/^(\d+)/.exec(detail ?? '')?.[1] ?? '0');
    add({
      name: 'disk',
      status: freeMiB < 1024 ? 'warn' : 'pass',
      message: `${config.dataDir} is writable, ${detail ?? ''}`,
      ...(freeMiB < 1024 ? { fix: 'free disk space or move DATA_DIR to a larger volume' } : {}),
    });
  } catch (error) {
    add({
      name: 'disk',
      status: 'fail',
      message: `${config.dataDir} is not writable: ${(error as Error).message}`,
      fix: 'set DATA_DIR to a folder the Ballast user can write',
    });
  }
  // Each module's own probes (storage, payments, ai, ...), in dependency order.
  for (const module of orderModules(platformModules)) {
    for (const check of (await module.doctor?.({ config, apps: options.apps, production })) ?? []) add(check);
  }
  return finish(environment, checks);
}

function finish(environment: string, checks: DoctorCheck[]): DoctorReport {
  return {
    environment,
    checkedAt: new Date().toISOString(),
    checks,
    ready: checks.every((check) => check.status !== 'fail'),
  };
}

type Add = (check: DoctorCheck) => void;

function checkSecrets(config: Config, production: boolean, add: Add): void {
  if (production) {
    const lengths = [config.security.sessionSecret, config.security.signingSecret].map((s) => Buffer.byteLength(s));
    if (lengths.every((length) => length >= 32)) {
      add({ name: 'secrets', status: 'pass', message: `signing secrets given, ${Math.min(...lengths)}+ bytes each` });
    }
    return;
  }
  const file = path.join(config.dataDir, 'secrets.json');
  try {
    const mode = fs.statSync(file).mode & 0o777;
    add({
      name: 'secrets',
      status: mode === 0o600 ? 'pass' : 'warn',
      message: `development secrets kept in ${file} (mode ${mode.toString(8)})`,
      ...(mode === 0o600 ? {} : { fix: `chmod 600 ${file}` }),
    });
  } catch {
    add({ name: 'secrets', status: 'pass', message: 'development secrets will be generated on first start' });
  }
}

function checkCors(config: Config, production: boolean, add: Add): void {
  const origins = config.http.corsOrigins;
  if (!production) {
    add({ name: 'cors', status: 'pass', message: `allowed origins: ${origins.join(', ') || '(same origin only)'}` });
    return;
  }
  const insecure = origins.filter((origin) => origin.startsWith('http://'));
  add({
    name: 'cors',
    status: insecure.length > 0 ? 'warn' : 'pass',
    message: `allowed origins: ${origins.join(', ')}`,
    ...(insecure.length > 0 ? { fix: `serve ${insecure.join(', ')} over https` } : {}),
  });
}

function checkTls(config: Config, production: boolean, add: Add): void {
  if (!production) {
    add({ name: 'tls', status: 'pass', message: 'development: plain http on localhost, HSTS off' });
    return;
  }
  if (!config.http.publicUrl.startsWith('https://')) {
    add({
      name: 'tls',
      status: 'fail',
      message: `PUBLIC_URL ${config.http.publicUrl} is not https; cookies and tokens would travel in clear`,
      fix: 'terminate TLS at a reverse proxy and set PUBLIC_URL=https://...',
    });
    return;
  }
  add({ name: 'tls', status: 'pass', message: 'PUBLIC_URL is https; HSTS is sent (max-age one year)' });
  if (config.http.metricsToken === undefined) {
    add({
      name: 'metrics',
      status: 'warn',
      message: '/metrics is open to anyone who can reach the server',
      fix: 'set METRICS_TOKEN or block /metrics at the proxy',
    });
  }
}

/**
 * Who may name the client. Production always sits behind a TLS proxy, so there "off" means every
 * client has the proxy's IP (one rate-limit bucket, one IP in the audit trail), and "every hop"
 * lets any client pick its own IP.
 */
function checkProxy(config: Config, production: boolean, add: Add): void {
  const trust = config.http.trustProxy;
  const message = `TRUST_PROXY: ${describeTrustProxy(trust)}`;
  if (production && trust === false) {
    add({
      name: 'proxy',
      status: 'warn',
      message: `${message}; behind a TLS proxy every client would have the proxy's IP (rate limits, audit trail)`,
      fix: 'set TRUST_PROXY to the number of proxies in front of Ballast (TRUST_PROXY=1) or their addresses',
    });
  } else if (production && trust === true) {
    add({
      name: 'proxy',
      status: 'warn',
      message,
      fix: 'set TRUST_PROXY to the number of proxies in front of Ballast (TRUST_PROXY=1) or their addresses',
    });
  } else {
    add({ name: 'proxy', status: 'pass', message });
  }
}

async function checkDatabase(
  config: Config,
  apps: readonly AppDefinition[],
  production: boolean,
  add: Add,
): Promise<void> {
  let database: Database | undefined;
  try {
    database = await openDatabase({
      config,
      log: createLogger({ level: 'silent', pretty: false }),
      applicationName: 'ballast-doctor',
    });
    const latency = await database.ping(5000);
    const server = await describeServer(database.db);
    const major = Number(/PostgreSQL (\d+)/.exec(server.version)?.[1] ?? '0');
    const where = database.embedded === undefined ? 'DATABASE_URL' : `embedded, port ${database.embedded.port}`;
    add({
      name: 'database',
      status: major >= 14 ? 'pass' : 'warn',
      message: `PostgreSQL ${major} reachable (${where}) in ${latency.toFixed(1)} ms`,
      ...(major >= 14 ? {} : { fix: 'upgrade to PostgreSQL 14 or newer' }),
    });
    if (production && database.embedded !== undefined) {
      add({
        name: 'database',
        status: 'warn',
        message:
          'the embedded PostgreSQL is running in production (ALLOW_EMBEDDED_DB): one machine only, back up DATA_DIR',
        fix: 'move to a managed PostgreSQL and set DATABASE_URL',
      });
    }
    const pending = await findPendingMigrations(database.db, migrationSetsFor(platformModules, apps));
    add(
      pending.length === 0
        ? { name: 'migrations', status: 'pass', message: 'every migration applied' }
        : {
            name: 'migrations',
            status: 'fail',
            message: `${pending.length} pending: ${pending.map((m) => `${m.schema}/${m.name}`).join(', ')}`,
            fix: 'run: npx ballast migrate',
          },
    );
    const skewMs = Math.abs(server.now.getTime() - Date.now());
    add({
      name: 'clock',
      status: skewMs < 1000 ? 'pass' : skewMs < 30_000 ? 'warn' : 'fail',
      message: `clock differs from the database's by ${skewMs} ms`,
      ...(skewMs < 1000 ? {} : { fix: 'run NTP (chrony/systemd-timesyncd) on every node; token expiry depends on it' }),
    });
  } catch (error) {
    add({
      name: 'database',
      status: 'fail',
      message: `unreachable: ${(error as Error).message.split('\n')[0] ?? ''}`,
      fix: 'check DATABASE_URL, the network path and credentials',
    });
  } finally {
    await database?.close();
  }
}

async function checkRedis(config: Config, production: boolean, add: Add): Promise<void> {
  if (config.redis.url === undefined) {
    add({
      name: 'redis',
      status: production ? 'warn' : 'pass',
      message: 'not configured: rate limits and metered calls are per process, live updates fan out through PostgreSQL',
      ...(production ? { fix: 'set REDIS_URL before running more than one web node' } : {}),
    });
    return;
  }
  let redis: Redis | undefined;
  try {
    redis = new RedisClient(config.redis.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 3000,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    await redis.connect();
    const started = performance.now();
    await redis.ping();
    add({ name: 'redis', status: 'pass', message: `reachable in ${(performance.now() - started).toFixed(1)} ms` });
  } catch (error) {
    add({
      name: 'redis',
      status: 'fail',
      message: `unreachable: ${(error as Error).message}`,
      fix: 'check REDIS_URL and that Redis is running',
    });
  } finally {
    redis?.disconnect();
  }
}

/** Renders the report for a terminal. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [
    `Ballast doctor: production-readiness report (NODE_ENV=${report.environment}, ${report.checkedAt})`,
    '',
  ];
  for (const check of report.checks) {
    lines.push(`  ${check.status.toUpperCase().padEnd(5)} ${check.name.padEnd(11)} ${check.message}`);
    if (check.fix !== undefined) lines.push(`  ${''.padEnd(5)} ${''.padEnd(11)} fix: ${check.fix}`);
  }
  const count = (status: DoctorCheck['status']): number => report.checks.filter((c) => c.status === status).length;
  lines.push(
    '',
    `${count('pass')} passed, ${count('warn')} warnings, ${count('fail')} failed: ${report.ready ? 'ready' : 'NOT READY'}`,
  );
  return `${lines.join('\n')}\n`;
}
