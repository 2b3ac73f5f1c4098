import fs from 'node:fs';
import type { AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import { createBallast, type Ballast, type Role } from '../host.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { captureLogs, type CapturedLogs } from './logs.ts';
import { makeTempDir } from './temp.ts';

export interface StartTestBallastOptions {
  readonly apps?: readonly AppDefinition[];
  /** Settings on top of the test defaults (NODE_ENV=test, a fresh database and data folder). */
  readonly env?: Record<string, string | undefined>;
  readonly roles?: readonly Role[];
  /** Use this database instead of creating one. */
  readonly databaseUrl?: string;
  /** Listen on a port (default); false builds the server without listening. */
  readonly listen?: boolean;
}

/** A Ballast running inside the test process on its own database and data folder. */
export interface TestBallast {
  readonly ballast: Ballast;
  /** Base URL, e.g. http://127.0.0.1:40123 (empty when not listening). */
  readonly url: string;
  readonly logs: CapturedLogs;
  readonly dataDir: string;
  readonly databaseUrl: string;
  /** Stops Ballast, drops the database, removes the data folder. */
  close(): Promise<void>;
}

/** Boots a real Ballast (real PostgreSQL, real HTTP server) for a test. */
export async function startTestBallast(options: StartTestBallastOptions = {}): Promise<TestBallast> {
  const logs = captureLogs();
  const dataDir = makeTempDir();
  let database: TestDatabase | undefined;
  if (options.databaseUrl === undefined) database = await createTestDatabase();
  const databaseUrl = options.databaseUrl ?? database?.url ?? '';
  const ballast = await createBallast({
    apps: options.apps ?? [],
    roles: options.roles ?? ['web'],
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_MAX: '5',
      ...options.env,
    },
    logDestination: logs.stream,
  });
  const url = options.listen === false ? '' : ((await ballast.start()) ?? '');
  return {
    ballast,
    url: url.replace('localhost', '127.0.0.1'),
    logs,
    dataDir,
    databaseUrl,
    async close() {
      await ballast.stop();
      await database?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
