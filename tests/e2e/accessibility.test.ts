import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTestLedgerChange, createTestUser, startTestBallast, type TestBallast } from '@ballast/platform/testing';
import { apps } from '../../cli/src/apps.ts';
import { browserUnavailable, launchBrowser, screenshotPath } from '../support/browser.ts';

/**
 * Every page, signed out and signed in, on a desktop and on a 390×844 phone: axe-core finds no
 * serious or critical WCAG 2.2 A/AA violation, and nothing is wider than the screen.
 */

const unavailable = browserUnavailable();
let server: TestBallast;
let browser: Browser | undefined;

const PASSWORD = 'a calm voice at night';
const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

const signedOutPages = [
  '/',
  '/setup',
  '/sign-in',
  '/register',
  '/reset',
  '/reset/confirm?token=not-a-real-token',
  '/verify-email',
  '/account',
  '/coach/',
  '/no/such/page',
  '/dev/inbox',
];
const adminPages = [
  '/',
  '/account',
  '/welcome',
  '/admin/users',
  '/admin/audit',
  '/admin/tasks',
  '/dev/inbox',
  '/coach/',
];
const personPages = ['/', '/account', '/coach/', '/awaiting-approval', '/admin/users'];

beforeAll(async () => {
  server = await startTestBallast({ apps });
  if (unavailable === undefined) browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

interface Finding {
  readonly page: string;
  readonly viewport: string;
  readonly rule: string;
  readonly impact: string | null | undefined;
  readonly targets: string[];
}

/** Opens each page and collects what axe and the width check find (empty when all is well). */
async function audit(context: BrowserContext, pages: readonly string[], label: string): Promise<Finding[]> {
  const viewport = context.pages()[0]?.viewportSize() ?? viewports.desktop;
  const findings: Finding[] = [];
  const page: Page = context.pages()[0] ?? (await context.newPage());
  let problems: string[] = [];
  const onConsole = (message: { type(): string; text(): string }) => {
    if (message.type() === 'error') problems.push(message.text());
  };
  page.on('console', onConsole);
  for (const path of pages) {
    problems = [];
    await page.goto(`${server.url}${path}`, { waitUntil: 'networkidle' });
    // React pages replace the server's shell: wait until the page's one heading is there.
    await page.locator('h1').first().waitFor();
    const results = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
      .analyze();
    for (const violation of results.violations) {
      if (violation.impact !== 'serious' && violation.impact !== 'critical') continue;
      findings.push({
        page: path,
        viewport: label,
        rule: violation.id,
        impact: violation.impact,
        targets: violation.nodes.map((node) => node.target.join(' ')),
      });
    }
    const headings = await page.locator('h1').count();
    if (headings !== 1) {
      findings.push({ page: path, viewport: label, rule: 'one-h1', impact: 'serious', targets: [`${headings} h1`] });
    }
    const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
    if (width > viewport.width) {
      findings.push({
        page: path,
        viewport: label,
        rule: 'no-horizontal-scroll',
        impact: 'serious',
        targets: [`scrollWidth ${width} > ${viewport.width}`],
      });
    }
    // A refused inline style or script (CSP) or any other script error counts too; an API's 403 or
    // a 404 page's own status is the page working as meant.
    for (const problem of problems.filter((text) => !text.startsWith('Failed to load resource'))) {
      findings.push({ page: path, viewport: label, rule: 'console-error', impact: 'serious', targets: [problem] });
    }
    const name = `a11y-${label}-${path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'home'}.png`;
    await page.screenshot({ path: screenshotPath(name), fullPage: true });
  }
  page.off('console', onConsole);
  return findings;
}

async function signedInContext(viewport: { width: number; height: number }, email: string): Promise<BrowserContext> {
  const context = await browser!.newContext({ viewport });
  const page = await context.newPage();
  await page.goto(`${server.url}/sign-in?next=/account`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/account');
  await page.locator('.account-link').waitFor();
  return context;
}

describe('accessibility and phone layout of every page', () => {
  for (const [label, viewport] of Object.entries(viewports)) {
    it(`has no serious or critical axe violation and no sideways scroll signed out (${label})`, async (ctx) => {
      if (unavailable !== undefined) ctx.skip(unavailable);
      const context = await browser!.newContext({ viewport });
      await context.newPage();
      try {
        expect(await audit(context, signedOutPages, `${label}-signed-out`)).toEqual([]);
      } finally {
        await context.close();
      }
    }, 180_000);
  }

  it('has no serious or critical axe violation and no sideways scroll signed in, as a person and as an admin', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const person = await createTestUser(server.ballast, 'a11y-person@example.com', {
      password: PASSWORD,
      roles: ['coach:user'],
    });
    // A purchase and a long name: the tables and the header must still fit a phone.
    await applyTestLedgerChange(server.ballast, {
      kind: 'purchase',
      userId: person.id,
      app: 'coach',
      unit: 'seconds',
      amount: 1800,
      idempotencyKey: 'a11y-credit',
    });
    await createTestUser(server.ballast, 'a11y-admin-with-a-rather-long-address@example.com', {
      password: PASSWORD,
      roles: ['platform:admin'],
    });
    const findings: Finding[] = [];
    for (const [label, viewport] of Object.entries(viewports)) {
      const asPerson = await signedInContext(viewport, 'a11y-person@example.com');
      findings.push(...(await audit(asPerson, personPages, `${label}-person`)));
      await asPerson.close();
      const asAdmin = await signedInContext(viewport, 'a11y-admin-with-a-rather-long-address@example.com');
      // The admin's view of one user: their account, balance, purchases and calls.
      findings.push(...(await audit(asAdmin, [...adminPages, `/admin/users/${person.id}`], `${label}-admin`)));
      await asAdmin.close();
    }
    expect(findings).toEqual([]);
  }, 300_000);
});

describe('the one header', () => {
  it('offers an administrator Users, Audit, Tasks, the development inbox and the API docs, on React and server pages alike', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    await createTestUser(server.ballast, 'header-admin@example.com', { password: PASSWORD, roles: ['platform:admin'] });
    const context = await signedInContext(viewports.desktop, 'header-admin@example.com');
    const page = context.pages()[0]!;
    try {
      for (const path of ['/account', '/admin/tasks', '/', '/no/such/page']) {
        await page.goto(`${server.url}${path}`, { waitUntil: 'networkidle' });
        const operations = page.getByRole('group', { name: 'Operations' });
        expect(await operations.getByRole('link').allTextContents()).toEqual([
          'Users',
          'Audit',
          'Tasks',
          'Inbox',
          'API docs',
        ]);
        expect(await page.locator('.account-link').textContent()).toContain('header-admin@example.com');
        expect(await page.getByRole('link', { name: 'Skip to content' }).getAttribute('href')).toBe('#main');
      }
    } finally {
      await context.close();
    }
  });

  it('shows no operator links to a person, and Sign in to a visitor', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    await createTestUser(server.ballast, 'header-person@example.com', { password: PASSWORD });
    const context = await signedInContext(viewports.desktop, 'header-person@example.com');
    const page = context.pages()[0]!;
    try {
      for (const path of ['/account', '/']) {
        await page.goto(`${server.url}${path}`, { waitUntil: 'networkidle' });
        expect(await page.getByRole('group', { name: 'Operations' }).count()).toBe(0);
        expect(await page.locator('.account-link').textContent()).toContain('header-person@example.com');
      }
      // Signing out from the header: the same page then offers Sign in.
      await page.goto(`${server.url}/account`, { waitUntil: 'networkidle' });
      await page.locator('header').getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/sign-in/);
      await page.goto(`${server.url}/`, { waitUntil: 'networkidle' });
      expect(await page.locator('.account-link').count()).toBe(0);
      expect(await page.locator('header').getByRole('link', { name: 'Sign in' }).count()).toBe(1);
    } finally {
      await context.close();
    }
  });
});

describe('forms', () => {
  it('checks fields before sending, says each problem once as a sentence, focuses the first, and shows the password on request', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const context = await browser!.newContext({ viewport: viewports.phone });
    const page = await context.newPage();
    const posted: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') posted.push(request.url());
    });
    try {
      await page.goto(`${server.url}/register`, { waitUntil: 'networkidle' });
      await page.getByLabel('Email').fill('not an address');
      // Enter sends the form the way the button does.
      await page.getByLabel('Email').press('Enter');
      // Nothing went to the server; the email field has the focus and one sentence.
      expect(posted).toEqual([]);
      await expect.poll(() => page.evaluate("document.activeElement?.getAttribute('name')")).toBe('email');
      const errors = await page.locator('.field-error').allTextContents();
      expect(errors).toEqual(['Enter an email address like name@example.com.', 'Enter your password.']);
      expect(await page.locator('.message[data-kind="error"]').count()).toBe(0);

      const password = page.getByLabel('Password', { exact: true });
      await password.fill('secret words');
      expect(await password.getAttribute('type')).toBe('password');
      await page.getByRole('button', { name: 'Show password' }).click();
      expect(await password.getAttribute('type')).toBe('text');
      await page.getByRole('button', { name: 'Hide password' }).click();
      expect(await password.getAttribute('type')).toBe('password');
      await page.screenshot({ path: screenshotPath('form-errors-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('moves focus to the server’s one message after a refused sign-in', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const context = await browser!.newContext({ viewport: viewports.desktop });
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}/sign-in`, { waitUntil: 'networkidle' });
      await page.getByLabel('Email').fill('nobody@example.com');
      await page.getByLabel('Password', { exact: true }).fill('wrong password here');
      await page.getByRole('button', { name: 'Sign in' }).click();
      const alert = page.locator('.message[data-kind="error"]');
      await alert.waitFor();
      expect(await alert.count()).toBe(1);
      expect(await alert.textContent()).toMatch(/\.$/);
      await expect
        .poll(() => page.evaluate("document.activeElement?.classList.contains('message') ?? false"))
        .toBe(true);
    } finally {
      await context.close();
    }
  });
});

describe('right-to-left', () => {
  it('mirrors a page when the document is dir="rtl", from the same stylesheet', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const context = await browser!.newContext({ viewport: viewports.phone });
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}/sign-in`, { waitUntil: 'networkidle' });
      const edges = async () => {
        const card = (await page.locator('.card').boundingBox())!;
        const title = (await page.getByRole('link', { name: 'Create an account' }).boundingBox())!;
        const show = (await page.getByRole('button', { name: 'Show password' }).boundingBox())!;
        const input = (await page.getByLabel('Password', { exact: true }).boundingBox())!;
        return { card, title, show, input };
      };
      const ltr = await edges();
      // Left to right: the first link starts at the card's left, the Show button follows the input.
      expect(ltr.title.x - ltr.card.x).toBeLessThan(40);
      expect(ltr.card.x + ltr.card.width - (ltr.title.x + ltr.title.width)).toBeGreaterThan(100);
      expect(ltr.show.x).toBeGreaterThan(ltr.input.x);

      await page.evaluate("document.documentElement.setAttribute('dir', 'rtl')");
      const rtl = await edges();
      // Right to left: the first link starts at the card's right, the Show button before the input.
      expect(rtl.card.x + rtl.card.width - (rtl.title.x + rtl.title.width)).toBeLessThan(40);
      expect(rtl.title.x - rtl.card.x).toBeGreaterThan(100);
      expect(rtl.show.x).toBeLessThan(rtl.input.x);
      expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
      await page.screenshot({ path: screenshotPath('sign-in-rtl-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
