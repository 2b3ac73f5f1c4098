import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { testSigningKeys } from '#platform/testing/keys.ts';

const failingApp = defineApp({
  name: 'failing',
  title: 'Failing',
  summary: 'Throws.',
  status: 'available',
  defaultAccess: 'public',
  routes: async (router) => {
    router.get('/boom', async () => {
      const error = new Error('relation "secret_internal_table" does not exist');
      throw error;
    });
  },
});

let server: TestBallast;

beforeAll(async () => {
  server = await startTestBallast({
    apps: [failingApp],
    listen: false,
    env: {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://app.example.com',
      CORS_ORIGINS: 'https://app.example.com',
      SESSION_SECRET: 'p7Vd2-Lq9xWm4KsT8nRb1yZc6HfJ3gUe0aPo5iQw',
      SIGNING_SECRET: 'Qa1Ws2Ed3Rf4Tg5Yh6Uj7Ik8Ol9Pz0Xc-VbNmLkJh',
      AUTH_SIGNING_KEYS: await testSigningKeys(),
      SMTP_URL: 'smtp://127.0.0.1:2525',
    },
  });
});

afterAll(async () => {
  await server.close();
});

/** A request as browsers send it in production: to PUBLIC_URL's host. */
function inject(options: InjectOptions) {
  return server.ballast.server!.inject({ ...options, headers: { host: 'app.example.com', ...options.headers } });
}

describe('in production', () => {
  it('sends HSTS and upgrades insecure requests', async () => {
    const api = await inject({ method: 'GET', url: '/healthz' });
    expect(api.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const page = await inject({ method: 'GET', url: '/', headers: { accept: 'text/html' } });
    expect(page.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(String(page.headers['content-security-policy'])).toContain('upgrade-insecure-requests');
  });

  it('answers an unexpected error with a 500 problem that carries no stack or internals', async () => {
    const response = await inject({ method: 'GET', url: '/api/failing/boom' });
    expect(response.statusCode).toBe(500);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toEqual({
      type: 'urn:ballast:problem:internal',
      title: 'Internal server error',
      status: 500,
      detail: 'Internal server error',
      code: 'http.internal',
      instance: '/api/failing/boom',
      requestId: response.headers['x-request-id'],
    });
    expect(response.body).not.toContain('secret_internal_table');
  });

  it('shows operator pages and the development inbox to nobody but a platform admin', async () => {
    const setup = await inject({
      method: 'POST',
      url: '/api/auth/setup',
      payload: { email: 'root@example.com', password: 'a production admin passphrase' },
    });
    expect(setup.statusCode).toBe(201);
    const signIn = await inject({
      method: 'POST',
      url: '/api/auth/sign-in',
      payload: { email: 'root@example.com', password: 'a production admin passphrase' },
    });
    const token = signIn.json<{ token: string }>().token;
    expect((await inject({ method: 'GET', url: '/admin/tasks' })).statusCode).toBe(404);
    const asAdmin = await inject({
      method: 'GET',
      url: '/admin/tasks',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(asAdmin.statusCode).toBe(200);
    expect(asAdmin.body).toContain('Background tasks');
    expect(
      (await inject({ method: 'GET', url: '/dev/inbox', headers: { authorization: `Bearer ${token}` } })).statusCode,
    ).toBe(404);
  });

  it("answers only PUBLIC_URL's host, except the health probes, which load balancers call by IP", async () => {
    for (const host of ['evil.example', 'localhost', '127.0.0.1:3000', 'app.example.com.evil.example']) {
      const answer = await inject({ method: 'GET', url: '/api/auth/session', headers: { host } });
      expect(answer.statusCode, host).toBe(400);
      expect(answer.json()).toMatchObject({ code: 'http.host_not_allowed' });
    }
    expect((await inject({ method: 'GET', url: '/api/auth/session' })).statusCode).toBe(200);
    expect(
      (await inject({ method: 'GET', url: '/api/auth/session', headers: { host: 'APP.example.com:443' } })).statusCode,
    ).toBe(200);
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      const answer = await inject({ method: 'GET', url, headers: { host: '10.0.0.7:3000' } });
      expect(answer.statusCode, url).not.toBe(400);
    }
  });
});
