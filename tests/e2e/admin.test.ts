import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ballast/platform';
import {
  applyTestLedgerChange,
  createTestUser,
  startTestBallast,
  waitFor,
  type TestBallast,
} from '@ballast/platform/testing';
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
  // A worker too: the coach's care plans are written by a task.
  server = await startTestBallast({ apps, roles: ['web', 'worker'], env: { TASKS_POLL_INTERVAL_SECONDS: '1' } });
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

  it('shows a caller their purchases and care plans plainly: titles, checkouts not completed, plans newest first', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const dana = await createTestUser(server.ballast, 'dana@example.com', {
      password: PASSWORD,
      roles: ['coach:user'],
    });
    await applyTestLedgerChange(server.ballast, {
      kind: 'purchase',
      userId: dana.id,
      app: 'coach',
      unit: 'seconds',
      amount: 1800,
      idempotencyKey: 'dana-credit',
    });
    const json = { ...dana.headers, 'content-type': 'application/json' };
    // Two calls, each as if it had lasted 90 s, and their care plans written.
    const db = server.ballast.database.db;
    for (const round of [1, 2]) {
      const started = (await (
        await fetch(`${server.url}/api/coach/calls`, { method: 'POST', headers: json, body: '{}' })
      ).json()) as { call: { id: string } };
      const id = started.call.id;
      await fetch(`${server.url}/api/coach/calls/${id}/end`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ transcript: [{ role: 'user', text: `Round ${round}: I sleep badly` }] }),
      });
      await sql`update platform.metered_session set metered_seconds = 90 where id = ${id}::uuid`.execute(db);
      await server.ballast.tasks.enqueue('coach.write-care-plan', { sessionId: id }, { dedupeKey: `e2e:${id}` });
      await waitFor(
        async () => {
          const answer = await fetch(`${server.url}/api/coach/care-plans`, { headers: dana.headers });
          return ((await answer.json()) as { carePlans: unknown[] }).carePlans.length;
        },
        (count) => count === round,
      );
    }
    // A checkout opened two hours ago and never paid.
    const order = (await (
      await fetch(`${server.url}/api/payments/coach/orders`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ pack: 'talk-60' }),
      })
    ).json()) as { orderId: string };
    await sql`update platform.payment_order set created_at = now() - interval '2 hours'
      where id = ${order.orderId}::uuid`.execute(db);

    const { context, page } = await signedIn(dana.email);
    await page.goto(`${server.url}/coach/`);
    const purchases = page.getByTestId('purchases');
    await expect.poll(() => purchases.textContent()).toContain('checkout not completed');
    expect(await purchases.textContent()).toContain('1 hour');
    expect(await purchases.textContent()).not.toContain('talk-60');
    expect(await page.getByTestId('care-plan-minimum').textContent()).toBe('Calls under a minute get no care plan.');
    const plans = page.locator('details.care-plan');
    await expect.poll(() => plans.count()).toBe(2);
    expect(await plans.nth(0).getAttribute('open')).not.toBeNull();
    expect(await plans.nth(1).getAttribute('open')).toBeNull();
    expect(await plans.nth(0).locator('ol > li').count()).toBe(4);
    expect(await page.locator('.care-plan pre').count()).toBe(0);
    // The folded plans and the purchases' states pass axe too (the accessibility pass has no plans).
    const axe = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']).analyze();
    expect(
      axe.violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical'),
    ).toEqual([]);
    await page.screenshot({ path: screenshotPath('coach-plans-purchases.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath('coach-plans-purchases-phone.png'), fullPage: true });
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
    await context.close();
    expect(problems).toEqual([]);
  });
});
