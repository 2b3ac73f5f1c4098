// bench/files: upload and download throughput, and the server's peak memory (VmHWM), for a large
// file (500 MB) and a small one (50 MB), in local and S3 mode: Ballast's storage (streamed upload
// with type check, size limit, SHA-256 and quota; download through a signed link) against a bare
// node:http server that only pipes the bytes to fs or to the AWS SDK's multipart Upload. The S3
// side is s3rver (an in-process S3 server) in this process. In S3 mode Ballast's download is the
// presigned link, answered by the bucket itself. Both servers run side by side and take turns, each
// size --rounds times (the first of each pair alternating); each figure is the median of its rounds.
// Usage: node bench/files/run.ts [--mb 500] [--small-mb 50] [--rounds 3] [--modes local,s3] [--json]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { hashPassword } from '../../platform/src/modules/auth/passwords.ts';
import { startLocalS3 } from '../../platform/src/testing/s3-server.ts';
import { makeTempDir } from '../../platform/src/testing/temp.ts';
import { benchPostgres, fixed, medianOf, startReport, startServer, type BenchServer } from '../support/harness.ts';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '500' },
    'small-mb': { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'local,s3' },
    json: { type: 'boolean', default: false },
  },
});
const sizes = [Number(values['small-mb']), Number(values.mb)];
const rounds = Math.max(1, Number(values.rounds));
const modes = values.modes.split(',').map((mode) => {
  if (mode !== 'local' && mode !== 's3') throw new Error(`--modes takes local and/or s3, not ${mode}`);
  return mode;
});
const report = startReport(values.json);
const postgres = await benchPostgres();
const scratch = makeTempDir('ballast-bench-files-');
const password = 'bench passphrase for files';

/** A file of `mb` MiB that reads as a PDF (its first bytes), filled with a repeated random block. */
async function makeFile(mb: number): Promise<string> {
  const file = path.join(scratch, `input-${mb}.pdf`);
  const block = randomBytes(1024 * 1024);
  block.write('%PDF-1.7\n', 0, 'latin1');
  const out = fs.createWriteStream(file);
  for (let index = 0; index < mb; index++) {
    if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    if (index === 0) block.write('        \n', 0, 'latin1');
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return file;
}

/** Sends a file as a streamed request body; resolves with the seconds it took and the answer. */
async function send(url: string, method: string, file: string, headers: Record<string, string>) {
  const started = performance.now();
  const response = await fetch(url, {
    method,
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': String(fs.statSync(file).size),
      ...headers,
    },
    body: Readable.toWeb(fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) as ReadableStream,
    duplex: 'half',
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${body.slice(0, 200)}`);
  return { seconds: (performance.now() - started) / 1000, body };
}

/** Reads a download to the end, discarding it; resolves with the seconds and the bytes. */
async function receive(url: string, headers: Record<string, string> = {}) {
  const started = performance.now();
  const response = await fetch(url, { headers });
  if (!response.ok || response.body === null) throw new Error(`GET ${url} answered ${response.status}`);
  let bytes = 0;
  for await (const chunk of response.body) bytes += (chunk as Uint8Array).byteLength;
  return { seconds: (performance.now() - started) / 1000, bytes };
}

interface Figures {
  uploadMBps: number;
  downloadMBps: number;
  peakMiB: number;
  /** Every round's figures, in order. */
  uploads: number[];
  downloads: number[];
}

/** Moves one file up and back down through a system; resolves with the seconds each way. */
type Transfer = (file: string, index: number, round: number) => Promise<{ up: number; down: number }>;

interface System {
  server: BenchServer;
  transfer: Transfer;
}

/**
 * Each size through both systems `rounds` times, taking turns (who goes first alternates), so a
 * slow moment of the machine falls on both; each system's peak memory is read after each size.
 */
async function measure(systems: {
  ballast: System;
  baseline: System;
}): Promise<Record<keyof typeof systems, Figures[]>> {
  const figures: Record<keyof typeof systems, Figures[]> = { ballast: [], baseline: [] };
  for (const [index, file] of files.entries()) {
    const mib = fs.statSync(file).size / 2 ** 20;
    const rows = {
      ballast: { uploads: [] as number[], downloads: [] as number[] },
      baseline: { uploads: [] as number[], downloads: [] as number[] },
    };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['ballast', 'baseline'] as const) : (['baseline', 'ballast'] as const);
      for (const name of order) {
        // Every transfer starts with nothing waiting to be written to disk: the earlier ones' dirty
        // pages would otherwise throttle whoever writes next (the kernel's writeback limits).
        execFileSync('sync');
        const { up, down } = await systems[name].transfer(file, index, round);
        rows[name].uploads.push(mib / up);
        rows[name].downloads.push(mib / down);
      }
    }
    for (const name of ['ballast', 'baseline'] as const) {
      figures[name].push({
        uploadMBps: medianOf(rows[name].uploads),
        downloadMBps: medianOf(rows[name].downloads),
        peakMiB: systems[name].server.peakRssMiB(),
        ...rows[name],
      });
    }
  }
  return figures;
}

const files: string[] = [];
for (const mb of sizes) files.push(await makeFile(mb));
const results: Record<string, { ballast: Figures[]; baseline: Figures[] }> = {};
const lines: string[] = [];

try {
  for (const mode of modes) {
    const s3 = mode === 's3' ? await startLocalS3('bench-files') : undefined;
    // Ballast, on a database of its own, and the baseline, side by side.
    const database = await postgres.createDatabase('bench_files');
    const baselineDir = makeTempDir('ballast-bench-baseline-');
    let ballast: BenchServer | undefined;
    let baseline: BenchServer | undefined;
    try {
      ballast = await startServer(
        'bench/files/ballast-server.ts',
        {
          DATABASE_URL: database.url,
          DATA_DIR: makeTempDir('ballast-bench-'),
          LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
          RATE_LIMIT_MAX: '10000000',
          UPLOAD_LIMIT_BYTES: String(4096 * 1024 * 1024),
          STORAGE_USER_QUOTA_MB: '100000',
          LOG_LEVEL: 'warn',
          ...s3?.env,
        },
        '/readyz',
      );
      baseline = await startServer('bench/files/baseline-server.ts', {
        BASELINE_DIR: baselineDir,
        ...(s3 === undefined ? {} : { BASELINE_S3_BUCKET: s3.bucket, BASELINE_S3_ENDPOINT: s3.endpoint }),
      });
      const db = new pg.Client({ connectionString: database.url });
      await db.connect();
      await db.query(`insert into platform."user" (email, password_hash, email_verified_at) values ($1, $2, now())`, [
        'files@example.com',
        await hashPassword(password),
      ]);
      await db.end();
      const signedIn = await fetch(`${ballast.url}/api/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'files@example.com', password }),
      });
      const { token } = (await signedIn.json()) as { token: string };
      const auth = { authorization: `Bearer ${token}` };
      const ballastUrl = ballast.url;
      const baselineUrl = baseline.url;
      results[mode] = await measure({
        ballast: {
          server: ballast,
          transfer: async (file) => {
            const up = await send(
              `${ballastUrl}/api/storage/bench/uploads/blob?name=${path.basename(file)}`,
              'POST',
              file,
              auth,
            );
            const id = (JSON.parse(up.body) as { file: { id: string } }).file.id;
            const link = await fetch(`${ballastUrl}/api/storage/bench/files/${id}/link`, {
              method: 'POST',
              headers: auth,
            });
            const { url } = (await link.json()) as { url: string };
            const down = await receive(url.startsWith('/') ? `${ballastUrl}${url}` : url);
            return { up: up.seconds, down: down.seconds };
          },
        },
        baseline: {
          server: baseline,
          transfer: async (file, index, round) => {
            const key = `baseline-${index}-${round}`;
            const up = await send(`${baselineUrl}/${key}`, 'PUT', file, {});
            const down = await receive(`${baselineUrl}/${key}`);
            return { up: up.seconds, down: down.seconds };
          },
        },
      });
    } finally {
      await ballast?.stop();
      await baseline?.stop();
      await database.drop();
      fs.rmSync(baselineDir, { recursive: true, force: true });
      await s3?.close();
    }
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
  await postgres.stop();
}

const figures: Record<string, number> = {};
lines.push(
  `bench/files: ${sizes.join(' MiB and ')} MiB, an upload then a download each, ${rounds} rounds taking turns; medians (every round in brackets); server peak RSS (VmHWM) after each size`,
);
lines.push('');
lines.push('mode   system    size MiB  upload MB/s (rounds)           download MB/s (rounds)         peak RSS MiB');
for (const [mode, result] of Object.entries(results)) {
  for (const system of ['ballast', 'baseline'] as const) {
    result[system].forEach((row, index) => {
      lines.push(
        `${mode.padEnd(6)} ${system.padEnd(9)} ${String(sizes[index]).padStart(8)}  ${`${fixed(row.uploadMBps, 1)} (${row.uploads.map((value) => fixed(value, 0)).join(', ')})`.padEnd(30)} ${`${fixed(row.downloadMBps, 1)} (${row.downloads.map((value) => fixed(value, 0)).join(', ')})`.padEnd(30)} ${fixed(row.peakMiB, 0).padStart(12)}`,
      );
      const label = `${mode}_${system}_${sizes[index]}mb`;
      figures[`${label}_upload_mb_per_s`] = row.uploadMBps;
      figures[`${label}_download_mb_per_s`] = row.downloadMBps;
      figures[`${label}_peak_rss_mib`] = row.peakMiB;
    });
  }
  const large = sizes.length - 1;
  const up = result.ballast[large]!.uploadMBps / result.baseline[large]!.uploadMBps;
  const down = result.ballast[large]!.downloadMBps / result.baseline[large]!.downloadMBps;
  const growth = result.ballast[large]!.peakMiB - result.ballast[0]!.peakMiB;
  figures[`${mode}_upload_ratio`] = up;
  figures[`${mode}_download_ratio`] = down;
  figures[`${mode}_ballast_peak_growth_mib`] = growth;
  lines.push(
    `${mode}: ballast/baseline at ${sizes[large]} MiB: upload ${fixed(up)}, download ${fixed(down)}; ballast peak grew ${fixed(growth, 0)} MiB from ${sizes[0]} to ${sizes[large]} MiB`,
  );
}
report.finish(lines, figures);
