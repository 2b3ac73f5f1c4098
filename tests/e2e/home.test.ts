import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRazorpay, startTestBallast, type TestBallast } from '@ballast/platform/testing';
import { apps } from '../../cli/src/apps.ts';
import { browserUnavailable, launchBrowser, openPage as openBrowserPage, screenshotPath } from '../support/browser.ts';

const unavailable = browserUnavailable();
let server: TestBallast;
let browser: Browser | undefined;

beforeAll(async () => {
  server = await startTestBallast({ apps });
  if (unavailable === undefined) browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server.close();
});

function openPage(url: string) {
  return openBrowserPage(browser!, url);
}

describe('the home page in a real browser', () => {
  it('lists the four apps with one way into each available one, keeps the operator links in the footer, and runs without JavaScript errors', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const { page, problems } = await openPage(server.url);
    expect(await page.title()).toBe('Ballast');
    const cards = page.locator('.app-card h3');
    expect(await cards.allTextContents()).toEqual(['Voice coach', 'AI assistant', 'Complaint desk', 'AI interviewer']);
    expect(await page.locator('.app-card .badge').allTextContents()).toEqual([
      'coming soon',
      'coming soon',
      'coming soon',
    ]);
    expect(await page.locator('.app-card[data-app="coach"] h3 a').getAttribute('href')).toBe('/coach/');
    expect(await page.getByRole('link', { name: 'Open voice coach' }).getAttribute('href')).toBe('/coach/');
    // No administrator yet: the page says so and links the setup.
    expect(await page.getByRole('link', { name: 'Create the first administrator' }).getAttribute('href')).toBe(
      '/setup',
    );
    await page.locator('#readiness[data-state="ok"]').waitFor();
    expect(await page.locator('#readiness').textContent()).toBe('ready');
    for (const href of ['/docs', '/healthz', '/readyz', '/metrics']) {
      expect(await page.locator(`main a[href="${href}"]`).count()).toBe(0);
      expect(await page.locator(`footer a[href="${href}"]`).count()).toBe(1);
    }
    await page.screenshot({ path: screenshotPath('home.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('says at the top, to eyes and screen readers, when payments move no money, and not with live keys', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    // No Razorpay keys here: the coach sells through the local test gateway.
    const { page, problems } = await openPage(server.url);
    const banner = page.getByRole('note').filter({ hasText: 'Test mode' });
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toContain('move no money');
    expect(problems).toEqual([]);

    const razorpay = await startFakeRazorpay({ live: true });
    const live = await startTestBallast({
      apps,
      env: {
        RAZORPAY_KEY_ID: razorpay.keyId,
        RAZORPAY_KEY_SECRET: razorpay.keySecret,
        RAZORPAY_WEBHOOK_SECRET: razorpay.webhookSecret,
        RAZORPAY_API_URL: razorpay.url,
      },
    });
    try {
      const livePage = await openPage(live.url);
      await livePage.page.locator('.app-card').first().waitFor();
      expect(await livePage.page.getByRole('note').count()).toBe(0);
      expect(livePage.problems).toEqual([]);
    } finally {
      await live.close();
      await razorpay.close();
    }
  });

  it('opens the API docs under the same content security policy, without errors', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const { page, problems } = await openPage(server.url);
    await page.locator('footer a[href="/docs"]').click();
    await page.waitForURL(/\/docs/);
    await page.locator('.swagger-ui .info .title').waitFor();
    expect(await page.locator('.swagger-ui .info .title').textContent()).toContain('Ballast API');
    await page.screenshot({ path: screenshotPath('docs.png') });
    expect(problems).toEqual([]);
  });

  it('shows a real 404 page for a missing address', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const { page, problems } = await openPage(`${server.url}/no/such/page`);
    expect(await page.locator('h1').textContent()).toBe('This page does not exist');
    expect(problems.filter((p) => !p.includes('404'))).toEqual([]);
  });
});
