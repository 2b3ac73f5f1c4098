import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

/**
 * The unit tier's guard: a unit test exercises pure functions, so opening a connection (PostgreSQL,
 * Redis, fetch), listening on a port or starting a process is refused with a message saying where
 * such a test belongs. Files on disk are not refused: reading a fixture is not what makes a test slow
 * or order-dependent.
 */
function refuse(what: string): never {
  throw new Error(
    `a unit test does no I/O (${what}): name the file *.test.ts (integration) or move it to tests/system/`,
  );
}

const guarded = Symbol.for('ballast.test.noIo');
const realm = globalThis as unknown as Record<symbol, boolean | undefined>;
if (realm[guarded] !== true) {
  realm[guarded] = true;
  net.Socket.prototype.connect = function connect(): never {
    refuse('a network connection');
  };
  net.Server.prototype.listen = function listen(): never {
    refuse('a listening server');
  };
  for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
    (childProcess as unknown as Record<string, unknown>)[name] = () => refuse(`child_process.${name}`);
  }
  syncBuiltinESMExports();
}
