import js from '@eslint/js';
import type { Linter } from 'eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

const otherApps = (self: string): string[] =>
  ['coach', 'interviews', 'assistant', 'complaints']
    .filter((app) => app !== self)
    .flatMap((app) => [`@ballast/${app}`, `@ballast/${app}/*`]);

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
    // Browser code: its own TypeScript project (DOM, JSX), and React's rules of hooks.
    files: ['packages/ui/src/**/*.{ts,tsx}', 'platform/web/**/*.{ts,tsx}', 'apps/*/web/**/*.{ts,tsx}'],
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
  ...['coach', 'interviews', 'assistant', 'complaints'].map((app): Linter.Config => ({
    // An app imports the platform's public entry and packages/*, never platform internals or another app.
    files: [`apps/${app}/**/*.ts`, `apps/${app}/**/*.tsx`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: otherApps(app).filter((name) => !name.endsWith('/*')),
          patterns: [
            {
              group: ['**/platform/src/**', '#platform/*', '@ballast/platform/src/*'],
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
