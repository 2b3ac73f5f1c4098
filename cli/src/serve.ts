import closeWithGrace from 'close-with-grace';
import { StartupError, createBallast, type AppDefinition, type Ballast, type Role } from '@ballast/platform';

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
 * Boots Ballast with the given roles and serves until a signal: the first SIGTERM/SIGINT drains
 * (requests, websockets, running tasks) within SHUTDOWN_TIMEOUT_MS, a second exits at once.
 * Resolves with 0 once serving, or 1 when start-up failed (the reasons printed to stderr).
 */
export async function serve(roles: Role[], env: Env, apps: readonly AppDefinition[]): Promise<number> {
  let ballast: Ballast;
  try {
    ballast = await createBallast({ apps, env, roles });
  } catch (error) {
    return printStartupFailure(error);
  }
  const { log, config } = ballast;
  closeWithGrace(
    {
      delay: config.http.shutdownTimeoutMs,
      logger: { error: (message: string) => log.error(message) },
      onSecondSignal: (signal: string) => log.warn({ signal }, 'second signal: exiting now'),
      onTimeout: (delay: number) => log.error({ delay }, 'graceful shutdown timed out: exiting now'),
    },
    async ({ signal, err }) => {
      if (err !== undefined) log.fatal({ err }, 'fatal error: shutting down');
      else log.info({ signal }, 'signal received: shutting down gracefully');
      await ballast.stop();
      if (err !== undefined) throw err;
    },
  );
  try {
    await ballast.start();
  } catch (error) {
    log.fatal({ err: error }, 'could not start');
    await ballast.stop();
    return 1;
  }
  return 0;
}
