import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, makeTempDir, type TestDatabase } from '@ballast/platform/testing';
import { runBallast, startServing, terminate } from '../../tests/support/process.ts';

/** Reads the installation id straight from the embedded database of a data folder. */
async function installationIdIn(dataDir: string): Promise<string> {
  const secrets = JSON.parse(fs.readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  const port = Number(fs.readFileSync(path.join(dataDir, 'postgres.port'), 'utf8'));
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: secrets['EMBEDDED_DB_PASSWORD'],
    database: 'ballast',
  });
  await client.connect();
  try {
    const result = await client.query<{ id: string }>('select id from platform.installation');
    return result.rows[0]?.id ?? '';
  } finally {
    await client.end();
  }
}

describe('ballast start on the embedded PostgreSQL', () => {
  const dataDir = makeTempDir();
  const blocker = net.createServer();
  let blockedPort = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    blockedPort = (blocker.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts a real PostgreSQL on a free port, migrates, serves, and keeps its data across a restart', async () => {
    // The preferred port is taken by another listener: Ballast must pick another.
    const env = { DATA_DIR: dataDir, EMBEDDED_DB_PORT: String(blockedPort) };
    const first = await startServing('cli/bin/ballast.ts', ['start'], env);
    const ready = await fetch(`${first.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(first.process.output()).toContain('initialising embedded PostgreSQL (first start)');
    const port = Number(fs.readFileSync(path.join(dataDir, 'postgres.port'), 'utf8'));
    expect(port).not.toBe(blockedPort);
    expect(port).not.toBe(5432);
    const id = await installationIdIn(dataDir);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    expect(await terminate(first.process)).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    const second = await startServing('cli/bin/ballast.ts', ['start'], env);
    try {
      expect(second.process.output()).not.toContain('initialising embedded PostgreSQL');
      expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
      expect(await installationIdIn(dataDir)).toBe(id);
    } finally {
      expect(await terminate(second.process)).toEqual({ code: 0, signal: null });
    }
  });
});

describe('ballast start with DATABASE_URL', () => {
  let database: TestDatabase;
  const dataDir = makeTempDir();

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('uses that server and starts no embedded one', async () => {
    const running = await startServing('cli/bin/ballast.ts', ['start'], {
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
    });
    try {
      expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
      expect(fs.existsSync(path.join(dataDir, 'postgres'))).toBe(false);
      const home = await fetch(running.url, { headers: { accept: 'text/html' } });
      const page = await home.text();
      for (const title of ['Voice coach', 'AI interviewer', 'AI assistant', 'Complaint desk'])
        expect(page).toContain(title);
    } finally {
      expect((await terminate(running.process)).code).toBe(0);
    }
  });

  it('prints a short banner in development: where the site is, /setup while no admin exists, the inbox, how to stop', async () => {
    const fresh = await createTestDatabase();
    const running = await startServing('cli/bin/ballast.ts', ['start'], { DATA_DIR: dataDir, DATABASE_URL: fresh.url });
    try {
      await running.process.waitFor(/Press Ctrl-C to stop\./);
      const banner = running.process.output();
      expect(banner).toContain(`Ballast is running at ${running.url}\n`);
      expect(banner).toContain(`First run: create the administrator at ${running.url}/setup\n`);
      expect(banner).toContain(`Emails and text messages land in ${running.url}/dev/inbox\n`);
    } finally {
      expect((await terminate(running.process)).code).toBe(0);
      await fresh.drop();
    }
  });

  it('says a port already in use is in use and exits non-zero, before starting anything', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const refused = runBallast(['start'], {
        DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        HOST: '127.0.0.1',
        PORT: String(port),
      });
      expect((await refused.exited).code).toBe(1);
      expect(refused.stderr()).toContain(`PORT: port ${port} is in use`);
      expect(refused.stderr()).toContain(`set PORT to a free port, e.g. PORT=${port + 1}`);
      // Said at once: no database work, no stack trace.
      expect(refused.output()).not.toContain('realtime listening');
      expect(refused.output()).not.toContain('EADDRINUSE');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('applies migrations with `ballast migrate`, and `--status` tells what is pending', async () => {
    const fresh = await createTestDatabase();
    try {
      const env = { DATA_DIR: dataDir, DATABASE_URL: fresh.url };
      const before = runBallast(['migrate', '--status'], env);
      expect((await before.exited).code).toBe(1);
      expect(before.output()).toContain('pending  platform/0001-installation');
      const apply = runBallast(['migrate'], env);
      expect((await apply.exited).code).toBe(0);
      expect(apply.output()).toContain('applied  platform/0001-installation');
      expect(apply.output()).toContain('applied  complaints/0001-schema');
      const after = runBallast(['migrate', '--status'], env);
      expect((await after.exited).code).toBe(0);
      expect(after.output()).toContain('Every migration is applied.');
    } finally {
      await fresh.drop();
    }
  });

  it('`ballast tasks` prints queue statistics and dead letters, and refuses an unknown dead letter', async () => {
    const env = { DATA_DIR: dataDir, DATABASE_URL: database.url };
    const stats = runBallast(['tasks', 'stats'], env);
    expect((await stats.exited).code).toBe(0);
    expect(stats.output()).toMatch(/TASK\s+WAITING\s+SCHEDULED\s+RUNNING\s+COMPLETED\s+FAILED\s+DEAD\s+OLDEST WAITING/);
    expect(stats.output()).toMatch(/platform\.deliver-notification\s+0\s+0\s+0/);
    const json = runBallast(['tasks', 'stats', '--json'], env);
    expect((await json.exited).code).toBe(0);
    expect(JSON.parse(json.output())).toContainEqual(
      expect.objectContaining({ task: 'platform.deliver-notification' }),
    );
    const dead = runBallast(['tasks', 'dead'], env);
    expect((await dead.exited).code).toBe(0);
    expect(dead.output()).toContain('No dead letters.');
    const retry = runBallast(['tasks', 'retry', '00000000-0000-4000-8000-000000000000'], env);
    expect((await retry.exited).code).toBe(1);
    expect(retry.stderr()).toContain('No dead letter with id 00000000-0000-4000-8000-000000000000');
  });

  it('doctor passes a healthy development deployment', async () => {
    const doctor = runBallast(['doctor'], { DATA_DIR: dataDir, DATABASE_URL: database.url });
    expect((await doctor.exited).code).toBe(0);
    const output = doctor.output();
    expect(output).toMatch(/PASS\s+database\s+PostgreSQL \d+ reachable \(DATABASE_URL\)/);
    expect(output).toMatch(/PASS\s+migrations\s+every migration applied/);
    expect(output).toMatch(/PASS\s+clock/);
    expect(output).toMatch(/PASS\s+disk/);
    expect(output).toMatch(/PASS\s+storage\s+.*local: write, read and delete ok/);
    expect(output).toMatch(/0 failed: ready/);
  });

  it('doctor fails an unsafe production deployment, saying why and how to fix it', async () => {
    const doctor = runBallast(['doctor'], {
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      PUBLIC_URL: 'http://app.example.com',
      CORS_ORIGINS: 'http://app.example.com',
      SESSION_SECRET: 'changeme',
      SIGNING_SECRET: 'Qa1Ws2Ed3Rf4Tg5Yh6Uj7Ik8Ol9Pz0Xc-VbNmLkJh',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    expect((await doctor.exited).code).toBe(1);
    const output = doctor.output();
    expect(output).toMatch(/FAIL\s+settings\s+SESSION_SECRET is a well-known placeholder/);
    expect(output).toMatch(/FAIL\s+tls\s+PUBLIC_URL http:\/\/app.example.com is not https/);
    expect(output).toMatch(/FAIL\s+redis\s+unreachable/);
    expect(output).toMatch(/WARN\s+cors/);
    // The database is still probed live despite the settings failures.
    expect(output).toMatch(/PASS\s+database/);
    expect(output).toContain('fix: ');
    expect(output).toMatch(/NOT READY/);
  });
});

describe('ballast start in production', () => {
  it('refuses unsafe settings, listing every problem, and exits non-zero', async () => {
    const refused = runBallast(['start'], {
      NODE_ENV: 'production',
      DATA_DIR: makeTempDir(),
      CORS_ORIGINS: '*',
      SIGNING_SECRET: 'secret',
      LOG_PRETTY: 'true',
    });
    const { code } = await refused.exited;
    expect(code).toBe(1);
    const stderr = refused.stderr();
    expect(stderr).toMatch(/Ballast refused to start \(\d+ problems\)/);
    for (const setting of [
      'SESSION_SECRET',
      'SIGNING_SECRET',
      'CORS_ORIGINS',
      'DATABASE_URL',
      'LOG_PRETTY',
      'PUBLIC_URL',
    ]) {
      expect(stderr).toContain(`- ${setting}:`);
    }
  });
});
