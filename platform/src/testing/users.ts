import { sql } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';
import type { Ballast } from '../host.ts';

export interface TestUser {
  readonly id: string;
  readonly email: string;
  /** A bearer access token. */
  readonly token: string;
  /** `authorization: Bearer ...`, ready to spread into fetch headers. */
  readonly headers: Record<string, string>;
}

/**
 * A registered, verified, signed-in user with the given active roles, made through the real
 * account service (the registration flow itself is tested in auth).
 */
export async function createTestUser(
  ballast: Ballast,
  email: string,
  options: { roles?: readonly string[]; password?: string } = {},
): Promise<TestUser> {
  const password = options.password ?? 'a test passphrase of some length';
  const origin = { ip: '127.0.0.1', userAgent: 'test' };
  await ballast.auth.register({ email, password }, origin);
  const db = ballast.database.view<DB>('platform');
  const { id } = await db
    .updateTable('user')
    .set({ email_verified_at: sql<Date>`now()` })
    .where('email', '=', email.toLowerCase())
    .returning('id')
    .executeTakeFirstOrThrow();
  for (const role of options.roles ?? []) {
    await db
      .insertInto('user_role')
      .values({ user_id: id, role, status: 'active' })
      .onConflict((conflict) => conflict.columns(['user_id', 'role']).doUpdateSet({ status: 'active' }))
      .execute();
  }
  const session = await ballast.auth.signIn({ email, password }, origin);
  return { id, email, token: session.token, headers: { authorization: `Bearer ${session.token}` } };
}
