import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBallast, type PermissionRows, type TestBallast } from '@ballast/platform/testing';
import { apps } from '../../cli/src/apps.ts';
import { projectRoot } from '../support/process.ts';

/**
 * The permission matrix: every route of the platform and of every app, with who may call it.
 * The tables are the reviewed intent: the platform's here, each app's beside the app in
 * `apps/<app>/server/<app>.permissions.ts`. The test fails when a route exists without an entry,
 * when its declared access differs from the entry, or when a caller is let in or kept out against it.
 * `otherUsersObjects` lists routes that act on another user's object and must refuse a plain user.
 */
const platformRows: PermissionRows = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'public',
  'GET /': 'public',
  'GET /.well-known/jwks.json': 'public',
  'GET /api/auth/config': 'public',
  'POST /api/auth/register': 'public',
  'POST /api/auth/verify-email': 'public',
  'POST /api/auth/sign-in': 'public',
  'POST /api/auth/sign-out': 'user',
  'GET /api/auth/me': 'user',
  'PATCH /api/auth/me': 'user',
  'GET /api/auth/sessions': 'user',
  'POST /api/auth/sessions/sign-out-others': 'user',
  'GET /api/auth/session': 'public',
  'POST /api/auth/password': 'user',
  'POST /api/auth/reset-request': 'public',
  'POST /api/auth/reset': 'public',
  'POST /api/auth/reset/check': 'public',
  'POST /api/auth/resend-confirmation': 'public',
  'POST /api/auth/google': 'public',
  'GET /api/auth/setup': 'public',
  'POST /api/auth/setup': 'public',
  // Approvers (any signed-in user holding an approver role) and admins; the service refuses others.
  'GET /api/auth/admin/users': 'user',
  'GET /api/auth/admin/roles': 'user',
  'POST /api/auth/admin/users/:id/approve': 'user',
  'POST /api/auth/admin/users/:id/roles': 'user',
  'POST /api/auth/admin/users/:id/disable': 'admin',
  'POST /api/auth/admin/users/:id/enable': 'admin',
  'GET /api/notifications/preferences': 'user',
  'PUT /api/notifications/preferences': 'user',
  'GET /api/audit': 'admin',
  'GET /api/audit.csv': 'admin',
  'GET /api/audit/facets': 'admin',
  'GET /realtime': 'public',
  // Payments: what is sold is public; everything about a buyer needs the buyer (orders of other
  // users answer 404, tested in payments.test.ts); Razorpay's webhook proves itself by signature.
  'GET /api/payments/:app/packs': 'public',
  'GET /api/payments/:app/balance': 'user',
  'POST /api/payments/:app/orders': 'user',
  'POST /api/payments/:app/orders/:id/confirm': 'user',
  'GET /api/payments/:app/purchases': 'user',
  'GET /api/payments/:app/purchases/:id': 'user',
  'POST /api/payments/webhooks/razorpay': 'public',
  'GET /payments/test-checkout': 'public',
  'POST /api/payments/test/pay': 'user',
  'GET /api/payments/admin/users/:id': 'admin',
  'POST /api/payments/:app/admin/users/:id/grants': 'admin',
  // Storage: uploads, links and removal need a signed-in user (the use's own access, ownership
  // and grants are checked inside); a download link is its own credential (signed, expiring).
  'POST /api/storage/:app/uploads/:use': 'user',
  'POST /api/storage/:app/direct/:use': 'user',
  'POST /api/storage/:app/direct/:id/complete': 'user',
  'POST /api/storage/:app/files/:id/link': 'user',
  'DELETE /api/storage/:app/files/:id': 'user',
  'GET /api/storage/files/:id': 'public',
  // Documents: only the owner's own (checked inside; others get 404).
  'POST /api/documents/:app': 'user',
  'GET /api/documents/:app/:id': 'user',
  'PUT /api/documents/:app/:id/text': 'user',
  // Page shells: they hold no data (the API they call checks access); /setup is 404 after setup.
  'GET /sign-in': 'public',
  'GET /register': 'public',
  'GET /reset': 'public',
  'GET /reset/confirm': 'public',
  'GET /verify-email': 'public',
  'GET /account': 'public',
  'GET /awaiting-approval': 'public',
  'GET /welcome': 'public',
  'GET /setup': 'public',
  'GET /receipts/:app/:id': 'public',
};

/** Each app's own rows, by app name (an app without routes may have no file). */
const appRows: Readonly<Record<string, PermissionRows>> = Object.fromEntries(
  await Promise.all(
    apps.map(async (app) => {
      const file = path.join(projectRoot, 'apps', app.name, 'server', `${app.name}.permissions.ts`);
      if (!fs.existsSync(file)) return [app.name, {}];
      const rows = ((await import(pathToFileURL(file).href)) as { permissions: PermissionRows }).permissions;
      return [app.name, rows];
    }),
  ),
);

const reviewed: PermissionRows = Object.assign({}, platformRows, ...Object.values(appRows));

/** Routes on another user's object: a plain signed-in user must be refused even where 'user' passes the guard. */
const otherUsersObjects = [
  'GET /api/auth/admin/users',
  'GET /api/auth/admin/roles',
  'POST /api/auth/admin/users/:id/approve',
  'POST /api/auth/admin/users/:id/roles',
  'POST /api/auth/admin/users/:id/disable',
  'POST /api/auth/admin/users/:id/enable',
];

/** Routes outside the matrix: documentation, static files, operator pages gated by environment. */
const outside = (url: string) =>
  url.startsWith('/docs') || url.startsWith('/assets') || url.startsWith('/admin/') || url.startsWith('/dev/');

let server: TestBallast;
const tokens: Record<'user' | 'admin', string> = { user: '', admin: '' };

async function post(path: string, body: unknown, token?: string) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  // Many registrations from one IP in this file: the limit itself is tested in auth.test.ts.
  server = await startTestBallast({ apps, env: { AUTH_REGISTRATIONS_PER_HOUR: '1000' } });
  await post('/api/auth/setup', { email: 'matrix-admin@example.com', password: 'matrix admin passphrase' });
  tokens.admin = (
    await post('/api/auth/sign-in', { email: 'matrix-admin@example.com', password: 'matrix admin passphrase' })
  )['token'] as string;
  // A plain user (the registration flow itself is tested elsewhere).
  const admin = tokens.admin;
  await post('/api/auth/register', { email: 'matrix-user@example.com', password: 'matrix user passphrase' });
  await server.ballast.database.db
    .withSchema('platform')
    .updateTable('user' as never)
    .set({ email_verified_at: new Date() } as never)
    .where('email' as never, '=', 'matrix-user@example.com' as never)
    .execute();
  tokens.user = (
    await post('/api/auth/sign-in', { email: 'matrix-user@example.com', password: 'matrix user passphrase' })
  )['token'] as string;
  expect(admin).not.toBe('');
  expect(tokens.user).not.toBe('');
});

afterAll(async () => {
  await server.close();
});

function routes() {
  // Signing out the other sessions renews the caller's token (taken from its answer) and sign-out
  // revokes it: try them last, in that order.
  const signOutLast = (url: string) =>
    url === '/api/auth/sign-out' ? 2 : url === '/api/auth/sessions/sign-out-others' ? 1 : 0;
  return server.ballast
    .server!.routeCatalog.filter((route) => !outside(route.url))
    .toSorted((a, b) => signOutLast(a.url) - signOutLast(b.url));
}

async function attempt(
  method: string,
  url: string,
  token?: string,
): Promise<{ status: number; code?: string; token?: string }> {
  const path = url.replace(/:[a-zA-Z]+/g, '00000000-0000-4000-8000-000000000000');
  if (url === '/realtime') return { status: 0 };
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(method === 'GET' ? {} : { 'content-type': 'application/json' }),
    },
    ...(method === 'GET' ? {} : { body: '{}' }),
  });
  const text = await response.text();
  let code: string | undefined;
  let renewed: string | undefined;
  try {
    ({ code, token: renewed } = JSON.parse(text) as { code?: string; token?: string });
  } catch {
    code = undefined;
  }
  return {
    status: response.status,
    ...(code === undefined ? {} : { code }),
    ...(url === '/api/auth/sessions/sign-out-others' && renewed !== undefined ? { token: renewed } : {}),
  };
}

const refused = (answer: { status: number; code?: string }) =>
  (answer.status === 401 || answer.status === 403) && (answer.code ?? '').startsWith('auth.');

describe('the permission matrix', () => {
  it("takes from each app only rows for that app's own routes, never the platform's", () => {
    const strays = Object.entries(appRows).flatMap(([app, rows]) =>
      Object.keys(rows).filter((key) => {
        const url = key.slice(key.indexOf(' ') + 1);
        return !(url.startsWith(`/api/${app}/`) || url === `/${app}/` || url.startsWith(`/${app}/`));
      }),
    );
    expect(strays).toEqual([]);
    expect(Object.keys(platformRows).filter((key) => Object.values(appRows).some((rows) => key in rows))).toEqual([]);
  });

  it('has a reviewed entry for every route, matching its declared access', () => {
    const missing: string[] = [];
    for (const route of routes()) {
      const key = `${route.method} ${route.url}`;
      const entry = reviewed[key];
      if (entry === undefined) {
        missing.push(key);
        continue;
      }
      const declared = route.access === undefined ? 'public' : Array.isArray(route.access) ? 'admin' : route.access;
      expect(declared, key).toBe(entry === 'admin' ? 'admin' : entry);
    }
    expect(missing, 'add these routes to the reviewed table with their intended access').toEqual([]);
  });

  it('lets in and keeps out anonymous callers, users and admins as the table says', async () => {
    const problems: string[] = [];
    for (const route of routes()) {
      const entry = reviewed[`${route.method} ${route.url}`];
      if (entry === undefined || route.websocket) continue;
      const key = `${route.method} ${route.url}`;
      const anonymous = await attempt(route.method, route.url);
      const user = await attempt(route.method, route.url, tokens.user);
      const admin = await attempt(route.method, route.url, tokens.admin);
      // Signing out the other sessions renewed the caller's token.
      if (user.token !== undefined) tokens.user = user.token;
      if (admin.token !== undefined) tokens.admin = admin.token;
      const expectAnonymous = entry === 'public';
      const expectUser = entry !== 'admin' && !otherUsersObjects.includes(key);
      if (refused(anonymous) === expectAnonymous) problems.push(`${key}: anonymous ${JSON.stringify(anonymous)}`);
      if (refused(user) === expectUser) problems.push(`${key}: user ${JSON.stringify(user)}`);
      if (refused(admin)) problems.push(`${key}: admin ${JSON.stringify(admin)}`);
    }
    expect(problems).toEqual([]);
  }, 60_000);
});

describe('complaint desk roles', () => {
  async function signedIn(email: string, role?: string): Promise<{ token: string; id: string }> {
    const password = 'desk member passphrase';
    await post('/api/auth/register', { email, password, ...(role === undefined ? {} : { role }) });
    await server.ballast.database.db
      .withSchema('platform')
      .updateTable('user' as never)
      .set({ email_verified_at: new Date() } as never)
      .where('email' as never, '=', email as never)
      .execute();
    const session = await post('/api/auth/sign-in', { email, password });
    return { token: session['token'] as string, id: (session['user'] as { id: string }).id };
  }

  it('lets a higher-committee member approve a trader, and not a technical-committee member', async () => {
    // The matrix above signed the admin out: sign in again.
    const adminToken = (
      await post('/api/auth/sign-in', { email: 'matrix-admin@example.com', password: 'matrix admin passphrase' })
    )['token'] as string;
    const trader = await signedIn('trader@example.com', 'complaints:trader');
    const hc = await signedIn('hc@example.com');
    const tc = await signedIn('tc@example.com');
    await post(`/api/auth/admin/users/${hc.id}/roles`, { add: ['complaints:hc'] }, adminToken);
    await post(`/api/auth/admin/users/${tc.id}/roles`, { add: ['complaints:tc'] }, adminToken);

    const byTc = await post(`/api/auth/admin/users/${trader.id}/approve`, { role: 'complaints:trader' }, tc.token);
    expect(byTc).toMatchObject({ status: 403 });
    const pending = await fetch(`${server.url}/api/auth/admin/users?status=pending`, {
      headers: { authorization: `Bearer ${hc.token}` },
    });
    expect(((await pending.json()) as { users: { email: string }[] }).users.map((u) => u.email)).toContain(
      'trader@example.com',
    );
    const byHc = await post(`/api/auth/admin/users/${trader.id}/approve`, { role: 'complaints:trader' }, hc.token);
    expect(byHc['user']).toMatchObject({ roles: [{ role: 'complaints:trader', status: 'active' }] });
  });
});
