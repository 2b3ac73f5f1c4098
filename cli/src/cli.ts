import fs from 'node:fs';
import { parseEnv } from 'node:util';
import { Command, CommanderError } from 'commander';
import {
  appSettingsModules,
  createLogger,
  formatDoctorReport,
  findPendingMigrations,
  loadConfig,
  migrateToLatest,
  migrationSetsFor,
  openDatabase,
  runDoctor,
} from '@ballast/platform';
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
    config = loadConfig({ env, apps: appSettingsModules(apps) });
  } catch (error) {
    return printStartupFailure(error);
  }
  const log = createLogger({
    level: config.log.level === 'info' ? 'warn' : config.log.level,
    pretty: config.log.pretty,
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

  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  return exitCode;
}
