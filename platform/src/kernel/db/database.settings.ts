import { z } from 'zod';
import type { StartupProblem } from '#platform/kernel/errors/errors.ts';
import {
  booleanSetting,
  defineSettings,
  integerSetting,
  postgresUrlSetting,
} from '#platform/kernel/config/settings.ts';

/** The system of record: an external PostgreSQL (`DATABASE_URL`) or the embedded one. */
export const databaseSettings = defineSettings('db', {
  schema: z.object({
    DATABASE_URL: postgresUrlSetting()
      .optional()
      .describe('PostgreSQL connection string; unset, Ballast starts an embedded PostgreSQL in DATA_DIR'),
    DATABASE_POOL_MAX: integerSetting(10, 1, 500).describe('Most connections this process opens'),
    DATABASE_STATEMENT_TIMEOUT_MS: integerSetting(30_000, 0, 3_600_000).describe(
      'Longest a single SQL statement may run (0: no limit)',
    ),
    EMBEDDED_DB_PORT: integerSetting(0, 0, 65535).describe(
      'Preferred port of the embedded PostgreSQL (0: any free port; a port in use is never taken)',
    ),
    ALLOW_EMBEDDED_DB: booleanSetting(false).describe(
      'Opt in to the embedded PostgreSQL in production (single-machine deployments only)',
    ),
    MIGRATE_ON_START: booleanSetting(true).describe('Run pending migrations when a web or worker process starts'),
  }),
  resolve: (values) => ({
    url: values.DATABASE_URL,
    poolMax: values.DATABASE_POOL_MAX,
    statementTimeoutMs: values.DATABASE_STATEMENT_TIMEOUT_MS,
    embeddedPort: values.EMBEDDED_DB_PORT,
    migrateOnStart: values.MIGRATE_ON_START,
  }),
  checkProduction: (values) => {
    const problems: StartupProblem[] = [];
    if (values.DATABASE_URL === undefined && !values.ALLOW_EMBEDDED_DB) {
      problems.push({
        setting: 'DATABASE_URL',
        message: 'is missing, which would start the embedded development database in production',
        fix: 'set DATABASE_URL=postgres://user:password@host:5432/ballast, or ALLOW_EMBEDDED_DB=true for a single-machine install',
      });
    }
    return problems;
  },
});
