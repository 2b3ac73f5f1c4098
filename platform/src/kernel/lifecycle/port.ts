import net from 'node:net';
import type { StartupProblem } from '#platform/kernel/errors/errors.ts';

/**
 * True when the web server could listen on `host:port` now (`localhost` is both loopback
 * addresses, as the server listens on both). Port 0 (any free port) is always free.
 */
export async function checkPortFree(host: string, port: number): Promise<boolean> {
  if (port === 0) return true;
  for (const address of host === 'localhost' ? ['127.0.0.1', '::1'] : [host]) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.unref();
      // Any other error (no IPv6 here, a privileged port) is the real listen's to report.
      server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'EADDRINUSE'));
      server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

/** The start-up problem of a port another program already listens on. */
export function portInUse(port: number): StartupProblem {
  return {
    setting: 'PORT',
    message: `port ${port} is in use (another program, or Ballast already running, listens on it)`,
    fix: `stop that program, or set PORT to a free port, e.g. PORT=${port === 65535 ? port - 1 : port + 1}`,
  };
}
