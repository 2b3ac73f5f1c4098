import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import getPort from 'get-port';

export const projectRoot = path.resolve(import.meta.dirname, '../..');

/** One line about the machine a figure was measured on. */
export function describeMachine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** A server under test, run in its own process so it has a core to itself. */
export interface BenchServer {
  readonly url: string;
  /** CPU seconds (user + system) the server process has used so far; NaN where /proc is missing. */
  cpuSeconds(): number;
  /** Resident memory of the server process in MiB; NaN where /proc is missing. */
  rssMiB(): number;
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
  const child: ChildProcess = spawn(process.execPath, [path.join(projectRoot, script)], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
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
    rssMiB: () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
      } catch {
        return Number.NaN;
      }
    },
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
export function median(results: readonly LoadResult[]): LoadResult {
  const sorted = [...results].sort((x, y) => x.requestsPerSecond - y.requestsPerSecond);
  const middle = sorted[Math.floor(sorted.length / 2)];
  if (middle === undefined) throw new Error('no results');
  return middle;
}
