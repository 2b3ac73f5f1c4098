import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '@ballast/platform/testing';
import { startServing, terminate, type TestProcess } from '../support/process.ts';

// `ballast start` on the embedded PostgreSQL in a data folder of its own; the test kills the
// PostgreSQL server (the postmaster) with SIGKILL, as the kernel's OOM killer would.
const dataDir = makeTempDir();
const running: TestProcess[] = [];

afterAll(async () => {
  for (const process of running) await terminate(process);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function serve(env: Record<string, string> = {}): Promise<{ process: TestProcess; url: string }> {
  const started = await startServing('tests/fixtures/serve-failover-app.ts', [], { DATA_DIR: dataDir, ...env });
  running.push(started.process);
  return started;
}

function killPostmaster(): void {
  const pid = Number(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(pid, 'SIGKILL');
}

async function status(url: string, route: string): Promise<number> {
  return fetch(`${url}${route}`).then(
    (response) => response.status,
    () => 0,
  );
}

describe('the embedded PostgreSQL', () => {
  it('is restarted after it is killed, and the process is ready again', async () => {
    const { process: ballast, url } = await serve();
    expect(await status(url, '/readyz')).toBe(200);

    killPostmaster();
    await ballast.waitFor(/"msg":"embedded PostgreSQL died; restarting it"/);
    await ballast.waitFor(/"msg":"embedded PostgreSQL restarted"/);
    let ready = 0;
    for (let attempt = 0; attempt < 120 && ready !== 200; attempt++) {
      ready = await status(url, '/readyz');
      if (ready !== 200) await sleep(250);
    }
    expect(ready).toBe(200);
    expect(await status(url, '/healthz')).toBe(200);
    expect((await fetch(`${url}/api/failover/read`)).status).toBe(200);
    expect(await terminate(ballast)).toEqual({ code: 0, signal: null });
  });

  it('when it cannot be restarted, fails /healthz and exits non-zero, saying why', async () => {
    // The drain delay keeps the server answering for a moment while the process shuts down.
    const { process: ballast, url } = await serve({ EMBEDDED_DB_RESTARTS: '0', SHUTDOWN_DRAIN_DELAY_MS: '3000' });
    killPostmaster();
    let alive = 200;
    for (let attempt = 0; attempt < 100 && alive === 200; attempt++) {
      alive = await status(url, '/healthz');
      if (alive === 200) await sleep(100);
    }
    expect(alive).toBe(503);
    const { code } = await ballast.exited;
    expect(code).toBe(1);
    expect(ballast.output()).toContain('embedded PostgreSQL is down for good: this process cannot serve');
    expect(ballast.output()).toContain('restarts are off (EMBEDDED_DB_RESTARTS=0)');
  });
});
