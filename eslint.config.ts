import fs from 'node:fs';
import path from 'node:path';
import js from '@eslint/js';
import type { Linter } from 'eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

/** Every app: each folder under apps/ with a package.json (no list to keep in step by hand). */
const apps = fs
  .readdirSync(path.join(import.meta.dirname, 'apps'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(entry.parentPath, entry.name, 'package.json')))
  .map((entry) => entry.name)
  .toSorted();

const otherApps = (self: string): string[] =>
  apps.filter((app) => app !== self).flatMap((app) => [`@ballast/${app}`, `@ballast/${app}/*`]);

/** Browser code: the UI package (with the platform's own pages) and every app's web/. */
const uiFolders = ['./packages/ui', './apps/*/web/**'];

/**
 * The architecture's boundaries, checked on the resolved file of every import (so a relative path,
 * an alias and a package name are caught alike). Decision 027.
 */
const boundaryZones = [
  {
    target: './platform/src',
    from: ['./packages/ui', './cli', './apps', './bench', './tests'],
    message: 'The platform knows nothing of the UI, the CLI, the apps, benches or tests.',
  },
  {
    target: [...uiFolders, './apps/*/shared/**'],
    from: ['./platform/src', './cli', './bench', './tests'],
    message: 'Browser code (and shared/, which it imports) never imports the platform or the CLI.',
  },
  ...apps.flatMap((app) => [
    {
      target: `./apps/${app}`,
      from: './apps',
      except: [`./${app}`],
      message: 'Apps never import each other.',
    },
    {
      target: `./apps/${app}/web`,
      from: `./apps/${app}`,
      except: ['./web', './shared'],
      message: "web/ imports its app's shared/ and packages/ui, never server code.",
    },
    {
      target: `./apps/${app}/shared`,
      from: `./apps/${app}`,
      except: ['./shared'],
      message: 'shared/ holds the schemas server and web both use: it imports neither.',
    },
  ]),
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '.ballast/**',
      'test-results/**',
      'coverage/**',
      'platform/src/kernel/http/public/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // Fastify plugins and handlers are async by contract even when they do not await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use an `as const` object instead of an enum.' },
        { selector: 'Decorator', message: 'No decorators: Node runs the TypeScript directly.' },
      ],
    },
  },
  {
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs', '.cjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/external-module-folders': ['node_modules'],
      'import-x/resolver-next': [createNodeResolver()],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: boundaryZones }],
      // A value-import cycle makes module evaluation order matter; type-only imports are erased.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // Browser code: its own TypeScript project (DOM, JSX), and React's rules of hooks.
    files: ['packages/ui/src/**/*.{ts,tsx}', 'apps/*/web/**/*.{ts,tsx}'],
    languageOptions: {
      parserOptions: { projectService: false, project: ['./tsconfig.web.json'], tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'react-hooks': reactHooks },
    rules: { ...reactHooks.configs.recommended.rules },
  },
  {
    // Only process entry points, tests and benchmarks read the environment; everything else
    // receives the parsed, frozen config.
    files: ['platform/src/**/*.ts', 'apps/**/*.ts', 'cli/src/**/*.ts', 'packages/**/*.ts'],
    ignores: ['**/*.test.ts', 'platform/src/testing/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read settings from the config, not process.env.' },
      ],
      'no-console': 'error',
    },
  },
  {
    // The API's schemas are shared by the server and the browser: zod and each other only.
    files: ['packages/contracts/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(?!zod$|zod/|\\./).*', message: 'packages/contracts imports zod only (decision 026).' },
          ],
        },
      ],
    },
  },
  ...apps.map((app): Linter.Config => ({
    // An app imports the platform's public entry and packages/*, never platform internals or another app.
    files: [`apps/${app}/**/*.ts`, `apps/${app}/**/*.tsx`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: otherApps(app).filter((name) => !name.endsWith('/*')),
          patterns: [
            {
              // '#' opens a comment in these gitignore-style patterns: escaped, it is the alias.
              group: ['**/platform/src/**', '\\#platform/*', '@ballast/platform/src/*'],
              message: 'Import @ballast/platform only.',
            },
            { group: otherApps(app).filter((name) => name.endsWith('/*')), message: 'Apps never import each other.' },
            { group: ['../../*/**', '!../../packages/**'], message: 'Apps never reach into other folders.' },
          ],
        },
      ],
    },
  })),
  {
    files: ['**/*.test.ts', 'tests/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  {
    files: ['eslint.config.ts'],
    ...tseslint.configs.disableTypeChecked,
  },
);
