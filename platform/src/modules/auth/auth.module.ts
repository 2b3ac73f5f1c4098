import client from 'prom-client';
import type { ContentSources } from '#platform/kernel/http/security.ts';
import type { AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { createActorCache } from './actor-cache.ts';
import { accountPageRoutes } from './auth-pages.routes.ts';
import { authNotifications } from './auth.notifications.ts';
import { authRoutes, registerAuthentication } from './auth.routes.ts';
import { createAuthService, type AuthService, type RoleDefinition } from './auth.service.ts';
import { authSettings } from './auth.settings.ts';
import { loadKeyRing } from './signing-keys.ts';
import type { TokenHolder } from './users.repository.ts';

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** Accounts, sessions, roles. */
    auth: AuthService;
  }
}

/** The roles every app declares, with their full names (`complaints:tc`). */
export function roleDefinitionsOf(apps: readonly AppDefinition[]): RoleDefinition[] {
  return apps.flatMap((app) =>
    (app.roles ?? []).map((role) => ({
      name: `${app.name}:${role.name}`,
      title: role.title,
      selfService: role.selfService ?? false,
      requiresApproval: role.requiresApproval ?? false,
      approvers: role.approvers ?? [],
    })),
  );
}

/** Google's documented CSP for Identity Services: its script, its button's frame and styles. */
export const googleContentSources: ContentSources = {
  script: ['https://accounts.google.com/gsi/client'],
  style: ['https://accounts.google.com/gsi/style'],
  frame: ['https://accounts.google.com/gsi/'],
  connect: ['https://accounts.google.com/gsi/'],
};

/**
 * Accounts: registration with email verification, sign-in (password or Google), EdDSA access
 * tokens with rotation and revocation, roles per app with approval, first-run setup, and the
 * account and administration pages. Identifies every request (`request.user`) and enforces each
 * route's `config.access`.
 */
export const authModule = defineModule({
  name: 'auth',
  dependsOn: ['notify', 'audit', 'realtime'],
  settings: authSettings,
  migrations: new URL('./migrations/', import.meta.url).pathname,
  notifications: authNotifications,
  create: async (ctx, deps) => {
    const { settings, config } = ctx;
    const keys = await loadKeyRing({ configured: settings.signingKeys, dataDir: config.dataDir });
    const googleClientId = settings.googleClientId;
    const lookups = new client.Counter({
      name: 'auth_actor_cache_lookups_total',
      help: "Lookups of a request's user: hit (memory), miss (database, then kept), bypass (database: cache off or bus down)",
      labelNames: ['result'] as const,
      registers: [ctx.metrics.registry],
    });
    const counted = { hit: lookups.labels('hit'), miss: lookups.labels('miss'), bypass: lookups.labels('bypass') };
    const actors = createActorCache<TokenHolder>({
      ttlSeconds: settings.actorCacheSeconds,
      onLookup: (result) => counted[result].inc(),
    });
    // Kept rows are only as fresh as the bus: every change to a user arrives as a message, so the
    // cache is used only while this node hears it, and emptied whenever it stops or resumes.
    deps.realtime.onBusState((state) => actors.setBusUp(state === 'up'));
    deps.realtime.onUserChanged((userId) => actors.forget(userId));
    const auth = createAuthService({
      database: ctx.database,
      audit: deps.audit,
      keys,
      tokens: {
        // Stable across nodes and restarts: PUBLIC_URL in production, a fixed name in development.
        issuer: settings.issuer ?? (config.isProduction ? config.http.publicUrl : 'http://localhost'),
        audience: settings.audience,
        ttlSeconds: settings.tokenTtlSeconds,
      },
      notify: deps.notify,
      log: ctx.log,
      publicUrl: config.http.publicUrl,
      roles: roleDefinitionsOf(ctx.apps),
      google: googleClientId === undefined ? undefined : { clientId: googleClientId, jwksUrl: settings.googleJwksUrl },
      // Sockets opened with a revoked token close on every node.
      onTokensRevoked: (userId, generation) => deps.realtime.closeRevoked(userId, generation),
      // Role and status changes: every node forgets the user's kept row.
      onUserChanged: (userId) => deps.realtime.announceUserChanged(userId),
      actors,
    });
    // A live socket's requests are checked against the user's row as an HTTP request is, so a
    // revocation this node never heard of (its bus was down) stops the socket at its next request.
    // Sockets opened with a ticket (short-lived, and not always a user's) are closed by messages.
    deps.realtime.guardRequests(async (identity) =>
      identity.tokenGeneration === undefined ? true : auth.holdsToken(identity.userId, identity.tokenGeneration),
    );
    return {
      service: auth,
      identify: (server) => registerAuthentication(server, { config, auth }),
      routes: async (server) => {
        const products = ctx.apps
          .filter((app) => app.status === 'available')
          .map((app) => ({ name: app.name, title: app.title, summary: app.summary }));
        await server.register(authRoutes, { config, auth, products });
        await server.register(accountPageRoutes, { build: ctx.web, auth });
      },
      contentSources: googleClientId === undefined ? {} : googleContentSources,
    };
  },
});
