import { defineConfig } from 'vitest/config';

/** Where tests live beside the code (unit and integration tiers). */
const besideTheCode = ['platform', 'apps', 'packages', 'cli', 'bench'];

/**
 * Four tiers, one Vitest project each (decisions 009 and 027), run in this order so a broken pure
 * function fails in seconds and the process and browser tests never compete with each other:
 * - unit: `*.unit.test.ts`, pure functions; no sockets, no servers, no child processes (the
 *   no-io setup file refuses them), so no PostgreSQL and no web build either. Threads.
 * - integration: every other `*.test.ts` beside the code: one Ballast on real PostgreSQL.
 * - system: `tests/system/`, several processes (kill -9, two nodes, a crash mid-send).
 * - e2e: `tests/e2e/`, the browser.
 * `npm test` runs them all; `npm run test:<tier>` one.
 */
export default defineConfig({
  test: {
    env: { TZ: 'UTC' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [...besideTheCode.map((folder) => `${folder}/**/*.unit.test.ts`), 'tests/**/*.unit.test.ts'],
          setupFiles: ['tests/support/setup.ts', 'tests/support/no-io.ts'],
          pool: 'threads',
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: besideTheCode.map((folder) => `${folder}/**/*.test.ts`),
          exclude: ['**/node_modules/**', '**/*.unit.test.ts'],
          globalSetup: ['tests/support/global-setup.ts'],
          setupFiles: ['tests/support/setup.ts'],
          pool: 'forks',
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: ['tests/system/**/*.test.ts'],
          globalSetup: ['tests/support/global-setup.ts'],
          setupFiles: ['tests/support/setup.ts'],
          pool: 'forks',
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          globalSetup: ['tests/support/global-setup.ts'],
          setupFiles: ['tests/support/setup.ts'],
          pool: 'forks',
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
