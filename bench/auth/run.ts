// bench/auth: (1) a sign-in storm (argon2id at OWASP's parameters) from 50 concurrent clients while
// a second client polls /healthz: sign-ins/s, and /healthz p99 during the storm versus idle;
// (2) authenticated JSON requests/s versus the same route unauthenticated.
// Usage: node bench/auth/run.ts [--clients 50] [--seconds 15] [--json]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { hashPassword } from '../../platform/src/modules/auth/passwords.ts';
import { makeTempDir } from '../../platform/src/testing/temp.ts';
import { benchPostgres, fixed, load, median, startReport, startServer, type LoadResult } from '../support/harness.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '15' },
    json: { type: 'boolean', default: false },
  },
});
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const password = 'bench passphrase for sign-in';
const report = startReport(values.json);
const postgres = await benchPostgres();
const database = await postgres.createDatabase('bench_auth');

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Polls /healthz one request at a time until `until()` says stop; resolves with sorted latencies (ms). */
async function pollHealth(base: string, until: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  while (!until()) {
    const t0 = performance.now();
    await (await fetch(`${base}/healthz`)).arrayBuffer();
    latencies.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return latencies.sort((a, b) => a - b);
}

const server = await startServer('bench/auth/ballast-server.ts', {
  DATABASE_URL: database.url,
  DATA_DIR: makeTempDir('ballast-bench-'),
  LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
  RATE_LIMIT_MAX: '10000000',
  AUTH_SIGN_IN_ATTEMPTS: '100000',
  LOG_LEVEL: 'warn',
});
const lines: string[] = [];
let figures: Record<string, unknown> | undefined;
try {
  // Users made straight in the database (registration is not what is measured).
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  const hash = await hashPassword(password);
  for (let index = 0; index < clients; index++) {
    await db.query(`insert into platform."user" (email, password_hash, email_verified_at) values ($1, $2, now())`, [
      `storm-${index}@example.com`,
      hash,
    ]);
  }
  await db.end();
  const signIn = async (index: number) => {
    const response = await fetch(`${server.url}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `storm-${index}@example.com`, password }),
    });
    if (response.status !== 200) throw new Error(`sign-in answered ${response.status}`);
    return ((await response.json()) as { token: string }).token;
  };
  const token = await signIn(0);

  // Idle: /healthz alone.
  let stop = Date.now() + 5000;
  const idle = await pollHealth(server.url, () => Date.now() > stop);

  // Storm: every client signs in again and again.
  stop = Date.now() + seconds * 1000;
  let signIns = 0;
  const started = performance.now();
  const storm = Promise.all(
    Array.from({ length: clients }, async (_, index) => {
      while (Date.now() < stop) {
        await signIn(index);
        signIns++;
      }
    }),
  );
  const during = await pollHealth(server.url, () => Date.now() > stop);
  await storm;
  const stormSeconds = (performance.now() - started) / 1000;

  // Authenticated versus public JSON route, interleaved rounds.
  const rounds = { public: [] as LoadResult[], authenticated: [] as LoadResult[] };
  for (let round = 0; round < 3; round++) {
    rounds.public.push(
      await load(server, '/api/bench/hello?name=ballast', {
        connections: 50,
        seconds: 5,
        warmupSeconds: round === 0 ? 2 : 0,
      }),
    );
    rounds.authenticated.push(
      await load(server, '/api/bench/me/hello?name=ballast', {
        connections: 50,
        seconds: 5,
        warmupSeconds: round === 0 ? 2 : 0,
        headers: { authorization: `Bearer ${token}` },
      }),
    );
  }
  const open = median(rounds.public);
  const authed = median(rounds.authenticated);

  lines.push(
    `bench/auth: sign-in storm from ${clients} clients for ${seconds} s (argon2id m=19456 KiB, t=2, p=1); /healthz polled serially`,
    '',
    '| measure | value |',
    '| --- | ---: |',
    `| sign-ins/s during the storm | ${fixed(signIns / stormSeconds, 1)} |`,
    `| /healthz p50 idle (ms) | ${fixed(percentile(idle, 50), 1)} |`,
    `| /healthz p99 idle (ms) | ${fixed(percentile(idle, 99), 1)} |`,
    `| /healthz p50 during the storm (ms) | ${fixed(percentile(during, 50), 1)} |`,
    `| /healthz p99 during the storm (ms) | ${fixed(percentile(during, 99), 1)} (aim < 50) |`,
    `| JSON route, public (requests/s) | ${fixed(open.requestsPerSecond, 0)} (${fixed(open.cpuMicrosPerRequest, 1)} µs CPU/request) |`,
    `| JSON route, signed in with a bearer token (requests/s) | ${fixed(authed.requestsPerSecond, 0)} (${fixed(authed.cpuMicrosPerRequest, 1)} µs CPU/request) |`,
    '',
    `authenticated/public throughput = ${fixed(authed.requestsPerSecond / open.requestsPerSecond)}; /healthz p99 storm/idle = ${fixed(percentile(during, 99) / percentile(idle, 99))}`,
  );
  figures = {
    bench: 'auth',
    clients,
    sign_ins_per_s: signIns / stormSeconds,
    healthz_idle_p99_ms: percentile(idle, 99),
    healthz_storm_p99_ms: percentile(during, 99),
    public_requests_per_s: open.requestsPerSecond,
    authenticated_requests_per_s: authed.requestsPerSecond,
    authenticated_over_public: authed.requestsPerSecond / open.requestsPerSecond,
    // Server CPU per request: steadier than throughput when other work shares the cores.
    public_cpu_us_per_request: open.cpuMicrosPerRequest,
    authenticated_cpu_us_per_request: authed.cpuMicrosPerRequest,
  };
} finally {
  await server.stop();
  await database.drop();
  await postgres.stop();
}
report.finish(lines, figures ?? {});
