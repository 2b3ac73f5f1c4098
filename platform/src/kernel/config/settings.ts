import { z } from 'zod';
import type { StartupProblem } from '#platform/kernel/errors/errors.ts';

/** The three ways Ballast runs. Only `production` enforces the safety rules. */
export const environments = ['development', 'production', 'test'] as const;
export type Environment = (typeof environments)[number];

/** What a settings module knows while it resolves its values. */
export interface SettingsContext {
  readonly env: Environment;
  readonly projectRoot: string;
  readonly dataDir: string;
}

/**
 * The settings of one module or app: a zod schema over environment variable names, how the parsed
 * values become that module's slice of the frozen `config`, which of them are secrets (generated
 * and kept on disk in development, required and strength-checked in production), and the
 * module's own production rules.
 */
export interface SettingsModule<Key extends string = string, Schema extends z.ZodObject = z.ZodObject, Out = unknown> {
  readonly key: Key;
  readonly schema: Schema;
  readonly secrets: readonly string[];
  readonly resolve: (values: z.output<Schema>, ctx: SettingsContext) => Out;
  readonly checkProduction: (values: z.output<Schema>, ctx: SettingsContext) => StartupProblem[];
}

export interface DefineSettingsOptions<Schema extends z.ZodObject, Out> {
  readonly schema: Schema;
  readonly resolve: (values: z.output<Schema>, ctx: SettingsContext) => Out;
  /** Names of settings that are signing secrets (at least 32 bytes, never a placeholder). */
  readonly secrets?: readonly (keyof z.output<Schema> & string)[];
  /** Rules that make a production start-up refuse to run. */
  readonly checkProduction?: (values: z.output<Schema>, ctx: SettingsContext) => StartupProblem[];
}

/**
 * Declares one module's settings. Every setting must carry a `.describe()` line: it is the
 * documentation checked against `.env.example`.
 */
export function defineSettings<Key extends string, Schema extends z.ZodObject, Out>(
  key: Key,
  options: DefineSettingsOptions<Schema, Out>,
): SettingsModule<Key, Schema, Out> {
  return Object.freeze({
    key,
    schema: options.schema,
    secrets: options.secrets ?? [],
    resolve: options.resolve,
    checkProduction: options.checkProduction ?? (() => []),
  });
}

/** A boolean setting: accepts true/false, 1/0, yes/no, on/off. */
export function booleanSetting(defaultValue: boolean) {
  return z.stringbool().default(defaultValue);
}

/** An integer setting with bounds. */
export function integerSetting(defaultValue: number, min: number, max: number) {
  return z.coerce.number().int().min(min).max(max).default(defaultValue);
}

/** A comma-separated list; blanks are dropped. */
export function listSetting() {
  return z.string().transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );
}

/** A `postgres://` or `postgresql://` connection string. */
export function postgresUrlSetting() {
  return z.string().refine((value) => /^postgres(ql)?:\/\//.test(value), 'must be a postgres:// or postgresql:// URL');
}
