import path from 'node:path';
import { z } from 'zod';
import { defineSettings, environments } from './settings.ts';

/** Where the process runs and where it keeps its local state. */
export const runtimeSettings = defineSettings('runtime', {
  schema: z.object({
    NODE_ENV: z
      .enum(environments)
      .default('development')
      .describe('development, production or test; production enforces every safety rule'),
    DATA_DIR: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Folder for local state: embedded PostgreSQL data, generated development secrets (default: .ballast in the project)',
      ),
  }),
  resolve: (values, ctx) => ({
    env: values.NODE_ENV,
    dataDir: values.DATA_DIR === undefined ? ctx.dataDir : path.resolve(values.DATA_DIR),
  }),
});

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Structured logging. */
export const logSettings = defineSettings('log', {
  schema: z.object({
    LOG_LEVEL: z.enum(logLevels).default('info').describe('fatal, error, warn, info, debug, trace or silent'),
    LOG_PRETTY: z
      .stringbool()
      .optional()
      .describe(
        'Human-readable coloured logs (default: on in development when stdout is a terminal; refused in production)',
      ),
  }),
  resolve: (values) => ({ level: values.LOG_LEVEL, pretty: values.LOG_PRETTY }),
  checkProduction: (values) => {
    const problems = [];
    if (values.LOG_LEVEL === 'debug' || values.LOG_LEVEL === 'trace') {
      problems.push({
        setting: 'LOG_LEVEL',
        message: `"${values.LOG_LEVEL}" logs request internals and is refused in production`,
        fix: 'set LOG_LEVEL=info (or warn)',
      });
    }
    if (values.LOG_PRETTY === true) {
      problems.push({
        setting: 'LOG_PRETTY',
        message: 'pretty logs are for terminals; production logs must be JSON',
        fix: 'unset LOG_PRETTY or set LOG_PRETTY=false',
      });
    }
    return problems;
  },
});
