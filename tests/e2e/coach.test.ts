import { AxeBuilder } from '@axe-core/playwright';
import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from '@ballast/platform';
import {
  createTestDatabase,
  createTestUser,
  startTestBallast,
  testSigningKeys,
  type TestBallast,
  applyTestLedgerChange,
} from '@ballast/platform/testing';
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
      // The test's call lasts seconds: it still gets its care plan.
      COACH_CARE_PLAN_MIN_SECONDS: '0',
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

const PASSWORD = 'a calm voice at night';

/** A caller with `seconds` of talk-time (credited straight to the ledger when above zero). */
async function caller(target: TestBallast, email: string, seconds: number) {
  const user = await createTestUser(target.ballast, email, { password: PASSWORD });
  if (seconds > 0) {
    await applyTestLedgerChange(target.ballast, {
      kind: 'purchase',
      userId: user.id,
      app: 'coach',
      unit: 'seconds',
      amount: seconds,
      idempotencyKey: `e2e-credit:${email}`,
    });
  }
  return user;
}

/** Signs in through the real sign-in page and lands on the coach. */
async function signIn(page: Page, base: string, email: string): Promise<void> {
  await page.goto(`${base}/sign-in?next=/coach/`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/coach/`);
}

describe('the voice coach in a real browser', () => {
  it('buys talk-time, holds a call with heartbeats, ends it, and delivers the care plan', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const email = 'caller@example.com';
    await caller(server, email, 0);
    const context = await browser!.newContext({ permissions: ['microphone'] });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));

    await signIn(page, server.url, email);
    await expect.poll(() => page.getByTestId('balance').textContent()).toBe('0 sec');
    expect(await page.getByRole('button', { name: 'Start call' }).isDisabled()).toBe(true);
    await page.getByText('You have no talk-time left').waitFor();
    await page.getByRole('note').filter({ hasText: 'TEST MODE' }).waitFor();

    // Buy: the labelled test checkout signs the payment; the server verifies and credits it.
    await page.getByRole('button', { name: 'Buy 30 minutes' }).click();
    await page.waitForURL(/\/payments\/test-checkout/);
    await page.getByText('TEST MODE').waitFor();
    await page.screenshot({ path: screenshotPath('coach-test-checkout.png') });
    await page.getByRole('button', { name: /Pay ₹499\.00 \(test\)/ }).click();
    await page.waitForURL(/\/coach\/\?paid=/);
    await expect.poll(() => page.getByTestId('balance').textContent()).toBe('30 min');
    // The payment notice shows once: the address drops ?paid= so a reload does not repeat it.
    await page.getByText('Payment received').waitFor();
    await page.waitForURL((url) => url.pathname === '/coach/' && !url.searchParams.has('paid'));
    await expect.poll(() => page.getByTestId('purchases').textContent()).toContain('paid');

    // Before the first call: what the coach is and what a call is like, the microphone, what is kept,
    // what happens when the time runs out; and the safety lines.
    const about = (await page.getByTestId('about-calls').textContent()) ?? '';
    expect(about).toContain('microphone');
    expect(about).toContain('no recording of your voice');
    expect(about).toContain('when it runs out the call ends');
    expect(await page.getByTestId('safety-note').first().textContent()).toMatch(/not medical advice.*emergency/);
    await page.screenshot({ path: screenshotPath('coach-before-call.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('coach-before-call-phone.png'), fullPage: true });
    // With talk-time to spend, starting a call is the first thing on the page.
    const startCall = (await page.getByRole('button', { name: 'Start call' }).boundingBox())!;
    expect(startCall.y + startCall.height).toBeLessThanOrEqual(844);
    await page.setViewportSize({ width: 1280, height: 720 });

    // Call: heartbeats keep it alive past the 7 s gap, then we hang up.
    await page.getByRole('button', { name: 'Start call' }).click();
    await page.getByRole('heading', { name: 'On a call with your coach' }).waitFor();
    await page.getByRole('note').filter({ hasText: 'Local voice mode' }).waitFor();
    // The call shows life: the coach's first line as a caption (in a polite live region), the
    // microphone's level moving, whether the coach speaks or listens, and mute.
    const captions = page.getByRole('log', { name: 'Captions' });
    await expect.poll(() => captions.textContent()).toContain('Coach: Hello, I am your coach.');
    expect(await captions.getAttribute('aria-live')).toBe('polite');
    const meter = page.getByRole('meter', { name: 'Microphone level' });
    await expect
      .poll(async () => Number(await meter.getAttribute('aria-valuenow')), { timeout: 8000 })
      .toBeGreaterThan(0);
    expect(await page.getByTestId('call-state').textContent()).toMatch(/^(Coach speaking|Listening)$/);
    expect(await page.getByTestId('call-state').getAttribute('aria-live')).toBe('polite');
    const mute = page.getByRole('button', { name: 'Mute' });
    expect(await mute.getAttribute('aria-pressed')).toBe('false');
    await mute.click();
    expect(await mute.getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => page.getByTestId('call-state').textContent()).toMatch(/Muted$/);
    await expect.poll(() => meter.getAttribute('aria-valuenow')).toBe('0');
    const axe = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
      .analyze();
    expect(axe.violations.filter((found) => found.impact === 'serious' || found.impact === 'critical')).toEqual([]);
    await page.screenshot({ path: screenshotPath('coach-call-muted.png') });
    await mute.click();
    expect(await mute.getAttribute('aria-pressed')).toBe('false');
    await expect.poll(() => page.getByTestId('call-state').textContent()).not.toMatch(/Muted/);
    // Heartbeats keep the call alive past the 7 s gap.
    await expect
      .poll(() => page.getByTestId('call-elapsed').textContent(), { timeout: 15_000, interval: 250 })
      .toMatch(/^1[2-9] sec$/);
    await page.screenshot({ path: screenshotPath('coach-call.png') });
    expect(await page.getByTestId('call-elapsed').textContent()).toMatch(/^1[2-5] sec$/);
    // The time left counts down in the call panel only (the balance figure gives way), and the panel
    // comes first on the page, on a phone too.
    expect(await page.getByTestId('call-remaining').textContent()).toMatch(/^29 min 4\d sec$/);
    expect(await page.getByTestId('balance').count()).toBe(0);
    await page.getByTestId('balance-on-call').waitFor();
    const callTop = (await page.locator('.call.live').boundingBox())!.y;
    expect(callTop).toBeLessThan((await page.locator('.balance').boundingBox())!.y);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('coach-call-phone.png') });
    expect(await page.getByRole('button', { name: 'End call' }).isVisible()).toBe(true);
    const endCall = (await page.getByRole('button', { name: 'End call' }).boundingBox())!;
    expect(endCall.y).toBeGreaterThanOrEqual(0);
    expect(endCall.y + endCall.height).toBeLessThanOrEqual(844);
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.getByRole('button', { name: 'Next question' }).click();
    await expect.poll(() => captions.textContent()).toContain('Coach: Thank you for sharing that.');
    await page.getByRole('button', { name: 'End call' }).click();
    await page.getByText(/Call ended after 1\d sec\. You ended the call\./).waitFor();

    const db = server.ballast.database.db;
    const session = await sql<{ metered_seconds: number; end_reason: string }>`select metered_seconds, end_reason
      from platform.metered_session order by started_at desc limit 1`.execute(db);
    expect(session.rows[0]!.end_reason).toBe('hung_up');
    expect(session.rows[0]!.metered_seconds).toBeGreaterThanOrEqual(12);
    await expect
      .poll(() => page.getByTestId('balance').textContent())
      .toBe(`29 min ${60 - session.rows[0]!.metered_seconds} sec`);

    // The care plan: emailed (development inbox) and shown in the app.
    const inbox = await context.newPage();
    const plan = await waitForInbox(inbox, email, /care plan/i);
    expect(plan).toContain('Template plan');
    expect(plan).toContain('not medical advice');
    expect(plan).toContain('findahelpline.com');
    const receipt = await waitForInbox(inbox, email, /Receipt/);
    expect(receipt).toContain('₹499.00');
    // The receipt's "Your purchases" link leads to the purchases on the coach's page.
    const purchasesLink = /Your purchases: (\S+)/.exec(receipt)?.[1];
    expect(purchasesLink).toBe(`${server.url}/coach/#purchases`);
    const followed = await inbox.goto(purchasesLink!);
    expect(followed?.status()).toBe(200);
    await inbox.getByRole('heading', { name: 'Purchases' }).waitFor();
    // The receipt's own page: reached from the email and from the purchases list, TEST said, axe-clean.
    const receiptLink = /This receipt: (\S+)/.exec(receipt)?.[1];
    expect(receiptLink).toMatch(new RegExp(`^${server.url}/receipts/coach/[0-9a-f-]{36}$`));
    await inbox
      .getByRole('link', { name: /^Receipt for / })
      .first()
      .click();
    await inbox.getByRole('heading', { name: 'TEST receipt: Voice coach' }).waitFor();
    expect(inbox.url()).toBe(receiptLink);
    expect(await inbox.locator('.receipt').textContent()).toContain('₹499.00');
    const receiptAxe = await new AxeBuilder({ page: inbox })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
      .analyze();
    expect(receiptAxe.violations.filter((found) => found.impact === 'serious' || found.impact === 'critical')).toEqual(
      [],
    );
    await inbox.screenshot({ path: screenshotPath('receipt.png'), fullPage: true });
    await inbox.setViewportSize({ width: 390, height: 844 });
    expect(Number(await inbox.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
    await inbox.screenshot({ path: screenshotPath('receipt-phone.png'), fullPage: true });
    await page.reload();
    await page.locator('.care-plan').first().waitFor();
    expect(await page.locator('.care-plan h3').first().textContent()).toBe('Your care plan (template)');
    await page.getByRole('region', { name: 'Care plans' }).getByTestId('safety-note').waitFor();
    expect(await page.getByTestId('about-calls').count()).toBe(0);
    await page.screenshot({ path: screenshotPath('coach-after-call.png'), fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  }, 120_000);
});

/** The caller's calls, newest first, from the database. */
async function sessionsOf(target: TestBallast, userId: string) {
  const rows = await sql<{
    id: string;
    status: string;
    metered_seconds: number;
    end_reason: string | null;
    started_at: Date;
    ended_at: Date | null;
  }>`select id, status, metered_seconds, end_reason, started_at, ended_at from platform.metered_session
    where user_id = ${userId}::uuid order by started_at desc`.execute(target.ballast.database.db);
  return rows.rows;
}

describe('a reload in the middle of a call', () => {
  it('resumes the call: heartbeats keep it open, the time counts on, and it ends normally with exact metering', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const email = 'reloader@example.com';
    const user = await caller(server, email, 600);
    const context = await browser!.newContext({ permissions: ['microphone'] });
    const page = await context.newPage();
    const seen: string[] = [];
    page.on('pageerror', (error) => seen.push(`uncaught: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') seen.push(`console: ${message.text()}`);
    });
    try {
      await signIn(page, server.url, email);
      await page.getByRole('button', { name: 'Start call' }).click();
      const captions = page.getByRole('log', { name: 'Captions' });
      await expect.poll(() => captions.textContent()).toContain('Coach: Hello, I am your coach.');
      await page.waitForTimeout(2_000);

      await page.reload();
      // Picked up at once: the call is still running and its time is counted; Resume is the main action.
      await page.getByRole('heading', { name: 'On a call with your coach' }).waitFor();
      await page.getByText('Your call is still running').waitFor();
      const resume = page.getByRole('button', { name: 'Resume call' });
      expect(await resume.getAttribute('data-variant')).toBe('primary');
      await expect.poll(() => page.getByTestId('call-elapsed').textContent()).toMatch(/^[2-6] sec$/);
      const axe = await new AxeBuilder({ page })
        .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
        .analyze();
      expect(axe.violations.filter((found) => found.impact === 'serious' || found.impact === 'critical')).toEqual([]);
      await page.screenshot({ path: screenshotPath('coach-call-resume.png') });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: screenshotPath('coach-call-resume-phone.png') });
      const resumeBox = (await resume.boundingBox())!;
      expect(resumeBox.y + resumeBox.height).toBeLessThanOrEqual(844);
      expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
      await page.setViewportSize({ width: 1280, height: 720 });

      // Past the 7 s gap while waiting for the click: the page's heartbeats keep the call open.
      await page.waitForTimeout(8_000);
      const [open] = await sessionsOf(server, user.id);
      expect(open!.status).toBe('active');
      await resume.click();
      await page.getByRole('button', { name: 'Mute' }).waitFor();
      expect(await page.getByTestId('call-state').textContent()).toMatch(/^(Coach speaking|Listening)$/);
      // The words from before the reload are still there, and the coach picks up where it was.
      await expect.poll(async () => (await captions.locator('p').allTextContents()).length).toBe(2);
      const meter = page.getByRole('meter', { name: 'Microphone level' });
      await expect
        .poll(async () => Number(await meter.getAttribute('aria-valuenow')), { timeout: 8000 })
        .toBeGreaterThan(0);
      expect(await page.getByTestId('call-remaining').textContent()).toMatch(/^9 min [34]\d sec$/);
      expect(await page.getByTestId('balance').count()).toBe(0);
      await page.getByRole('button', { name: 'Next question' }).click();
      await page.getByRole('button', { name: 'End call' }).click();
      await page.getByText(/Call ended after 1\d sec\. You ended the call\./).waitFor();

      // One call, metered from its start to the hang-up to the second, debited exactly once.
      const sessions = await sessionsOf(server, user.id);
      expect(sessions).toHaveLength(1);
      const ended = sessions[0]!;
      expect(ended.end_reason).toBe('hung_up');
      expect(ended.metered_seconds).toBe(Math.floor((ended.ended_at!.getTime() - ended.started_at.getTime()) / 1000));
      const usage = await sql<{ total: string }>`select coalesce(sum(-amount), 0)::text as total
        from platform.ledger_entry where user_id = ${user.id}::uuid and kind = 'usage'`.execute(
        server.ballast.database.db,
      );
      expect(Number(usage.rows[0]!.total)).toBe(ended.metered_seconds);
      await expect
        .poll(() => page.getByTestId('balance').textContent())
        .toBe(`9 min ${60 - ended.metered_seconds} sec`);
      // The transcript sent at the hang-up has the lines from before the reload and after it.
      const call = await sql<{ transcript: unknown }>`select transcript from coach.call
        where session_id = ${ended.id}::uuid`.execute(server.ballast.database.db);
      const said = JSON.stringify(call.rows[0]!.transcript);
      expect(said).toContain('Hello, I am your coach.');
      expect(said).toContain('What has been on your mind the most this week?');

      // Away from the page for longer than the gap: the server ends the call, and coming back says why.
      await page.getByRole('button', { name: 'Start call' }).click();
      await expect.poll(() => captions.textContent()).toContain('Coach: Hello, I am your coach.');
      await page.goto(`${server.url}/account`);
      await expect.poll(async () => (await sessionsOf(server, user.id))[0]!.status, { timeout: 20_000 }).toBe('ended');
      await page.goto(`${server.url}/coach/`);
      await page.getByText(/Call ended after \d+ sec\. The connection was lost/).waitFor();
      expect(await page.getByRole('button', { name: 'Start call' }).isEnabled()).toBe(true);
      expect(seen).toEqual([]);
    } finally {
      await context.close();
    }
  }, 90_000);
});

describe('the first run', () => {
  it('goes from an empty database to a finished call: setup, registration, talk-time, a call, the care plan', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const port = await getPort();
    const fresh = await startTestBallast({
      apps,
      roles: ['web', 'worker'],
      env: {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        TASKS_POLL_INTERVAL_SECONDS: '1',
        // The call lasts seconds: it still gets its care plan.
        COACH_CARE_PLAN_MIN_SECONDS: '0',
      },
    });
    const context = await browser!.newContext({ permissions: ['microphone'] });
    try {
      const page = await context.newPage();
      // No administrator yet: /setup makes the first one.
      await page.goto(`${fresh.url}/setup`);
      await page.getByLabel('Email', { exact: true }).fill('root@example.com');
      await page.getByLabel('Password', { exact: true }).fill('first administrator key');
      await page.getByRole('button', { name: 'Create administrator' }).click();
      await page.waitForURL(`${fresh.url}/welcome`);
      await page.locator('header').getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/sign-in/);

      // A person registers for the coach and confirms the address from the development inbox.
      const email = 'first-caller@example.com';
      await page.goto(`${fresh.url}/register?next=/coach/`);
      await page.getByLabel('Email', { exact: true }).fill(email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
      const confirmation = page.locator(`.inbox-message[data-recipient="${email}"]`).filter({ hasText: /confirm/i });
      const deadline = Date.now() + 30_000;
      while ((await confirmation.count()) === 0) {
        if (Date.now() > deadline) throw new Error('no confirmation email within 30 s');
        await page.waitForTimeout(300);
        await page.goto(`${fresh.url}/dev/inbox`);
      }
      await page.goto((await confirmation.first().locator('.body a').first().getAttribute('href'))!);
      await page.getByRole('link', { name: 'Continue' }).click();
      await page.waitForURL(`${fresh.url}/coach/`);

      // Buys talk-time in test mode, calls, hangs up.
      await expect.poll(() => page.getByTestId('balance').textContent()).toBe('0 sec');
      await page.getByRole('button', { name: 'Buy 30 minutes' }).click();
      await page.waitForURL(/\/payments\/test-checkout/);
      await page.getByRole('button', { name: /Pay ₹499\.00 \(test\)/ }).click();
      await page.waitForURL(/\/coach\//);
      await expect.poll(() => page.getByTestId('balance').textContent()).toBe('30 min');
      await page.getByRole('button', { name: 'Start call' }).click();
      await expect
        .poll(() => page.getByRole('log', { name: 'Captions' }).textContent())
        .toContain('Coach: Hello, I am your coach.');
      await page.waitForTimeout(3_000);
      await page.getByRole('button', { name: 'End call' }).click();
      await page.getByText(/Call ended after \d sec\. You ended the call\./).waitFor();

      // The care plan appears on the page (the worker writes it; the page looks again every 10 s).
      await page.locator('.care-plan h3').first().waitFor({ timeout: 45_000 });
      expect(await page.locator('.care-plan h3').first().textContent()).toBe('Your care plan (template)');
      await page.screenshot({ path: screenshotPath('coach-first-run-done.png'), fullPage: true });
    } finally {
      await context.close();
      await fresh.close();
    }
  }, 120_000);
});

describe('the voice coach when things go wrong', () => {
  it('says when the microphone is refused', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    // A fake microphone but no automatic permission: the context grants none, so Chromium refuses.
    const strict = await launchBrowser(['--use-fake-device-for-media-stream']);
    try {
      const email = 'no-mic@example.com';
      const user = await caller(server, email, 600);
      const page = await strict.newPage();
      await signIn(page, server.url, email);
      await expect.poll(() => page.getByTestId('balance').textContent()).toBe('10 min');
      await page.getByRole('button', { name: 'Start call' }).click();
      await page.getByText('Microphone access was refused').waitFor();
      expect(await page.getByRole('button', { name: 'Start call' }).isEnabled()).toBe(true);
      const db = server.ballast.database.db;
      const sessions = await sql<{ n: string }>`select count(*)::text as n from platform.metered_session
        where user_id = ${user.id}::uuid`.execute(db);
      expect(sessions.rows[0]!.n).toBe('0');
    } finally {
      await strict.close();
    }
  });

  it('shows the connection lost and recovered across a web restart, then why the server ended the call', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const redisUrl = inject('redisUrl');
    if (redisUrl === '') ctx.skip('Redis is not reachable');
    // Two web processes in turn on one port and database, sharing keys, secrets and the meter store.
    const database = await createTestDatabase();
    const port = await getPort();
    const env = {
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      REDIS_URL: redisUrl,
      AUTH_SIGNING_KEYS: await testSigningKeys(),
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      METERING_HEARTBEAT_GAP_SECONDS: '15',
    };
    let web: TestBallast | undefined = await startTestBallast({ apps, env, databaseUrl: database.url });
    const context = await browser!.newContext({ permissions: ['microphone'] });
    try {
      const email = 'restart@example.com';
      // 40 s of talk-time: the warning (60 s before the end) shows at once, the end comes in the test.
      const user = await caller(web, email, 40);
      const page = await context.newPage();
      await signIn(page, web.url, email);
      await page.getByRole('button', { name: 'Start call' }).click();
      await page.getByRole('heading', { name: 'On a call with your coach' }).waitFor();
      await page.getByText('Less than a minute of talk-time left').waitFor();

      await web.close();
      web = undefined;
      await page.getByText('Connection lost: reconnecting').waitFor();
      await page.screenshot({ path: screenshotPath('coach-connection-lost.png'), fullPage: true });
      web = await startTestBallast({ apps, env, databaseUrl: database.url });
      await page.getByText('Connection recovered.').waitFor({ timeout: 20_000 });
      expect(await page.getByRole('heading', { name: 'On a call with your coach' }).isVisible()).toBe(true);

      // The balance runs out: the server ends the call and the page says why.
      await page.getByText(/Call ended after 40 sec\. .*talk-time ran out/i).waitFor({ timeout: 45_000 });
      await page.screenshot({ path: screenshotPath('coach-ended-by-server.png'), fullPage: true });
      const db = web.ballast.database.db;
      const session = await sql<{ metered_seconds: number; end_reason: string }>`select metered_seconds, end_reason
        from platform.metered_session where user_id = ${user.id}::uuid`.execute(db);
      expect(session.rows).toEqual([{ metered_seconds: 40, end_reason: 'balance_exhausted' }]);
      await expect.poll(() => page.getByTestId('balance').textContent()).toBe('0 sec');
    } finally {
      await context.close();
      await web?.close();
      await database.drop();
    }
    // About 45 s of it is the call running out of talk-time.
  }, 150_000);
});
