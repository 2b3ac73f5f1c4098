import { setTimeout as sleep } from 'node:timers/promises';
import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { AuditOrigin, AuditTrail } from '#platform/modules/audit/audit.ts';
import type { ActorCache } from './actor-cache.ts';
import { hashPassword, needsRehash, verifyPassword } from './passwords.ts';
import type { KeyRing } from './signing-keys.ts';
import type { AccessClaims } from './token-claims.ts';
import { issueAccessToken, verifyAccessToken, type TokenSettings } from './tokens.ts';
import * as sessionRows from './session.repository.ts';
import type { SessionRow } from './session.repository.ts';
import * as users from './users.repository.ts';
import type { TokenHolder } from './users.repository.ts';
import { normaliseEmail, type Actor, type Session, type UserRow } from './users.ts';

export interface SessionsOptions {
  readonly database: Database;
  readonly audit: AuditTrail;
  readonly keys: KeyRing;
  readonly tokens: TokenSettings;
  readonly log: Logger;
  /**
   * Called once a transaction that revoked a user's tokens has committed, with the generation
   * now current: live sessions held outside requests (realtime sockets) close theirs.
   */
  readonly onTokensRevoked?: ((userId: string, generation: number) => Promise<void>) | undefined;
  /**
   * Called once a transaction that changed a user's roles or status (without revoking tokens) has
   * committed: every other node forgets its cached copy of the user.
   */
  readonly onUserChanged?: ((userId: string) => Promise<void>) | undefined;
  /** The users' rows kept in memory between requests (see `ActorCache`). */
  readonly actors: ActorCache<TokenHolder>;
}

/** Who is signing in, and, when a token is re-issued to a session that exists, which one. */
export interface SessionClient extends AuditOrigin {
  readonly sessionId?: string | undefined;
}

/** A session's `last_seen_at` is written at most this often per node (not on every request). */
const TOUCH_INTERVAL_MS = 5 * 60_000;

/** Failed sign-ins for one address within this many minutes slow the next attempt down. */
const FAILURE_WINDOW_MINUTES = 15;

const invalidCredentials = () =>
  new AppError('unauthenticated', 'auth.invalid_credentials', 'Email or password is incorrect');

/** Sessions: password sign-in, sign-out, access tokens, authentication and revocation. */
export type Sessions = ReturnType<typeof createSessions>;

export function createSessions(options: SessionsOptions) {
  const { database, audit, keys, tokens, log, actors } = options;
  const db = database.view<DB>('platform');
  /**
   * Users' rows for authentication, read together: every request whose user is not in the actor
   * cache within one turn of the event loop shares one statement (and one pooled connection), so
   * a burst of cache misses (many users' copies expiring together) does not queue for connections.
   * It keeps nothing itself: the actor cache decides what is kept and forgets on every change.
   */
  const tokenHolders = new DataLoader<string, TokenHolder | undefined>(
    async (ids) => {
      const rows = await users.findTokenHolders(db, ids);
      return ids.map((id) => rows.get(id));
    },
    { cache: false, maxBatchSize: 500, batchScheduleFn: (run) => setImmediate(run) },
  );

  /**
   * Signature and claim checks of recently seen tokens, cached until shortly before they expire:
   * a signature does not change, so a browser's repeated requests skip the Ed25519 verification.
   * Revocation is checked on every request against the user's row (see `authenticate`).
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

  /**
   * Issues an access token for the user in a session: the client's session when it names one that
   * still exists (moved to the current generation), else a new one recorded with its browser and
   * IP. Reads its roles on `on` (the caller's transaction).
   */
  async function issue(on: Kysely<DB>, row: UserRow, client: SessionClient): Promise<Session> {
    const generation = row.token_generation;
    const kept = client.sessionId;
    const renewed =
      kept !== undefined && (await sessionRows.renewSession(on, { id: kept, userId: row.id, generation }));
    const sessionId = renewed
      ? kept
      : await sessionRows.insertSession(on, { userId: row.id, generation, userAgent: client.userAgent, ip: client.ip });
    const issued = await issueAccessToken(keys, tokens, { userId: row.id, generation, sessionId });
    return {
      user: await users.publicUserOf(on, row),
      token: issued.token,
      tokenId: issued.claims.tokenId,
      sessionId,
      expiresAt: issued.claims.expiresAt,
    };
  }

  /**
   * When each session was last written as seen, on this node: `last_seen_at` is refreshed at most
   * every few minutes, off the request path (a write, never a read, and never awaited).
   */
  const touched = new Map<string, number>();
  function noteSeen(sessionId: string): void {
    const at = Date.now();
    const last = touched.get(sessionId);
    if (last !== undefined && at - last < TOUCH_INTERVAL_MS) return;
    if (touched.size >= 10_000) touched.delete(touched.keys().next().value!);
    touched.delete(sessionId);
    touched.set(sessionId, at);
    // A session's first request after sign-in needs no write: the row was just made.
    if (last === undefined) return;
    sessionRows.touchSession(db, sessionId).catch((error: unknown) => {
      log.warn({ err: error, sessionId }, 'auth: could not note when a session was last seen');
    });
  }

  /**
   * After the revoking transaction committed: this node forgets the user at once, every other
   * node on the bus message, and what still holds an earlier token (live sockets) closes.
   */
  async function announceRevoked(row: UserRow | undefined): Promise<void> {
    if (row === undefined) return;
    actors.forget(row.id);
    if (options.onTokensRevoked === undefined) return;
    try {
      await options.onTokensRevoked(row.id, row.token_generation);
    } catch (error) {
      log.error({ err: error, userId: row.id }, 'auth: could not close the live sockets of revoked tokens');
    }
  }

  /**
   * After a transaction that changed a user's roles or status committed (tokens not revoked): this
   * node forgets the user at once, every other node on the bus message.
   */
  async function announceChanged(userId: string): Promise<void> {
    actors.forget(userId);
    if (options.onUserChanged === undefined) return;
    try {
      await options.onUserChanged(userId);
    } catch (error) {
      log.error({ err: error, userId }, 'auth: could not tell other nodes that a user changed');
    }
  }

  /**
   * The user's row when a token of `generation` still speaks for them (they exist, are not
   * disabled, that generation was not revoked), else undefined. Kept in memory between requests;
   * every change to it is forgotten on every node as it commits. A kept row older than the token
   * (a newer sign-in) is read again.
   */
  async function validHolder(userId: string, generation: number): Promise<TokenHolder | undefined> {
    const holder = await actors.read(
      userId,
      () => tokenHolders.load(userId),
      (kept) => kept.token_generation >= generation,
    );
    return holder === undefined || holder.disabled || holder.token_generation !== generation ? undefined : holder;
  }

  /** Verifies a token and loads its user: disabled users and revoked tokens are refused. */
  async function authenticate(token: string): Promise<Actor | null> {
    const claims = await verifiedClaims(token);
    if (claims === null) return null;
    const holder = await validHolder(claims.userId, claims.generation);
    if (holder === undefined) return null;
    if (claims.sessionId !== undefined) noteSeen(claims.sessionId);
    return {
      id: claims.userId,
      email: holder.email,
      roles: holder.active ?? [],
      pendingRoles: holder.pending ?? [],
      tokenId: claims.tokenId,
      tokenGeneration: claims.generation,
      ...(claims.sessionId === undefined ? {} : { sessionId: claims.sessionId }),
    };
  }

  /**
   * Whether a token of `generation` still speaks for the user (see `validHolder`), for what holds
   * such a token without sending it again: a live socket's requests.
   */
  async function holdsToken(userId: string, generation: number): Promise<boolean> {
    return (await validHolder(userId, generation)) !== undefined;
  }

  async function signIn(input: { email: string; password: string }, origin: AuditOrigin): Promise<Session> {
    const email = normaliseEmail(input.email);
    // Growing delay against guessing: after 3 recent failures, 0.5 s, 1 s, 2 s, ... up to 8 s.
    const failures = await audit.countRecent({
      action: 'auth.sign_in_failed',
      withinMinutes: FAILURE_WINDOW_MINUTES,
      details: { email },
    });
    if (failures >= 3) await sleep(Math.min(8000, 500 * 2 ** (failures - 3)));
    const row = await users.findUser(db, { email });
    const valid = await verifyPassword(row?.password_hash, input.password);
    if (row === undefined || !valid) {
      await audit.record({
        actor: row === undefined ? null : { id: row.id, email: row.email },
        action: 'auth.sign_in_failed',
        target: row === undefined ? undefined : { type: 'user', id: row.id },
        details: { email, reason: row === undefined ? 'unknown_email' : 'wrong_password' },
        ...origin,
      });
      throw invalidCredentials();
    }
    if (row.disabled_at !== null) {
      await audit.record({
        actor: { id: row.id, email: row.email },
        action: 'auth.sign_in_failed',
        target: { type: 'user', id: row.id },
        details: { email, reason: 'disabled' },
        ...origin,
      });
      throw new AppError('forbidden', 'auth.account_disabled', 'This account is disabled');
    }
    if (row.email_verified_at === null) {
      throw new AppError('forbidden', 'auth.email_not_verified', 'Verify your email address first: we sent you a link');
    }
    if (row.password_hash !== null && needsRehash(row.password_hash)) {
      await users.setPasswordHash(db, row.id, await hashPassword(input.password));
    }
    await audit.record({
      actor: { id: row.id, email: row.email },
      action: 'auth.sign_in',
      target: { type: 'user', id: row.id },
      details: { method: 'password' },
      ...origin,
    });
    return issue(db, row, origin);
  }

  async function signOut(actor: Actor, origin: AuditOrigin): Promise<void> {
    const revoked = await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      const row = await users.bumpTokenGeneration(on, actor.id);
      await sessionRows.deleteSessions(on, actor.id);
      await audit.record(
        {
          actor: { id: actor.id, email: actor.email },
          action: 'auth.sign_out',
          target: { type: 'user', id: actor.id },
          ...origin,
        },
        tx,
      );
      return row;
    });
    await announceRevoked(revoked);
  }

  /**
   * Ends every session of the user but the caller's: their tokens' generation is bumped (every
   * token stops working on every node, through the actor cache's invalidation), the other rows
   * are deleted, and this session gets a token of the new generation. Refused (401) when the
   * caller's own token was revoked meanwhile, e.g. by the same request from another session.
   */
  async function signOutOthers(actor: Actor, origin: AuditOrigin): Promise<{ session: Session; ended: number }> {
    const { revoked, session, ended } = await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      // Locks the user's row: racing calls run one after the other, and the second sees the bump.
      const row = await users.bumpTokenGeneration(on, actor.id);
      const ownAlive =
        row.disabled_at === null &&
        row.token_generation === actor.tokenGeneration + 1 &&
        (actor.sessionId === undefined || (await sessionRows.lockSession(on, actor.id, actor.sessionId)));
      if (!ownAlive)
        throw new AppError('unauthenticated', 'auth.session_ended', 'This session was signed out: sign in again');
      const sessionId =
        actor.sessionId ??
        (await sessionRows.insertSession(on, { userId: actor.id, generation: row.token_generation, ...origin }));
      const ended = await sessionRows.deleteOtherSessions(on, actor.id, sessionId);
      await audit.record(
        {
          actor: { id: actor.id, email: actor.email },
          action: 'auth.signed_out_others',
          target: { type: 'user', id: actor.id },
          details: { ended },
          ...origin,
        },
        tx,
      );
      return { revoked: row, session: await issue(on, row, { ...origin, sessionId }), ended };
    });
    await announceRevoked(revoked);
    return { session, ended };
  }

  /** The caller's live sessions, most recently seen first; `current` marks the caller's own. */
  async function listSessions(actor: Actor): Promise<(SessionRow & { current: boolean })[]> {
    const rows = await sessionRows.listSessions(db, actor.id);
    return rows.map((row) => ({ ...row, current: row.id === actor.sessionId }));
  }

  return {
    /** The public keys of the key ring, for `/.well-known/jwks.json`. */
    jwks: () => keys.jwks(),
    issue,
    /**
     * Bumps the user's token generation: every token issued before stops working. Pass the row
     * to `announceRevoked` once the transaction has committed.
     */
    revoke: (on: Kysely<DB>, userId: string): Promise<UserRow> => users.bumpTokenGeneration(on, userId),
    announceRevoked,
    announceChanged,
    authenticate,
    holdsToken,
    signIn,
    signOut,
    signOutOthers,
    listSessions,
  };
}
