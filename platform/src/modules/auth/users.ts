import type { Selectable } from 'kysely';
import type { User } from '#platform/db/platform.db.ts';
import type { RequestUser } from '#platform/kernel/http/request-context.ts';

/** A user row as the auth services read it (everything but `updated_at`). */
export type UserRow = Pick<
  Selectable<User>,
  | 'id'
  | 'email'
  | 'display_name'
  | 'password_hash'
  | 'email_verified_at'
  | 'google_sub'
  | 'disabled_at'
  | 'token_generation'
  | 'created_at'
>;

/** One role a user holds or asked for. */
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

/** The signed-in caller, however their token came. */
export type Actor = Omit<RequestUser, 'via'>;

/** A new access token and the user it was issued to. */
export interface Session {
  readonly user: PublicUser;
  readonly token: string;
  readonly tokenId: string;
  /** The sign-in (`session` row) the token belongs to. */
  readonly sessionId: string;
  readonly expiresAt: Date;
}

/** Addresses are stored trimmed and lower-cased (the table refuses others). */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The API's view of a user row and its roles. */
export function toPublicUser(row: UserRow, roles: readonly RoleGrant[]): PublicUser {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    emailVerified: row.email_verified_at !== null,
    disabled: row.disabled_at !== null,
    createdAt: row.created_at,
    roles,
  };
}
