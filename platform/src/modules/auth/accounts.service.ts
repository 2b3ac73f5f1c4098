import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database, Tx } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { AuditOrigin, AuditTrail } from '#platform/modules/audit/audit.ts';
import type { Notifier } from '#platform/modules/notify/notifier.ts';
import { requestableRole, type RoleDefinition, type RoleDefinitions } from './access.ts';
import {
  assertUsable,
  hashOneTimeToken,
  newOneTimeToken,
  oneTimeTokenState,
  type OneTimePurpose,
  type OneTimeTokenState,
} from './one-time-token.ts';
import { assertStrongPassword } from './password-policy.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { Roles } from './roles.service.ts';
import type { Sessions } from './sessions.service.ts';
import * as users from './users.repository.ts';
import { normaliseEmail, type Actor, type PublicUser, type Session, type UserRow } from './users.ts';

export interface AccountsOptions {
  readonly database: Database;
  readonly audit: AuditTrail;
  readonly notify: Notifier;
  readonly publicUrl: string;
  readonly roles: RoleDefinitions;
  readonly sessions: Pick<Sessions, 'issue' | 'revoke' | 'announceRevoked'>;
  readonly approvals: Pick<Roles, 'requestApproval'>;
}

const RESET_TTL_MINUTES = 30;
const VERIFY_TTL_MINUTES = 48 * 60;
/** Registration and reset requests answer no sooner than this, whether or not the email exists. */
const UNIFORM_ANSWER_MS = 400;

async function answerNoSoonerThan(started: number): Promise<void> {
  const left = UNIFORM_ANSWER_MS - (performance.now() - started);
  if (left > 0) await sleep(left + Math.random() * 20);
}

/** How a never-verified account's address came to be proven. */
export interface AddressProof {
  readonly provenBy: 'google' | 'reset' | 'setup';
  /** The password the owner chose; null removes the registrant's. */
  readonly passwordHash: string | null;
  readonly displayName: string | null;
}

/**
 * Accounts: registration, email verification, password change and reset, and securing an account
 * whose address is proven after a stranger may have registered it.
 */
export type Accounts = ReturnType<typeof createAccounts>;

export function createAccounts(options: AccountsOptions) {
  const { database, audit, notify, roles, sessions, approvals } = options;
  const db = database.view<DB>('platform');

  /** Emails a new one-time link; resolves with the token (only its hash is stored). */
  async function issueOneTimeToken(on: Kysely<DB>, userId: string, purpose: OneTimePurpose): Promise<string> {
    const { token, hash } = newOneTimeToken();
    const ttlMinutes = purpose === 'reset' ? RESET_TTL_MINUTES : VERIFY_TTL_MINUTES;
    await users.insertOneTimeToken(on, { hash, userId, purpose, ttlMinutes });
    return token;
  }

  /** Uses a one-time token once: resolves with its user id, or throws a 400 naming the problem. */
  async function consumeOneTimeToken(on: Kysely<DB>, token: string, purpose: OneTimePurpose): Promise<string> {
    const hash = hashOneTimeToken(token);
    const stored = await users.lockOneTimeToken(on, hash, purpose);
    assertUsable(purpose, oneTimeTokenState(stored));
    await users.markOneTimeTokenUsed(on, hash);
    return stored!.userId;
  }

  /**
   * Sets (or, with null, removes) the password. Every outstanding emailed link of the account is
   * spent and every token revoked: a link or a session from before the change must not outlive it.
   * Announce the returned row once the transaction has committed.
   */
  async function replacePassword(on: Kysely<DB>, userId: string, passwordHash: string | null): Promise<UserRow> {
    await users.setPasswordHash(on, userId, passwordHash);
    await users.spendOneTimeTokens(on, userId);
    return sessions.revoke(on, userId);
  }

  /**
   * The address of an account that was never verified has just been proven (Google, a reset link,
   * first-run setup). Whoever registered it may have been someone else, waiting for the owner to
   * arrive: nothing they set survives. Their password and display name are replaced, their pending
   * role requests withdrawn, every session and emailed link revoked; the owner is told by email and
   * the audit trail records what was discarded. Announce the returned row after commit. Resolves
   * with undefined, changing nothing, when a racing request verified the account first.
   */
  async function secureUnverifiedAccount(
    tx: Tx,
    row: UserRow,
    proof: AddressProof,
    origin: AuditOrigin,
  ): Promise<UserRow | undefined> {
    const on = tx.view<DB>('platform');
    if (!(await users.verifyUnverified(on, row.id, proof.displayName))) return undefined;
    const withdrawnRoles = await users.withdrawPendingRoles(on, row.id);
    const secured = await replacePassword(on, row.id, proof.passwordHash);
    await notify.send('platform.account-secured', {
      to: { userId: row.id, email: row.email },
      data: {
        provenBy: proof.provenBy,
        withdrawnRoles: withdrawnRoles.map((role) => roles.get(role)?.title ?? role),
        ...(proof.passwordHash === null ? { resetLink: `${options.publicUrl}/reset` } : {}),
      },
      idempotencyKey: `account-secured:${row.id}:${secured.token_generation}`,
      tx,
    });
    await audit.record(
      {
        actor: { id: row.id, email: row.email },
        action: 'auth.account_secured',
        target: { type: 'user', id: row.id },
        before: { password: row.password_hash !== null, displayName: row.display_name, pendingRoles: withdrawnRoles },
        after: { password: proof.passwordHash !== null, displayName: proof.displayName, pendingRoles: [] },
        details: { provenBy: proof.provenBy, revokedGeneration: row.token_generation },
        ...origin,
      },
      tx,
    );
    return secured;
  }

  /**
   * Refuses, with a 400 naming the field, a registration that could never succeed (a weak password,
   * a role nobody may ask for); returns the role asked for. Pure: the route runs it before the
   * registration counts against the rate limit.
   */
  function checkRegistration(input: {
    email: string;
    password: string;
    role?: string | undefined;
  }): RoleDefinition | undefined {
    assertStrongPassword(input.password, 'body.password', normaliseEmail(input.email));
    return requestableRole(input.role, roles);
  }

  async function me(actor: Actor): Promise<PublicUser> {
    const row = await users.findUser(db, { id: actor.id });
    if (row === undefined) throw new AppError('unauthenticated', 'auth.unauthenticated', 'Sign in first');
    return users.publicUserOf(db, row);
  }

  /** Changes the caller's display name (already trimmed and checked by the route), audited. */
  async function changeDisplayName(actor: Actor, displayName: string, origin: AuditOrigin): Promise<PublicUser> {
    return database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const before = await users.findUser(on, { id: actor.id });
      if (before === undefined) throw new AppError('unauthenticated', 'auth.unauthenticated', 'Sign in first');
      const row = await users.setDisplayName(on, actor.id, displayName);
      await audit.record(
        {
          actor: { id: actor.id, email: actor.email },
          action: 'auth.name_changed',
          target: { type: 'user', id: actor.id },
          before: { displayName: before.display_name },
          after: { displayName },
          ...origin,
        },
        tx,
      );
      return users.publicUserOf(on, row);
    });
  }

  async function register(
    input: {
      email: string;
      password: string;
      displayName?: string | undefined;
      role?: string | undefined;
      next?: string | undefined;
    },
    origin: AuditOrigin,
  ): Promise<void> {
    const started = performance.now();
    const email = normaliseEmail(input.email);
    const role = checkRegistration(input);
    const passwordHash = await hashPassword(input.password);
    await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const user = await users.insertUserUnlessTaken(on, {
        email,
        displayName: input.displayName ?? null,
        passwordHash,
        verified: false,
      });
      if (user === undefined) {
        // Same answer to the caller; the owner of the address learns someone tried.
        const existing = await users.findUser(on, { email });
        await notify.send('platform.account-exists', {
          to: { email },
          data: { resetLink: `${options.publicUrl}/reset` },
          idempotencyKey: `account-exists:${email}:${Math.floor(Date.now() / 3_600_000)}`,
          tx,
        });
        await audit.record(
          {
            action: 'auth.register_existing',
            target: existing === undefined ? undefined : { type: 'user', id: existing.id },
            details: { email },
            ...origin,
          },
          tx,
        );
        return;
      }
      if (role !== undefined) {
        await users.requestRole(on, user.id, role.name, role.requiresApproval ? 'pending' : 'active');
      }
      await sendConfirmation(on, tx, { id: user.id, email }, input.next);
      await audit.record(
        {
          actor: { id: user.id, email },
          action: 'auth.register',
          target: { type: 'user', id: user.id },
          after: { email, role: role?.name ?? null },
          ...origin,
        },
        tx,
      );
      if (role?.requiresApproval === true) await approvals.requestApproval(tx, role, user);
    });
    await answerNoSoonerThan(started);
  }

  /**
   * Emails a new confirmation link; `next` (a path the contract has checked) rides along, so the
   * confirmed user lands where they started.
   */
  async function sendConfirmation(
    on: Kysely<DB>,
    tx: Tx,
    user: { readonly id: string; readonly email: string },
    next: string | undefined,
  ): Promise<void> {
    const token = await issueOneTimeToken(on, user.id, 'verify');
    const query = new URLSearchParams({ token });
    if (next !== undefined) query.set('next', next);
    await notify.send('platform.verify-email', {
      to: { userId: user.id, email: user.email },
      data: { link: `${options.publicUrl}/verify-email?${query.toString()}` },
      idempotencyKey: `verify:${user.id}:${hashOneTimeToken(token).slice(0, 16)}`,
      tx,
    });
  }

  /**
   * A new confirmation link for an account whose address is not confirmed yet. Answers the same,
   * no sooner, whether the address is unknown, confirmed or disabled: nobody learns who has an account.
   */
  async function resendConfirmation(
    input: { email: string; next?: string | undefined },
    origin: AuditOrigin,
  ): Promise<void> {
    const started = performance.now();
    const email = normaliseEmail(input.email);
    await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const row = await users.findUser(on, { email });
      const eligible = row !== undefined && row.disabled_at === null && row.email_verified_at === null;
      if (eligible) await sendConfirmation(on, tx, { id: row.id, email: row.email }, input.next);
      await audit.record(
        {
          ...(eligible ? { actor: { id: row.id, email: row.email }, target: { type: 'user', id: row.id } } : {}),
          action: 'auth.confirmation_resent',
          details: { email, sent: eligible },
          ...origin,
        },
        tx,
      );
    });
    await answerNoSoonerThan(started);
  }

  async function verifyEmail(token: string, origin: AuditOrigin): Promise<Session> {
    return database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const userId = await consumeOneTimeToken(on, token, 'verify');
      await users.markEmailVerified(on, userId);
      const row = (await users.findUser(on, { id: userId }))!;
      await audit.record(
        {
          actor: { id: row.id, email: row.email },
          action: 'auth.email_verified',
          target: { type: 'user', id: row.id },
          ...origin,
        },
        tx,
      );
      return sessions.issue(on, row, origin);
    });
  }

  async function changePassword(
    actor: Actor,
    input: { currentPassword: string; newPassword: string },
    origin: AuditOrigin,
  ): Promise<Session> {
    const row = await users.findUser(db, { id: actor.id });
    if (row === undefined) throw new AppError('unauthenticated', 'auth.unauthenticated', 'Sign in first');
    if (!(await verifyPassword(row.password_hash, input.currentPassword))) {
      throw new AppError('invalid_input', 'auth.wrong_password', 'The current password is incorrect', {
        errors: [{ field: 'body.currentPassword', message: 'is incorrect' }],
      });
    }
    assertStrongPassword(input.newPassword, 'body.newPassword', row.email);
    const hash = await hashPassword(input.newPassword);
    const { updated, session } = await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const revoked = await replacePassword(on, row.id, hash);
      await audit.record(
        {
          actor: { id: row.id, email: row.email },
          action: 'auth.password_changed',
          target: { type: 'user', id: row.id },
          ...origin,
        },
        tx,
      );
      return {
        updated: revoked,
        session: await sessions.issue(on, revoked, { ...origin, sessionId: actor.sessionId }),
      };
    });
    await sessions.announceRevoked(updated);
    return session;
  }

  async function requestReset(emailInput: string, origin: AuditOrigin): Promise<void> {
    const started = performance.now();
    const email = normaliseEmail(emailInput);
    await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const row = await users.findUser(on, { email });
      if (row === undefined || row.disabled_at !== null) {
        await audit.record({ action: 'auth.reset_requested', details: { email, known: false }, ...origin }, tx);
        return;
      }
      const token = await issueOneTimeToken(on, row.id, 'reset');
      await notify.send('platform.password-reset', {
        to: { userId: row.id, email: row.email },
        data: { link: `${options.publicUrl}/reset/confirm?token=${token}`, minutes: RESET_TTL_MINUTES },
        idempotencyKey: `reset:${hashOneTimeToken(token).slice(0, 24)}`,
        tx,
      });
      await audit.record(
        {
          actor: { id: row.id, email: row.email },
          action: 'auth.reset_requested',
          target: { type: 'user', id: row.id },
          details: { email, known: true },
          ...origin,
        },
        tx,
      );
    });
    await answerNoSoonerThan(started);
  }

  /** Where a reset link stands (valid, unknown, used, expired), without using it. */
  async function resetLinkState(token: string): Promise<OneTimeTokenState> {
    return oneTimeTokenState(await users.findOneTimeToken(db, hashOneTimeToken(token), 'reset'));
  }

  async function resetPassword(input: { token: string; password: string }, origin: AuditOrigin): Promise<void> {
    assertStrongPassword(input.password, 'body.password');
    const hashed = await hashPassword(input.password);
    const revoked = await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const userId = await consumeOneTimeToken(on, input.token, 'reset');
      const row = (await users.findUser(on, { id: userId }))!;
      assertStrongPassword(input.password, 'body.password', row.email);
      // Following the emailed link proves the address.
      const updated =
        (row.email_verified_at === null
          ? await secureUnverifiedAccount(
              tx,
              row,
              { provenBy: 'reset', passwordHash: hashed, displayName: null },
              origin,
            )
          : undefined) ?? (await replacePassword(on, userId, hashed));
      await audit.record(
        {
          actor: { id: row.id, email: row.email },
          action: 'auth.password_reset',
          target: { type: 'user', id: row.id },
          ...origin,
        },
        tx,
      );
      return updated;
    });
    await sessions.announceRevoked(revoked);
  }

  return {
    secureUnverifiedAccount,
    checkRegistration,
    me,
    changeDisplayName,
    register,
    verifyEmail,
    resendConfirmation,
    changePassword,
    requestReset,
    resetLinkState,
    resetPassword,
  };
}
