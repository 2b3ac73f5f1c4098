import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import getPort from 'get-port';

/** The repository root. */
export const projectRoot = path.resolve(import.meta.dirname, '../..');

/** A Node process started by a test, with its output kept. */
export interface TestProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  stderr(): string;
  /** Resolves when the output matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (null when killed by a signal) and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs a TypeScript entry point with the project's Node (the one running the tests), with a clean
 * environment: only PATH/HOME and the given variables, so a developer's settings cannot leak in.
 */
export function runNode(script: string, args: readonly string[], env: Record<string, string>): TestProcess {
  const child = spawn(process.execPath, [path.join(projectRoot, script), ...args], {
    cwd: projectRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', TZ: 'UTC', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = (): void => {
    for (const waiter of [...waiters]) {
      const match = (out + err).match(waiter.pattern);
      if (match !== null) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    check();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    check();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out + err,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${pattern}; output:\n${out}${err}`)),
          timeoutMs,
        );
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          const match = (out + err).match(pattern);
          if (match !== null) resolve(match);
          else reject(new Error(`process exited (${code ?? signal}) before ${pattern}; output:\n${out}${err}`));
        });
        waiters.push({
          pattern,
          resolve: (match) => {
            clearTimeout(timer);
            resolve(match);
          },
        });
        check();
      });
    },
  };
}

/** Runs the `ballast` command line. */
export function runBallast(args: readonly string[], env: Record<string, string>): TestProcess {
  return runNode('cli/bin/ballast.ts', args, env);
}

/** Starts a serving command and resolves once it listens, with its base URL. */
export async function startServing(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ process: TestProcess; url: string }> {
  const port = await getPort();
  const running = runNode(script, args, { HOST: '127.0.0.1', PORT: String(port), ...env });
  await running.waitFor(/"msg":"Ballast is serving"/);
  return { process: running, url: `http://127.0.0.1:${port}` };
}

/** Stops a process with SIGTERM and resolves with how it exited. */
export async function terminate(running: TestProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGTERM');
  return running.exited;
}
