import type { TableMap } from '#platform/kernel/db/database.ts';
import type { AppContext } from '#platform/kernel/lifecycle/define-app.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { authenticateWithTicket, createRealtimeHub, type RealtimeHub } from './realtime-hub.ts';
import { issueRealtimeTicket } from './ticket.ts';
import { realtimeRoutes } from './realtime.routes.ts';
import { realtimeSettings } from './realtime.settings.ts';

/** Live updates as an app sees them: its own sockets only. */
export interface RealtimePort {
  /**
   * Sends `event` to `user:<id>` (every socket of that user in this app) or `topic:<name>` on
   * every node. Throws `invalid_input` for a bad channel or event, `payload_too_large` at 8000
   * bytes or more, `unavailable` when the bus cannot be reached.
   */
  publish(channel: string, event: string, data?: unknown): Promise<void>;
  /** This app's sockets open on this node. */
  countConnections(): number;
  /**
   * A short-lived signed ticket with which `subject` (a user id, or an app's own id for people
   * without an account, such as a candidate) opens a socket: `/realtime?app=<name>&ticket=...`.
   */
  issueTicket(subject: string, ttlSeconds?: number): string;
}

/** Answers one `{"type":"request","name",...}` frame from a socket of the app's user. */
export type RealtimeRequest<Settings, DB extends TableMap> = (
  userId: string,
  data: unknown,
  ctx: AppContext<Settings, DB>,
) => Promise<unknown>;

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** Live updates over WebSocket, fanned out across nodes. */
    realtime: RealtimeHub;
  }
  interface AppPorts {
    readonly realtime: RealtimePort;
  }
}

declare module '#platform/kernel/lifecycle/define-app.ts' {
  interface AppOptions<Settings, DB extends TableMap> {
    /** Requests the app answers over its live-updates socket, by name (`call.heartbeat`). */
    readonly realtimeRequests?: Readonly<Record<string, RealtimeRequest<Settings, DB>>>;
  }
}

/**
 * Live updates: `GET /realtime?app=<name>` WebSockets (signed-in users, or a short-lived ticket),
 * per-app connection caps, requests answered by the apps, fan-out over Redis or PostgreSQL.
 */
export const realtimeModule = defineModule({
  name: 'realtime',
  dependsOn: [],
  settings: realtimeSettings,
  create: (ctx) => {
    const definitions = new Map(ctx.apps.map((app) => [app.name, app]));
    const contexts = new Map<string, AppContext>();
    const ticketAuthenticator = authenticateWithTicket(ctx.config.security.signingSecret);
    const hub = createRealtimeHub({
      config: ctx.config,
      apps: ctx.apps.map((app) => app.name),
      database: ctx.database,
      redis: ctx.redis,
      metrics: ctx.metrics,
      log: ctx.log,
      installationId: ctx.installation.id,
      serve: ctx.roles.includes('web'),
      requests: (app, name) => {
        const handlers = definitions.get(app)?.realtimeRequests;
        const handler = handlers !== undefined && Object.hasOwn(handlers, name) ? handlers[name] : undefined;
        const appContext = contexts.get(app);
        return handler === undefined || appContext === undefined
          ? undefined
          : (userId, data) => handler(userId, data, appContext);
      },
      // Signed-in users connect with their session (cookie or bearer); a short-lived ticket still
      // works for clients that cannot send either on a WebSocket handshake.
      hooks: {
        authenticate: async (request) =>
          request.user === null
            ? ticketAuthenticator(request)
            : { userId: request.user.id, tokenGeneration: request.user.tokenGeneration },
      },
    });
    return {
      service: hub,
      routes: (server) =>
        server.register(realtimeRoutes, {
          hub,
          corsOrigins: ctx.config.http.corsOrigins,
          publicOrigin: ctx.config.http.publicOrigin,
        }),
      init: async (registry) => {
        for (const [name, app] of registry.apps) contexts.set(name, app.context);
      },
      start: () => hub.start(),
      // A node that serves sockets must hear the bus: a NOTIFY it sends itself comes back.
      checks: ctx.roles.includes('web') ? [{ name: 'realtime', run: () => hub.checkBus() }] : [],
      stop: () => hub.stop(),
      forApp: (app) => ({
        publish: (channel, event, data) => hub.publish({ app: app.name, channel, event, data }),
        countConnections: () => hub.countLocalConnections(app.name),
        issueTicket: (subject, ttlSeconds = 600) =>
          issueRealtimeTicket(ctx.config.security.signingSecret, subject, ttlSeconds),
      }),
    };
  },
});
