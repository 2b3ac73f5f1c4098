import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { AuditOrigin, AuditTrail } from '#platform/modules/audit/audit.ts';
import type { Accounts } from './accounts.service.ts';
import { GOOGLE_ISSUERS, acceptGoogleClaims, type GoogleIdentity } from './google-claims.ts';
import type { Sessions } from './sessions.service.ts';
import * as users from './users.repository.ts';
import type { Session, UserRow } from './users.ts';

export interface GoogleSignInOptions {
  readonly database: Database;
  readonly audit: AuditTrail;
  readonly log: Logger;
  /** Unset when Google sign-in is not configured: it then answers 404. */
  readonly google: { readonly clientId: string; readonly jwksUrl: string } | undefined;
  readonly sessions: Pick<Sessions, 'issue' | 'announceRevoked'>;
  readonly accounts: Pick<Accounts, 'secureUnverifiedAccount'>;
}

/** Sign-in with Google: ID tokens verified against Google's keys, accounts linked by verified address. */
export type GoogleSignIn = ReturnType<typeof createGoogleSignIn>;

export function createGoogleSignIn(options: GoogleSignInOptions) {
  const { database, audit, log, google, sessions, accounts } = options;
  const googleKeys =
    google === undefined
      ? undefined
      : createRemoteJWKSet(new URL(google.jwksUrl), { cooldownDuration: 10_000, cacheMaxAge: 3_600_000 });

  /** The identity a Google ID token proves, or a 401 (bad token) or 403 (unverified address). */
  async function identityOf(credential: string): Promise<GoogleIdentity> {
    if (googleKeys === undefined || google === undefined) {
      throw new AppError('not_found', 'auth.google_not_configured', 'Google sign-in is not configured');
    }
    let claims: Record<string, unknown>;
    try {
      const verified = await jwtVerify(credential, googleKeys, {
        issuer: GOOGLE_ISSUERS,
        audience: google.clientId,
        algorithms: ['RS256'],
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      claims = verified.payload;
    } catch (error) {
      log.info({ err: error }, 'Google ID token refused');
      throw new AppError('unauthenticated', 'auth.invalid_google_token', 'Google sign-in failed; try again');
    }
    return acceptGoogleClaims(claims);
  }

  /** Signs in with a Google ID token: verified against Google's keys, linked by verified email. */
  async function googleSignIn(credential: string, origin: AuditOrigin): Promise<Session> {
    const identity = await identityOf(credential);
    let secured: UserRow | undefined;
    const session = await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      let row =
        (await users.findUser(on, { googleSub: identity.sub })) ??
        (await users.findUser(on, { email: identity.email }));
      let action = 'auth.sign_in';
      if (row === undefined) {
        row = await users.insertUser(on, {
          email: identity.email,
          displayName: identity.name,
          googleSub: identity.sub,
          verified: true,
        });
        action = 'auth.register';
      } else if (row.google_sub === null) {
        if (row.email_verified_at === null) {
          secured = await accounts.secureUnverifiedAccount(
            tx,
            row,
            { provenBy: 'google', passwordHash: null, displayName: identity.name },
            origin,
          );
        }
        await users.linkGoogleAccount(on, row.id, identity.sub);
        row = (await users.findUser(on, { id: row.id }))!;
        await audit.record(
          {
            actor: { id: row.id, email: row.email },
            action: 'auth.google_linked',
            target: { type: 'user', id: row.id },
            ...origin,
          },
          tx,
        );
      }
      if (row.disabled_at !== null)
        throw new AppError('forbidden', 'auth.account_disabled', 'This account is disabled');
      await audit.record(
        {
          actor: { id: row.id, email: row.email },
          action,
          target: { type: 'user', id: row.id },
          details: { method: 'google' },
          ...origin,
        },
        tx,
      );
      return sessions.issue(on, row, origin);
    });
    await sessions.announceRevoked(secured);
    return session;
  }

  return {
    googleSignIn,
  };
}
