import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../platform/src/kernel/db/embedded-postgres.ts';
import { createLogger } from '../../platform/src/kernel/logging/logger.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser connection string; each test file creates and drops its own database with it. */
    adminDatabaseUrl: string;
    /** Redis for the tests of multi-node features, or '' when none answers. */
    redisUrl: string;
  }
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1500,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

const webBuild = Symbol.for('ballast.test.webBuild');

/**
 * Builds the browser code once per test run (both projects share this process), so the pages the
 * browser tests open are the current source's.
 */
function buildWeb(): Promise<void> {
  const shared = globalThis as unknown as Record<symbol, Promise<void> | undefined>;
  // A child process: Vite bundles React's development build when NODE_ENV is not production, and
  // here it is 'test'.
  shared[webBuild] ??= new Promise<void>((resolve, reject) => {
    const root = path.join(import.meta.dirname, '../..');
    execFile(
      process.execPath,
      [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'],
      { cwd: root, env: { ...process.env, NODE_ENV: 'production' } },
      (error, _stdout, stderr) => (error === null ? resolve() : reject(new Error(`vite build failed: ${stderr}`))),
    );
  });
  return shared[webBuild];
}

/** The PostgreSQL and Redis the tests use, found once per run and shared by every project that asks. */
interface Services {
  readonly adminUrl: string;
  readonly redisUrl: string;
  readonly stop: () => Promise<void>;
}

const sharedServices = Symbol.for('ballast.test.services');

/**
 * Finds the PostgreSQL the tests use: TEST_DATABASE_URL, else the local server on 5432, else an
 * embedded one started for this run. Finds Redis the same way (TEST_REDIS_URL, REDIS_URL, local).
 */
async function findServices(): Promise<Services> {
  const env = process.env;
  let adminUrl = env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  let embedded: EmbeddedPostgres | undefined;
  let dataDir: string | undefined;
  if (!(await postgresAnswers(adminUrl))) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ballast-test-pg-'));
    embedded = await startEmbeddedPostgres({
      dataDir,
      preferredPort: 0,
      log: createLogger({ level: 'silent', pretty: false }),
      database: 'postgres',
    });
    adminUrl = embedded.url;
  }
  const redisUrl = env['TEST_REDIS_URL'] ?? env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  return {
    adminUrl,
    redisUrl: (await redisAnswers(redisUrl)) ? redisUrl : '',
    stop: async () => {
      await embedded?.stop();
      if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Global setup of the integration, system and e2e projects (the unit tier needs none of it): the
 * web build and the services, made once for the run however many projects run; the last project to
 * finish stops an embedded PostgreSQL.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = globalThis as unknown as Record<symbol, { services: Promise<Services>; users: number } | undefined>;
  await buildWeb();
  const entry = (shared[sharedServices] ??= { services: findServices(), users: 0 });
  entry.users += 1;
  const services = await entry.services;
  project.provide('adminDatabaseUrl', services.adminUrl);
  project.provide('redisUrl', services.redisUrl);
  return async () => {
    entry.users -= 1;
    if (entry.users === 0) {
      shared[sharedServices] = undefined;
      await services.stop();
    }
  };
}
