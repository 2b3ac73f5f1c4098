import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import getPort from 'get-port';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../platform/src/kernel/db/embedded-postgres.ts';
import { createLogger } from '../../platform/src/kernel/logging/logger.ts';

export const projectRoot = path.resolve(import.meta.dirname, '../..');

/** One line about the machine a figure was measured on. */
export function describeMachine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** The 1, 5 and 15 minute load averages, e.g. `0.41 0.52 0.60`. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
}

/**
 * What every bench reports besides its own figures: the machine, and the load average before and
 * after (a loaded machine makes every figure suspect). `finish` prints the bench's lines with
 * these, and with `--json` one JSON object of its figures as the last line of stdout.
 */
export function startReport(json: boolean) {
  const machine = { description: describeMachine(), cores: os.cpus().length, model: os.cpus()[0]?.model.trim() ?? '' };
  const loadBefore = loadAverage();
  process.stderr.write(`load average before: ${loadBefore}\n`);
  return {
    finish(lines: readonly string[], figures: Record<string, unknown>): void {
      const loadAfter = loadAverage();
      const out = [
        ...lines,
        '',
        `machine: ${machine.description}`,
        `load average (1, 5, 15 min) before: ${loadBefore}   after: ${loadAfter}`,
      ];
      if (json) {
        out.push(JSON.stringify({ ...figures, machine, load_before: loadBefore, load_after: loadAfter }));
      }
      process.stdout.write(`${out.join('\n')}\n`);
    },
  };
}

/** A database of its own for one system under test, dropped afterwards. */
export interface BenchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** The PostgreSQL server the benches create their databases on. */
export interface BenchPostgres {
  /** `BENCH_DATABASE_URL`, or `embedded PostgreSQL` when the bench started one. */
  readonly description: string;
  /** The server's `autovacuum` setting (`on`/`off`): it decides whether fresh tables get statistics. */
  autovacuum(): Promise<string>;
  createDatabase(prefix: string): Promise<BenchDatabase>;
  stop(): Promise<void>;
}

/**
 * The server named by `BENCH_DATABASE_URL` (any database on it; the benches create and drop their
 * own), or, without it, the embedded PostgreSQL that `npm start` uses (the cluster in `.ballast`,
 * started or attached to), so a fresh clone runs the benches with no server installed.
 */
export async function benchPostgres(): Promise<BenchPostgres> {
  const configured = process.env['BENCH_DATABASE_URL'];
  const embedded =
    configured === undefined
      ? await startEmbeddedPostgres({
          dataDir: path.join(projectRoot, '.ballast'),
          preferredPort: 0,
          database: 'postgres',
          log: createLogger({ level: 'warn', pretty: false, destination: process.stderr }),
        })
      : undefined;
  const adminUrl = configured ?? embedded!.url;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  return {
    description: configured === undefined ? 'embedded PostgreSQL (.ballast)' : 'BENCH_DATABASE_URL',
    async autovacuum() {
      return (await admin.query<{ autovacuum: string }>('show autovacuum')).rows[0]?.autovacuum ?? 'unknown';
    },
    async createDatabase(prefix) {
      const name = `${prefix}_${randomBytes(4).toString('hex')}`;
      await admin.query(`create database ${name}`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return {
        url: url.toString(),
        drop: async () => {
          await admin.query(`drop database if exists ${name} with (force)`);
        },
      };
    },
    async stop() {
      await admin.end();
      await embedded?.stop();
    },
  };
}

/** A server under test, run in its own process so it has a core to itself. */
export interface BenchServer {
  readonly url: string;
  /** CPU seconds (user + system) the server process has used so far; NaN where /proc is missing. */
  cpuSeconds(): number;
  /** Resident memory of the server process in MiB; NaN where /proc is missing. */
  rssMiB(): number;
  /** The most resident memory the server process has had so far (VmHWM), in MiB; NaN where /proc is missing. */
  peakRssMiB(): number;
  stop(): Promise<void>;
}

/** Linux's USER_HZ, the unit of utime/stime in /proc/<pid>/stat; 100 on every mainstream build. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds used by process `pid`, from /proc (fields 14 and 15 after the command name). */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/**
 * Starts `script` (a TypeScript file run by this Node) with PORT set, and waits until `readyPath`
 * answers 200.
 */
export async function startServer(
  script: string,
  env: Record<string, string> = {},
  readyPath = '/healthz',
): Promise<BenchServer> {
  const port = await getPort();
  // To profile a server under the bench's load: BENCH_SERVER_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=…'
  // (Node flags, V8's included, before the script); BENCH_SERVER_STDOUT=1 shows what it prints.
  const flags = (process.env['BENCH_SERVER_NODE_OPTIONS'] ?? '').split(' ').filter((flag) => flag !== '');
  const child: ChildProcess = spawn(process.execPath, [...flags, path.join(projectRoot, script)], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', process.env['BENCH_SERVER_STDOUT'] === '1' ? 'inherit' : 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}${readyPath}`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${script} did not become ready`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    cpuSeconds: () => processCpuSeconds(child.pid),
    rssMiB: () => statusMiB(child.pid, 'VmRSS'),
    peakRssMiB: () => statusMiB(child.pid, 'VmHWM'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface LoadResult {
  readonly requestsPerSecond: number;
  /**
   * Server CPU time per answered request, in microseconds: what a request costs the server,
   * independent of how fast the load generator (sharing this machine's cores) can go.
   */
  readonly cpuMicrosPerRequest: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
}

/** One memory figure of /proc/<pid>/status (VmRSS, VmHWM), in MiB; NaN where /proc is missing. */
function statusMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Drives `url` on `server` with autocannon: a warm-up, then the measured run. */
export async function load(
  server: BenchServer,
  path: string,
  options: { connections: number; seconds: number; warmupSeconds: number; headers?: Record<string, string> },
): Promise<LoadResult> {
  const url = `${server.url}${path}`;
  const headers = options.headers ?? {};
  if (options.warmupSeconds > 0)
    await autocannon({ url, headers, connections: options.connections, duration: options.warmupSeconds });
  const cpuBefore = server.cpuSeconds();
  const result = await autocannon({ url, headers, connections: options.connections, duration: options.seconds });
  const cpu = server.cpuSeconds() - cpuBefore;
  return {
    requestsPerSecond: result.requests.average,
    cpuMicrosPerRequest: (cpu * 1e6) / Math.max(1, result.requests.total),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** A number with a fixed number of decimals, for tables. */
export function fixed(value: number, digits = 2): string {
  return value.toFixed(digits);
}

/** The round with the median throughput (its latencies stay consistent with it). */
/** The median of some figures (the mean of the middle two for an even count). */
export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) throw new Error('no figures');
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function median(results: readonly LoadResult[]): LoadResult {
  const sorted = [...results].sort((x, y) => x.requestsPerSecond - y.requestsPerSecond);
  const middle = sorted[Math.floor(sorted.length / 2)];
  if (middle === undefined) throw new Error('no results');
  return middle;
}
