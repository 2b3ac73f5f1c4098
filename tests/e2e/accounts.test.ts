import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestUser, startTestBallast, type TestBallast } from '@ballast/platform/testing';
import { apps } from '../../cli/src/apps.ts';
import { browserUnavailable, launchBrowser, screenshotPath } from '../support/browser.ts';

/**
 * Accounts in a real browser, the way a person uses them: register, confirm the address from the
 * development inbox, sign out, sign in, reset a forgotten password, and an administrator
 * approving a role and reading the audit trail. Web and worker run, so emails are really
 * delivered (to the development inbox) by the notification tasks.
 */
const unavailable = browserUnavailable();
let server: TestBallast;
let browser: Browser | undefined;
const problems: string[] = [];

beforeAll(async () => {
  if (unavailable !== undefined) return;
  // The links in emails point at PUBLIC_URL: give the server a known port.
  const port = await getPort();
  server = await startTestBallast({
    apps,
    roles: ['web', 'worker'],
    env: { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, TASKS_POLL_INTERVAL_SECONDS: '1' },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function newPage(): Promise<Page> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  return page;
}

/** Opens the development inbox until a message to `to` whose subject matches arrives; returns its link. */
async function linkFromInbox(page: Page, to: string, subject: RegExp): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.goto(`${server.url}/dev/inbox`);
    const message = page.locator(`.inbox-message[data-recipient="${to}"]`).filter({ hasText: subject }).first();
    if ((await message.count()) > 0) {
      const href = await message.locator('.body a').first().getAttribute('href');
      if (href !== null) return href;
    }
    if (Date.now() > deadline) throw new Error(`no message to ${to} matching ${subject} within 30 s`);
    await page.waitForTimeout(300);
  }
}

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${server.url}/sign-in`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('accounts in a real browser', () => {
  const email = 'ada@example.com';

  it('registers, confirms the address from the development inbox and lands signed in', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const page = await newPage();
    await page.goto(`${server.url}/register`);
    expect(await page.title()).toBe('Create an account · Ballast');
    await page.getByLabel('Name').fill('Ada Lovelace');
    await page.getByLabel('Email', { exact: true }).fill(email);
    // A common password is refused with the reason beside the field.
    await page.getByLabel('Password', { exact: true }).fill('password123');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => page.locator('.field-error').textContent()).toContain('common');
    await page.getByLabel('Password', { exact: true }).fill('analytical engine notes');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
    // In development the page links the development inbox, where the email went.
    expect(await page.getByTestId('dev-inbox-hint').getByRole('link').getAttribute('href')).toBe('/dev/inbox');

    const link = await linkFromInbox(page, email, /confirm/i);
    expect(link).toMatch(new RegExp(`^${server.url}/verify-email\\?token=`));
    await page.goto(link);
    await page.getByText('Your email address is confirmed and you are signed in.').waitFor();
    await page.getByRole('link', { name: 'Continue' }).click();
    await page.waitForURL(`${server.url}/account`);
    await expect.poll(() => page.getByTestId('account-email').textContent()).toContain(email);
    expect(await page.locator('.topbar .account-link').textContent()).toBe('Ada Lovelace');
    await page.screenshot({ path: screenshotPath('account.png'), fullPage: true });
    await page.context().close();
  });

  it('keeps `next` through registration, a resent confirmation and the email link', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const page = await newPage();
    const who = 'grace@example.com';
    await page.goto(`${server.url}/sign-in?next=${encodeURIComponent('/coach/?from=start')}`);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.waitForURL(/\/register\?next=/);
    await page.getByLabel('Email', { exact: true }).fill(who);
    await page.getByLabel('Password', { exact: true }).fill('compiler flow chart');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
    await page.getByRole('button', { name: 'Resend confirmation email' }).click();
    await page
      .getByText('If an unconfirmed account uses this address, a new confirmation link is on its way.')
      .waitFor();
    await page.screenshot({ path: screenshotPath('register-resent.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('register-resent-mobile.png'), fullPage: true });

    // Two links now; the newest confirms and leads back to where the person started.
    const messages = page.locator(`.inbox-message[data-recipient="${who}"]`).filter({ hasText: /confirm/i });
    const deadline = Date.now() + 30_000;
    while ((await messages.count()) < 2) {
      if (Date.now() > deadline) throw new Error('no second confirmation email within 30 s');
      await page.goto(`${server.url}/dev/inbox`);
      await page.waitForTimeout(300);
    }
    const links = await Promise.all(
      [0, 1].map(async (index) => (await messages.nth(index).locator('.body a').first().getAttribute('href'))!),
    );
    for (const link of links) expect(link).toContain(`next=${encodeURIComponent('/coach/?from=start')}`);
    await page.goto(links[0]!);
    await page.getByText('Your email address is confirmed and you are signed in.').waitFor();
    await page.getByRole('link', { name: 'Continue' }).click();
    await page.waitForURL(`${server.url}/coach/?from=start`);
    await page.context().close();
  });

  it('signs out everywhere, then signs in again (and refuses a wrong password)', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const page = await newPage();
    await signIn(page, email, 'analytical engine notes');
    await page.waitForURL(`${server.url}/account`);
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.waitForURL(`${server.url}/sign-in`);
    await page.goto(`${server.url}/account`);
    await page.getByRole('heading', { name: 'Sign in to continue' }).waitFor();

    await signIn(page, email, 'not my password');
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Email or password is incorrect.');
    await page.screenshot({ path: screenshotPath('sign-in-refused.png') });

    await page.getByLabel('Password', { exact: true }).fill('analytical engine notes');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/account`);
    await expect.poll(() => page.getByTestId('account-email').textContent()).toContain(email);
    // The top bar's sign-out works too.
    await page.locator('.topbar').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${server.url}/sign-in`);
    await page.context().close();
  });

  it('resets a forgotten password with the emailed one-time link', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const page = await newPage();
    await page.goto(`${server.url}/sign-in`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.waitForURL(`${server.url}/reset`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByRole('button', { name: 'Email me a link' }).click();
    await page.getByText('If an account uses this address, a reset link is on its way.').waitFor();

    const link = await linkFromInbox(page, email, /reset/i);
    expect(link).toMatch(new RegExp(`^${server.url}/reset/confirm\\?token=`));
    await page.goto(link);
    await page.getByLabel('New password', { exact: true }).fill('difference engine draft');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.getByText('Your password is changed. Sign in with the new one.').waitFor();

    // The link works once, and says so on load, before anyone types a password.
    await page.goto(link);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('already been used');
    expect(await page.getByLabel('New password', { exact: true }).count()).toBe(0);
    await page.screenshot({ path: screenshotPath('reset-used-link.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('reset-used-link-mobile.png'), fullPage: true });
    await page.getByRole('link', { name: 'Ask for a new link' }).click();
    await page.waitForURL(`${server.url}/reset`);

    await signIn(page, email, 'analytical engine notes');
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Email or password is incorrect.');
    await page.getByLabel('Password', { exact: true }).fill('difference engine draft');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/account`);
    await page.context().close();
  });

  it('lets the first administrator set up, approve a trader and read the audit trail', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const applicant = await newPage();
    await applicant.goto(`${server.url}/register?role=complaints:trader`);
    await applicant.getByLabel('Email', { exact: true }).fill('trader@example.com');
    await applicant.getByLabel('Password', { exact: true }).fill('market stall ledger');
    await applicant.getByRole('button', { name: 'Create account' }).click();
    await applicant.getByRole('heading', { name: 'Check your inbox' }).waitFor();
    await applicant.goto(await linkFromInbox(applicant, 'trader@example.com', /confirm/i));
    await applicant.getByRole('link', { name: 'Continue' }).click();
    await applicant.waitForURL(/\/awaiting-approval/);
    await applicant.getByRole('heading', { name: 'Awaiting approval' }).waitFor();

    const admin = await newPage();
    await admin.goto(`${server.url}/setup`);
    await admin.getByLabel('Email', { exact: true }).fill('root@example.com');
    await admin.getByLabel('Password', { exact: true }).fill('first administrator key');
    await admin.getByRole('button', { name: 'Create administrator' }).click();
    // A welcome with next steps: try the products, where emails go, invite people.
    await admin.waitForURL(`${server.url}/welcome`);
    await admin.getByRole('heading', { name: /Ballast is set up/ }).waitFor();
    expect(await admin.getByRole('link', { name: 'Try Voice coach' }).getAttribute('href')).toBe('/coach/');
    expect(await admin.getByRole('link', { name: 'development inbox' }).getAttribute('href')).toBe('/dev/inbox');
    expect(await admin.getByRole('link', { name: 'registration page' }).getAttribute('href')).toBe('/register');
    await admin.screenshot({ path: screenshotPath('welcome.png'), fullPage: true });
    await admin.setViewportSize({ width: 390, height: 844 });
    await admin.screenshot({ path: screenshotPath('welcome-mobile.png'), fullPage: true });
    await admin.setViewportSize({ width: 1280, height: 720 });
    await admin.getByRole('link', { name: 'Go to Users' }).click();
    await admin.waitForURL(`${server.url}/admin/users`);
    const row = admin.locator('tr[data-user="trader@example.com"]');
    await row.getByRole('button', { name: 'Approve' }).click();
    await admin.getByText('Approved complaints:trader for trader@example.com').waitFor();
    await admin.screenshot({ path: screenshotPath('admin-users.png'), fullPage: true });
    // Setup happens once.
    expect((await admin.goto(`${server.url}/setup`))!.status()).toBe(404);

    await applicant.getByRole('button', { name: 'Check again' }).click();
    await applicant.getByRole('heading', { name: 'You are approved' }).waitFor();

    await admin.goto(`${server.url}/admin/audit`);
    await admin.getByTestId('audit-table').waitFor();
    await admin.getByLabel('Action').selectOption('auth.role_approved');
    await admin.getByRole('button', { name: 'Filter' }).click();
    await admin.waitForURL(/\/admin\/audit\?action=auth\.role_approved$/);
    await expect
      .poll(async () => admin.locator('[data-testid="audit-table"] tbody tr').allTextContents())
      .toEqual([expect.stringContaining('root@example.com')]);
    const download = admin.waitForEvent('download');
    await admin.getByRole('link', { name: 'Export CSV' }).click();
    const csv = await (await download).createReadStream();
    let text = '';
    for await (const chunk of csv) text += String(chunk);
    expect(text.split('\n')[0]).toContain('action');
    expect(text).toContain('auth.role_approved');
    await admin.screenshot({ path: screenshotPath('admin-audit.png'), fullPage: true });
  });

  it('follows every link in every email of the development inbox to a page that answers 200', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const page = await newPage();
    await page.goto(`${server.url}/dev/inbox`);
    const messages = page.locator('.inbox-message');
    expect(await messages.count()).toBeGreaterThan(5);
    // Every email names its product and links the notification settings in its footer.
    for (const body of await messages.locator('.body').allTextContents()) {
      expect(body).toMatch(/\nBallast\n/);
      expect(body).toContain(`${server.url}/account#notifications`);
    }
    const anchors = await page.locator('.inbox-message .body a').all();
    const links = [...new Set(await Promise.all(anchors.map(async (anchor) => (await anchor.getAttribute('href'))!)))];
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) {
      expect(link.startsWith(server.url), link).toBe(true);
      const answer = await page.request.get(link, { maxRedirects: 0 });
      expect([link, answer.status()]).toEqual([link, 200]);
    }

    // The footer's link leads to the notification settings, which work.
    await signIn(page, email, 'difference engine draft');
    await page.waitForURL(`${server.url}/account`);
    await page.goto(`${server.url}/account#notifications`);
    await page.getByRole('heading', { name: 'Notifications' }).waitFor();
    const carePlans = page.getByLabel('Care plan ready: Email', { exact: true });
    expect(await carePlans.isChecked()).toBe(true);
    await carePlans.uncheck();
    await page.reload();
    await expect.poll(() => page.getByLabel('Care plan ready: Email', { exact: true }).isChecked()).toBe(false);
    expect(await page.getByLabel('Email address confirmation: Email (always sent)', { exact: true }).isDisabled()).toBe(
      true,
    );
    await page.screenshot({ path: screenshotPath('account-notifications.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('account-notifications-mobile.png'), fullPage: true });
    await page.context().close();
  });

  it('renames, lists sessions, signs out the others, and signs out from a server-rendered page', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const who = 'hopper@example.com';
    const password = 'compiler of the first kind';
    await createTestUser(server.ballast, who, { password, roles: ['coach:user'] });
    const page = await newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    await signIn(page, who, password);
    await page.waitForURL(`${server.url}/account`);
    const other = await newPage();
    await signIn(other, who, password);
    await other.waitForURL(`${server.url}/account`);

    // The name: saving it empty shows the field's error; then one click straight after typing
    // saves (the blur that clears the error must not move the button from under the pointer).
    const name = page.getByLabel('Display name', { exact: true });
    const save = page.getByRole('button', { name: 'Save name' });
    await name.fill('');
    await save.click();
    await page.getByText('Enter your display name.').waitFor();
    await name.fill('Grace Hopper');
    await save.click();
    await page.getByText('Name saved.').waitFor();
    await expect.poll(() => page.locator('.topbar .account-link').textContent()).toBe('Grace Hopper');

    // Products: coach's card with its balance in its unit and the way in.
    await page.getByRole('heading', { name: 'Coach' }).waitFor();
    await expect.poll(() => page.getByTestId('balance-coach').textContent()).toMatch(/Balance: .*sec/);

    await page.reload();
    // The test's own sign-in (an API client), the other browser and this one.
    const sessions = page.getByTestId('sessions').locator('li');
    await expect.poll(() => sessions.count()).toBe(3);
    await expect.poll(() => page.locator('[data-current="true"]').textContent()).toContain('this device');
    await page.screenshot({ path: screenshotPath('account.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('account-mobile.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByRole('button', { name: 'Sign out other sessions' }).click();
    await page.getByText('2 other sessions are signed out.').waitFor();
    await expect.poll(() => sessions.count()).toBe(1);
    // The other browser is signed out at once; this one goes on.
    await other.goto(`${server.url}/account`);
    await other.getByRole('heading', { name: 'Sign in to continue' }).waitFor();
    await page.goto(`${server.url}/account`);
    await expect.poll(() => page.getByTestId('account-email').textContent()).toContain(who);

    // The home page is rendered by the server: its header signs out too.
    await page.goto(`${server.url}/`);
    await page.locator('.topbar').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${server.url}/sign-in`);
    await page.goto(`${server.url}/account`);
    await page.getByRole('heading', { name: 'Sign in to continue' }).waitFor();
    await page.context().close();
    await other.context().close();
  });

  it('ran every page without a script error or a CSP violation', (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    // Expected refusals (wrong password, used link, 404 after setup) are answers, not errors.
    const unexpected = problems.filter((problem) => !/status of (401|404|400)/.test(problem));
    expect(unexpected).toEqual([]);
  });
});
