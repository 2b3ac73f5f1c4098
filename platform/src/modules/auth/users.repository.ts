import { sql, type Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';
import type { OneTimePurpose, StoredOneTimeToken } from './one-time-token.ts';
import { normaliseEmail, toPublicUser, type PublicUser, type RoleGrant, type UserRow } from './users.ts';

/**
 * The accounts' tables (`user`, `user_role`, `one_time_token`). Every function runs on the handle
 * it is given: the platform's tables on the pool (`database.view<DB>('platform')`) or inside a
 * transaction (`tx.view<DB>('platform')`).
 */

const userColumns = [
  'id',
  'email',
  'display_name',
  'password_hash',
  'email_verified_at',
  'google_sub',
  'disabled_at',
  'token_generation',
  'created_at',
] as const;

const now = () => sql<Date>`now()`;

/** How to find one user. */
export type UserKey = { readonly id: string } | { readonly email: string } | { readonly googleSub: string };

export async function findUser(db: Kysely<DB>, key: UserKey): Promise<UserRow | undefined> {
  const users = db.selectFrom('user').select(userColumns);
  const query =
    'id' in key
      ? users.where('id', '=', key.id)
      : 'email' in key
        ? users.where('email', '=', normaliseEmail(key.email))
        : users.where('google_sub', '=', key.googleSub);
  return query.executeTakeFirst();
}

/** A new account; `verified` when its address is already proven (Google, first-run setup). */
export interface NewUser {
  readonly email: string;
  readonly displayName: string | null;
  readonly passwordHash?: string;
  readonly googleSub?: string;
  readonly verified: boolean;
}

function newUserValues(user: NewUser) {
  return {
    email: user.email,
    display_name: user.displayName,
    password_hash: user.passwordHash ?? null,
    google_sub: user.googleSub ?? null,
    email_verified_at: user.verified ? now() : null,
  };
}

/** Inserts an account; a taken address or Google account fails on the unique constraint. */
export async function insertUser(db: Kysely<DB>, user: NewUser): Promise<UserRow> {
  return db.insertInto('user').values(newUserValues(user)).returning(userColumns).executeTakeFirstOrThrow();
}

/** Inserts an account unless its address is taken: then undefined, and nothing changes. */
export async function insertUserUnlessTaken(db: Kysely<DB>, user: NewUser): Promise<UserRow | undefined> {
  return db
    .insertInto('user')
    .values(newUserValues(user))
    .onConflict((conflict) => conflict.column('email').doNothing())
    .returning(userColumns)
    .executeTakeFirst();
}

/** The user's roles, active and pending, by name. */
export async function rolesOf(db: Kysely<DB>, userId: string): Promise<RoleGrant[]> {
  return db
    .selectFrom('user_role')
    .select(['role', 'status'])
    .where('user_id', '=', userId)
    .orderBy('role')
    .$narrowType<{ status: RoleGrant['status'] }>()
    .execute();
}

/** The API's view of a user, with its roles read on the same handle. */
export async function publicUserOf(db: Kysely<DB>, row: UserRow): Promise<PublicUser> {
  return toPublicUser(row, await rolesOf(db, row.id));
}

/** What authenticating a token needs to know of its user. */
export interface TokenHolder {
  readonly email: string;
  readonly disabled: boolean;
  readonly token_generation: number;
  readonly active: string[] | null;
  readonly pending: string[] | null;
}

/** Many users' `TokenHolder` rows in one statement, by id (a missing user is absent). */
export async function findTokenHolders(db: Kysely<DB>, userIds: readonly string[]): Promise<Map<string, TokenHolder>> {
  const rows = await db
    .selectFrom('user as u')
    .leftJoin('user_role as r', 'r.user_id', 'u.id')
    .select((eb) => [
      'u.id',
      'u.email',
      eb('u.disabled_at', 'is not', null).$castTo<boolean>().as('disabled'),
      'u.token_generation',
      eb.fn.agg<string[] | null>('array_agg', ['r.role']).filterWhere('r.status', '=', 'active').as('active'),
      eb.fn.agg<string[] | null>('array_agg', ['r.role']).filterWhere('r.status', '=', 'pending').as('pending'),
    ])
    .where('u.id', '=', (eb) => eb.fn.any(eb.val(userIds).$castTo<string[]>()))
    .groupBy('u.id')
    .execute();
  return new Map(rows.map(({ id, ...holder }) => [id, holder]));
}

/** Bumps the user's token generation (every token issued before stops working); the row after. */
export async function bumpTokenGeneration(db: Kysely<DB>, userId: string): Promise<UserRow> {
  return db
    .updateTable('user')
    .set((eb) => ({ token_generation: eb('token_generation', '+', 1), updated_at: now() }))
    .where('id', '=', userId)
    .returning(userColumns)
    .executeTakeFirstOrThrow();
}

/** Sets the password hash; null removes the password. */
export async function setPasswordHash(db: Kysely<DB>, userId: string, passwordHash: string | null): Promise<void> {
  await db.updateTable('user').set({ password_hash: passwordHash }).where('id', '=', userId).execute();
}

/** Marks the address verified (keeping an earlier verification's time). */
export async function markEmailVerified(db: Kysely<DB>, userId: string): Promise<void> {
  await db
    .updateTable('user')
    .set((eb) => ({ email_verified_at: eb.fn.coalesce('email_verified_at', now()) }))
    .where('id', '=', userId)
    .execute();
}

/**
 * Verifies an account that was not verified, replacing its display name. Row-locking and guarded:
 * false when it was verified already (of two racing proofs, the second finds it so).
 */
export async function verifyUnverified(db: Kysely<DB>, userId: string, displayName: string | null): Promise<boolean> {
  const result = await db
    .updateTable('user')
    .set({ display_name: displayName, email_verified_at: now() })
    .where('id', '=', userId)
    .where('email_verified_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Links a Google account, which proves the address. */
export async function linkGoogleAccount(db: Kysely<DB>, userId: string, googleSub: string): Promise<void> {
  await db
    .updateTable('user')
    .set((eb) => ({ google_sub: googleSub, email_verified_at: eb.fn.coalesce('email_verified_at', now()) }))
    .where('id', '=', userId)
    .execute();
}

export async function setDisabled(db: Kysely<DB>, userId: string, disabled: boolean): Promise<void> {
  await db
    .updateTable('user')
    .set({ disabled_at: disabled ? now() : null })
    .where('id', '=', userId)
    .execute();
}

/**
 * Users, newest first (at most 500): those whose address or name contains `query`, and with
 * `status: 'pending'` only those with a role request awaiting approval.
 */
export async function listUsers(
  db: Kysely<DB>,
  filter: { readonly query?: string | undefined; readonly status?: 'pending' | 'all' | undefined },
): Promise<UserRow[]> {
  let query = db.selectFrom('user').select(userColumns);
  if (filter.query !== undefined && filter.query !== '') {
    const like = `%${filter.query.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) => eb.or([eb('email', 'ilike', like), eb('display_name', 'ilike', like)]));
  }
  if (filter.status === 'pending') {
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('user_role as r')
          .select('r.user_id')
          .whereRef('r.user_id', '=', 'user.id')
          .where('r.status', '=', 'pending'),
      ),
    );
  }
  return query.orderBy('created_at', 'desc').limit(500).execute();
}

/** Asks for a role: active at once, or pending an approver. */
export async function requestRole(
  db: Kysely<DB>,
  userId: string,
  role: string,
  status: RoleGrant['status'],
): Promise<void> {
  await db.insertInto('user_role').values({ user_id: userId, role, status }).execute();
}

/**
 * Makes a role active, whether or not the user held or asked for it. `approvedBy` records who
 * granted it; null (first-run setup) leaves an earlier approver in place.
 */
export async function grantRole(
  db: Kysely<DB>,
  userId: string,
  role: string,
  approvedBy: string | null,
): Promise<void> {
  await db
    .insertInto('user_role')
    .values({ user_id: userId, role, status: 'active', approved_at: now(), approved_by: approvedBy })
    .onConflict((conflict) =>
      conflict.columns(['user_id', 'role']).doUpdateSet((eb) => ({
        status: 'active',
        approved_at: now(),
        ...(approvedBy === null ? {} : { approved_by: eb.ref('excluded.approved_by') }),
      })),
    )
    .execute();
}

/** Approves a pending request for `role`; false when there is none. */
export async function approvePendingRole(
  db: Kysely<DB>,
  userId: string,
  role: string,
  approvedBy: string,
): Promise<boolean> {
  const result = await db
    .updateTable('user_role')
    .set({ status: 'active', approved_at: now(), approved_by: approvedBy })
    .where('user_id', '=', userId)
    .where('role', '=', role)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function removeRoles(db: Kysely<DB>, userId: string, roles: readonly string[]): Promise<void> {
  if (roles.length === 0) return;
  await db.deleteFrom('user_role').where('user_id', '=', userId).where('role', 'in', roles).execute();
}

/** Withdraws every pending role request of the user; the roles withdrawn, by name. */
export async function withdrawPendingRoles(db: Kysely<DB>, userId: string): Promise<string[]> {
  const rows = await db
    .deleteFrom('user_role')
    .where('user_id', '=', userId)
    .where('status', '=', 'pending')
    .returning('role')
    .execute();
  return rows.map((row) => row.role).sort();
}

/** Enabled users actively holding one of `roles`, each once. */
export async function holdersOf(
  db: Kysely<DB>,
  roles: readonly string[],
): Promise<{ readonly id: string; readonly email: string }[]> {
  return db
    .selectFrom('user as u')
    .innerJoin('user_role as r', 'r.user_id', 'u.id')
    .select(['u.id', 'u.email'])
    .distinct()
    .where('r.role', 'in', roles)
    .where('r.status', '=', 'active')
    .where('u.disabled_at', 'is', null)
    .execute();
}

/** Whether anyone actively holds `role`. */
export async function roleHeld(db: Kysely<DB>, role: string): Promise<boolean> {
  const row = await db
    .selectFrom('user_role')
    .select('user_id')
    .where('role', '=', role)
    .where('status', '=', 'active')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Serialises first-run setup: a second setup waits here until the first commits, then sees the
 * admin it created. Held until the transaction ends.
 */
export async function lockSetup(db: Kysely<DB>): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('ballast.setup'))`.execute(db);
}

/** Stores a one-time token (its hash) that expires `ttlMinutes` from now by the database's clock. */
export async function insertOneTimeToken(
  db: Kysely<DB>,
  token: {
    readonly hash: string;
    readonly userId: string;
    readonly purpose: OneTimePurpose;
    readonly ttlMinutes: number;
  },
): Promise<void> {
  await db
    .insertInto('one_time_token')
    .values({
      token_hash: token.hash,
      user_id: token.userId,
      purpose: token.purpose,
      expires_at: sql<Date>`now() + make_interval(mins => ${token.ttlMinutes})`,
    })
    .execute();
}

/**
 * A one-time token by hash and purpose, locked until the transaction ends, with the database's
 * clock (`now`) to judge its expiry by.
 */
export async function lockOneTimeToken(
  db: Kysely<DB>,
  hash: string,
  purpose: OneTimePurpose,
): Promise<(StoredOneTimeToken & { userId: string }) | undefined> {
  return db
    .selectFrom('one_time_token')
    .select(['user_id as userId', 'expires_at as expiresAt', 'used_at as usedAt', now().as('now')])
    .where('token_hash', '=', hash)
    .where('purpose', '=', purpose)
    .forUpdate()
    .executeTakeFirst();
}

/** A one-time token by hash and purpose, without locking it (to tell a page whether it is usable). */
export async function findOneTimeToken(
  db: Kysely<DB>,
  hash: string,
  purpose: OneTimePurpose,
): Promise<StoredOneTimeToken | undefined> {
  return db
    .selectFrom('one_time_token')
    .select(['expires_at as expiresAt', 'used_at as usedAt', now().as('now')])
    .where('token_hash', '=', hash)
    .where('purpose', '=', purpose)
    .executeTakeFirst();
}

export async function markOneTimeTokenUsed(db: Kysely<DB>, hash: string): Promise<void> {
  await db.updateTable('one_time_token').set({ used_at: now() }).where('token_hash', '=', hash).execute();
}

/** Spends every outstanding one-time token of the user. */
export async function spendOneTimeTokens(db: Kysely<DB>, userId: string): Promise<void> {
  await db
    .updateTable('one_time_token')
    .set({ used_at: now() })
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .execute();
}

/** Sets the display name; the row after. */
export async function setDisplayName(db: Kysely<DB>, userId: string, displayName: string): Promise<UserRow> {
  return db
    .updateTable('user')
    .set({ display_name: displayName, updated_at: now() })
    .where('id', '=', userId)
    .returning(userColumns)
    .executeTakeFirstOrThrow();
}
