import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { startLocalS3, type LocalS3 } from '#platform/testing/s3-server.ts';
import { createTestUser, type TestUser } from '#platform/testing/users.ts';
import { waitFor } from '#platform/testing/wait-for.ts';
import { linkKey, signLink } from './file-rules.ts';

const SIGNING_SECRET = 'storage-test-signing-secret-of-forty-bytes!';
const KB = 1024;

/** A PDF's first bytes are enough for the type check; the rest is filler. */
function pdfBytes(size: number): Buffer {
  const head = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n', 'latin1');
  const body = Buffer.alloc(Math.max(0, size - head.length), 0x20);
  return Buffer.concat([head, body]);
}

const pngBytes = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

/** An app with uploads: a résumé (PDF or text, 64 KiB), a big pack (PDF up to 2 MiB), and a staff-only use. */
const vaultApp = defineApp({
  name: 'vault',
  title: 'Vault',
  summary: 'Storage under test.',
  status: 'available',
  roles: [{ name: 'staff', title: 'Staff' }],
  storage: {
    uses: {
      resume: { maxBytes: 64 * KB, types: ['application/pdf', 'text/plain', 'text/markdown'] },
      pack: { maxBytes: 2048 * KB, types: ['application/pdf'] },
      memo: { maxBytes: 64 * KB, types: ['text/plain'], access: ['vault:staff'] },
    },
  },
  routes: async (router, ctx) => {
    router.post(
      '/applications',
      { schema: { body: z.object({ id: z.uuid(), fileId: z.string() }) } },
      async (request) => ({
        file: await ctx.storage.attach(request.body.fileId, {
          ownerId: request.user!.id,
          record: `application:${request.body.id}`,
        }),
      }),
    );
    router.delete('/applications/:id', { schema: { params: z.object({ id: z.uuid() }) } }, async (request) => ({
      deleted: await ctx.transaction(({ tx }) => ctx.storage.deleteRecord(`application:${request.params.id}`, { tx })),
    }));
    router.post(
      '/files/:id/grant',
      { schema: { params: z.object({ id: z.string() }), body: z.object({ userId: z.uuid() }) } },
      async (request) => {
        const file = await ctx.storage.get(request.params.id);
        if (file?.ownerId !== request.user!.id) return { granted: false };
        await ctx.storage.grant(request.params.id, request.body.userId);
        return { granted: true };
      },
    );
  },
});

interface Mode {
  readonly name: 'local' | 's3';
  server: TestBallast;
  s3: LocalS3 | undefined;
  owner: TestUser;
  other: TestUser;
  staff: TestUser;
}

const modes: Mode[] = [{ name: 'local' } as Mode, { name: 's3' } as Mode];

beforeAll(async () => {
  for (const mode of modes) {
    mode.s3 = mode.name === 's3' ? await startLocalS3() : undefined;
    mode.server = await startTestBallast({
      apps: [vaultApp],
      roles: ['web', 'worker'],
      env: { SIGNING_SECRET, STORAGE_USER_QUOTA_MB: '3', ...mode.s3?.env },
    });
    mode.owner = await createTestUser(mode.server.ballast, 'owner@example.com');
    mode.other = await createTestUser(mode.server.ballast, 'other@example.com');
    mode.staff = await createTestUser(mode.server.ballast, 'staff@example.com', { roles: ['vault:staff'] });
  }
}, 120_000);

afterAll(async () => {
  for (const mode of modes) {
    await mode.server?.close();
    await mode.s3?.close();
  }
});

function db(mode: Mode): Kysely<unknown> {
  return mode.server.ballast.database.db;
}

async function upload(
  mode: Mode,
  use: string,
  name: string,
  body: Buffer | Readable,
  user: TestUser | null = mode.owner,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${mode.server.url}/api/storage/vault/uploads/${use}?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...user?.headers },
    body: Buffer.isBuffer(body) ? body : (Readable.toWeb(body) as ReadableStream),
    ...(Buffer.isBuffer(body) ? {} : { duplex: 'half' }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function rows(mode: Mode, ownerId: string): Promise<{ id: string; storage_key: string; status: string }[]> {
  const result = await sql<{ id: string; storage_key: string; status: string }>`
    select id::text, storage_key, status from platform.stored_file where owner_id = ${ownerId}::uuid order by created_at`.execute(
    db(mode),
  );
  return result.rows;
}

async function blobExists(mode: Mode, key: string): Promise<boolean> {
  return (await mode.server.ballast.storage.store.size(key)) !== undefined;
}

async function link(
  mode: Mode,
  fileId: string,
  user: TestUser,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${mode.server.url}/api/storage/vault/files/${fileId}/link`, {
    method: 'POST',
    headers: user.headers,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function absolute(mode: Mode, url: string): string {
  return url.startsWith('/') ? `${mode.server.url}${url}` : url;
}

async function clearFiles(mode: Mode): Promise<void> {
  await sql`delete from platform.stored_file`.execute(db(mode));
}

describe.each(modes)('storage ($name)', (mode) => {
  it('streams an upload under a random key, with the type decided by its bytes and its SHA-256 recorded', async () => {
    const bytes = pdfBytes(20 * KB);
    const { status, body } = await upload(mode, 'resume', 'My Résumé.pdf', bytes);
    expect(status).toBe(201);
    const file = body['file'] as Record<string, unknown>;
    expect(file).toMatchObject({
      name: 'My Résumé.pdf',
      contentType: 'application/pdf',
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      status: 'stored',
      ownerId: mode.owner.id,
    });
    const [row] = (await rows(mode, mode.owner.id)).filter((r) => r.id === file['id']);
    expect(row!.storage_key).toMatch(/^vault\/[0-9a-f]{2}\/[0-9a-f]{32}$/);
    expect(row!.storage_key).not.toMatch(/sum/i);
    expect(await blobExists(mode, row!.storage_key)).toBe(true);
    if (mode.name === 'local') {
      const stored = fs.readFileSync(path.join(mode.server.dataDir, 'storage', row!.storage_key));
      expect(stored.equals(bytes)).toBe(true);
    }
  });

  it('stops an upload at the first byte beyond the use’s limit while it streams, and keeps nothing', async () => {
    await clearFiles(mode);
    const blobs = () =>
      mode.name === 'local'
        ? fs
            .readdirSync(path.join(mode.server.dataDir, 'storage'), { recursive: true, withFileTypes: true })
            .filter((entry) => entry.isFile()).length
        : 0;
    const before = blobs();
    // No Content-Length (a chunked stream): only counting the bytes can catch it.
    let sent = 0;
    const endless = new Readable({
      read() {
        sent += 16 * KB;
        this.push(sent === 16 * KB ? pdfBytes(16 * KB) : Buffer.alloc(16 * KB, 0x20));
        if (sent >= 1024 * KB) this.push(null);
      },
    });
    const { status, body } = await upload(mode, 'resume', 'big.pdf', endless);
    expect(status).toBe(413);
    expect(body['code']).toBe('storage.too_large');
    expect(await rows(mode, mode.owner.id)).toEqual([]);
    // No partial file either (a write goes to a temporary file renamed only when complete).
    expect(blobs()).toBe(before);
  });

  it('refuses an announced size over the limit before reading the body', async () => {
    const { status, body } = await upload(mode, 'resume', 'big.pdf', pdfBytes(65 * KB));
    expect(status).toBe(413);
    expect(body['code']).toBe('storage.too_large');
  });

  it('refuses a file whose extension lies, a type outside the allow-list, unknown binary and an empty body', async () => {
    const lying = await upload(mode, 'resume', 'cv.pdf', pngBytes);
    expect(lying.status).toBe(415);
    expect(lying.body['code']).toBe('storage.type_mismatch');
    const pdfAsText = await upload(mode, 'resume', 'notes.txt', pdfBytes(KB));
    expect(pdfAsText.body['code']).toBe('storage.type_mismatch');
    const png = await upload(mode, 'resume', 'photo.png', pngBytes);
    expect(png.status).toBe(415);
    expect(png.body['code']).toBe('storage.type_not_allowed');
    const binary = await upload(mode, 'resume', 'notes.txt', Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x00]));
    expect(binary.status).toBe(415);
    expect(binary.body['code']).toBe('storage.type_unknown');
    const html = await upload(mode, 'resume', 'page.html', Buffer.from('<html><script>alert(1)</script></html>'));
    expect(html.status).toBe(415);
    const empty = await upload(mode, 'resume', 'empty.txt', Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect(empty.body['code']).toBe('storage.empty');
    expect(await rows(mode, mode.owner.id)).toEqual([]);
  });

  it('answers 401 without a session, 403 without the use’s role, 404 for an unknown use, 400 without a name', async () => {
    expect((await upload(mode, 'resume', 'a.txt', Buffer.from('hello'), null)).status).toBe(401);
    const forbidden = await upload(mode, 'memo', 'a.txt', Buffer.from('hello'), mode.other);
    expect(forbidden.status).toBe(403);
    expect((await upload(mode, 'memo', 'a.txt', Buffer.from('hello'), mode.staff)).status).toBe(201);
    const unknown = await upload(mode, 'toString', 'a.txt', Buffer.from('hello'));
    expect(unknown.status).toBe(404);
    expect(unknown.body['code']).toBe('storage.unknown_use');
    const response = await fetch(`${mode.server.url}/api/storage/vault/uploads/resume`, {
      method: 'POST',
      headers: mode.owner.headers,
      body: 'hello',
    });
    expect(response.status).toBe(400);
  });

  it('stores a sanitized name: no path, no control or bidi characters, no reserved device name', async () => {
    const { body } = await upload(mode, 'resume', '../../etc/\u202Etxt.exe\u0007 notes.txt', Buffer.from('plain text'));
    expect(body).toMatchObject({ file: {} });
    expect((body['file'] as { name: string }).name).toBe('_.._etc_txt.exe notes.txt');
    const reserved = await upload(mode, 'resume', 'CON.txt', Buffer.from('plain text'));
    expect((reserved.body['file'] as { name: string }).name).toBe('_CON.txt');
  });

  it('gives a download link to the owner and a grantee only, served as an attachment with nosniff and Range', async () => {
    const content = Buffer.from('0123456789 plain text for ranges');
    const { body } = await upload(mode, 'resume', 'ranges "x".txt', content);
    const fileId = (body['file'] as { id: string }).id;

    const stranger = await link(mode, fileId, mode.other);
    expect(stranger.status).toBe(404);
    expect((await link(mode, 'not-a-uuid', mode.owner)).status).toBe(404);

    const granted = await fetch(`${mode.server.url}/api/vault/files/${fileId}/grant`, {
      method: 'POST',
      headers: { ...mode.owner.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: mode.other.id }),
    });
    expect(await granted.json()).toEqual({ granted: true });
    const forOther = await link(mode, fileId, mode.other);
    expect(forOther.status).toBe(200);

    const { body: issued } = await link(mode, fileId, mode.owner);
    const url = absolute(mode, issued['url'] as string);
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(content)).toBe(true);
    expect(whole.headers.get('content-disposition')).toMatch(/^attachment; filename="ranges _x_.txt"/);
    expect(whole.headers.get('content-type')).toMatch(/^text\/plain/);
    if (mode.name === 'local') expect(whole.headers.get('x-content-type-options')).toBe('nosniff');

    const part = await fetch(url, { headers: { range: 'bytes=2-5' } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe('2345');
    expect(part.headers.get('content-range')).toBe(`bytes 2-5/${content.length}`);
  });

  it('refuses a local link that is forged, altered or expired', async () => {
    if (mode.name !== 'local') return;
    const { body } = await upload(mode, 'resume', 'secret.txt', Buffer.from('secret'));
    const fileId = (body['file'] as { id: string }).id;
    const { body: issued } = await link(mode, fileId, mode.owner);
    const url = new URL(absolute(mode, issued['url'] as string));
    const later = new URL(url);
    later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    const altered = await fetch(later);
    expect(altered.status).toBe(403);
    expect(((await altered.json()) as { code: string }).code).toBe('storage.bad_link');
    const past = Math.floor(Date.now() / 1000) - 10;
    const expired = await fetch(
      `${mode.server.url}/api/storage/files/${fileId}?expires=${past}&signature=${signLink(linkKey(SIGNING_SECRET), fileId, past)}`,
    );
    expect(expired.status).toBe(403);
    expect(((await expired.json()) as { code: string }).code).toBe('storage.link_expired');
    const unsatisfiable = await fetch(url, { headers: { range: 'bytes=100-200' } });
    expect(unsatisfiable.status).toBe(416);
    const missingSignature = await fetch(`${mode.server.url}/api/storage/files/${fileId}`);
    expect(missingSignature.status).toBe(400);
  });

  it('keeps a user within the quota, also when two uploads race', async () => {
    await clearFiles(mode);
    const blobs = () =>
      mode.name === 'local'
        ? fs
            .readdirSync(path.join(mode.server.dataDir, 'storage', 'vault'), { recursive: true, withFileTypes: true })
            .filter((entry) => entry.isFile()).length
        : 0;
    const before = blobs();
    const results = await Promise.all([1, 2, 3].map((n) => upload(mode, 'pack', `pack-${n}.pdf`, pdfBytes(1100 * KB))));
    const statuses = results.map((result) => result.status).sort();
    expect(statuses).toEqual([201, 201, 413]);
    expect(results.find((result) => result.status === 413)!.body['code']).toBe('storage.quota_exceeded');
    const kept = await rows(mode, mode.owner.id);
    expect(kept).toHaveLength(2);
    // The refused upload's bytes are gone too.
    if (mode.name === 'local') expect(blobs() - before).toBe(2);
    await clearFiles(mode);
  });

  it('deletes a record’s files with the record, by a task', async () => {
    const { body } = await upload(mode, 'resume', 'attached.txt', Buffer.from('attached'));
    const fileId = (body['file'] as { id: string }).id;
    const applicationId = '5b0f3a52-4b8e-4a36-9a53-3f8f4f0e9c11';
    const attached = await fetch(`${mode.server.url}/api/vault/applications`, {
      method: 'POST',
      headers: { ...mode.owner.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ id: applicationId, fileId }),
    });
    expect(attached.status).toBe(200);
    // Another user cannot attach (or learn about) the owner's file.
    const stolen = await fetch(`${mode.server.url}/api/vault/applications`, {
      method: 'POST',
      headers: { ...mode.other.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ id: applicationId, fileId }),
    });
    expect(stolen.status).toBe(404);
    const [row] = (await rows(mode, mode.owner.id)).filter((r) => r.id === fileId);
    expect(row!.status).toBe('attached');

    const deleted = await fetch(`${mode.server.url}/api/vault/applications/${applicationId}`, {
      method: 'DELETE',
      headers: mode.owner.headers,
    });
    expect(await deleted.json()).toEqual({ deleted: 1 });
    expect((await link(mode, fileId, mode.owner)).status).toBe(404);
    await waitFor(
      async () => (await rows(mode, mode.owner.id)).some((r) => r.id === fileId),
      (present) => !present,
    );
    expect(await blobExists(mode, row!.storage_key)).toBe(false);
  });

  it('sweeps uploads never attached once they are older than STORAGE_ORPHAN_HOURS, and keeps attached ones', async () => {
    await clearFiles(mode);
    const orphan = await upload(mode, 'resume', 'orphan.txt', Buffer.from('orphan'));
    const kept = await upload(mode, 'resume', 'kept.txt', Buffer.from('kept'));
    const keptId = (kept.body['file'] as { id: string }).id;
    await mode.server.ballast.storage.attach('vault', keptId, mode.owner.id, 'application:kept');
    const [orphanRow] = (await rows(mode, mode.owner.id)).filter(
      (r) => r.id === (orphan.body['file'] as { id: string }).id,
    );

    expect(await mode.server.ballast.storage.sweepOrphans()).toBe(0);
    const removed = await mode.server.ballast.storage.sweepOrphans(new Date(Date.now() + 25 * 3_600_000));
    expect(removed).toBe(1);
    expect((await rows(mode, mode.owner.id)).map((r) => r.id)).toEqual([keptId]);
    expect(await blobExists(mode, orphanRow!.storage_key)).toBe(false);
  });

  it('reports storage on /readyz after writing, reading and deleting a probe object', async () => {
    const response = await fetch(`${mode.server.url}/readyz`);
    const report = (await response.json()) as { checks: Record<string, { status: string; detail?: string }> };
    expect(report.checks['storage']).toMatchObject({ status: 'ok', detail: `${mode.name}: write, read and delete ok` });
  });

  it('sends large files straight to the bucket with a presigned PUT, confirmed by size and bytes (S3 only)', async () => {
    const start = (size: number, name = 'pack.pdf') =>
      fetch(`${mode.server.url}/api/storage/vault/direct/pack`, {
        method: 'POST',
        headers: { ...mode.owner.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ name, size, type: 'application/pdf' }),
      });
    if (mode.name === 'local') {
      const refused = await start(KB);
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { code: string }).code).toBe('storage.direct_unavailable');
      return;
    }
    await clearFiles(mode);
    expect((await start(4096 * KB)).status).toBe(413);
    expect((await start(KB, 'pack.exe')).status).toBe(415);

    const bytes = pdfBytes(1500 * KB);
    const started = await start(bytes.length);
    expect(started.status).toBe(201);
    const direct = (await started.json()) as { file: { id: string }; url: string; headers: Record<string, string> };
    const complete = (id: string) =>
      fetch(`${mode.server.url}/api/storage/vault/direct/${id}/complete`, {
        method: 'POST',
        headers: mode.owner.headers,
      });
    const early = await complete(direct.file.id);
    expect(early.status).toBe(409);
    const put = await fetch(direct.url, { method: 'PUT', headers: direct.headers, body: bytes });
    expect(put.status).toBe(200);
    const byOther = await fetch(`${mode.server.url}/api/storage/vault/direct/${direct.file.id}/complete`, {
      method: 'POST',
      headers: mode.other.headers,
    });
    expect(byOther.status).toBe(404);
    const done = await complete(direct.file.id);
    expect(done.status).toBe(200);
    expect(((await done.json()) as { file: { status: string } }).file.status).toBe('stored');
    expect((await complete(direct.file.id)).status).toBe(409);
    const hashed = await waitFor(
      () => mode.server.ballast.storage.get(direct.file.id),
      (file) => file?.sha256 !== null,
    );
    expect(hashed!.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));

    // A client that sends other bytes than it announced: refused and deleted.
    const liar = (await (await start(10 * KB)).json()) as {
      file: { id: string };
      url: string;
      headers: Record<string, string>;
    };
    await fetch(liar.url, { method: 'PUT', headers: liar.headers, body: pngBytes });
    const refused = await complete(liar.file.id);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: string }).code).toBe('storage.size_mismatch');
    await waitFor(
      async () => (await rows(mode, mode.owner.id)).some((r) => r.id === liar.file.id),
      (present) => !present,
    );
  });
});
