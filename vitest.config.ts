import os from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Integration files at once. Vitest's default on 2 cores is 1 (cores - 1), which ran the whole
 * suite one file at a time; these files mostly wait on PostgreSQL, sockets and timers, so two share
 * 2 cores well. At most 4: each holds a Ballast's connection pools on the one PostgreSQL.
 */
const integrationWorkers = Math.min(4, Math.max(2, os.availableParallelism()));

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
          maxWorkers: integrationWorkers,
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
          // Each file starts several processes and times their recovery: one file at a time.
          fileParallelism: false,
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
          // One browser and one Ballast per file: one file at a time.
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
