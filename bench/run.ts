// Runs every benchmark in turn; each is also runnable alone (node bench/<name>/run.ts).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const benches = ['http', 'tasks', 'auth', 'calls'];
let failed = 0;
for (const name of benches) {
  const result = spawnSync(
    process.execPath,
    [path.join(import.meta.dirname, name, 'run.ts'), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
    },
  );
  if (result.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
