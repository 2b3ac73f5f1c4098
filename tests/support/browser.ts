import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectRoot } from './process.ts';

/** Debian's Chromium; browser tests skip, saying so, when it is missing. */
export const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can. */
export function browserUnavailable(): string | undefined {
  return fs.existsSync(chromiumPath) ? undefined : `Chromium not found at ${chromiumPath} (apt-get install chromium)`;
}

/** Headless Chromium with the flags this sandbox needs (no sandbox as root, no background network). */
export function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

/** Opens a page that records every console error, uncaught exception and CSP violation. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  await page.goto(url, { waitUntil: 'networkidle' });
  return { page, problems };
}

/** Where a test's screenshot goes: SCREENSHOT_DIR, else test-results/ (git-ignored). */
export function screenshotPath(name: string): string {
  const dir = process.env['SCREENSHOT_DIR'] ?? path.join(projectRoot, 'test-results');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

/** Chromium flags for pages that use the microphone: a fake device, permission granted. */
export const fakeMediaArgs = [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];
