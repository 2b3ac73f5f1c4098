import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestUser, startTestBallast, type TestBallast, type TestUser } from '@ballast/platform/testing';
import { apps } from '../../cli/src/apps.ts';

/**
 * Text PostgreSQL cannot store (a NUL character, an unpaired surrogate) is refused with a 400
 * naming the field, on every route of the platform and of every app, before any handler runs:
 * once, in the shared HTTP layer, not route by route.
 */
let server: TestBallast;
let admin: TestUser;
let member: TestUser;

beforeAll(async () => {
  // Every refused registration still counts towards the per-IP limit (it runs first).
  server = await startTestBallast({ apps, env: { AUTH_REGISTRATIONS_PER_HOUR: '1000' } });
  admin = await createTestUser(server.ballast, 'admin@example.com', { roles: ['platform:admin'] });
  member = await createTestUser(server.ballast, 'member@example.com', { roles: ['coach:user'] });
});

afterAll(async () => {
  await server?.close();
});

interface Answer {
  readonly status: number;
  readonly body: { code?: string; errors?: { field: string; message: string }[] };
}

async function call(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    redirect: 'manual',
    headers: {
      accept: 'application/json',
      ...headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const json = (response.headers.get('content-type') ?? '').includes('json');
  return { status: response.status, body: json ? ((await response.json()) as Answer['body']) : {} };
}

function refusedFor(field: string, message: RegExp) {
  return {
    status: 400,
    body: expect.objectContaining({
      code: 'http.invalid_text',
      errors: [{ field, message: expect.stringMatching(message) }],
    }) as unknown,
  };
}

describe('text the database cannot store', () => {
  it('is refused in the query string of every route, as every caller, before the handler runs', async () => {
    const routes = server.ballast.server!.routeCatalog;
    expect(routes.length).toBeGreaterThan(50);
    const failures: string[] = [];
    for (const route of routes) {
      const path = route.url
        .replace(/:app\b/g, 'coach')
        .replace(/:\w+/g, randomUUID())
        .replace(/\*$/, 'x');
      const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : '{}';
      const answer = await call(route.method, `${path}?probe=%00`, body, admin.headers);
      if (answer.status !== 400 || answer.body.code !== 'http.invalid_text') {
        failures.push(`${route.method} ${route.url}: ${answer.status} ${answer.body.code ?? ''}`);
      } else {
        expect(answer.body.errors).toEqual([{ field: 'querystring.probe', message: expect.stringContaining('NUL') }]);
      }
    }
    expect(failures).toEqual([]);
  });

  it('is refused in registration, sign-in and a coach route, naming the field, without signing in', async () => {
    const email = 'ada@example.com';
    const password = 'a long enough passphrase';
    expect(await call('POST', '/api/auth/register', { email, password, displayName: 'Ada\u0000' }, {})).toEqual(
      refusedFor('body.displayName', /NUL/),
    );
    expect(await call('POST', '/api/auth/register', { email, password, displayName: 'Ada \ud800' }, {})).toEqual(
      refusedFor('body.displayName', /unpaired/),
    );
    expect(await call('POST', '/api/auth/sign-in', { email: 'ada\u0000@example.com', password }, {})).toEqual(
      refusedFor('body.email', /NUL/),
    );
    expect(await call('POST', '/api/auth/sign-in', { email, password: '\udc00 lone low surrogate' }, {})).toEqual(
      refusedFor('body.password', /unpaired/),
    );
    const transcript = [
      { role: 'user', text: 'hello' },
      { role: 'agent', text: 'hi\u0000there' },
    ];
    expect(await call('POST', `/api/coach/calls/${randomUUID()}/end`, { transcript }, member.headers)).toEqual(
      refusedFor('body.transcript.1.text', /NUL/),
    );
  });

  it('is refused in JSON keys and query strings', async () => {
    expect(
      await call('POST', '/api/auth/register', { email: 'k@example.com', password: 'long enough', 'x\u0000': 1 }, {}),
    ).toEqual(refusedFor('body', /has a key that contains a NUL/));
    expect(await call('POST', '/api/auth/sign-in', '{"email":"k@example.com","password":"p","\\ud800":1}', {})).toEqual(
      refusedFor('body', /has a key that contains an unpaired/),
    );
    expect(await call('GET', '/api/audit?actor=a%00b', undefined, admin.headers)).toEqual(
      refusedFor('querystring.actor', /NUL/),
    );
  });
});
