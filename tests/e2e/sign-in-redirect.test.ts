import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestUser, startTestBallast, type TestBallast } from '@ballast/platform/testing';
import { browserUnavailable, launchBrowser } from '../support/browser.ts';

/**
 * The address to go to after signing in comes from the query string: a real Chromium, which
 * drops tabs and newlines from addresses and reads `\` as `/`, must stay on the site whatever
 * `?next=` says. Requests to the foreign host are answered locally, so a leak shows as a page
 * on evil.example rather than a DNS error.
 */
const unavailable = browserUnavailable();
let server: TestBallast;
let browser: Browser | undefined;
const email = 'redirected@example.com';
const password = 'a passphrase for redirects';

beforeAll(async () => {
  if (unavailable !== undefined) return;
  server = await startTestBallast();
  await createTestUser(server.ballast, email, { password });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('signing in with a hostile ?next=', () => {
  it.for(['/%09/evil.example', '/%0A/evil.example', '/%0D/evil.example', '/%5Cevil.example', '//evil.example'])(
    'signs in at /sign-in?next=%s and stays on the site',
    async (next, ctx) => {
      if (unavailable !== undefined) ctx.skip(unavailable);
      const context = await browser!.newContext();
      await context.route(
        (url) => url.hostname === 'evil.example',
        (route) => route.fulfill({ contentType: 'text/html', body: '<h1>evil.example</h1>' }),
      );
      const page = await context.newPage();
      await page.goto(`${server.url}/sign-in?next=${next}`);
      await page.getByLabel('Email', { exact: true }).fill(email);
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((url) => url.pathname !== '/sign-in');
      const landed = new URL(page.url());
      expect(landed.origin).toBe(new URL(server.url).origin);
      expect(landed.pathname).toBe('/account');
      await context.close();
    },
  );
});
