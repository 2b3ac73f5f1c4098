import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { z } from 'zod';
import { StartupError, type StartupProblem } from '#platform/kernel/errors/errors.ts';
import { databaseSettings } from '#platform/kernel/db/database.settings.ts';
import { httpSettings } from '#platform/kernel/http/http.settings.ts';
import { redisSettings } from '#platform/kernel/lifecycle/redis.settings.ts';
import { logSettings, runtimeSettings } from './runtime.settings.ts';
import { describeSecretWeakness, loadOrCreateDevSecrets } from './secret-store.ts';
import { securitySettings } from './security.settings.ts';
import type { Environment, SettingsContext, SettingsModule } from './settings.ts';

/** The kernel's own settings modules, in the order they are documented (each platform module brings its own). */
export const kernelSettingsModules = [
  runtimeSettings,
  logSettings,
  httpSettings,
  databaseSettings,
  redisSettings,
  securitySettings,
] as const;

type Resolved<M> = M extends SettingsModule<string, z.ZodObject, infer Out> ? Out : never;

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A settings module's slice of `config`, as modules read it: resolved and read-only. */
export type SettingsOf<M> = DeepReadonly<Resolved<M>>;

type KernelModule = (typeof kernelSettingsModules)[number];

/**
 * The settings of each platform module, by module name. Every module's `<name>.settings.ts` adds
 * its entry by declaration merging, so `config.tasks.concurrency` is typed.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface ModuleConfig {}

/** Every setting of Ballast, parsed once at boot and frozen: the kernel's, each module's by its name, each app's. */
export type Config = DeepReadonly<
  {
    env: Environment;
    isProduction: boolean;
    projectRoot: string;
    dataDir: string;
    apps: Record<string, unknown>;
  } & { [M in KernelModule as M['key']]: Resolved<M> }
> &
  ModuleConfig;

export interface LoadConfigOptions {
  /** The environment to read; only the process entry point passes `process.env`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Settings modules of the platform's modules, keyed by module name. */
  readonly modules?: readonly SettingsModule[];
  /** Settings modules of the registered apps, keyed by app name. */
  readonly apps?: readonly SettingsModule[];
  /** The project folder (holds `.env.example` and the default `.ballast` data folder). */
  readonly projectRoot?: string;
  /**
   * Outside production, missing secrets are generated and stored (`store`, the default). The
   * doctor passes `read-only` to inspect a deployment without writing to it.
   */
  readonly devSecrets?: 'store' | 'read-only';
}

/** The repository root: platform/src/kernel/config is four levels below it. */
export const defaultProjectRoot = path.resolve(import.meta.dirname, '../../../..');

/**
 * Parses every setting of the platform and the apps in one pass. Throws a `StartupError` listing
 * every problem at once: invalid values, and in production every unsafe setting.
 */
export function loadConfig(options: LoadConfigOptions): Config {
  const projectRoot = options.projectRoot ?? defaultProjectRoot;
  const env = withoutBlanks(options.env);
  const problems: StartupProblem[] = [];

  const runtime = runtimeSettings.schema.safeParse(env);
  if (!runtime.success) throw new StartupError(issuesToProblems(runtime.error));
  const ctx: SettingsContext = {
    env: runtime.data.NODE_ENV,
    projectRoot,
    dataDir: path.resolve(runtime.data.DATA_DIR ?? path.join(projectRoot, '.ballast')),
  };
  const modules: readonly SettingsModule[] = [
    ...kernelSettingsModules,
    ...(options.modules ?? []),
    ...(options.apps ?? []),
  ];

  const secretNames = modules.flatMap((module) => module.secrets);
  const values: Record<string, string | undefined> = { ...env };
  if (ctx.env === 'production') {
    const examples = readExampleValues(projectRoot);
    for (const name of secretNames) {
      const weakness = describeSecretWeakness(env[name], examples);
      if (weakness !== undefined) {
        problems.push({
          setting: name,
          message: weakness,
          fix: `set ${name} to a random value of at least 32 bytes, e.g. the output of: openssl rand -base64 48`,
        });
      }
    }
  } else if (options.devSecrets !== 'read-only' && secretNames.some((name) => env[name] === undefined)) {
    const stored = loadOrCreateDevSecrets(ctx.dataDir, secretNames);
    for (const name of secretNames) values[name] ??= stored[name];
  }

  const resolved: Record<string, unknown> = {};
  for (const module of modules) {
    const parsed = module.schema.safeParse(values);
    if (!parsed.success) {
      problems.push(...issuesToProblems(parsed.error));
      if (ctx.env === 'production') {
        // Still apply the production rules to the valid settings, so every problem is listed at once.
        const invalid = new Set(parsed.error.issues.map((issue) => String(issue.path[0])));
        const rest = module.schema.safeParse(
          Object.fromEntries(Object.entries(values).filter(([key]) => !invalid.has(key))),
        );
        if (rest.success) problems.push(...module.checkProduction(rest.data, ctx));
      }
      continue;
    }
    if (ctx.env === 'production') problems.push(...module.checkProduction(parsed.data, ctx));
    resolved[module.key] = module.resolve(parsed.data, ctx);
  }
  if (problems.length > 0) throw new StartupError(problems);

  const apps: Record<string, unknown> = {};
  for (const module of options.apps ?? []) apps[module.key] = resolved[module.key];
  const config = {
    env: ctx.env,
    isProduction: ctx.env === 'production',
    projectRoot,
    dataDir: ctx.dataDir,
    ...Object.fromEntries(
      [...kernelSettingsModules, ...(options.modules ?? [])].map((module) => [module.key, resolved[module.key]]),
    ),
    apps,
  };
  // The shape is checked per module above; the type is the sum of the modules' declarations.
  return deepFreeze(config) as unknown as Config;
}

function withoutBlanks(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') out[key] = value;
  }
  return out;
}

function issuesToProblems(error: z.ZodError): StartupProblem[] {
  return error.issues.map((issue) => ({
    setting: issue.path.length > 0 ? issue.path.map(String).join('.') : '(settings)',
    message: issue.message,
  }));
}

function readExampleValues(projectRoot: string): Set<string> {
  try {
    const parsed = parseEnv(fs.readFileSync(path.join(projectRoot, '.env.example'), 'utf8'));
    return new Set(Object.values(parsed).filter((value): value is string => typeof value === 'string' && value !== ''));
  } catch {
    return new Set();
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
