import fs from 'node:fs';
import { parseEnv } from 'node:util';
import { Command, CommanderError } from 'commander';
import {
  settingsModulesFor,
  createBallast,
  createLogger,
  shouldPrettyPrint,
  newSigningJwk,
  rotateDevKey,
  formatDoctorReport,
  findPendingMigrations,
  loadConfig,
  migrateToLatest,
  migrationSetsFor,
  openDatabase,
  runDoctor,
} from '@ballast/platform/host';
import { apps } from './apps.ts';
import { printStartupFailure, serve } from './serve.ts';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads `--env-file` (default `.env` when present) beneath the real environment: a variable set
 * in the environment wins over the file.
 */
function environmentWith(envFile: string | undefined, env: Env): Env {
  const file = envFile ?? (fs.existsSync('.env') ? '.env' : undefined);
  if (file === undefined) return env;
  const fromFile = parseEnv(fs.readFileSync(file, 'utf8'));
  return { ...fromFile, ...env };
}

async function migrate(env: Env, statusOnly: boolean): Promise<number> {
  let config;
  try {
    config = loadConfig({ env, apps: settingsModulesFor(apps).apps });
  } catch (error) {
    return printStartupFailure(error);
  }
  const log = createLogger({
    level: config.log.level === 'info' ? 'warn' : config.log.level,
    pretty: shouldPrettyPrint(config),
  });
  const database = await openDatabase({ config, log, applicationName: 'ballast-migrate' });
  try {
    const sets = migrationSetsFor(apps);
    if (statusOnly) {
      const pending = await findPendingMigrations(database.db, sets);
      if (pending.length === 0) process.stdout.write('Every migration is applied.\n');
      for (const item of pending) process.stdout.write(`pending  ${item.schema}/${item.name}\n`);
      return pending.length === 0 ? 0 : 1;
    }
    const reports = await migrateToLatest(database.db, sets);
    const applied = reports.flatMap((report) => report.applied.map((name) => `${report.schema}/${name}`));
    for (const name of applied) process.stdout.write(`applied  ${name}\n`);
    process.stdout.write(
      applied.length === 0
        ? 'Nothing to apply: the database is current.\n'
        : `Applied ${applied.length} migration(s).\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`Migration failed: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await database.close();
  }
}

async function doctor(env: Env, json: boolean): Promise<number> {
  const report = await runDoctor({ apps, env });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
  return report.ready ? 0 : 1;
}

type TasksAction =
  { kind: 'stats' } | { kind: 'dead'; task?: string } | { kind: 'retry'; id: string } | { kind: 'discard'; id: string };

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `ballast tasks ...`: what operators need to see and do about background tasks. */
async function tasksCommand(env: Env, action: TasksAction, json: boolean): Promise<number> {
  let ballast;
  try {
    ballast = await createBallast({ apps, env: { ...env, LOG_LEVEL: env['LOG_LEVEL'] ?? 'warn' }, roles: [] });
  } catch (error) {
    return printStartupFailure(error);
  }
  const out = (text: string) => process.stdout.write(`${text}\n`);
  try {
    switch (action.kind) {
      case 'stats': {
        const stats = await ballast.tasks.stats();
        if (json) return (out(JSON.stringify(stats, null, 2)), 0);
        if (stats.length === 0) return (out('No tasks are defined.'), 0);
        out(
          table([
            [
              'TASK',
              'WAITING',
              'SCHEDULED',
              'RUNNING',
              'COMPLETED',
              'FAILED',
              'DEAD',
              'OLDEST WAITING',
              'FAILURE RATE 1H',
            ],
            ...stats.map((q) => [
              q.task,
              String(q.waiting),
              String(q.scheduled),
              String(q.active),
              String(q.completed),
              String(q.failed),
              String(q.deadLetters),
              `${Math.round(q.oldestWaitingSeconds)} s`,
              `${(q.failureRate * 100).toFixed(1)}%`,
            ]),
          ]),
        );
        return 0;
      }
      case 'dead': {
        const letters = await ballast.tasks.deadLetters(action.task, 1000);
        if (json) return (out(JSON.stringify(letters, null, 2)), 0);
        if (letters.length === 0) return (out('No dead letters.'), 0);
        out(
          table([
            ['ID', 'TASK', 'FAILED AT', 'ATTEMPTS', 'LAST ERROR'],
            ...letters.map((l) => [
              l.id,
              l.task,
              l.failedAt.toISOString(),
              String(l.attempts),
              l.lastError.slice(0, 80),
            ]),
          ]),
        );
        return 0;
      }
      case 'retry':
      case 'discard': {
        const done =
          action.kind === 'retry'
            ? await ballast.tasks.retryDeadLetter(action.id)
            : await ballast.tasks.discardDeadLetter(action.id);
        if (!done) {
          process.stderr.write(`No dead letter with id ${action.id} (see: ballast tasks dead)\n`);
          return 1;
        }
        out(action.kind === 'retry' ? `Requeued ${action.id}.` : `Discarded ${action.id}.`);
        return 0;
      }
    }
  } finally {
    await ballast.stop();
  }
}

/** Runs the `ballast` command line; resolves with the exit code (serving commands keep running). */
export async function runCli(argv: readonly string[], env: Env): Promise<number> {
  let exitCode = 0;
  const program = new Command()
    .name('ballast')
    .description('Ballast: the platform and its four apps')
    .option('--env-file <path>', 'read settings from this file (default: .env when present)')
    .exitOverride()
    .showHelpAfterError();
  const envOf = (): Env => environmentWith(program.opts<{ envFile?: string }>().envFile, env);

  program
    .command('start')
    .description('web server and worker in one process (migrates first; embedded PostgreSQL unless DATABASE_URL)')
    .action(async () => {
      exitCode = await serve(['web', 'worker'], envOf(), apps);
    });
  program
    .command('web')
    .description('the web server only (run several behind a reverse proxy)')
    .action(async () => {
      exitCode = await serve(['web'], envOf(), apps);
    });
  program
    .command('worker')
    .description('the background worker only (run as many as the queue needs)')
    .action(async () => {
      exitCode = await serve(['worker'], envOf(), apps);
    });
  program
    .command('migrate')
    .description('apply pending migrations of the platform and every app')
    .option('--status', 'list pending migrations without applying them (exit 1 when any)')
    .action(async (options: { status?: boolean }) => {
      exitCode = await migrate(envOf(), options.status === true);
    });
  program
    .command('doctor')
    .description('check this deployment from live probes and print a production-readiness report')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      exitCode = await doctor(envOf(), options.json === true);
    });

  const authCommand = program.command('auth').description('access-token signing keys');
  authCommand
    .command('new-key')
    .description('print a new private signing key as a JSON array, for AUTH_SIGNING_KEYS (keep it secret)')
    .action(async () => {
      process.stdout.write(`${JSON.stringify([await newSigningJwk()])}\n`);
    });
  authCommand
    .command('rotate-key')
    .description('development: add a new signing key in DATA_DIR; earlier tokens keep verifying')
    .action(async () => {
      let config;
      try {
        config = loadConfig({ env: envOf(), apps: settingsModulesFor(apps).apps });
      } catch (error) {
        exitCode = printStartupFailure(error);
        return;
      }
      if (config.auth.signingKeys !== undefined) {
        process.stderr.write(
          'AUTH_SIGNING_KEYS is set: rotate by putting a new key (ballast auth new-key) in front of the list.\n',
        );
        exitCode = 1;
        return;
      }
      process.stdout.write(`New signing key ${await rotateDevKey(config.dataDir)}; restart to sign with it.\n`);
    });
  const tasks = program.command('tasks').description('inspect and repair background tasks');
  tasks
    .command('stats')
    .description('counts by state per task, oldest waiting age, failure rate over the last hour')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      exitCode = await tasksCommand(envOf(), { kind: 'stats' }, options.json === true);
    });
  tasks
    .command('dead')
    .description('tasks that failed every retry, with their last error')
    .argument('[task]', 'only this task')
    .option('--json', 'print as JSON')
    .action(async (task: string | undefined, options: { json?: boolean }) => {
      exitCode = await tasksCommand(
        envOf(),
        task === undefined ? { kind: 'dead' } : { kind: 'dead', task },
        options.json === true,
      );
    });
  tasks
    .command('retry')
    .description('put a dead letter back on its queue')
    .argument('<id>', 'the dead letter id (from: ballast tasks dead)')
    .action(async (id: string) => {
      exitCode = await tasksCommand(envOf(), { kind: 'retry', id }, false);
    });
  tasks
    .command('discard')
    .description('delete a dead letter for good')
    .argument('<id>', 'the dead letter id (from: ballast tasks dead)')
    .action(async (id: string) => {
      exitCode = await tasksCommand(envOf(), { kind: 'discard', id }, false);
    });

  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  return exitCode;
}
