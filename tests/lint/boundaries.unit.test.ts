import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * The repository's own ESLint config, run on in-memory files placed at real paths, with only the
 * boundary rules (the type-aware rules need a TypeScript program and have nothing to say here).
 */
const eslint = new ESLint({
  cwd: root,
  flags: ['unstable_native_nodejs_ts_config'],
  ruleFilter: ({ ruleId }) => ruleId.startsWith('import-x/') || ruleId === 'no-restricted-imports',
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
});

async function ruleIdsFor(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(root, file) });
  return (result?.messages ?? []).map((message) => message.ruleId ?? `fatal: ${message.message}`);
}

describe('the architecture boundaries in eslint.config.ts', () => {
  it.each([
    ['platform imports the UI', 'platform/src/kernel/probe.ts', "import { Page } from '@ballast/ui';"],
    ['platform imports the CLI', 'platform/src/kernel/probe.ts', "import { apps } from '../../../cli/src/apps.ts';"],
    ['platform imports an app', 'platform/src/modules/probe.ts', "import coach from '@ballast/coach';"],
    ['the UI imports the platform', 'packages/ui/src/probe.tsx', "import { defineApp } from '@ballast/platform';"],
    [
      'the UI reaches into platform source',
      'packages/ui/src/probe.tsx',
      "import { AppError } from '../../../platform/src/kernel/errors/errors.ts';",
    ],
    [
      "an app's web/ imports its server/",
      'apps/coach/web/probe.tsx',
      "import { x } from '../server/coach.service.ts';",
    ],
    ["an app's web/ imports its app.ts", 'apps/coach/web/probe.tsx', "import coach from '../app.ts';"],
    ["an app's web/ imports the platform", 'apps/coach/web/probe.tsx', "import { z } from '@ballast/platform';"],
    [
      "an app's shared/ imports its server/",
      'apps/coach/shared/probe.ts',
      "import { x } from '../server/coach.service.ts';",
    ],
    [
      'an app imports another app by path',
      'apps/interviews/server/probe.ts',
      "import coach from '../../coach/app.ts';",
    ],
  ])('fails lint when %s', async (_case, file, source) => {
    expect(await ruleIdsFor(file, `${source}\nexport const probe = 1;\n`)).toContain('import-x/no-restricted-paths');
  });

  it('fails lint when an app imports platform internals or another app by name', async () => {
    expect(
      await ruleIdsFor('apps/coach/server/probe.ts', "import { x } from '#platform/kernel/errors/errors.ts';\n"),
    ).toContain('no-restricted-imports');
    expect(await ruleIdsFor('apps/interviews/server/probe.ts', "import coach from '@ballast/coach';\n")).toContain(
      'no-restricted-imports',
    );
  });

  it('fails lint when packages/contracts imports anything but zod and its own files', async () => {
    for (const source of [
      "import { AppError } from '@ballast/platform';",
      "import { AppError } from '../../../platform/src/kernel/errors/errors.ts';",
      "import { Page } from '@ballast/ui';",
    ]) {
      expect(await ruleIdsFor('packages/contracts/src/probe.ts', `${source}\nexport const probe = 1;\n`)).toContain(
        'no-restricted-imports',
      );
    }
    const allowed = "import { z } from 'zod';\nimport { timestamp } from './common.ts';\n";
    expect(
      await ruleIdsFor('packages/contracts/src/probe.ts', `${allowed}export const probe = [z, timestamp];\n`),
    ).toEqual([]);
  });

  it('fails lint on a value-import cycle and lets a type-only one pass', async () => {
    // platform/src/index.ts re-exports errors.ts: importing the index back from errors.ts closes a loop.
    const file = 'platform/src/kernel/errors/errors.ts';
    expect(
      await ruleIdsFor(file, "import { defineApp } from '../../index.ts';\nexport const probe = defineApp;\n"),
    ).toContain('import-x/no-cycle');
    expect(
      await ruleIdsFor(
        file,
        "import type { AppDefinition } from '../../index.ts';\nexport type Probe = AppDefinition;\n",
      ),
    ).toEqual([]);
  });

  it('lets the allowed imports through', async () => {
    const web = "import { Page } from '@ballast/ui';\nimport { callSchema } from '../shared/calls.ts';\n";
    expect(await ruleIdsFor('apps/coach/web/probe.tsx', `${web}export const probe = [Page, callSchema];\n`)).toEqual(
      [],
    );
    const server = "import { defineApp } from '@ballast/platform';\nimport { callSchema } from '../shared/calls.ts';\n";
    expect(
      await ruleIdsFor('apps/coach/server/probe.ts', `${server}export const probe = [defineApp, callSchema];\n`),
    ).toEqual([]);
    expect(
      await ruleIdsFor(
        'platform/src/kernel/probe.ts',
        "import { AppError } from './errors/errors.ts';\nexport const probe = AppError;\n",
      ),
    ).toEqual([]);
  });
});
