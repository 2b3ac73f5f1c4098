import { sql, type Kysely } from 'kysely';
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
  const db = ballast.database.db as unknown as Kysely<unknown>;
  const row = await sql<{ id: string }>`update platform."user" set email_verified_at = now()
    where email = ${email.toLowerCase()} returning id::text`.execute(db);
  const id = row.rows[0]!.id;
  for (const role of options.roles ?? []) {
    await sql`insert into platform.user_role (user_id, role, status) values (${id}::uuid, ${role}, 'active')
      on conflict (user_id, role) do update set status = 'active'`.execute(db);
  }
  const session = await ballast.auth.signIn({ email, password }, origin);
  return { id, email, token: session.token, headers: { authorization: `Bearer ${session.token}` } };
}
