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
import type { Config } from '#platform/kernel/config/load-config.ts';
import type { SettingsModule } from '#platform/kernel/config/settings.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { ScheduleDefinition, TaskDefinition } from '#platform/modules/tasks/define-task.ts';
import type { EnqueueOptions } from '#platform/modules/tasks/task-engine.ts';
import type { NotificationDefinition } from '#platform/modules/notify/define-notification.ts';
import type { Notifier } from '#platform/modules/notify/notifier.ts';
import type { Access } from '#platform/kernel/http/request-context.ts';
import type { PaymentCatalog, PaymentsService } from '#platform/modules/payments/payments.service.ts';
import type { Metering, MeteredSession } from '#platform/modules/metering/metering.service.ts';
import type { Realtime } from '#platform/modules/realtime/realtime-hub.ts';
import type { AuditEntry } from '#platform/modules/audit/audit.ts';
import type { ExternalService } from '#platform/kernel/resilience/external-service.ts';

/** A Fastify instance whose route schemas are zod schemas (validation, types and OpenAPI). */
export type Router = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** What an app's routes receive from the platform. */
export interface AppContext<Settings = unknown> {
  /** This app's settings, parsed and frozen. */
  readonly settings: Settings;
  /** The whole platform configuration (read-only). */
  readonly config: Config;
  /** Kysely bound to the app's own schema; declare your tables with `ctx.db<Tables>()`. */
  db<Tables>(): Kysely<Tables>;
  readonly log: Logger;
  /**
   * Enqueues a background task; pass `{ tx }` to make it part of your transaction (it exists if and
   * only if the transaction commits). Resolves with the task id, or null when deduplicated.
   */
  enqueue(task: string | TaskDefinition, payload: unknown, options?: EnqueueOptions): Promise<string | null>;
  /** Sends a notification of one of the declared types (in-app, email, SMS), each delivery a task. */
  readonly notify: Notifier['send'];
  /** Payments and balances (the app's own catalog). */
  readonly payments: PaymentsService;
  /** Metered sessions. */
  readonly metering: Metering;
  /** Live updates to the app's sockets. */
  readonly realtime: Realtime;
  /** Records an action in the audit trail (mark critical actions). */
  readonly audit: (entry: AuditEntry) => Promise<void>;
  /** A resilience wrapper (timeout, retries for idempotent calls, circuit breaker) for one external service. */
  readonly external: (name: string) => ExternalService;
  /** A user's email and name (for messages), or undefined. */
  readonly lookupUser: (id: string) => Promise<{ email: string; displayName: string | null } | undefined>;
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

/** The contract through which an app plugs into Ballast. */
export interface AppDefinition<Settings = unknown> {
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
  readonly routes?: (router: Router, ctx: AppContext<Settings>) => Promise<void>;
  /** The app's tasks; a function receives the app's context (for handlers that need it). */
  readonly tasks?: readonly TaskDefinition[] | ((ctx: AppContext<Settings>) => readonly TaskDefinition[]);
  readonly schedules?: readonly ScheduleDefinition[];
  /** The roles this app offers (`trader` becomes `<app>:trader`). */
  readonly roles?: readonly AppRole[];
  /** Who may call routes that declare no `config.access` (default: any signed-in user). */
  readonly defaultAccess?: Access;
  /** The notification types this app sends, named `<app>.thing-happened`. */
  readonly notifications?: readonly NotificationDefinition[];
  /**
   * Metered sessions (calls billed from heartbeats) in `unit`, debited from the same balance the
   * app's payments credit. `onEnded` runs inside the transaction that ends a session: enqueue
   * follow-up work there, with `{ tx }`.
   */
  readonly metering?: {
    readonly unit: string;
    readonly onEnded?: (session: MeteredSession, tx: Kysely<unknown>, ctx: AppContext<Settings>) => Promise<void>;
  };
  /** Requests the app answers over its realtime socket (`{"type":"request","name",...}`). */
  readonly realtimeRequests?: Readonly<
    Record<string, (userId: string, data: unknown, ctx: AppContext<Settings>) => Promise<unknown>>
  >;
  /**
   * The app's pages (React, `apps/<name>/web/main.tsx`), by path under `/<name>`, with their
   * titles: `{ '/': 'Voice coach' }` serves `/coach/`.
   */
  readonly pages?: Readonly<Record<string, string>>;
  /** Origins the app's pages connect to (a voice agent's WebSocket), added to the page CSP. */
  readonly connectSources?: (settings: Settings) => readonly string[];
  /** What the app sells (packs of units) and the unit its balances count, from its settings. */
  readonly payments?: (settings: Settings) => PaymentCatalog;
}

const appName = /^[a-z][a-z0-9]{1,30}$/;
const reserved = new Set(['platform', 'public', 'api', 'docs', 'assets', 'admin', 'pgboss', 'pg_catalog']);

/** Declares an app; checks its name and that its settings and tasks carry its prefix. */
export function defineApp<Settings>(definition: AppDefinition<Settings>): AppDefinition<Settings> {
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
  const staticTasks = typeof definition.tasks === 'function' ? [] : (definition.tasks ?? []);
  for (const item of [...staticTasks, ...(definition.schedules ?? [])]) {
    if (!item.name.startsWith(`${name}.`)) throw new Error(`app ${name}: "${item.name}" must start with "${name}."`);
  }
  for (const item of definition.notifications ?? []) {
    if (!item.type.startsWith(`${name}.`)) throw new Error(`app ${name}: "${item.type}" must start with "${name}."`);
  }
  return Object.freeze({ ...definition });
}
