import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from '@ballast/platform';
import { createTestUser, startTestBallast, type TestBallast } from '@ballast/platform/testing';
import { apps } from '../../cli/src/apps.ts';
import { browserUnavailable, fakeMediaArgs, launchBrowser, screenshotPath } from '../support/browser.ts';

/**
 * The voice coach in Chromium with a fake microphone: buy talk-time through the test checkout,
 * call (heartbeats over the live socket), hang up, and find the care plan in the development
 * inbox and on the page. Web and worker both run, so the care plan task really runs.
 */
const unavailable = browserUnavailable();
let server: TestBallast;
let browser: Browser | undefined;
const problems: string[] = [];

beforeAll(async () => {
  if (unavailable !== undefined) return;
  const port = await getPort();
  server = await startTestBallast({
    apps,
    roles: ['web', 'worker'],
    env: {
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      TASKS_POLL_INTERVAL_SECONDS: '1',
      // A short gap (browsers beat every 5 s): without heartbeats the call would end within the test.
      METERING_HEARTBEAT_GAP_SECONDS: '7',
    },
  });
  browser = await launchBrowser(fakeMediaArgs);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function waitForInbox(page: Page, to: string, subject: RegExp): Promise<string> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    await page.goto(`${server.url}/dev/inbox`);
    const message = page.locator(`.inbox-message[data-recipient="${to}"]`).filter({ hasText: subject }).first();
    if ((await message.count()) > 0) return (await message.locator('.body').textContent()) ?? '';
    if (Date.now() > deadline) throw new Error(`no message to ${to} matching ${subject}`);
    await page.waitForTimeout(500);
  }
}

describe('the voice coach in a real browser', () => {
  it('buys talk-time, holds a call with heartbeats, ends it, and delivers the care plan', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const email = 'caller@example.com';
    const password = 'a calm voice at night';
    await createTestUser(server.ballast, email, { password });
    const context = await browser!.newContext({ permissions: ['microphone'] });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));

    await page.goto(`${server.url}/sign-in?next=/coach/`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/coach/`);
    await expect.poll(() => page.getByTestId('balance').textContent()).toBe('0:00');
    expect(await page.getByRole('button', { name: 'Start call' }).isDisabled()).toBe(true);
    await page.getByText('You have no talk-time left').waitFor();

    // Buy: the labelled test checkout signs the payment; the server verifies and credits it.
    await page.getByRole('button', { name: 'Buy 30 minutes' }).click();
    await page.waitForURL(/\/payments\/test-checkout/);
    await page.getByText('TEST MODE').waitFor();
    await page.screenshot({ path: screenshotPath('coach-test-checkout.png') });
    await page.getByRole('button', { name: /Pay ₹499\.00 \(test\)/ }).click();
    await page.waitForURL(/\/coach\/\?paid=/);
    await expect.poll(() => page.getByTestId('balance').textContent()).toBe('30:00');
    await expect.poll(() => page.getByTestId('purchases').textContent()).toContain('paid');

    // Call: heartbeats keep it alive past the 7 s gap, then we hang up.
    await page.getByRole('button', { name: 'Start call' }).click();
    await page.getByRole('heading', { name: 'On a call with your coach' }).waitFor();
    await page.getByText('Local voice mode').waitFor();
    await page.waitForTimeout(12_500);
    await page.screenshot({ path: screenshotPath('coach-call.png') });
    expect(await page.getByTestId('call-elapsed').textContent()).toMatch(/^0:1[2-5]$/);
    await page.getByRole('button', { name: 'Next question' }).click();
    await page.getByRole('button', { name: 'End call' }).click();
    await page.getByText(/Call ended after 0:1\d\. You ended the call\./).waitFor();

    const db = server.ballast.database.db as unknown as Kysely<unknown>;
    const session = await sql<{ metered_seconds: number; end_reason: string }>`select metered_seconds, end_reason
      from platform.metered_session order by started_at desc limit 1`.execute(db);
    expect(session.rows[0]!.end_reason).toBe('hung_up');
    expect(session.rows[0]!.metered_seconds).toBeGreaterThanOrEqual(12);
    await expect
      .poll(() => page.getByTestId('balance').textContent())
      .toBe(`29:${String(60 - session.rows[0]!.metered_seconds).padStart(2, '0')}`);

    // The care plan: emailed (development inbox) and shown in the app.
    const inbox = await context.newPage();
    const plan = await waitForInbox(inbox, email, /care plan/i);
    expect(plan).toContain('Template plan');
    expect(await waitForInbox(inbox, email, /Receipt/)).toContain('₹499.00');
    await page.reload();
    await page.locator('.care-plan').first().waitFor();
    expect(await page.locator('.care-plan h3').first().textContent()).toBe('Your care plan (template)');
    await page.screenshot({ path: screenshotPath('coach-after-call.png'), fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  });
});
