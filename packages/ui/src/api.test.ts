/// <reference types="node" />
// The server side of these tests runs in Node: a real HTTP server answers the page's calls.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userAnswer } from '@ballast/contracts/auth';
import { api, ApiError } from './api.ts';

describe('api with an answer schema', () => {
  // A real HTTP server answering the JSON each test names in the path.
  const answers: Record<string, unknown> = {
    '/user': {
      user: {
        id: 'u1',
        email: 'a@example.com',
        displayName: null,
        emailVerified: true,
        disabled: false,
        createdAt: '2026-12-03T08:00:00.000Z',
        roles: [{ role: 'coach:client', status: 'active' }],
        passwordHash: 'never shown to the page',
      },
    },
    '/drifted': { user: { id: 'u1', email: 'a@example.com', createdAt: 'yesterday' } },
  };
  let server: http.Server;
  let base = '';

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(answers[request.url ?? ''] ?? {}));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('parses the answer: timestamps become dates and fields outside the contract are dropped', async () => {
    const { user } = await api('GET', `${base}/user`, undefined, userAnswer);
    expect(user.createdAt).toEqual(new Date('2026-12-03T08:00:00.000Z'));
    expect(user.roles).toEqual([{ role: 'coach:client', status: 'active' }]);
    expect(user).not.toHaveProperty('passwordHash');
  });

  it('rejects an answer that does not fit the contract with an ApiError naming the problem', async () => {
    const refused = await api('GET', `${base}/drifted`, undefined, userAnswer).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 200, code: 'http.unexpected_answer' });
    expect((refused as ApiError).details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: ['user', 'createdAt'] })]),
    );
  });
});
