import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, makeTempDir, testSigningKeys, type TestDatabase } from '@ballast/platform/testing';
import { startServing, terminate, type TestProcess } from '../support/process.ts';

let database: TestDatabase;
const running: TestProcess[] = [];

/** A real `ballast web` process with the given signing keys, on the shared database. */
async function startWeb(signingKeys: string) {
  const web = await startServing('cli/bin/ballast.ts', ['web'], {
    DATABASE_URL: database.url,
    DATA_DIR: makeTempDir(),
    AUTH_SIGNING_KEYS: signingKeys,
  });
  running.push(web.process);
  return web;
}

async function me(url: string, token: string): Promise<number> {
  return (await fetch(`${url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;
}

function kidOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
}

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const process of running) if (process.child.exitCode === null) process.child.kill('SIGKILL');
  await Promise.all(running.map((process) => process.exited));
  await database.drop();
});

describe('access tokens across processes', () => {
  it('are accepted by a second web process, after a restart, and after a key rotation until the old key is retired', async () => {
    const oldKeys = await testSigningKeys();
    const first = await startWeb(oldKeys);
    const second = await startWeb(oldKeys);
    const setup = await fetch(`${first.url}/api/auth/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ops@example.com', password: 'operations passphrase' }),
    });
    expect(setup.status).toBe(201);
    const signIn = await fetch(`${first.url}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ops@example.com', password: 'operations passphrase' }),
    });
    const { token } = (await signIn.json()) as { token: string };
    expect(await me(first.url, token)).toBe(200);
    expect(await me(second.url, token)).toBe(200);

    // Restart both: the token still works.
    expect((await terminate(first.process)).code).toBe(0);
    expect((await terminate(second.process)).code).toBe(0);
    const restarted = await startWeb(oldKeys);
    expect(await me(restarted.url, token)).toBe(200);
    expect((await terminate(restarted.process)).code).toBe(0);

    // Rotation: a new key in front signs; the old one keeps verifying.
    const [oldKey] = JSON.parse(oldKeys) as object[];
    const [newKey] = JSON.parse(await testSigningKeys()) as object[];
    const rotated = await startWeb(JSON.stringify([newKey, oldKey]));
    expect(await me(rotated.url, token)).toBe(200);
    const fresh = (await (
      await fetch(`${rotated.url}/api/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'ops@example.com', password: 'operations passphrase' }),
      })
    ).json()) as { token: string };
    expect(kidOf(fresh.token)).not.toBe(kidOf(token));
    const jwks = (await (await fetch(`${rotated.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((key) => key.kid)).toEqual([kidOf(fresh.token), kidOf(token)]);
    expect((await terminate(rotated.process)).code).toBe(0);

    // Retired: tokens signed by the old key stop working; the new ones keep working.
    const retired = await startWeb(JSON.stringify([newKey]));
    expect(await me(retired.url, token)).toBe(401);
    expect(await me(retired.url, fresh.token)).toBe(200);
  }, 120_000);
});
