import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '#platform/kernel/config/load-config.ts';
import { StartupError } from '#platform/kernel/errors/errors.ts';
import { runDoctor } from '#platform/modules/health/doctor.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { createTestDatabase, type TestDatabase } from '#platform/testing/database.ts';
import { makeTempDir } from '#platform/testing/temp.ts';
import { parseTrustProxy } from './trust-proxy.ts';

/**
 * TRUST_PROXY end to end: a real server, real HTTP from 127.0.0.1 (or ::1) standing in for the
 * proxy, and two clients behind it told apart only by X-Forwarded-For. Sign-in throttling is
 * set to one attempt per client and email, so a shared bucket shows as a 429.
 */
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.drop();
});

async function behindProxy(setting: string, host = '127.0.0.1'): Promise<{ node: TestBallast; url: string }> {
  const node = await startTestBallast({
    databaseUrl: database.url,
    env: { TRUST_PROXY: setting, AUTH_SIGN_IN_ATTEMPTS: '1', HOST: host },
  });
  const address = node.ballast.server!.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { node, url: host.includes(':') ? `http://[${host}]:${port}` : node.url };
}

/** A failed sign-in as the proxy forwards it; resolves with the status. */
async function failSignIn(url: string, email: string, forwardedFor: string): Promise<number> {
  const response = await fetch(`${url}/api/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    body: JSON.stringify({ email, password: 'not the password' }),
  });
  await response.body?.cancel();
  return response.status;
}

/** The IPs the audit trail recorded for failed sign-ins to `email`, oldest first. */
async function auditedIps(node: TestBallast, email: string): Promise<string[]> {
  const rows = await sql<{ ip: string }>`select ip from platform.audit_event
    where action = 'auth.sign_in_failed' and details->>'email' = ${email} order by id`.execute(
    node.ballast.database.db,
  );
  return rows.rows.map((row) => row.ip);
}

describe('TRUST_PROXY behind a proxy', () => {
  const trusted = [
    { setting: '1', form: 'a hop count', host: '127.0.0.1' },
    { setting: 'true', form: 'true', host: '127.0.0.1' },
    { setting: '10.0.0.0/8, 127.0.0.0/8', form: 'a CIDR list', host: '127.0.0.1' },
    { setting: '10.1.2.3 ,::1,  127.0.0.1', form: 'addresses, IPv4 and IPv6 mixed, with spaces', host: '127.0.0.1' },
    { setting: '10.1.2.3, ::1', form: 'addresses, the proxy on IPv6', host: '::1' },
  ];

  it.each(trusted)(
    'with $form ($setting), two clients get their own sign-in budget and their own IP in the audit trail',
    async ({ setting, host }) => {
      const { node, url } = await behindProxy(setting, host);
      try {
        const email = `victim-${trusted.findIndex((entry) => entry.setting === setting)}@example.com`;
        expect(await failSignIn(url, email, '203.0.113.10')).toBe(401);
        expect(await failSignIn(url, email, '203.0.113.10')).toBe(429);
        // Same proxy, same socket address, another client: a budget of its own.
        expect(await failSignIn(url, email, '198.51.100.20')).toBe(401);
        expect(await auditedIps(node, email)).toEqual(['203.0.113.10', '198.51.100.20']);
      } finally {
        await node.close();
      }
    },
  );

  it('with a hop count, believes only what the nearest proxy appended, not what the client wrote', async () => {
    const { node, url } = await behindProxy('1');
    try {
      const email = 'hops@example.com';
      expect(await failSignIn(url, email, '192.0.2.66, 203.0.113.10')).toBe(401);
      expect(await failSignIn(url, email, '192.0.2.77, 203.0.113.10')).toBe(429);
      expect(await auditedIps(node, email)).toEqual(['203.0.113.10']);
    } finally {
      await node.close();
    }
  });

  it('counts an IPv6 client by its /64, so rotating addresses inside it earns no fresh budget', async () => {
    const { node, url } = await behindProxy('1');
    try {
      const email = 'ipv6@example.com';
      expect(await failSignIn(url, email, '2001:db8:1:2::10')).toBe(401);
      expect(await failSignIn(url, email, '2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(429);
      // The next /64 is another customer; an IPv4-mapped address counts as its IPv4 address.
      expect(await failSignIn(url, email, '2001:db8:1:3::10')).toBe(401);
      expect(await failSignIn(url, email, '203.0.113.10')).toBe(401);
      expect(await failSignIn(url, email, '::ffff:203.0.113.10')).toBe(429);
      // The audit trail keeps each full address.
      expect(await auditedIps(node, email)).toEqual(['2001:db8:1:2::10', '2001:db8:1:3::10', '203.0.113.10']);
    } finally {
      await node.close();
    }
  });

  it.each(['10.0.0.0/8', 'false'])(
    'with TRUST_PROXY=%s, ignores X-Forwarded-For from a peer it does not trust',
    async (setting) => {
      const { node, url } = await behindProxy(setting);
      try {
        const email = `untrusted-${setting.replace(/\W/g, '')}@example.com`;
        expect(await failSignIn(url, email, '203.0.113.10')).toBe(401);
        expect(await failSignIn(url, email, '198.51.100.20')).toBe(429);
        expect(await auditedIps(node, email)).toEqual(['127.0.0.1']);
      } finally {
        await node.close();
      }
    },
  );
});

describe('TRUST_PROXY settings', () => {
  it.each([
    ['', false],
    ['false', false],
    ['0', false],
    ['TRUE', true],
    ['2', 2],
    [' 10.0.0.0/8 , fd00::/8,192.168.1.7 ', ['10.0.0.0/8', 'fd00::/8', '192.168.1.7']],
    ['loopback, 172.16.0.0/255.240.0.0', ['loopback', '172.16.0.0/255.240.0.0']],
  ] as const)('reads %j as %j', (value, expected) => {
    expect(parseTrustProxy(value)).toEqual({ trust: expected, problems: [] });
  });

  it('refuses to start on an entry that is not an address or range, naming each one', () => {
    const env = {
      NODE_ENV: 'test',
      DATA_DIR: makeTempDir(),
      TRUST_PROXY: '10.0.0.0/8, 10.0.0.300, proxy.internal, ::1/129, 1',
    };
    let problems: readonly { setting: string; message: string }[] = [];
    try {
      loadConfig({ env, devSecrets: 'read-only' });
    } catch (error) {
      if (!(error instanceof StartupError)) throw error;
      problems = error.problems;
    }
    expect(problems.map((problem) => problem.setting)).toEqual([
      'TRUST_PROXY',
      'TRUST_PROXY',
      'TRUST_PROXY',
      'TRUST_PROXY',
    ]);
    expect(problems.map((problem) => problem.message.split(' ')[0])).toEqual([
      '"10.0.0.300"',
      '"proxy.internal"',
      '"::1/129"',
      '"1"',
    ]);
  });
});

describe('doctor', () => {
  const production = {
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://app.example.com',
    CORS_ORIGINS: 'https://app.example.com',
    SESSION_SECRET: 'p7Vd2-Lq9xWm4KsT8nRb1yZc6HfJ3gUe0aPo5iQw',
    SIGNING_SECRET: 'Qa1Ws2Ed3Rf4Tg5Yh6Uj7Ik8Ol9Pz0Xc-VbNmLkJh',
    // Never reached: the doctor's database probe fails at once, the proxy line is what is read.
    DATABASE_URL: 'postgres://ballast@127.0.0.1:1/none',
  };

  async function proxyLine(env: Record<string, string>) {
    const report = await runDoctor({ apps: [], env: { DATA_DIR: makeTempDir(), ...env } });
    return report.checks.find((check) => check.name === 'proxy');
  }

  it('says which clients are trusted, and warns in production when no proxy or every hop is trusted', async () => {
    expect(await proxyLine({ ...production, TRUST_PROXY: '1' })).toEqual({
      name: 'proxy',
      status: 'pass',
      message: 'TRUST_PROXY: trusting 1 hop (the nearest proxy)',
    });
    expect(await proxyLine({ ...production, TRUST_PROXY: '10.0.0.0/8' })).toMatchObject({
      status: 'pass',
      message: 'TRUST_PROXY: trusting 10.0.0.0/8',
    });
    expect(await proxyLine(production)).toMatchObject({
      status: 'warn',
      fix: expect.stringContaining('TRUST_PROXY=1'),
    });
    expect(await proxyLine({ ...production, TRUST_PROXY: 'true' })).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('which any client can write'),
    });
    expect(await proxyLine({ NODE_ENV: 'development' })).toMatchObject({
      status: 'pass',
      message: expect.stringContaining('TRUST_PROXY: off'),
    });
  });
});
