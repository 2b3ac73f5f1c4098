import type { DB } from '#platform/db/platform.db.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { AuditOrigin, AuditTrail } from '#platform/modules/audit/audit.ts';
import type { Accounts } from './accounts.service.ts';
import { PLATFORM_ADMIN } from './access.ts';
import { assertStrongPassword } from './password-policy.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { Sessions } from './sessions.service.ts';
import * as users from './users.repository.ts';
import { normaliseEmail, type Session, type UserRow } from './users.ts';

export interface SetupOptions {
  readonly database: Database;
  readonly audit: AuditTrail;
  readonly sessions: Pick<Sessions, 'issue' | 'announceRevoked' | 'announceChanged'>;
  readonly accounts: Pick<Accounts, 'secureUnverifiedAccount'>;
}

/** First-run setup: the first platform administrator, created once. */
export type Setup = ReturnType<typeof createSetup>;

export function createSetup(options: SetupOptions) {
  const { database, audit, sessions, accounts } = options;
  const db = database.view<DB>('platform');

  /** Whether no active platform admin exists yet (first-run setup is open). */
  async function setupRequired(): Promise<boolean> {
    return !(await users.roleHeld(db, PLATFORM_ADMIN));
  }

  /**
   * Creates the first platform admin, once; afterwards it is a 404. An existing account with the
   * address becomes the admin only with its own password; one never verified is secured first
   * (nothing its registrant set survives).
   */
  async function setup(
    input: { email: string; password: string; displayName?: string | undefined },
    origin: AuditOrigin,
  ): Promise<Session> {
    const email = normaliseEmail(input.email);
    assertStrongPassword(input.password, 'body.password', email);
    const hash = await hashPassword(input.password);
    const displayName = input.displayName ?? null;
    let secured: UserRow | undefined;
    const session = await database.transaction(async (tx) => {
      const on = tx.view<DB>('platform');
      // Two racing setups: the second waits here and then finds the admin.
      await users.lockSetup(on);
      if (await users.roleHeld(on, PLATFORM_ADMIN)) throw new AppError('not_found', 'http.not_found', 'Not found');
      let row = await users.insertUserUnlessTaken(on, { email, displayName, passwordHash: hash, verified: true });
      if (row === undefined) {
        const existing = (await users.findUser(on, { email }))!;
        if (existing.email_verified_at === null) {
          secured = await accounts.secureUnverifiedAccount(
            tx,
            existing,
            { provenBy: 'setup', passwordHash: hash, displayName },
            origin,
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
      await users.grantRole(on, row.id, PLATFORM_ADMIN, null);
      await audit.record(
        {
          actor: { id: row.id, email: row.email },
          action: 'auth.setup',
          target: { type: 'user', id: row.id },
          after: { roles: [PLATFORM_ADMIN] },
          ...origin,
        },
        tx,
      );
      return sessions.issue(on, row, origin);
    });
    // An existing account became the admin: nodes that kept its roles forget them.
    if (secured === undefined) await sessions.announceChanged(session.user.id);
    else await sessions.announceRevoked(secured);
    return session;
  }

  return {
    setupRequired,
    setup,
  };
}
