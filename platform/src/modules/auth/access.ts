import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Access } from '#platform/kernel/http/request-context.ts';

/** The platform administrator: passes every role check and manages every role. */
export const PLATFORM_ADMIN = 'platform:admin';

/** A role an app offers, e.g. `complaints:tc`. */
export interface RoleDefinition {
  /** Full name `<app>:<role>`. */
  readonly name: string;
  readonly title: string;
  /** Users may ask for it at registration. */
  readonly selfService: boolean;
  /** Holders can sign in but get "awaiting approval" until an approver acts. */
  readonly requiresApproval: boolean;
  /** Roles whose holders may approve it (platform admins always may). */
  readonly approvers: readonly string[];
}

/** The roles offered, by full name. */
export type RoleDefinitions = ReadonlyMap<string, RoleDefinition>;

/** A signed-in caller as access rules see them. */
export interface Caller {
  readonly id: string;
  /** Active roles. */
  readonly roles: readonly string[];
  /** Roles asked for and awaiting an approver. */
  readonly pendingRoles: readonly string[];
}

/** Whether a caller may call a route, and if not, why. */
export type AccessDecision =
  | { readonly outcome: 'allow' }
  | { readonly outcome: 'unauthenticated' }
  | { readonly outcome: 'awaiting_approval'; readonly roles: readonly string[] }
  | { readonly outcome: 'forbidden' };

/**
 * The rule every route's `config.access` is enforced by: public routes (and routes that declare
 * nothing) let anyone in, `user` any signed-in caller, a role list its holders and platform admins.
 * A caller who only asked for one of the roles is awaiting approval rather than refused.
 */
export function decideAccess(access: Access | undefined, caller: Caller | null): AccessDecision {
  if (access === undefined || access === 'public') return { outcome: 'allow' };
  if (caller === null) return { outcome: 'unauthenticated' };
  if (access === 'user') return { outcome: 'allow' };
  if (caller.roles.includes(PLATFORM_ADMIN) || access.some((role) => caller.roles.includes(role))) {
    return { outcome: 'allow' };
  }
  const pending = access.filter((role) => caller.pendingRoles.includes(role));
  if (pending.length > 0) return { outcome: 'awaiting_approval', roles: pending };
  return { outcome: 'forbidden' };
}

/** The error a refusal answers with (401 or 403), or undefined when the caller may go on. */
export function accessRefusal(decision: AccessDecision): AppError | undefined {
  switch (decision.outcome) {
    case 'allow':
      return undefined;
    case 'unauthenticated':
      return new AppError('unauthenticated', 'auth.unauthenticated', 'Sign in first');
    case 'awaiting_approval':
      return new AppError('forbidden', 'auth.awaiting_approval', 'Your account is awaiting approval', {
        details: { roles: decision.roles },
      });
    case 'forbidden':
      return new AppError('forbidden', 'auth.forbidden', 'You do not have access to this');
  }
}

/** Whether the caller may grant, approve or remove `role`: admins any, others the roles they approve. */
export function canManage(caller: Pick<Caller, 'roles'>, role: string, roles: RoleDefinitions): boolean {
  if (caller.roles.includes(PLATFORM_ADMIN)) return true;
  const definition = roles.get(role);
  return definition !== undefined && definition.approvers.some((approver) => caller.roles.includes(approver));
}

/**
 * Refuses a change of a user's roles the caller may not make: a role nobody offers (400), one
 * they do not manage (403), or removing their own admin role (409). Returns when it may go ahead.
 */
export function checkRoleChange(
  caller: Pick<Caller, 'id' | 'roles'>,
  userId: string,
  change: { readonly add: readonly string[]; readonly remove: readonly string[] },
  roles: RoleDefinitions,
): void {
  for (const role of [...change.add, ...change.remove]) {
    if (role !== PLATFORM_ADMIN && !roles.has(role)) {
      throw new AppError('invalid_input', 'auth.unknown_role', `No role ${role}`);
    }
    if (!canManage(caller, role, roles))
      throw new AppError('forbidden', 'auth.cannot_grant', `You cannot change ${role}`);
  }
  if (change.remove.includes(PLATFORM_ADMIN) && userId === caller.id) {
    throw new AppError('conflict', 'auth.cannot_demote_self', 'You cannot remove your own admin role');
  }
}

/**
 * The role a registration asks for, or undefined when it asks for none; refuses (400, naming the
 * field) a role nobody may ask for.
 */
export function requestableRole(name: string | undefined, roles: RoleDefinitions): RoleDefinition | undefined {
  if (name === undefined) return undefined;
  const role = roles.get(name);
  if (role === undefined || !role.selfService) {
    throw new AppError('invalid_input', 'auth.unknown_role', `No role ${name} can be requested`, {
      errors: [{ field: 'body.role', message: 'is not a role you can ask for' }],
    });
  }
  return role;
}
