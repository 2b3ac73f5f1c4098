import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineApp } from '@ballast/platform';
import { createTestUser, startTestBallast, type TestBallast, type TestUser } from '@ballast/platform/testing';
import { browserUnavailable, launchBrowser, screenshotPath } from '../support/browser.ts';

/**
 * One upload and one download in a real browser: the page sends a 6 MiB file as the body of an
 * XMLHttpRequest, held to a home line's speed, and reports its upload progress as a person would
 * see it, then follows a signed download link, which the browser saves as an attachment under the
 * file's name.
 */
const unavailable = browserUnavailable();
const SIZE = 6 * 1024 * 1024;
const HEADER = '%PDF-1.7\n';

const vaultApp = defineApp({
  name: 'vault',
  title: 'Vault',
  summary: 'Uploads in a browser.',
  status: 'available',
  storage: { uses: { pack: { maxBytes: 8 * 1024 * 1024, types: ['application/pdf'] } } },
});

/** The browser's XMLHttpRequest, as far as the page script uses it (tests compile without the DOM types). */
declare const XMLHttpRequest: new () => {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  readonly upload: { onprogress: ((event: { loaded: number; total: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  readonly status: number;
  readonly responseText: string;
};

/** The bytes the page makes: a PDF header, then i % 251. */
function expectedBytes(): Buffer {
  const bytes = Buffer.alloc(SIZE);
  for (let index = 0; index < SIZE; index++) bytes[index] = index % 251;
  bytes.write(HEADER, 0, 'latin1');
  return bytes;
}

let server: TestBallast;
let browser: Browser | undefined;
let user: TestUser;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  server = await startTestBallast({ apps: [vaultApp] });
  user = await createTestUser(server.ballast, 'uploader@example.com');
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe.skipIf(unavailable !== undefined)('uploads in a browser', () => {
  it('uploads with progress events and downloads through a signed link as an attachment', async () => {
    const context = await browser!.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    // A platform page: its CSP lets scripts connect to the same origin (the JSON endpoints allow nothing).
    await page.goto(`${server.url}/`);
    // Over loopback 6 MiB can go in one progress interval (Chromium reports every ~50-100 ms), so the
    // upload is held to 4 MiB/s, a fast home line: progress then has ~1.5 s to show, on any machine.
    const devtools = await context.newCDPSession(page);
    await devtools.send('Network.enable');
    await devtools.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 4 * 1024 * 1024,
    });

    const result = await page.evaluate(
      async ({ size, header, token }) => {
        const bytes = new Uint8Array(size);
        for (let index = 0; index < size; index++) bytes[index] = index % 251;
        for (let index = 0; index < header.length; index++) bytes[index] = header.charCodeAt(index);
        const progress: { loaded: number; total: number }[] = [];
        const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const request = new XMLHttpRequest();
          request.open('POST', `/api/storage/vault/uploads/pack?name=${encodeURIComponent('Audio pack 1.pdf')}`);
          request.setRequestHeader('authorization', `Bearer ${token}`);
          request.setRequestHeader('content-type', 'application/octet-stream');
          request.upload.onprogress = (event: { loaded: number; total: number }) =>
            progress.push({ loaded: event.loaded, total: event.total });
          request.onload = () => resolve({ status: request.status, body: request.responseText });
          request.onerror = () => reject(new Error('upload failed'));
          request.send(new Blob([bytes]));
        });
        const { file } = JSON.parse(answer.body) as { file: { id: string; sha256: string; name: string } };
        const link = await fetch(`/api/storage/vault/files/${file.id}/link`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        });
        const { url } = (await link.json()) as { url: string };
        return { status: answer.status, file, progress, url };
      },
      { size: SIZE, header: HEADER, token: user.token },
    );

    expect(result.status).toBe(201);
    const expected = expectedBytes();
    expect(result.file.sha256).toBe(createHash('sha256').update(expected).digest('hex'));
    // Progress as a person sees it: several events, never going back, ending at the whole file.
    expect(result.progress.length).toBeGreaterThan(3);
    const loaded = result.progress.map((event) => event.loaded);
    expect([...loaded].sort((a, b) => a - b)).toEqual(loaded);
    expect(result.progress.at(-1)).toEqual({ loaded: SIZE, total: SIZE });

    // Following the link starts a download (the navigation itself is aborted): never rendered inline.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.goto(`${server.url}${result.url}`).catch((error: Error) => {
        if (!/Download is starting/.test(error.message)) throw error;
      }),
    ]);
    expect(download.suggestedFilename()).toBe('Audio pack 1.pdf');
    const saved = await download.path();
    expect(fs.readFileSync(saved).equals(expected)).toBe(true);
    await page.screenshot({ path: screenshotPath('uploads-download-link.png') });
    expect(problems).toEqual([]);
    await context.close();
  });
});
