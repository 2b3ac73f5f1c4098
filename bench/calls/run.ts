// bench/calls: N concurrent calls heartbeating every 5 s against one web process, for N in
// --calls (default 1000,5000,10000), each for --seconds (default 120), over each --transport:
// `ws` (the coach page's way: a request on its live-updates socket) and `http` (the page's
// fallback: POST .../heartbeat). Reports heartbeat acknowledgement p50/p99, metering error per
// call, database writes per call-minute, and the server's CPU and memory; and the same heartbeat
// load over the same transport against a bare Node baseline.
// Usage: node bench/calls/run.ts [--calls 1000,5000,10000] [--seconds 120] [--transport ws,http] [--json]
import http from 'node:http';
import { parseArgs } from 'node:util';
import pg from 'pg';
import WebSocket from 'ws';
import { loadKeyRing, newSigningJwk } from '../../platform/src/modules/auth/signing-keys.ts';
import { issueAccessToken } from '../../platform/src/modules/auth/tokens.ts';
import { makeTempDir } from '../../platform/src/testing/temp.ts';
import { benchPostgres, fixed, startReport, startServer, type BenchServer } from '../support/harness.ts';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '1000,5000,10000' },
    seconds: { type: 'string', default: '120' },
    transport: { type: 'string', default: 'ws,http' },
    json: { type: 'boolean', default: false },
  },
});
type Transport = 'ws' | 'http';
const transports = values.transport.split(',').map((name) => {
  if (name !== 'ws' && name !== 'http') throw new Error(`--transport takes ws and/or http, not ${name}`);
  return name;
});
const sizes = values.calls.split(',').map(Number);
const seconds = Number(values.seconds);
const INTERVAL_MS = 5000;
const report = startReport(values.json);
const postgres = await benchPostgres();
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

function post(url: string, headers: Record<string, string>, body = '{}'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** A live-updates socket sending `{"type":"request"}` frames and matching their replies. */
interface LiveSocket {
  /** Resolves with the reply's `ok` and `data`; `ok` false when the socket closes first. */
  request(name: string, data: unknown): Promise<{ ok: boolean; data?: unknown }>;
  close(): void;
}

async function openSocket(url: string, headers: Record<string, string>): Promise<LiveSocket> {
  const socket = new WebSocket(url, { headers, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`socket refused with ${response.statusCode}`)),
    );
  });
  const pending = new Map<number, (reply: { ok: boolean; data?: unknown }) => void>();
  let next = 0;
  socket.on('message', (raw: Buffer) => {
    const frame = JSON.parse(raw.toString('utf8')) as { type?: string; id?: number; ok?: boolean; data?: unknown };
    if (frame.type !== 'reply' || frame.id === undefined) return;
    pending.get(frame.id)?.({ ok: frame.ok === true, data: frame.data });
    pending.delete(frame.id);
  });
  socket.on('close', () => {
    for (const settle of pending.values()) settle({ ok: false });
    pending.clear();
  });
  return {
    request: (name, data) =>
      new Promise((resolve) => {
        if (socket.readyState !== WebSocket.OPEN) {
          resolve({ ok: false });
          return;
        }
        next += 1;
        pending.set(next, resolve);
        socket.send(JSON.stringify({ type: 'request', id: next, name, data }));
      }),
    close: () => socket.close(),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Heartbeats {
  latencies: number[];
  failures: number;
  sent: number;
  /** Per call: wall-clock time its last acknowledged heartbeat was sent and answered, and its hang-up was sent. */
  lastAck: number[];
  lastAnswer: number[];
  hungUp: number[];
  finalLatencies: number[];
  /** How long each hang-up took to be answered (ms), sorted. */
  hangUpLatencies: number[];
}

/** Runs at most `limit` of the functions given to it at a time. */
function limiter(limit: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/**
 * Every call beats every 5 s from within 5 s of its start (a call that waited for all the others
 * would be ended by the 10 s gap), the calls' phases spread evenly over the interval. Figures cover the `seconds` after the last call started; then
 * each caller hangs up right after their last heartbeat, so hang-ups are spread like beats.
 */
async function heartbeat(
  count: number,
  /** Sends call `index`'s heartbeat; true when the server acknowledged it and the call goes on. */
  beat: (index: number) => Promise<boolean>,
  calls: {
    start?: (index: number) => Promise<void>;
    /** Called when the last call has started: the measured window begins. */
    measuring?: () => void;
    hangUp?: (index: number, sinceLastBeatMs: number) => Promise<void>;
  } = {},
) {
  const result: Heartbeats = {
    latencies: [],
    failures: 0,
    sent: 0,
    lastAck: [],
    lastAnswer: [],
    hungUp: [],
    finalLatencies: [],
    hangUpLatencies: [],
  };
  const starting = limiter(50);
  const epoch = Date.now();
  let started = 0;
  let window: { from: number; to: number } | undefined;
  await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      if (calls.start !== undefined) await starting(() => calls.start!(index));
      // The call's phase: the next moment that is its share of the interval after the epoch.
      const phase = (index / count) * INTERVAL_MS;
      const wait = (((phase - (Date.now() - epoch)) % INTERVAL_MS) + INTERVAL_MS) % INTERVAL_MS;
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (++started === count) {
        window = { from: Date.now(), to: Date.now() + seconds * 1000 };
        calls.measuring?.();
      }
      for (;;) {
        const due = Date.now() + INTERVAL_MS;
        const t0 = performance.now();
        const sentAt = Date.now();
        const measured = window !== undefined && sentAt >= window.from;
        try {
          if (await beat(index)) {
            // Steady state only: the last interval, when every call hangs up, is reported apart.
            if (measured) (due < window!.to ? result.latencies : result.finalLatencies).push(performance.now() - t0);
            result.lastAck[index] = sentAt;
            result.lastAnswer[index] = Date.now();
          } else result.failures++;
        } catch {
          result.failures++;
        }
        if (measured) result.sent++;
        if (window !== undefined && due >= window.to) break;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      }
      if (calls.hangUp !== undefined) {
        result.hungUp[index] = Date.now();
        const t0 = performance.now();
        await calls.hangUp(index, result.hungUp[index] - (result.lastAnswer[index] ?? result.hungUp[index]));
        result.hangUpLatencies.push(performance.now() - t0);
      }
    }),
  );
  result.latencies.sort((a, b) => a - b);
  result.finalLatencies.sort((a, b) => a - b);
  result.hangUpLatencies.sort((a, b) => a - b);
  return result;
}

async function measureBallast(count: number, transport: Transport) {
  const database = await postgres.createDatabase('bench_calls');
  const keys = JSON.stringify([await newSigningJwk()]);
  let server: BenchServer | undefined;
  try {
    server = await startServer('bench/calls/ballast-server.ts', {
      DATABASE_URL: database.url,
      DATABASE_POOL_MAX: '10',
      DATA_DIR: makeTempDir('ballast-bench-'),
      AUTH_SIGNING_KEYS: keys,
      LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
      RATE_LIMIT_MAX: '10000000',
      // One socket per call (the default cap is 1,000 per app per node).
      REALTIME_MAX_CONNECTIONS_PER_APP: String(count + 100),
      LOG_LEVEL: 'warn',
    });
    // Users and their talk-time straight in the database (buying is not what is measured).
    const db = new pg.Client({ connectionString: database.url });
    // A forced drop of the database ends this client: not a crash of the bench.
    db.on('error', () => undefined);
    await db.connect();
    const users = await db.query<{ id: string }>(
      `insert into platform."user" (email, email_verified_at)
       select 'caller-' || n || '@example.com', now() from generate_series(1, $1) n returning id::text`,
      [count],
    );
    await db.query(
      `insert into platform.ledger_balance (user_id, app, unit, balance) select id, 'coach', 'seconds', 36000 from platform."user"`,
    );
    const ring = await loadKeyRing({ configured: keys, dataDir: makeTempDir('ballast-bench-keys-') });
    const settings = { issuer: 'http://localhost', audience: 'ballast', ttlSeconds: 86_400 };
    const headers = await Promise.all(
      users.rows.map(async (user) => ({
        authorization: `Bearer ${(await issueAccessToken(ring, settings, { userId: user.id, generation: 0 })).token}`,
      })),
    );
    const sessions: string[] = new Array<string>(count);
    const sockets: LiveSocket[] = new Array<LiveSocket>(count);
    const writesBefore = await metric(server.url, 'metering_database_writes_total');
    let cpuBefore = Number.NaN;
    let began = Number.NaN;
    const beats = await heartbeat(
      count,
      transport === 'ws'
        ? async (index) => {
            const reply = await sockets[index]!.request('call.heartbeat', { sessionId: sessions[index] });
            return reply.ok && (reply.data as { status?: string }).status === 'active';
          }
        : async (index) => {
            const answer = await post(`${server!.url}/api/coach/calls/${sessions[index]}/heartbeat`, headers[index]!);
            return answer.status === 200 && !answer.text.includes('"ended"');
          },
      {
        start: async (index) => {
          // As the coach's page does: the live socket is open before the call starts.
          if (transport === 'ws') {
            sockets[index] = await openSocket(
              `${server!.url.replace('http', 'ws')}/realtime?app=coach`,
              headers[index]!,
            );
          }
          const answer = await post(`${server!.url}/api/coach/calls`, headers[index]!);
          if (answer.status !== 201) throw new Error(`start call answered ${answer.status}: ${answer.text}`);
          sessions[index] = (JSON.parse(answer.text) as { call: { id: string } }).call.id;
        },
        measuring: () => {
          cpuBefore = server!.cpuSeconds();
          began = performance.now();
        },
        // As the coach's page does: the hang-up says how long after the last heartbeat's answer it came.
        hangUp: async (index, sinceLastBeatMs) => {
          await post(
            `${server!.url}/api/coach/calls/${sessions[index]}/end`,
            headers[index]!,
            JSON.stringify({ sinceLastBeatMs }),
          );
        },
      },
    );
    const cpu = (server.cpuSeconds() - cpuBefore) / ((performance.now() - began) / 1000);
    const rss = server.rssMiB();
    for (const socket of sockets) socket?.close();
    const writes = (await metric(server.url, 'metering_database_writes_total')) - writesBefore;
    // Metering error, per call, against what the caller saw: billed time must cover every
    // heartbeat the server acknowledged (never under) and end by the hang-up (never over).
    // Ledger error: metered seconds against what the ledger debited.
    const check = await db.query<{ id: string; metered: number; started: string; reason: string; debited: string }>(
      `select s.id::text, s.metered_seconds as metered, (extract(epoch from s.started_at) * 1000)::text as started,
          s.end_reason as reason,
          coalesce((select sum(-amount) from platform.ledger_entry e
            where e.reference = 'session:' || s.id::text and e.kind = 'usage'), 0)::text as debited
        from platform.metered_session s`,
    );
    await db.end();
    const indexOf = new Map(sessions.map((id, index) => [id, index]));
    let spanError = 0;
    let ledgerError = 0;
    let callMinutes = 0;
    const reasons: Record<string, number> = {};
    for (const row of check.rows) {
      const index = indexOf.get(row.id)!;
      const started = Number(row.started);
      const lastAck = beats.lastAck[index];
      const floorSeen = lastAck === undefined ? 0 : Math.floor((lastAck - started) / 1000);
      const ceiling = Math.ceil((beats.hungUp[index]! - started) / 1000);
      const under = Math.max(0, floorSeen - row.metered);
      const over = Math.max(0, row.metered - ceiling);
      if (Math.max(under, over) > spanError) {
        process.stderr.write(
          `metering error ${Math.max(under, over)} s on a call (${row.reason}): billed ${row.metered} s, last acknowledged heartbeat sent at +${lastAck === undefined ? '-' : lastAck - started} ms, hung up at +${beats.hungUp[index]! - started} ms\n`,
        );
      }
      spanError = Math.max(spanError, under, over);
      ledgerError = Math.max(ledgerError, Math.abs(row.metered - Number(row.debited)));
      callMinutes += row.metered / 60;
      reasons[row.reason] = (reasons[row.reason] ?? 0) + 1;
    }
    return { beats, cpu, rss, spanError, ledgerError, reasons, writesPerCallMinute: writes / callMinutes };
  } finally {
    await server?.stop();
    await database.drop();
  }
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) total += Number(line.split(' ').at(-1));
  return total;
}

async function measureBaseline(count: number, transport: Transport) {
  const server = await startServer('bench/calls/baseline-server.ts');
  const sockets: LiveSocket[] = new Array<LiveSocket>(count);
  try {
    let cpuBefore = Number.NaN;
    let began = Number.NaN;
    const beats = await heartbeat(
      count,
      transport === 'ws'
        ? async (index) => (await sockets[index]!.request('call.heartbeat', { sessionId: `call-${index}` })).ok
        : async (index) => (await post(`${server.url}/calls/call-${index}/heartbeat`, {})).status === 200,
      {
        ...(transport === 'ws'
          ? {
              start: async (index: number) => {
                sockets[index] = await openSocket(`${server.url.replace('http', 'ws')}/realtime`, {});
              },
            }
          : {}),
        measuring: () => {
          cpuBefore = server.cpuSeconds();
          began = performance.now();
        },
      },
    );
    return {
      beats,
      cpu: (server.cpuSeconds() - cpuBefore) / ((performance.now() - began) / 1000),
      rss: server.rssMiB(),
    };
  } finally {
    for (const socket of sockets) socket?.close();
    await server.stop();
  }
}

const lines = [
  `bench/calls: N calls heartbeating every 5 s (ws: a request on the live-updates socket; http: POST .../heartbeat) for ${seconds} s against one web process (memory meter store), then hung up over HTTP`,
  '',
  '| N | transport | heartbeats/s | ack p50 (ms) | ack p99 (ms) | p99 while all hang up (ms) | hang-up p99 (ms) | failed | max metering error (s) | ledger error (s) | session writes per call-minute | CPU (cores) | RSS (MiB) | ended by | baseline p99 (ms) | baseline CPU |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
];
const largest: Partial<Record<Transport, number>> = {};
const runs: Record<string, unknown>[] = [];
for (const count of sizes) {
  for (const transport of transports) {
    const ballast = await measureBallast(count, transport);
    const baseline = await measureBaseline(count, transport);
    const p99 = percentile(ballast.beats.latencies, 99);
    const hangUpP99 = percentile(ballast.beats.hangUpLatencies, 99);
    runs.push({
      calls: count,
      transport,
      ack_p50_ms: percentile(ballast.beats.latencies, 50),
      ack_p99_ms: p99,
      hangup_p99_ms: hangUpP99,
      failed: ballast.beats.failures,
      metering_error_s: ballast.spanError,
      ledger_error_s: ballast.ledgerError,
      cpu_cores: ballast.cpu,
      baseline_ack_p99_ms: percentile(baseline.beats.latencies, 99),
    });
    const ok = p99 < 100 && ballast.spanError === 0 && ballast.ledgerError === 0 && ballast.beats.failures === 0;
    if (ok) largest[transport] = count;
    lines.push(
      `| ${count} | ${transport} | ${fixed(ballast.beats.sent / seconds, 0)} | ${fixed(percentile(ballast.beats.latencies, 50), 1)} | ${fixed(p99, 1)} | ${fixed(percentile(ballast.beats.finalLatencies, 99), 1)} | ${fixed(hangUpP99, 1)} | ${ballast.beats.failures} | ${ballast.spanError} | ${ballast.ledgerError} | ${fixed(ballast.writesPerCallMinute, 2)} | ${fixed(ballast.cpu, 2)} | ${fixed(ballast.rss, 0)} | ${Object.entries(
        ballast.reasons,
      )
        .map(([reason, n]) => `${reason} ${n}`)
        .join(', ')} | ${fixed(percentile(baseline.beats.latencies, 99), 1)} | ${fixed(baseline.cpu, 2)} |`,
    );
    process.stderr.write(`${lines.at(-1)}\n`);
  }
}
lines.push(
  '',
  ...transports.map(
    (transport) =>
      `largest N with ack p99 < 100 ms, no failed heartbeat and no metering error over ${transport}: ${largest[transport] ?? 'none'}`,
  ),
  'The Python version claimed about 200 heartbeats/s per 1,000 users at a 5 s interval; the heartbeats/s column is the rate served here.',
  'Metering error: seconds billed below floor(last acknowledged heartbeat − start) or above ceil(hang-up − start), as the caller measured them; ledger error: metered against debited. Session writes count session rows written (start, each flush, end); flushes share one transaction per second.',
);
agent.destroy();
await postgres.stop();
report.finish(lines, { bench: 'calls', seconds, runs });
