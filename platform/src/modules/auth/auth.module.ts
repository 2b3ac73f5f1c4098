import type { ContentSources } from '#platform/kernel/http/security.ts';
import type { AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { accountPageRoutes } from './auth-pages.routes.ts';
import { authNotifications } from './auth.notifications.ts';
import { authRoutes, registerAuthentication } from './auth.routes.ts';
import { createAuthService, type AuthService, type RoleDefinition } from './auth.service.ts';
import { authSettings } from './auth.settings.ts';
import { loadKeyRing } from './signing-keys.ts';

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
    });
    return {
      service: auth,
      identify: (server) => registerAuthentication(server, { config, auth }),
      routes: async (server) => {
        await server.register(authRoutes, { config, auth });
        await server.register(accountPageRoutes, { build: ctx.web, auth });
      },
      contentSources: googleClientId === undefined ? {} : googleContentSources,
    };
  },
});
