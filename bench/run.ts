// Runs every benchmark in turn; each is also runnable alone (node bench/<name>/run.ts). Arguments
// are passed to each (--json: each ends its output with one line of JSON). Without
// BENCH_DATABASE_URL each starts the embedded PostgreSQL that `npm start` uses.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const benches = ['http/run.ts', 'tasks/run.ts', 'tasks/crash.ts', 'auth/run.ts', 'calls/run.ts', 'files/run.ts'];
let failed = 0;
for (const name of benches) {
  const result = spawnSync(process.execPath, [path.join(import.meta.dirname, name), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  if (result.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
