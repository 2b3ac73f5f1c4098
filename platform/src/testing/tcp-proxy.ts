import net from 'node:net';

/**
 * What the proxy does with traffic: `pass` forwards it; `black-hole` accepts connections and
 * reads what they send but never forwards or answers, keeping them open (a database failover
 * that leaves clients connected to nothing); `refuse` resets every connection and refuses new ones;
 * `refuse-new` keeps forwarding open connections but resets every new one.
 */
export type TcpProxyMode = 'pass' | 'black-hole' | 'refuse' | 'refuse-new';

/** A TCP proxy in front of a real server, for fault injection in tests. */
export interface TcpProxy {
  readonly port: number;
  readonly mode: TcpProxyMode;
  /** `url` (a postgres:// or other URL to the target) rewritten to go through the proxy. */
  through(url: string): string;
  /** Every open connection goes silent for good, and new ones are accepted and silent too. */
  blackHole(): void;
  /** Resets every connection and stops listening: new connections are refused. */
  refuse(): Promise<void>;
  /** Open connections keep working; every new one is reset as soon as it is accepted. */
  refuseNew(): void;
  /** New connections are forwarded again; connections that went silent stay silent (as after a failover). */
  restore(): Promise<void>;
  /** Closes every connection and the listener. */
  close(): Promise<void>;
}

interface Link {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
  silent: boolean;
}

/** Starts a proxy on a free loopback port in front of `target`, forwarding. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const links = new Set<Link>();
  let mode: TcpProxyMode = 'pass';

  function silence(link: Link): void {
    link.silent = true;
    // The old server is gone: its side is closed, and the client is never told.
    link.upstream?.destroy();
    link.upstream = undefined;
  }

  function forget(link: Link): void {
    link.client.destroy();
    link.upstream?.destroy();
    links.delete(link);
  }

  // allowHalfOpen: a client's goodbye (FIN) is read like any data and never answered.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    if (mode === 'refuse-new') {
      client.resetAndDestroy();
      return;
    }
    const link: Link = { client, upstream: undefined, silent: mode !== 'pass' };
    links.add(link);
    client.on('error', () => forget(link));
    client.on('close', () => forget(link));
    client.on('end', () => {
      if (!link.silent) link.upstream?.end();
    });
    client.on('data', (chunk: Buffer) => {
      if (!link.silent) link.upstream?.write(chunk);
    });
    if (link.silent) return;
    client.pause();
    const upstream = net.connect(target.port, target.host, () => client.resume());
    link.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      if (!link.silent) client.write(chunk);
    });
    upstream.on('error', () => {
      if (!link.silent) forget(link);
    });
    upstream.on('end', () => {
      if (!link.silent) client.end();
    });
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    get mode() {
      return mode;
    },
    through(url) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    blackHole() {
      mode = 'black-hole';
      for (const link of links) silence(link);
    },
    refuseNew() {
      mode = 'refuse-new';
    },
    async refuse() {
      mode = 'refuse';
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const link of [...links]) {
        link.client.resetAndDestroy();
        forget(link);
      }
      await closed;
    },
    async restore() {
      const wasRefusing = mode === 'refuse';
      mode = 'pass';
      if (wasRefusing) await listen(port);
    },
    async close() {
      for (const link of [...links]) forget(link);
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
