import type { Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database, Tx } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { AuditOrigin, AuditTrail } from '#platform/modules/audit/audit.ts';
import type { Notifier } from '#platform/modules/notify/notifier.ts';
import { PLATFORM_ADMIN, canManage, checkRoleChange, type RoleDefinition, type RoleDefinitions } from './access.ts';
import type { Sessions } from './sessions.service.ts';
import * as users from './users.repository.ts';
import type { Actor, PublicUser, UserRow } from './users.ts';

export interface RolesOptions {
  readonly database: Database;
  readonly audit: AuditTrail;
  readonly notify: Notifier;
  readonly publicUrl: string;
  readonly roles: RoleDefinitions;
  readonly sessions: Pick<Sessions, 'revoke' | 'announceRevoked' | 'announceChanged'>;
}

/** Roles and user administration: approval, granting and removing roles, listing and disabling users. */
export type Roles = ReturnType<typeof createRoles>;

export function createRoles(options: RolesOptions) {
  const { database, audit, notify, roles, sessions } = options;
  const db = database.view<DB>('platform');

  /** Roles the actor may grant or approve: everything for admins, else the roles they approve. */
  const mayManage = (actor: Actor, role: string): boolean => canManage(actor, role, roles);

  /** The user by id on `on`, or a 404. */
  async function existingUser(on: Kysely<DB>, userId: string): Promise<UserRow> {
    const row = await users.findUser(on, { id: userId });
    if (row === undefined) throw new AppError('not_found', 'auth.user_not_found', 'No such user');
    return row;
  }

  /** Asks every enabled approver of `role` (and every admin) to approve the applicant, in `tx`. */
  async function requestApproval(
    tx: Tx,
    role: RoleDefinition,
    applicant: Pick<UserRow, 'id' | 'email'>,
  ): Promise<void> {
    const approvers = await users.holdersOf(tx.view<DB>('platform'), [PLATFORM_ADMIN, ...role.approvers]);
    for (const approver of approvers) {
      await notify.send('platform.approval-requested', {
        to: { userId: approver.id, email: approver.email },
        data: {
          applicant: applicant.email,
          role: role.name,
          roleTitle: role.title,
          link: `${options.publicUrl}/admin/users`,
        },
        idempotencyKey: `approval:${applicant.id}:${role.name}:${approver.id}`,
        tx,
      });
    }
  }

  async function listUsers(filter: {
    query?: string | undefined;
    status?: 'pending' | 'all' | undefined;
  }): Promise<PublicUser[]> {
    const rows = await users.listUsers(db, filter);
    return Promise.all(rows.map((row) => users.publicUserOf(db, row)));
  }

  async function approve(actor: Actor, userId: string, role: string, origin: AuditOrigin): Promise<PublicUser> {
    if (!mayManage(actor, role)) throw new AppError('forbidden', 'auth.cannot_approve', `You cannot approve ${role}`);
    const approved = await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      if (!(await users.approvePendingRole(on, userId, role, actor.id))) {
        throw new AppError('not_found', 'auth.no_pending_role', `No pending request for ${role}`);
      }
      const row = await existingUser(on, userId);
      await audit.record(
        {
          actor: { id: actor.id, email: actor.email },
          action: 'auth.role_approved',
          target: { type: 'user', id: userId },
          before: { role, status: 'pending' },
          after: { role, status: 'active' },
          ...origin,
        },
        tx,
      );
      await notify.send('platform.role-approved', {
        to: { userId, email: row.email },
        data: { role, roleTitle: roles.get(role)?.title ?? role },
        idempotencyKey: `role-approved:${userId}:${role}`,
        tx,
      });
      return users.publicUserOf(on, row);
    });
    await sessions.announceChanged(userId);
    return approved;
  }

  async function setRoles(
    actor: Actor,
    userId: string,
    change: { add: readonly string[]; remove: readonly string[] },
    origin: AuditOrigin,
  ): Promise<PublicUser> {
    checkRoleChange(actor, userId, change, roles);
    const changed = await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const row = await existingUser(on, userId);
      const before = await users.rolesOf(on, userId);
      for (const role of change.add) await users.grantRole(on, userId, role, actor.id);
      await users.removeRoles(on, userId, change.remove);
      const after = await users.rolesOf(on, userId);
      await audit.record(
        {
          actor: { id: actor.id, email: actor.email },
          action: 'auth.roles_changed',
          target: { type: 'user', id: userId },
          before,
          after,
          ...origin,
        },
        tx,
      );
      return users.publicUserOf(on, row);
    });
    await sessions.announceChanged(userId);
    return changed;
  }

  async function setDisabled(
    actor: Actor,
    userId: string,
    disabled: boolean,
    origin: AuditOrigin,
  ): Promise<PublicUser> {
    if (!actor.roles.includes(PLATFORM_ADMIN)) {
      throw new AppError('forbidden', 'auth.forbidden', 'Only admins can do this');
    }
    if (userId === actor.id) throw new AppError('conflict', 'auth.cannot_disable_self', 'You cannot disable yourself');
    let revoked: UserRow | undefined;
    const result = await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const row = await existingUser(on, userId);
      await users.setDisabled(on, userId, disabled);
      if (disabled) revoked = await sessions.revoke(on, userId);
      await audit.record(
        {
          actor: { id: actor.id, email: actor.email },
          action: disabled ? 'auth.user_disabled' : 'auth.user_enabled',
          target: { type: 'user', id: userId },
          before: { disabled: row.disabled_at !== null },
          after: { disabled },
          ...origin,
        },
        tx,
      );
      return users.publicUserOf(on, await existingUser(on, userId));
    });
    if (revoked === undefined) await sessions.announceChanged(userId);
    else await sessions.announceRevoked(revoked);
    return result;
  }

  return {
    roleDefinitions: roles,
    canManage: mayManage,
    requestApproval,
    listUsers,
    approve,
    setRoles,
    setDisabled,
  };
}
