import type { Browser } from 'playwright-core';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineApp, defineNotification, defineTask, z } from '@ballast/platform';
import { startTestBallast, type TestBallast } from '@ballast/platform/testing';
import { browserUnavailable, launchBrowser, openPage, screenshotPath } from '../support/browser.ts';

let healthy = false;

const syncTask = defineTask({
  name: 'ops.sync-ledger',
  payload: z.object({ n: z.number() }),
  retries: 1,
  retryDelaySeconds: 1,
  handler: async (payload) => {
    if (!healthy && payload.n === 0) throw new Error('ledger service answered 503');
  },
});

const welcome = defineNotification({
  type: 'ops.welcome',
  title: 'Welcome',
  data: z.object({ name: z.string() }),
  channels: ['email', 'sms'],
  render: (data) => ({
    title: `Welcome, ${data.name}`,
    text: `Hello ${data.name}, your account is ready.`,
    html: `<p>Hello <strong>${data.name}</strong>, your account is ready.</p>`,
  }),
});

const opsApp = defineApp({
  name: 'ops',
  title: 'Ops',
  summary: 'Operator pages under test.',
  status: 'available',
  tasks: [syncTask],
  notifications: [welcome],
});

const unavailable = browserUnavailable();
let server: TestBallast;
let browser: Browser | undefined;

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(200);
  }
}

beforeAll(async () => {
  server = await startTestBallast({
    apps: [opsApp],
    roles: ['web', 'worker'],
    env: { TASKS_POLL_INTERVAL_SECONDS: '1' },
  });
  for (let n = 0; n < 12; n++) await server.ballast.tasks.enqueue(syncTask, { n });
  await server.ballast.notify.send('ops.welcome', {
    to: { email: 'lena@example.com', phone: '+491700000001' },
    data: { name: 'Lena' },
    idempotencyKey: 'welcome:lena',
  });
  await waitFor(async () => (await server.ballast.tasks.deadLetters('ops.sync-ledger')).length === 1);
  if (unavailable === undefined) browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server.close();
});

describe('operator pages in a real browser', () => {
  it('shows the task queues, the last hour as a chart, and requeues a dead letter', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const { page, problems } = await openPage(browser!, `${server.url}/admin/tasks`);
    expect(await page.locator('h1').textContent()).toBe('Background tasks');
    expect(await page.locator('.chart svg rect.completed').count()).toBe(60);
    expect(await page.locator('.chart figcaption').textContent()).toMatch(/completed 1[1-9]/);
    const row = page.locator('tr[data-task="ops.sync-ledger"]');
    expect(await row.locator('td').nth(5).textContent()).toBe('1');
    const dead = page.locator('tr[data-dead-letter]');
    expect(await dead.count()).toBe(1);
    expect(await dead.locator('td').nth(3).textContent()).toBe('ledger service answered 503');
    // Times read as a date and a clock with the zone named, not a raw ISO string.
    expect(await dead.locator('td').nth(1).textContent()).toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d:\d\d UTC$/);
    await page.screenshot({ path: screenshotPath('admin-tasks.png'), fullPage: true });

    healthy = true;
    await dead.getByRole('button', { name: 'Retry' }).click();
    await page.waitForURL(`${server.url}/admin/tasks`);
    expect(await page.locator('tr[data-dead-letter]').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('lists email and SMS in the development inbox, with the rendered HTML one click away', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    await waitFor(async () => (await (await fetch(`${server.url}/dev/inbox`)).text()).includes('+491700000001'));
    const { page, problems } = await openPage(browser!, `${server.url}/dev/inbox`);
    expect(await page.locator('.inbox-message[data-channel="email"] .subject').textContent()).toBe('Welcome, Lena');
    expect(await page.locator('.inbox-message[data-channel="sms"] .body').textContent()).toBe(
      'Hello Lena, your account is ready.',
    );
    await page.screenshot({ path: screenshotPath('dev-inbox.png'), fullPage: true });
    await page.getByRole('link', { name: 'View as HTML' }).click();
    expect(await page.locator('strong').textContent()).toBe('Lena');
    expect(problems).toEqual([]);
  });
});
