import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestUser, startTestBallast, type TestBallast } from '@ballast/platform/testing';
import { apps } from '../../cli/src/apps.ts';
import { browserUnavailable, launchBrowser, screenshotPath } from '../support/browser.ts';

/**
 * An administrator in a real browser: one user's page (account, talk-time, purchases, calls), a
 * free talk-time grant that credits once however often the button is pressed and shows in the
 * audit trail by name, confirmation before disabling an account or making an administrator, and
 * the audit trail's filters kept in the address.
 */
const unavailable = browserUnavailable();
let server: TestBallast;
let browser: Browser | undefined;
const PASSWORD = 'a calm voice at night';
const problems: string[] = [];

beforeAll(async () => {
  if (unavailable !== undefined) return;
  server = await startTestBallast({ apps });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function signedIn(email: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  await page.goto(`${server.url}/sign-in?next=/account`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/account');
  return { context, page };
}

async function showEveryone(page: Page) {
  await page.goto(`${server.url}/admin/users`);
  await page.getByLabel('Show').selectOption('all');
  await page.getByRole('button', { name: 'Apply' }).click();
}

describe('the administrator’s view of a user', () => {
  it('grants free talk-time once, and the audit trail names who gave whom how much', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const admin = await createTestUser(server.ballast, 'boss@example.com', {
      password: PASSWORD,
      roles: ['platform:admin'],
    });
    const alice = await createTestUser(server.ballast, 'alice@example.com', { roles: ['coach:user'] });
    const { context, page } = await signedIn(admin.email);
    await showEveryone(page);
    await page.locator('tr[data-user="alice@example.com"]').getByRole('link', { name: 'alice@example.com' }).click();
    await page.waitForURL(`${server.url}/admin/users/${alice.id}`);
    await page.getByRole('heading', { level: 1, name: 'alice@example.com' }).waitFor();
    await expect.poll(() => page.getByTestId('balance-coach').textContent()).toBe('0 sec');
    await page.getByRole('heading', { name: 'Calls' }).waitFor();

    await page.getByLabel('Minutes').fill('5');
    await page.getByLabel('Reason').fill('The call dropped on our side');
    // A double click is one grant: the form sends one key until the server answers.
    await page.getByRole('button', { name: 'Grant free talk-time' }).dblclick();
    await page.getByText('Granted 5 min to alice@example.com').waitFor();
    await expect.poll(() => page.getByTestId('balance-coach').textContent()).toBe('5 min');
    const balance = (await (
      await fetch(`${server.url}/api/payments/coach/balance`, { headers: alice.headers })
    ).json()) as { balance: number };
    expect(balance.balance).toBe(300);
    await page.screenshot({ path: screenshotPath('admin-user.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('admin-user-phone.png'), fullPage: true });
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 800 });

    // The trail, filtered by a dropdown; the filter is in the address and survives a reload.
    await page.goto(`${server.url}/admin/audit`);
    await page.getByTestId('audit-table').waitFor();
    await page.getByLabel('Action').selectOption('payments.grant');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(`${server.url}/admin/audit?action=payments.grant`);
    await page.reload();
    expect(await page.getByLabel('Action').inputValue()).toBe('payments.grant');
    const rows = page.locator('[data-testid="audit-table"] tbody tr');
    await expect.poll(() => rows.allTextContents()).toHaveLength(1);
    const row = (await rows.first().textContent()) ?? '';
    expect(row).toContain('boss@example.com');
    expect(row).toContain('alice@example.com');
    expect(row).toContain('5 min of coach');
    expect(row).toContain('reason The call dropped on our side');
    expect(row).not.toContain(alice.id);
    await page.screenshot({ path: screenshotPath('admin-audit-filtered.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('admin-audit-filtered-phone.png'), fullPage: true });
    await context.close();
    expect(problems).toEqual([]);
  });

  it('asks before disabling an account or making an administrator; cancel changes nothing', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    await createTestUser(server.ballast, 'chief@example.com', { password: PASSWORD, roles: ['platform:admin'] });
    await createTestUser(server.ballast, 'carol@example.com');
    const { context, page } = await signedIn('chief@example.com');
    await showEveryone(page);
    const carol = page.locator('tr[data-user="carol@example.com"]');

    await carol.getByRole('button', { name: 'Disable' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByRole('heading', { name: 'Disable carol@example.com?' }).waitFor();
    expect(await dialog.textContent()).toContain('They are signed out everywhere');
    await page.screenshot({ path: screenshotPath('admin-confirm-disable.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('admin-confirm-disable-phone.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await carol.getAttribute('data-disabled')).toBeNull();

    await carol.getByLabel('Role to grant carol@example.com').selectOption('platform:admin');
    await carol.getByRole('button', { name: 'Grant' }).click();
    await dialog.getByRole('heading', { name: 'Make carol@example.com an administrator?' }).waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await carol.locator('.role-list').textContent()).not.toContain('platform:admin');

    await carol.getByRole('button', { name: 'Disable' }).click();
    await dialog.getByRole('button', { name: 'Disable' }).click();
    await page.getByText('Disabled carol@example.com; every session is signed out').waitFor();
    expect(await carol.getAttribute('data-disabled')).toBe('true');
    await context.close();
    expect(problems).toEqual([]);
  });
});
