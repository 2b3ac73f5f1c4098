import { z } from 'zod';
import type { TableMap, Tx } from '#platform/kernel/db/database.ts';
import type { AppContext } from '#platform/kernel/lifecycle/define-app.ts';
import { defineSchedule, defineTask } from '#platform/kernel/lifecycle/define-task.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { createMemoryMeterStore, createRedisMeterStore } from './meter-store.ts';
import {
  createMetering,
  type EndReason,
  type HeartbeatAnswer,
  type MeteredSession,
  type Metering,
  type Settlement,
} from './metering.service.ts';
import { meteringSettings } from './metering.settings.ts';

/** Metered sessions as an app sees them: its own sessions, in its own unit. */
export interface MeteringPort {
  /** Starts (or resumes) the user's session; refused (`metering.no_balance`, 402) with an empty balance. */
  start(userId: string, details?: Record<string, unknown>): Promise<{ session: MeteredSession; resumed: boolean }>;
  /** A heartbeat from the user's client, billed at `arrivedAt` (epoch ms, default now). */
  heartbeat(userId: string, sessionId: string, arrivedAt?: number): Promise<HeartbeatAnswer>;
  /** Ends a session (a hang-up with `actor`, or an operator's end); idempotent. */
  end(
    sessionId: string,
    reason: EndReason,
    options?: { actor?: { userId: string }; arrivedAt?: number; sinceLastBeatMs?: number },
  ): Promise<MeteredSession>;
  /** One of this app's sessions, or undefined. */
  get(sessionId: string): Promise<MeteredSession | undefined>;
  /** The user's sessions in this app, newest first. */
  list(userId: string, limit?: number): Promise<MeteredSession[]>;
  /** Merges facts into a session's details (a provider's conversation id, a reconciliation). */
  annotate(sessionId: string, details: Record<string, unknown>): Promise<void>;
  /**
   * Records a provider's own measure of what a session used, once per `key`; an ended session is
   * billed the larger of metered and reported time, up to the balance, the rest owed (see the
   * metering service's `report`). Pass `{ tx }` to make it part of your transaction.
   */
  report(sessionId: string, report: { key: string; seconds: number }, options?: { tx?: Tx }): Promise<Settlement>;
  /** What the user's ended sessions in this app still owe beyond their balance. */
  unsettled(userId: string): Promise<number>;
  /** This app's sessions that still owe, newest first (for operators). */
  listUnsettled(limit?: number): Promise<MeteredSession[]>;
  /** An operator clears what a session owes; resolves with the seconds cleared. */
  forgive(sessionId: string): Promise<number>;
}

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** Metered sessions billed by the second from heartbeats. */
    metering: Metering;
  }
  interface AppPorts {
    readonly metering: MeteringPort;
  }
}

declare module '#platform/kernel/lifecycle/define-app.ts' {
  interface AppOptions<Settings, DB extends TableMap> {
    /**
     * Metered sessions (calls billed from heartbeats) in `unit`, debited from the balance the app's
     * payments credit. `onEnded` runs inside the transaction that ends sessions, with every session
     * of this app it ended (one, or hundreds when a storm of hang-ups is settled together): enqueue
     * follow-up work there with `{ tx }`, in a few statements for the whole list
     * (`ctx.tasks.enqueueMany`), not a few per session.
     */
    readonly metering?: {
      readonly unit: string;
      readonly onEnded?: (sessions: readonly MeteredSession[], tx: Tx, ctx: AppContext<Settings, DB>) => Promise<void>;
    };
  }
}

/**
 * Metering: sessions started, kept alive by heartbeats (state in Redis or memory), debited by the
 * second in batched writes, ended on a gap, an empty balance, a hang-up or an operator.
 */
export const meteringModule = defineModule({
  name: 'metering',
  dependsOn: ['auth', 'payments', 'realtime', 'tasks'],
  settings: meteringSettings,
  migrations: new URL('./migrations/', import.meta.url).pathname,
  create: (ctx, deps) => {
    const metered = new Map(ctx.apps.flatMap((app) => (app.metering === undefined ? [] : [[app.name, app.metering]])));
    const contexts = new Map<string, AppContext>();
    const metering = createMetering({
      database: ctx.database,
      ledger: deps.payments.ledger,
      store:
        ctx.redis === undefined
          ? createMemoryMeterStore()
          : createRedisMeterStore(ctx.redis, `ballast:metering:${ctx.installation.id}`),
      log: ctx.log,
      metrics: ctx.metrics,
      settings: ctx.settings,
      realtime: deps.realtime,
      onEnded: (app) => {
        const hook = metered.get(app)?.onEnded;
        const appContext = contexts.get(app);
        return hook === undefined || appContext === undefined
          ? undefined
          : (sessions, tx) => hook(sessions, tx, appContext);
      },
    });
    const sweepTask = defineTask({
      name: 'platform.sweep-metered-sessions',
      payload: z.object({}).passthrough(),
      retries: 0,
      handler: async (_payload, run) => {
        const ended = await metering.sweep();
        if (ended > 0) run.log.info({ ended }, 'ended metered sessions whose heartbeats stopped');
      },
    });
    const meters = metered.size > 0;
    const looping = meters && ctx.roles.includes('web');
    return {
      service: metering,
      tasks: meters ? [sweepTask] : [],
      schedules: meters
        ? [defineSchedule({ name: 'platform.sweep-metered-sessions', cron: '* * * * *', task: sweepTask.name })]
        : [],
      init: async (registry) => {
        for (const [name, app] of registry.apps) contexts.set(name, app.context);
      },
      start: async () => {
        if (looping) metering.startLoop();
      },
      stop: () => (looping ? metering.stop() : Promise.resolve()),
      forApp: (app) => {
        const unit = app.metering?.unit;
        const own = async (sessionId: string) => {
          const session = await metering.get(sessionId);
          return session?.app === app.name ? session : undefined;
        };
        return {
          start: (userId, details) => {
            if (unit === undefined) throw new Error(`app ${app.name} declares no metering`);
            return metering.start({ userId, app: app.name, unit, ...(details === undefined ? {} : { details }) });
          },
          heartbeat: (userId, sessionId, arrivedAt) => metering.heartbeat(userId, sessionId, arrivedAt, app.name),
          end: (sessionId, reason, options) => metering.end(sessionId, reason, { ...options, app: app.name }),
          get: own,
          list: (userId, limit) => metering.list(userId, app.name, limit),
          annotate: async (sessionId, details) => {
            if ((await own(sessionId)) === undefined) return metering.refuseUnknown();
            return metering.annotate(sessionId, details);
          },
          // Checked inside the report's own transaction (the caller's, when given): no second connection.
          report: (sessionId, report, options) =>
            metering.report(sessionId, report, {
              app: app.name,
              ...(options?.tx === undefined ? {} : { tx: options.tx }),
            }),
          unsettled: (userId) => metering.unsettled(userId, app.name),
          listUnsettled: (limit) => metering.listUnsettled(app.name, limit),
          forgive: (sessionId) => metering.forgive(sessionId, app.name),
        };
      },
    };
  },
});
