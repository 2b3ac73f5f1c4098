import type { Database } from '#platform/kernel/db/database.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { AuditTrail } from '#platform/modules/audit/audit.ts';
import type { ActorCache } from './actor-cache.ts';
import type { Notifier } from '#platform/modules/notify/notifier.ts';
import type { RoleDefinition } from './access.ts';
import { createAccounts } from './accounts.service.ts';
import { createGoogleSignIn } from './google.service.ts';
import { createRoles } from './roles.service.ts';
import { createSessions } from './sessions.service.ts';
import { createSetup } from './setup.service.ts';
import type { KeyRing } from './signing-keys.ts';
import type { TokenSettings } from './tokens.ts';
import type { TokenHolder } from './users.repository.ts';

export { PLATFORM_ADMIN, type RoleDefinition } from './access.ts';
export type { Actor, PublicUser, RoleGrant, Session } from './users.ts';

export interface AuthServiceOptions {
  readonly database: Database;
  readonly audit: AuditTrail;
  readonly keys: KeyRing;
  readonly tokens: TokenSettings;
  readonly notify: Notifier;
  readonly log: Logger;
  readonly publicUrl: string;
  readonly roles: readonly RoleDefinition[];
  readonly google?: { readonly clientId: string; readonly jwksUrl: string } | undefined;
  /**
   * Called once a transaction that revoked a user's tokens has committed, with the generation
   * now current: live sessions held outside requests (realtime sockets) close theirs.
   */
  readonly onTokensRevoked?: ((userId: string, generation: number) => Promise<void>) | undefined;
  /**
   * Called once a transaction that changed a user's roles or status has committed (tokens not
   * revoked): other nodes forget what they keep of the user.
   */
  readonly onUserChanged?: ((userId: string) => Promise<void>) | undefined;
  /** The users' rows kept in memory between requests (see `ActorCache`). */
  readonly actors: ActorCache<TokenHolder>;
}

/**
 * Accounts, sessions, Google sign-in, roles and approval, and first-run setup, every event
 * audited: the auth module's service, composed of one service per concept over the accounts'
 * tables (`users.repository.ts`).
 */
export function createAuthService(options: AuthServiceOptions) {
  const { database, audit, notify, log, publicUrl } = options;
  const roles = new Map(options.roles.map((role) => [role.name, role]));
  const sessions = createSessions({
    database,
    audit,
    keys: options.keys,
    tokens: options.tokens,
    log,
    onTokensRevoked: options.onTokensRevoked,
    onUserChanged: options.onUserChanged,
    actors: options.actors,
  });
  const administration = createRoles({ database, audit, notify, publicUrl, roles, sessions });
  const accounts = createAccounts({ database, audit, notify, publicUrl, roles, sessions, approvals: administration });
  const google = createGoogleSignIn({ database, audit, log, google: options.google, sessions, accounts });
  const setup = createSetup({ database, audit, sessions, accounts });
  return {
    roleDefinitions: administration.roleDefinitions,
    jwks: sessions.jwks,
    authenticate: sessions.authenticate,
    holdsToken: sessions.holdsToken,
    signIn: sessions.signIn,
    signOut: sessions.signOut,
    signOutOthers: sessions.signOutOthers,
    listSessions: sessions.listSessions,
    me: accounts.me,
    changeDisplayName: accounts.changeDisplayName,
    checkRegistration: accounts.checkRegistration,
    register: accounts.register,
    verifyEmail: accounts.verifyEmail,
    resendConfirmation: accounts.resendConfirmation,
    changePassword: accounts.changePassword,
    requestReset: accounts.requestReset,
    resetLinkState: accounts.resetLinkState,
    resetPassword: accounts.resetPassword,
    googleSignIn: google.googleSignIn,
    setupRequired: setup.setupRequired,
    setup: setup.setup,
    canManage: administration.canManage,
    listUsers: administration.listUsers,
    approve: administration.approve,
    setRoles: administration.setRoles,
    setDisabled: administration.setDisabled,
  };
}

/** What the auth module offers: the account API the routes, the host and other modules call. */
export type AuthService = ReturnType<typeof createAuthService>;
