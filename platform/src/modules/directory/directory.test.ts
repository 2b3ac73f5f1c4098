import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { createTestUser, type TestUser } from '#platform/testing/users.ts';

/** An app that shows what its directory port answers. */
const deskApp = defineApp({
  name: 'desk',
  title: 'Desk',
  summary: 'Directory under test.',
  status: 'available',
  roles: [{ name: 'tc', title: 'Technical committee', selfService: true, requiresApproval: true, approvers: [] }],
  routes: async (router, ctx) => {
    router.get('/tc', { config: { access: 'public' } }, async () => ({
      users: await ctx.directory.usersWithRole('tc'),
    }));
    router.get(
      '/users/:id',
      { config: { access: 'public' }, schema: { params: z.object({ id: z.string() }) } },
      async (request) => ({ user: (await ctx.directory.user(request.params.id)) ?? null }),
    );
  },
});

/** Another app with a role of the same short name. */
const otherApp = defineApp({
  name: 'other',
  title: 'Other',
  summary: 'A neighbour.',
  status: 'available',
  roles: [{ name: 'tc', title: 'Other committee' }],
});

let server: TestBallast;
let admin: TestUser;

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/api/desk${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  server = await startTestBallast({ apps: [deskApp, otherApp] });
  admin = await createTestUser(server.ballast, 'admin@example.com', { roles: ['platform:admin'] });
});

afterAll(async () => {
  await server.close();
});

describe('the directory an app sees', () => {
  it('lists the enabled active holders of its role by id, without pending requests or the roles of other apps', async () => {
    const members = await Promise.all(
      ['tc-one@example.com', 'tc-two@example.com', 'tc-three@example.com'].map((email) =>
        createTestUser(server.ballast, email, { roles: ['desk:tc'] }),
      ),
    );
    await createTestUser(server.ballast, 'neighbour@example.com', { roles: ['other:tc'] });
    const registered = await fetch(`${server.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'applicant@example.com',
        password: 'a test passphrase of some length',
        role: 'desk:tc',
      }),
    });
    expect(registered.status).toBe(202);
    const disabled = await fetch(`${server.url}/api/auth/admin/users/${members[2]!.id}/disable`, {
      method: 'POST',
      headers: admin.headers,
    });
    expect(disabled.status).toBe(200);

    const { body } = await get('/tc');
    const expected = members
      .slice(0, 2)
      .map((member) => member.id)
      .sort();
    expect((body['users'] as { id: string }[]).map((user) => user.id)).toEqual(expected);
    expect(body['users']).toContainEqual({
      id: members[0]!.id,
      email: 'tc-one@example.com',
      displayName: null,
      disabled: false,
      roles: ['desk:tc'],
    });
  });

  it('finds a user by id, marks a disabled one, and answers nobody for an unknown or malformed id', async () => {
    const user = await createTestUser(server.ballast, 'found@example.com', { roles: ['desk:tc', 'other:tc'] });
    const found = await get(`/users/${user.id}`);
    expect(found.body['user']).toMatchObject({ id: user.id, email: 'found@example.com', disabled: false });
    expect([...(found.body['user'] as { roles: string[] }).roles].sort()).toEqual(['desk:tc', 'other:tc']);

    await fetch(`${server.url}/api/auth/admin/users/${user.id}/disable`, { method: 'POST', headers: admin.headers });
    expect((await get(`/users/${user.id}`)).body['user']).toMatchObject({ id: user.id, disabled: true });

    expect(await get('/users/00000000-0000-4000-8000-000000000000')).toEqual({ status: 200, body: { user: null } });
    expect(await get('/users/not-a-uuid')).toEqual({ status: 200, body: { user: null } });
  });
});
