import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { sql, type Kysely } from 'kysely';
import { recordAudit, type AuditOrigin } from '#platform/modules/audit/audit.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { AnyKysely } from '#platform/kernel/db/database.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Notifier } from '#platform/modules/notify/notifier.ts';
import { PLATFORM_ADMIN, canManage, type RoleDefinition } from './access.ts';
import { checkNewPassword } from './password-policy.ts';
import { hashPassword, needsRehash, verifyPassword } from './passwords.ts';
import type { KeyRing } from './signing-keys.ts';
import type { AccessClaims } from './token-claims.ts';
import { issueAccessToken, verifyAccessToken, type TokenSettings } from './tokens.ts';

export { PLATFORM_ADMIN, type RoleDefinition } from './access.ts';

export interface RoleGrant {
  readonly role: string;
  readonly status: 'active' | 'pending';
}

/** A user as the API shows it. */
export interface PublicUser {
  readonly id: string;
  readonly email: string;
  readonly displayName: string | null;
  readonly emailVerified: boolean;
  readonly disabled: boolean;
  readonly createdAt: Date;
  readonly roles: readonly RoleGrant[];
}

/** The signed-in caller. */
export interface Actor {
  readonly id: string;
  readonly email: string;
  readonly roles: readonly string[];
  readonly pendingRoles: readonly string[];
  readonly tokenId: string;
  /** The generation of the user's tokens this one belongs to (revocation bumps it). */
  readonly tokenGeneration: number;
}

export interface Session {
  readonly user: PublicUser;
  readonly token: string;
  readonly tokenId: string;
  readonly expiresAt: Date;
}

interface UserRow {
  id: string;
  email: string;
  display_name: string | null;
  password_hash: string | null;
  email_verified_at: Date | null;
  google_sub: string | null;
  disabled_at: Date | null;
  token_generation: number;
  created_at: Date;
}

export interface AuthServiceOptions {
  readonly db: AnyKysely;
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
}

const RESET_TTL_MINUTES = 30;
const VERIFY_TTL_HOURS = 48;
/** Registration and reset requests answer no sooner than this, whether or not the email exists. */
const UNIFORM_ANSWER_MS = 400;

function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

async function answerNoSoonerThan(started: number): Promise<void> {
  const left = UNIFORM_ANSWER_MS - (performance.now() - started);
  if (left > 0) await sleep(left + Math.random() * 20);
}

const invalidCredentials = () =>
  new AppError('unauthenticated', 'auth.invalid_credentials', 'Email or password is incorrect');

/** Accounts, sessions, roles and approval; every event audited. */
export function createAuthService(options: AuthServiceOptions) {
  const { db, keys, tokens, notify, log } = options;
  const roleDefinitions = new Map(options.roles.map((role) => [role.name, role]));
  const googleKeys =
    options.google === undefined
      ? undefined
      : createRemoteJWKSet(new URL(options.google.jwksUrl), { cooldownDuration: 10_000, cacheMaxAge: 3_600_000 });

  async function findUser(
    where: { id?: string; email?: string; googleSub?: string },
    tx: Kysely<unknown> | AnyKysely = db,
  ) {
    const condition =
      where.id !== undefined
        ? sql`id = ${where.id}::uuid`
        : where.email !== undefined
          ? sql`email = ${normaliseEmail(where.email)}`
          : sql`google_sub = ${where.googleSub ?? ''}`;
    const rows = await sql<UserRow>`select id::text, email, display_name, password_hash, email_verified_at, google_sub,
        disabled_at, token_generation, created_at from platform."user" where ${condition}`.execute(tx);
    return rows.rows[0];
  }

  async function rolesOf(userId: string, tx: Kysely<unknown> | AnyKysely = db): Promise<RoleGrant[]> {
    const rows =
      await sql<RoleGrant>`select role, status from platform.user_role where user_id = ${userId}::uuid order by role`.execute(
        tx,
      );
    return rows.rows;
  }

  async function publicUser(row: UserRow, tx: Kysely<unknown> | AnyKysely = db): Promise<PublicUser> {
    return {
      id: row.id,
      email: row.email,
      displayName: row.display_name,
      emailVerified: row.email_verified_at !== null,
      disabled: row.disabled_at !== null,
      createdAt: row.created_at,
      roles: await rolesOf(row.id, tx),
    };
  }

  async function sessionFor(row: UserRow, tx: Kysely<unknown> | AnyKysely = db): Promise<Session> {
    const issued = await issueAccessToken(keys, tokens, { userId: row.id, generation: row.token_generation });
    return {
      user: await publicUser(row, tx),
      token: issued.token,
      tokenId: issued.claims.tokenId,
      expiresAt: issued.claims.expiresAt,
    };
  }

  /** Bumps the user's token generation: every token issued before stops working. */
  async function revokeTokens(userId: string, tx: Kysely<unknown> | AnyKysely): Promise<UserRow> {
    const rows =
      await sql<UserRow>`update platform."user" set token_generation = token_generation + 1, updated_at = now()
      where id = ${userId}::uuid
      returning id::text, email, display_name, password_hash, email_verified_at, google_sub, disabled_at, token_generation, created_at`.execute(
        tx,
      );
    return rows.rows[0]!;
  }

  /** After the revoking transaction committed: closes what still holds an earlier token. */
  async function announceRevoked(row: UserRow | undefined): Promise<void> {
    if (row === undefined || options.onTokensRevoked === undefined) return;
    try {
      await options.onTokensRevoked(row.id, row.token_generation);
    } catch (error) {
      log.error({ err: error, userId: row.id }, 'auth: could not close the live sockets of revoked tokens');
    }
  }

  async function createOneTimeToken(
    userId: string,
    purpose: 'reset' | 'verify',
    ttl: string,
    tx: Kysely<unknown>,
  ): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await sql`insert into platform.one_time_token (token_hash, user_id, purpose, expires_at)
      values (${hashToken(token)}, ${userId}::uuid, ${purpose}, now() + ${ttl}::interval)`.execute(tx);
    return token;
  }

  /** Uses a one-time token once: resolves with its user id, or throws a 400 naming the problem. */
  async function consumeOneTimeToken(token: string, purpose: 'reset' | 'verify', tx: Kysely<unknown>): Promise<string> {
    const rows = await sql<{ user_id: string; expired: boolean; used: boolean }>`
      select user_id::text, expires_at < now() as expired, used_at is not null as used
      from platform.one_time_token where token_hash = ${hashToken(token)} and purpose = ${purpose} for update`.execute(
      tx,
    );
    const row = rows.rows[0];
    const what = purpose === 'reset' ? 'reset link' : 'verification link';
    if (row === undefined)
      throw new AppError('invalid_input', `auth.invalid_${purpose}_token`, `This ${what} is not valid`);
    if (row.used)
      throw new AppError(
        'invalid_input',
        `auth.used_${purpose}_token`,
        `This ${what} has already been used or is no longer valid: ask for a new one`,
      );
    if (row.expired) throw new AppError('invalid_input', `auth.expired_${purpose}_token`, `This ${what} has expired`);
    await sql`update platform.one_time_token set used_at = now() where token_hash = ${hashToken(token)}`.execute(tx);
    return row.user_id;
  }

  /**
   * Sets (or, with null, removes) the password. Every outstanding emailed link of the account is
   * spent and every token revoked: a link or a session from before the change must not outlive it.
   * Announce the returned row once the transaction has committed.
   */
  async function replacePassword(userId: string, passwordHash: string | null, tx: Kysely<unknown>): Promise<UserRow> {
    await sql`update platform."user" set password_hash = ${passwordHash} where id = ${userId}::uuid`.execute(tx);
    await sql`update platform.one_time_token set used_at = now()
      where user_id = ${userId}::uuid and used_at is null`.execute(tx);
    return revokeTokens(userId, tx);
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
    row: UserRow,
    change: {
      provenBy: 'google' | 'reset' | 'setup';
      passwordHash: string | null;
      displayName: string | null;
    },
    origin: AuditOrigin,
    tx: Kysely<unknown>,
  ): Promise<UserRow | undefined> {
    // Row-locking and guarded: of two racing proofs, the second finds the account verified.
    const verified =
      await sql`update platform."user" set display_name = ${change.displayName}, email_verified_at = now()
      where id = ${row.id}::uuid and email_verified_at is null`.execute(tx);
    if (Number(verified.numAffectedRows ?? 0) === 0) return undefined;
    const withdrawn = await sql<{ role: string }>`delete from platform.user_role
      where user_id = ${row.id}::uuid and status = 'pending' returning role`.execute(tx);
    const withdrawnRoles = withdrawn.rows.map((grant) => grant.role).sort();
    const secured = await replacePassword(row.id, change.passwordHash, tx);
    await notify.send('platform.account-secured', {
      to: { userId: row.id, email: row.email },
      data: {
        provenBy: change.provenBy,
        withdrawnRoles: withdrawnRoles.map((role) => roleDefinitions.get(role)?.title ?? role),
        ...(change.passwordHash === null ? { resetLink: `${options.publicUrl}/reset` } : {}),
      },
      idempotencyKey: `account-secured:${row.id}:${secured.token_generation}`,
      tx,
    });
    await recordAudit(tx, {
      actor: { id: row.id, email: row.email },
      action: 'auth.account_secured',
      target: { type: 'user', id: row.id },
      before: { password: row.password_hash !== null, displayName: row.display_name, pendingRoles: withdrawnRoles },
      after: { password: change.passwordHash !== null, displayName: change.displayName, pendingRoles: [] },
      details: { provenBy: change.provenBy, revokedGeneration: row.token_generation },
      ...origin,
    });
    return secured;
  }

  function checkPassword(password: string, field: string, email?: string): void {
    const problem = checkNewPassword(password, field, email);
    if (problem !== undefined) {
      throw new AppError('invalid_input', 'auth.weak_password', `Password ${problem.message}`, { errors: [problem] });
    }
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
    checkPassword(input.password, 'body.password', normaliseEmail(input.email));
    const role = input.role === undefined ? undefined : roleDefinitions.get(input.role);
    if (input.role !== undefined && (role === undefined || !role.selfService)) {
      throw new AppError('invalid_input', 'auth.unknown_role', `No role ${input.role} can be requested`, {
        errors: [{ field: 'body.role', message: 'is not a role you can ask for' }],
      });
    }
    return role;
  }

  /** Failed sign-ins for this email in the last 15 minutes, for the growing delay. */
  async function recentFailures(email: string): Promise<number> {
    const rows = await sql<{ count: number }>`select count(*)::int as count from platform.audit_event
      where action = 'auth.sign_in_failed' and at > now() - interval '15 minutes' and details->>'email' = ${email}`.execute(
      db,
    );
    return rows.rows[0]?.count ?? 0;
  }

  async function notifyApprovers(role: RoleDefinition, applicant: UserRow, tx: Kysely<unknown>): Promise<void> {
    const approverRoles = [PLATFORM_ADMIN, ...role.approvers];
    const approvers = await sql<{ id: string; email: string }>`
      select distinct u.id::text, u.email from platform."user" u join platform.user_role r on r.user_id = u.id
      where r.role = any(${approverRoles}) and r.status = 'active' and u.disabled_at is null`.execute(tx);
    for (const approver of approvers.rows) {
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

  /**
   * Signature and claim checks of recently seen tokens, cached until shortly before they expire:
   * a signature does not change, so a browser's repeated requests skip the Ed25519 verification.
   * Revocation is not cached: `authenticate` reads the user on every request.
   */
  const verified = new Map<string, AccessClaims>();
  async function verifiedClaims(token: string): Promise<AccessClaims | null> {
    const cached = verified.get(token);
    if (cached !== undefined && cached.expiresAt.getTime() > Date.now() + 5000) return cached;
    const claims = await verifyAccessToken(keys, tokens, token);
    if (claims !== null) {
      if (verified.size >= 10_000) verified.delete(verified.keys().next().value!);
      verified.set(token, claims);
    }
    return claims;
  }

  return {
    roleDefinitions,

    /** The public keys of the key ring, for `/.well-known/jwks.json`. */
    jwks: () => keys.jwks(),

    /** Verifies a token and loads its user: disabled users and revoked tokens are refused. */
    async authenticate(token: string): Promise<Actor | null> {
      const claims = await verifiedClaims(token);
      if (claims === null) return null;
      // One primary-key read per request: sees revocation, disabling and role changes at once.
      const rows = await sql<{
        email: string;
        disabled: boolean;
        token_generation: number;
        active: string[] | null;
        pending: string[] | null;
      }>`select u.email, u.disabled_at is not null as disabled, u.token_generation,
           array_agg(r.role) filter (where r.status = 'active') as active,
           array_agg(r.role) filter (where r.status = 'pending') as pending
         from platform."user" u left join platform.user_role r on r.user_id = u.id
         where u.id = ${claims.userId}::uuid group by u.id`.execute(db);
      const row = rows.rows[0];
      if (row === undefined || row.disabled || row.token_generation !== claims.generation) return null;
      return {
        id: claims.userId,
        email: row.email,
        roles: row.active ?? [],
        pendingRoles: row.pending ?? [],
        tokenId: claims.tokenId,
        tokenGeneration: claims.generation,
      };
    },

    async me(actor: Actor): Promise<PublicUser> {
      const row = await findUser({ id: actor.id });
      if (row === undefined) throw new AppError('unauthenticated', 'auth.unauthenticated', 'Sign in first');
      return publicUser(row);
    },

    checkRegistration,

    async register(
      input: { email: string; password: string; displayName?: string | undefined; role?: string | undefined },
      origin: AuditOrigin,
    ): Promise<void> {
      const started = performance.now();
      const email = normaliseEmail(input.email);
      const role = checkRegistration(input);
      const passwordHash = await hashPassword(input.password);
      await db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        const inserted = await sql<UserRow>`
          insert into platform."user" (email, display_name, password_hash) values (${email}, ${input.displayName ?? null}, ${passwordHash})
          on conflict (email) do nothing
          returning id::text, email, display_name, password_hash, email_verified_at, google_sub, disabled_at, token_generation, created_at`.execute(
          tx,
        );
        const user = inserted.rows[0];
        if (user === undefined) {
          // Same answer to the caller; the owner of the address learns someone tried.
          const existing = await findUser({ email }, tx);
          await notify.send('platform.account-exists', {
            to: { email },
            data: { resetLink: `${options.publicUrl}/reset` },
            idempotencyKey: `account-exists:${email}:${Math.floor(Date.now() / 3_600_000)}`,
            tx,
          });
          await recordAudit(tx, {
            action: 'auth.register_existing',
            target: existing === undefined ? undefined : { type: 'user', id: existing.id },
            details: { email },
            ...origin,
          });
          return;
        }
        if (role !== undefined) {
          await sql`insert into platform.user_role (user_id, role, status)
            values (${user.id}::uuid, ${role.name}, ${role.requiresApproval ? 'pending' : 'active'})`.execute(tx);
        }
        const token = await createOneTimeToken(user.id, 'verify', `${VERIFY_TTL_HOURS} hours`, tx);
        await notify.send('platform.verify-email', {
          to: { userId: user.id, email },
          data: { link: `${options.publicUrl}/verify-email?token=${token}` },
          idempotencyKey: `verify:${user.id}:${hashToken(token).slice(0, 16)}`,
          tx,
        });
        await recordAudit(tx, {
          actor: { id: user.id, email },
          action: 'auth.register',
          target: { type: 'user', id: user.id },
          after: { email, role: role?.name ?? null },
          ...origin,
        });
        if (role?.requiresApproval === true) await notifyApprovers(role, user, tx);
      });
      await answerNoSoonerThan(started);
    },

    async verifyEmail(token: string, origin: AuditOrigin): Promise<Session> {
      return db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        const userId = await consumeOneTimeToken(token, 'verify', tx);
        await sql`update platform."user" set email_verified_at = coalesce(email_verified_at, now()) where id = ${userId}::uuid`.execute(
          tx,
        );
        const row = (await findUser({ id: userId }, tx))!;
        await recordAudit(tx, {
          actor: { id: row.id, email: row.email },
          action: 'auth.email_verified',
          target: { type: 'user', id: row.id },
          ...origin,
        });
        return sessionFor(row, tx);
      });
    },

    async signIn(input: { email: string; password: string }, origin: AuditOrigin): Promise<Session> {
      const email = normaliseEmail(input.email);
      // Growing delay against guessing: after 3 recent failures, 0.5 s, 1 s, 2 s, ... up to 8 s.
      const failures = await recentFailures(email);
      if (failures >= 3) await sleep(Math.min(8000, 500 * 2 ** (failures - 3)));
      const row = await findUser({ email });
      const valid = await verifyPassword(row?.password_hash, input.password);
      if (row === undefined || !valid) {
        await recordAudit(db, {
          actor: row === undefined ? null : { id: row.id, email: row.email },
          action: 'auth.sign_in_failed',
          target: row === undefined ? undefined : { type: 'user', id: row.id },
          details: { email, reason: row === undefined ? 'unknown_email' : 'wrong_password' },
          ...origin,
        });
        throw invalidCredentials();
      }
      if (row.disabled_at !== null) {
        await recordAudit(db, {
          actor: { id: row.id, email: row.email },
          action: 'auth.sign_in_failed',
          target: { type: 'user', id: row.id },
          details: { email, reason: 'disabled' },
          ...origin,
        });
        throw new AppError('forbidden', 'auth.account_disabled', 'This account is disabled');
      }
      if (row.email_verified_at === null) {
        throw new AppError(
          'forbidden',
          'auth.email_not_verified',
          'Verify your email address first: we sent you a link',
        );
      }
      if (row.password_hash !== null && needsRehash(row.password_hash)) {
        await sql`update platform."user" set password_hash = ${await hashPassword(input.password)} where id = ${row.id}::uuid`.execute(
          db,
        );
      }
      await recordAudit(db, {
        actor: { id: row.id, email: row.email },
        action: 'auth.sign_in',
        target: { type: 'user', id: row.id },
        details: { method: 'password' },
        ...origin,
      });
      return sessionFor(row);
    },

    async signOut(actor: Actor, origin: AuditOrigin): Promise<void> {
      const revoked = await db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        const row = await revokeTokens(actor.id, tx);
        await recordAudit(tx, {
          actor: { id: actor.id, email: actor.email },
          action: 'auth.sign_out',
          target: { type: 'user', id: actor.id },
          ...origin,
        });
        return row;
      });
      await announceRevoked(revoked);
    },

    async changePassword(
      actor: Actor,
      input: { currentPassword: string; newPassword: string },
      origin: AuditOrigin,
    ): Promise<Session> {
      const row = await findUser({ id: actor.id });
      if (row === undefined) throw new AppError('unauthenticated', 'auth.unauthenticated', 'Sign in first');
      if (!(await verifyPassword(row.password_hash, input.currentPassword))) {
        throw new AppError('invalid_input', 'auth.wrong_password', 'The current password is incorrect', {
          errors: [{ field: 'body.currentPassword', message: 'is incorrect' }],
        });
      }
      checkPassword(input.newPassword, 'body.newPassword', row.email);
      const hash = await hashPassword(input.newPassword);
      const { updated, session } = await db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        const revoked = await replacePassword(row.id, hash, tx);
        await recordAudit(tx, {
          actor: { id: row.id, email: row.email },
          action: 'auth.password_changed',
          target: { type: 'user', id: row.id },
          ...origin,
        });
        return { updated: revoked, session: await sessionFor(revoked, tx) };
      });
      await announceRevoked(updated);
      return session;
    },

    async requestReset(emailInput: string, origin: AuditOrigin): Promise<void> {
      const started = performance.now();
      const email = normaliseEmail(emailInput);
      await db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        const row = await findUser({ email }, tx);
        if (row === undefined || row.disabled_at !== null) {
          await recordAudit(tx, { action: 'auth.reset_requested', details: { email, known: false }, ...origin });
          return;
        }
        const token = await createOneTimeToken(row.id, 'reset', `${RESET_TTL_MINUTES} minutes`, tx);
        await notify.send('platform.password-reset', {
          to: { userId: row.id, email: row.email },
          data: { link: `${options.publicUrl}/reset/confirm?token=${token}`, minutes: RESET_TTL_MINUTES },
          idempotencyKey: `reset:${hashToken(token).slice(0, 24)}`,
          tx,
        });
        await recordAudit(tx, {
          actor: { id: row.id, email: row.email },
          action: 'auth.reset_requested',
          target: { type: 'user', id: row.id },
          details: { email, known: true },
          ...origin,
        });
      });
      await answerNoSoonerThan(started);
    },

    async resetPassword(input: { token: string; password: string }, origin: AuditOrigin): Promise<void> {
      const hashed = await (async () => {
        checkPassword(input.password, 'body.password');
        return hashPassword(input.password);
      })();
      const revoked = await db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        const userId = await consumeOneTimeToken(input.token, 'reset', tx);
        const row = (await findUser({ id: userId }, tx))!;
        const problem = checkNewPassword(input.password, 'body.password', row.email);
        if (problem !== undefined)
          throw new AppError('invalid_input', 'auth.weak_password', `Password ${problem.message}`, {
            errors: [problem],
          });
        // Following the emailed link proves the address.
        const updated =
          (row.email_verified_at === null
            ? await secureUnverifiedAccount(
                row,
                { provenBy: 'reset', passwordHash: hashed, displayName: null },
                origin,
                tx,
              )
            : undefined) ?? (await replacePassword(userId, hashed, tx));
        await recordAudit(tx, {
          actor: { id: row.id, email: row.email },
          action: 'auth.password_reset',
          target: { type: 'user', id: row.id },
          ...origin,
        });
        return updated;
      });
      await announceRevoked(revoked);
    },

    /** Signs in with a Google ID token: verified against Google's keys, linked by verified email. */
    async googleSignIn(credential: string, origin: AuditOrigin): Promise<Session> {
      if (googleKeys === undefined || options.google === undefined) {
        throw new AppError('not_found', 'auth.google_not_configured', 'Google sign-in is not configured');
      }
      let claims: { sub: string; email?: string; email_verified?: boolean; name?: string };
      try {
        const verified = await jwtVerify(credential, googleKeys, {
          issuer: ['https://accounts.google.com', 'accounts.google.com'],
          audience: options.google.clientId,
          algorithms: ['RS256'],
          requiredClaims: ['sub', 'exp', 'iat'],
        });
        claims = verified.payload as typeof claims;
      } catch (error) {
        log.info({ err: error }, 'Google ID token refused');
        throw new AppError('unauthenticated', 'auth.invalid_google_token', 'Google sign-in failed; try again');
      }
      if (claims.email === undefined || claims.email_verified !== true) {
        throw new AppError('forbidden', 'auth.google_email_unverified', 'Your Google account has no verified email');
      }
      const email = normaliseEmail(claims.email);
      let secured: UserRow | undefined;
      const session = await db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        let row = (await findUser({ googleSub: claims.sub }, tx)) ?? (await findUser({ email }, tx));
        let action = 'auth.sign_in';
        if (row === undefined) {
          const created =
            await sql<UserRow>`insert into platform."user" (email, display_name, google_sub, email_verified_at)
            values (${email}, ${claims.name ?? null}, ${claims.sub}, now())
            returning id::text, email, display_name, password_hash, email_verified_at, google_sub, disabled_at, token_generation, created_at`.execute(
              tx,
            );
          row = created.rows[0]!;
          action = 'auth.register';
        } else if (row.google_sub === null) {
          if (row.email_verified_at === null) {
            secured = await secureUnverifiedAccount(
              row,
              { provenBy: 'google', passwordHash: null, displayName: claims.name ?? null },
              origin,
              tx,
            );
          }
          await sql`update platform."user" set google_sub = ${claims.sub}, email_verified_at = coalesce(email_verified_at, now())
            where id = ${row.id}::uuid`.execute(tx);
          row = (await findUser({ id: row.id }, tx))!;
          await recordAudit(tx, {
            actor: { id: row.id, email: row.email },
            action: 'auth.google_linked',
            target: { type: 'user', id: row.id },
            ...origin,
          });
        }
        if (row.disabled_at !== null)
          throw new AppError('forbidden', 'auth.account_disabled', 'This account is disabled');
        await recordAudit(tx, {
          actor: { id: row.id, email: row.email },
          action,
          target: { type: 'user', id: row.id },
          details: { method: 'google' },
          ...origin,
        });
        return sessionFor(row, tx);
      });
      await announceRevoked(secured);
      return session;
    },

    async setupRequired(): Promise<boolean> {
      const rows = await sql<{ exists: boolean }>`select exists (select 1 from platform.user_role
        where role = ${PLATFORM_ADMIN} and status = 'active') as exists`.execute(db);
      return rows.rows[0]?.exists !== true;
    },

    /**
     * Creates the first platform admin, once; afterwards it is a 404. An existing account with the
     * address becomes the admin only with its own password; one never verified is secured first
     * (nothing its registrant set survives).
     */
    async setup(
      input: { email: string; password: string; displayName?: string | undefined },
      origin: AuditOrigin,
    ): Promise<Session> {
      const email = normaliseEmail(input.email);
      checkPassword(input.password, 'body.password', email);
      const hash = await hashPassword(input.password);
      let secured: UserRow | undefined;
      const session = await db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        // Two racing setups: the second waits here and then finds the admin.
        await sql`select pg_advisory_xact_lock(hashtext('ballast.setup'))`.execute(tx);
        const exists = await sql<{ exists: boolean }>`select exists (select 1 from platform.user_role
          where role = ${PLATFORM_ADMIN} and status = 'active') as exists`.execute(tx);
        if (exists.rows[0]?.exists === true) throw new AppError('not_found', 'http.not_found', 'Not found');
        const created =
          await sql<UserRow>`insert into platform."user" (email, display_name, password_hash, email_verified_at)
          values (${email}, ${input.displayName ?? null}, ${hash}, now())
          on conflict (email) do nothing
          returning id::text, email, display_name, password_hash, email_verified_at, google_sub, disabled_at, token_generation, created_at`.execute(
            tx,
          );
        let row = created.rows[0];
        if (row === undefined) {
          const existing = (await findUser({ email }, tx))!;
          if (existing.email_verified_at === null) {
            secured = await secureUnverifiedAccount(
              existing,
              { provenBy: 'setup', passwordHash: hash, displayName: input.displayName ?? null },
              origin,
              tx,
            );
          }
          if (secured !== undefined) {
            row = secured;
          } else if (await verifyPassword(existing.password_hash, input.password)) {
            row = existing;
          } else {
            throw new AppError(
              'conflict',
              'auth.setup_account_exists',
              'An account with this address already exists: enter its password to make it the administrator, or use another address',
              { errors: [{ field: 'body.password', message: 'is not the password of the existing account' }] },
            );
          }
        }
        await sql`insert into platform.user_role (user_id, role, status, approved_at)
          values (${row.id}::uuid, ${PLATFORM_ADMIN}, 'active', now())
          on conflict (user_id, role) do update set status = 'active', approved_at = now()`.execute(tx);
        await recordAudit(tx, {
          actor: { id: row.id, email: row.email },
          action: 'auth.setup',
          target: { type: 'user', id: row.id },
          after: { roles: [PLATFORM_ADMIN] },
          ...origin,
        });
        return sessionFor(row, tx);
      });
      await announceRevoked(secured);
      return session;
    },

    /** Roles the actor may grant or approve: everything for admins, else the roles they approve. */
    canManage(actor: Actor, role: string): boolean {
      return canManage(actor, role, roleDefinitions);
    },

    async listUsers(filter: {
      query?: string | undefined;
      status?: 'pending' | 'all' | undefined;
    }): Promise<PublicUser[]> {
      const conditions = [sql`true`];
      if (filter.query !== undefined && filter.query !== '') {
        const like = `%${filter.query.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
        conditions.push(sql`(email ilike ${like} or display_name ilike ${like})`);
      }
      if (filter.status === 'pending') {
        conditions.push(
          sql`exists (select 1 from platform.user_role r where r.user_id = "user".id and r.status = 'pending')`,
        );
      }
      const rows =
        await sql<UserRow>`select id::text, email, display_name, password_hash, email_verified_at, google_sub,
          disabled_at, token_generation, created_at from platform."user" where ${sql.join(conditions, sql` and `)}
          order by created_at desc limit 500`.execute(db);
      return Promise.all(rows.rows.map((row) => publicUser(row)));
    },

    async approve(actor: Actor, userId: string, role: string, origin: AuditOrigin): Promise<PublicUser> {
      if (!this.canManage(actor, role))
        throw new AppError('forbidden', 'auth.cannot_approve', `You cannot approve ${role}`);
      return db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        const updated =
          await sql`update platform.user_role set status = 'active', approved_at = now(), approved_by = ${actor.id}::uuid
          where user_id = ${userId}::uuid and role = ${role} and status = 'pending'`.execute(tx);
        if (Number(updated.numAffectedRows ?? 0) === 0) {
          throw new AppError('not_found', 'auth.no_pending_role', `No pending request for ${role}`);
        }
        const row = (await findUser({ id: userId }, tx))!;
        await recordAudit(tx, {
          actor: { id: actor.id, email: actor.email },
          action: 'auth.role_approved',
          target: { type: 'user', id: userId },
          before: { role, status: 'pending' },
          after: { role, status: 'active' },
          ...origin,
        });
        await notify.send('platform.role-approved', {
          to: { userId, email: row.email },
          data: { role, roleTitle: roleDefinitions.get(role)?.title ?? role },
          idempotencyKey: `role-approved:${userId}:${role}`,
          tx,
        });
        return publicUser(row, tx);
      });
    },

    async setRoles(
      actor: Actor,
      userId: string,
      change: { add: readonly string[]; remove: readonly string[] },
      origin: AuditOrigin,
    ) {
      for (const role of [...change.add, ...change.remove]) {
        if (role !== PLATFORM_ADMIN && !roleDefinitions.has(role)) {
          throw new AppError('invalid_input', 'auth.unknown_role', `No role ${role}`);
        }
        if (!this.canManage(actor, role))
          throw new AppError('forbidden', 'auth.cannot_grant', `You cannot change ${role}`);
      }
      if (change.remove.includes(PLATFORM_ADMIN) && userId === actor.id) {
        throw new AppError('conflict', 'auth.cannot_demote_self', 'You cannot remove your own admin role');
      }
      return db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        const row = await findUser({ id: userId }, tx);
        if (row === undefined) throw new AppError('not_found', 'auth.user_not_found', 'No such user');
        const before = await rolesOf(userId, tx);
        for (const role of change.add) {
          await sql`insert into platform.user_role (user_id, role, status, approved_at, approved_by)
            values (${userId}::uuid, ${role}, 'active', now(), ${actor.id}::uuid)
            on conflict (user_id, role) do update set status = 'active', approved_at = now(), approved_by = excluded.approved_by`.execute(
            tx,
          );
        }
        if (change.remove.length > 0) {
          await sql`delete from platform.user_role where user_id = ${userId}::uuid and role = any(${[...change.remove]})`.execute(
            tx,
          );
        }
        const after = await rolesOf(userId, tx);
        await recordAudit(tx, {
          actor: { id: actor.id, email: actor.email },
          action: 'auth.roles_changed',
          target: { type: 'user', id: userId },
          before,
          after,
          ...origin,
        });
        return publicUser(row, tx);
      });
    },

    async setDisabled(actor: Actor, userId: string, disabled: boolean, origin: AuditOrigin): Promise<PublicUser> {
      if (!actor.roles.includes(PLATFORM_ADMIN))
        throw new AppError('forbidden', 'auth.forbidden', 'Only admins can do this');
      if (userId === actor.id)
        throw new AppError('conflict', 'auth.cannot_disable_self', 'You cannot disable yourself');
      let revoked: UserRow | undefined;
      const result = await db.transaction().execute(async (transaction) => {
        const tx = transaction as unknown as Kysely<unknown>;
        const row = await findUser({ id: userId }, tx);
        if (row === undefined) throw new AppError('not_found', 'auth.user_not_found', 'No such user');
        await sql`update platform."user" set disabled_at = ${disabled ? sql`now()` : null} where id = ${userId}::uuid`.execute(
          tx,
        );
        if (disabled) revoked = await revokeTokens(userId, tx);
        await recordAudit(tx, {
          actor: { id: actor.id, email: actor.email },
          action: disabled ? 'auth.user_disabled' : 'auth.user_enabled',
          target: { type: 'user', id: userId },
          before: { disabled: row.disabled_at !== null },
          after: { disabled },
          ...origin,
        });
        return publicUser((await findUser({ id: userId }, tx))!, tx);
      });
      await announceRevoked(revoked);
      return result;
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
