import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { SettingsModule } from '#platform/kernel/config/settings.ts';
import type { EmptyDB, TableMap, Tx } from '#platform/kernel/db/database.ts';
import type { Access } from '#platform/kernel/http/request-context.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { ExternalService } from '#platform/kernel/resilience/external-service.ts';
import type { NotificationDefinition } from './define-notification.ts';
import type { ScheduleDefinition, TaskDefinition } from './define-task.ts';
import type { AppPorts } from './module.ts';

/** A Fastify instance whose route schemas are zod schemas (validation, types and OpenAPI). */
export type Router = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** A transaction of an app: its own tables through `db`, and `tx` to pass to platform calls. */
export interface AppTransaction<DB extends TableMap = EmptyDB> {
  /** The app's tables inside this transaction. */
  readonly db: Kysely<DB>;
  /** Pass as `{ tx }` to `ctx.tasks.enqueue`, `ctx.notify`, ... so they commit with this transaction. */
  readonly tx: Tx;
}

/**
 * What an app's routes, tasks and hooks receive from the platform: its own settings, tables and
 * logger, and one port per platform module, each bound to this app (`ctx.tasks`, `ctx.notify`,
 * `ctx.metering`, `ctx.payments`, `ctx.directory`, `ctx.audit`, `ctx.realtime`, ...).
 */
export interface AppContext<Settings = unknown, DB extends TableMap = EmptyDB> extends AppPorts {
  /** The app's name: its schema, its URL segment, its settings prefix. */
  readonly name: string;
  /** This app's settings, parsed and frozen. */
  readonly settings: Settings;
  /** The URL users reach Ballast at (links in emails, redirects). */
  readonly publicUrl: string;
  /** Kysely over the app's own schema, typed by its generated `<app>.db.ts`. */
  readonly db: Kysely<DB>;
  /** Runs `work` in one transaction (its tables, and a `tx` for platform calls to join it). */
  transaction<T>(work: (tx: AppTransaction<DB>) => Promise<T>): Promise<T>;
  /** The app's tables inside a transaction a platform module opened (e.g. in a metering hook). */
  within(tx: Tx): Kysely<DB>;
  readonly log: Logger;
  /** A resilience wrapper (timeout, retries for idempotent calls, circuit breaker) for one external service. */
  readonly external: (name: string) => ExternalService;
}

/** Where an app stands on the home page. */
export type AppStatus = 'available' | 'coming-soon';

/** A role an app offers. */
export interface AppRole {
  /** Short name; the full role is `<app>:<name>`. */
  readonly name: string;
  readonly title: string;
  /** Users may ask for it when they register. */
  readonly selfService?: boolean;
  /** Holders can sign in but get "awaiting approval" until an approver acts. */
  readonly requiresApproval?: boolean;
  /** Full role names whose holders approve it (platform admins always can). */
  readonly approvers?: readonly string[];
}

/**
 * What an app may declare for one platform module (`payments`, `metering`, `realtimeRequests`,
 * ...). Each module adds its own entry by declaration merging, so a new module extends the app
 * contract without editing this file.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unused-vars -- filled by declaration merging
export interface AppOptions<Settings, DB extends TableMap> {}

/** The contract through which an app plugs into Ballast. */
export interface AppDefinition<Settings = unknown, DB extends TableMap = EmptyDB> extends AppOptions<Settings, DB> {
  /** Lower-case identifier: the Postgres schema, the URL segment (`/api/<name>`), the settings prefix. */
  readonly name: string;
  readonly title: string;
  /** One sentence for the home page. */
  readonly summary: string;
  readonly status: AppStatus;
  /** The app's settings (names prefixed with the app name, e.g. `COACH_...`). */
  readonly settings?: SettingsModule<string, z.ZodObject, Settings>;
  /** Folder of this app's migrations, applied in its own schema. */
  readonly migrations?: string;
  /** Registers the app's API under `/api/<name>`. */
  readonly routes?: (router: Router, ctx: AppContext<Settings, DB>) => Promise<void>;
  /** The app's tasks, named `<app>.verb-noun`; their handlers receive the app's context. */
  readonly tasks?: readonly TaskDefinition<z.ZodType, AppContext<Settings, DB>>[];
  readonly schedules?: readonly ScheduleDefinition[];
  /** The roles this app offers (`trader` becomes `<app>:trader`). */
  readonly roles?: readonly AppRole[];
  /** Who may call routes that declare no `config.access` (default: any signed-in user). */
  readonly defaultAccess?: Access;
  /** The notification types this app sends, named `<app>.thing-happened`. */
  readonly notifications?: readonly NotificationDefinition[];
  /**
   * The app's pages (React, `apps/<name>/web/main.tsx`), by path under `/<name>`, with their
   * titles: `{ '/': 'Voice coach' }` serves `/coach/`.
   */
  readonly pages?: Readonly<Record<string, string>>;
  /** Origins the app's pages connect to (a voice agent's WebSocket), added to the page CSP. */
  readonly connectSources?: (settings: Settings) => readonly string[];
}

const appName = /^[a-z][a-z0-9]{1,30}$/;
const reserved = new Set(['platform', 'public', 'api', 'docs', 'assets', 'admin', 'pgboss', 'pg_catalog', 'dev']);

/**
 * Declares an app; checks its name and that its settings, tasks, schedules and notification types
 * carry its prefix.
 */
export function defineApp<Settings = unknown, DB extends TableMap = EmptyDB>(
  definition: AppDefinition<Settings, DB>,
): AppDefinition<Settings, DB> {
  const { name } = definition;
  if (!appName.test(name) || reserved.has(name)) {
    throw new Error(`app name "${name}" must be lower-case letters/digits and not one of ${[...reserved].join(', ')}`);
  }
  if (definition.settings !== undefined) {
    if (definition.settings.key !== name) throw new Error(`app ${name}: settings key must be "${name}"`);
    const prefix = `${name.toUpperCase()}_`;
    for (const key of Object.keys(definition.settings.schema.shape)) {
      if (!key.startsWith(prefix)) throw new Error(`app ${name}: setting ${key} must start with ${prefix}`);
    }
  }
  for (const item of [...(definition.tasks ?? []), ...(definition.schedules ?? [])]) {
    if (!item.name.startsWith(`${name}.`)) throw new Error(`app ${name}: "${item.name}" must start with "${name}."`);
  }
  for (const schedule of definition.schedules ?? []) {
    if (!schedule.task.startsWith(`${name}.`)) {
      throw new Error(`app ${name}: schedule ${schedule.name} must run one of the app's own tasks`);
    }
  }
  for (const item of definition.notifications ?? []) {
    if (!item.type.startsWith(`${name}.`)) throw new Error(`app ${name}: "${item.type}" must start with "${name}."`);
  }
  return Object.freeze({ ...definition });
}

/** Checks that `name` (a task, a notification type, an audit action) belongs to `app`. */
export function assertOwnedBy(app: string, kind: string, name: string): void {
  if (!name.startsWith(`${app}.`)) {
    throw new Error(`app ${app} may only use its own ${kind} (named "${app}.…"), not "${name}"`);
  }
}
