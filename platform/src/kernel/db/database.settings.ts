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
    DATABASE_QUERY_TIMEOUT_MS: integerSetting(35_000, 0, 3_600_000).describe(
      'Longest Ballast waits for any answer from the database before it gives up on the connection (0: forever); keep it above DATABASE_STATEMENT_TIMEOUT_MS',
    ),
    DATABASE_CONNECT_TIMEOUT_MS: integerSetting(5000, 100, 120_000).describe(
      'Longest opening a database connection may take',
    ),
    DATABASE_KEEPALIVE_DELAY_MS: integerSetting(10_000, 1000, 3_600_000).describe(
      'Idle time before TCP keep-alive probes check that the database host still answers',
    ),
    DATABASE_LISTENER_CHECK_MS: integerSetting(10_000, 500, 600_000).describe(
      'How often each LISTEN connection (live updates, task wake-ups), and the Redis subscriber of live updates, proves it still answers; a silent one is reopened',
    ),
    EMBEDDED_DB_PORT: integerSetting(0, 0, 65535).describe(
      'Preferred port of the embedded PostgreSQL (0: any free port; a port in use is never taken)',
    ),
    ALLOW_EMBEDDED_DB: booleanSetting(false).describe(
      'Opt in to the embedded PostgreSQL in production (single-machine deployments only)',
    ),
    EMBEDDED_DB_RESTARTS: integerSetting(3, 0, 100).describe(
      'Times the embedded PostgreSQL is restarted after it dies before the process gives up and exits non-zero',
    ),
    DATABASE_PREPARED_STATEMENTS: booleanSetting(true).describe(
      'Repeated statements are prepared once per connection instead of planned at every call (turn off behind a pooler that cannot keep them, such as PgBouncer before 1.21 in transaction mode)',
    ),
    MIGRATE_ON_START: booleanSetting(true).describe('Run pending migrations when a web or worker process starts'),
  }),
  resolve: (values) => ({
    url: values.DATABASE_URL,
    poolMax: values.DATABASE_POOL_MAX,
    statementTimeoutMs: values.DATABASE_STATEMENT_TIMEOUT_MS,
    queryTimeoutMs: values.DATABASE_QUERY_TIMEOUT_MS,
    connectTimeoutMs: values.DATABASE_CONNECT_TIMEOUT_MS,
    keepAliveDelayMs: values.DATABASE_KEEPALIVE_DELAY_MS,
    listenerCheckMs: values.DATABASE_LISTENER_CHECK_MS,
    embeddedRestarts: values.EMBEDDED_DB_RESTARTS,
    embeddedPort: values.EMBEDDED_DB_PORT,
    migrateOnStart: values.MIGRATE_ON_START,
    preparedStatements: values.DATABASE_PREPARED_STATEMENTS,
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
    const { DATABASE_QUERY_TIMEOUT_MS: query, DATABASE_STATEMENT_TIMEOUT_MS: statement } = values;
    if (query > 0 && (statement === 0 || query <= statement)) {
      problems.push({
        setting: 'DATABASE_QUERY_TIMEOUT_MS',
        message: `(${query} ms) would give up on connections whose statements the server still runs (DATABASE_STATEMENT_TIMEOUT_MS is ${statement === 0 ? 'unlimited' : `${statement} ms`})`,
        fix: 'set DATABASE_STATEMENT_TIMEOUT_MS below DATABASE_QUERY_TIMEOUT_MS, e.g. 30000 and 35000',
      });
    }
    return problems;
  },
});
