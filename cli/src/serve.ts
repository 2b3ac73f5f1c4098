import closeWithGrace from 'close-with-grace';
import type { AppDefinition } from '@ballast/platform';
import { StartupError, createBallast, type Ballast, type Role } from '@ballast/platform/host';

type Env = Readonly<Record<string, string | undefined>>;

/** Prints why start-up failed; every problem for a StartupError. */
export function printStartupFailure(error: unknown): number {
  if (error instanceof StartupError) {
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
  process.stderr.write(
    `Ballast failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return 1;
}

/**
 * The lines a developer reads first: where the site is, what to do on a first run, where the
 * development inbox is, and how to stop.
 */
export async function developmentBanner(ballast: Ballast, url: string): Promise<string> {
  const lines = [`Ballast is running at ${url}`];
  if (await ballast.auth.setupRequired()) lines.push(`First run: create the administrator at ${url}/setup`);
  if (ballast.config.notify.smtpUrl === undefined) lines.push(`Emails and text messages land in ${url}/dev/inbox`);
  lines.push('Press Ctrl-C to stop.');
  return `\n${lines.map((line) => `  ${line}`).join('\n')}\n\n`;
}

/**
 * Boots Ballast with the given roles and serves until a signal: the first SIGTERM/SIGINT drains
 * (requests, websockets, running tasks) within SHUTDOWN_TIMEOUT_MS, a second exits at once.
 * Resolves with 0 once serving, or 1 when start-up failed (the reasons printed to stderr). A
 * process that can no longer serve (its embedded PostgreSQL is dead for good) shuts down and
 * exits 1. In development a short banner says where the site is.
 */
export async function serve(roles: Role[], env: Env, apps: readonly AppDefinition[]): Promise<number> {
  let ballast: Ballast;
  let fatal: Error | undefined;
  // Set once close-with-grace is installed: a fatal failure shuts down through it.
  const shutdown: { start?: () => void } = {};
  try {
    ballast = await createBallast({
      apps,
      env,
      roles,
      onFatal: (error) => {
        fatal = error;
        shutdown.start?.();
      },
    });
  } catch (error) {
    return printStartupFailure(error);
  }
  const { log, config } = ballast;
  const grace = closeWithGrace(
    {
      delay: config.http.shutdownTimeoutMs,
      logger: { error: (message: string) => log.error(message) },
      onSecondSignal: (signal: string) => log.warn({ signal }, 'second signal: exiting now'),
      onTimeout: (delay: number) => log.error({ delay }, 'graceful shutdown timed out: exiting now'),
    },
    async ({ signal, err }) => {
      if (err !== undefined) log.fatal({ err }, 'fatal error: shutting down');
      else if (fatal !== undefined) log.fatal('this process cannot serve any more: shutting down, exit status 1');
      else log.info({ signal }, 'signal received: shutting down gracefully');
      await ballast.stop();
      // close-with-grace exits 1 when this throws, 0 otherwise.
      if (err !== undefined) throw err;
      if (fatal !== undefined) throw fatal;
    },
  );
  shutdown.start = () => void grace.close();
  try {
    const url = await ballast.start();
    if (url !== undefined && config.env === 'development') process.stdout.write(await developmentBanner(ballast, url));
  } catch (error) {
    // Without this, close-with-grace would run again as the event loop empties, and exit 0.
    grace.uninstall();
    if (error instanceof StartupError) printStartupFailure(error);
    else log.fatal({ err: error }, 'could not start');
    await ballast.stop();
    return 1;
  }
  return 0;
}
