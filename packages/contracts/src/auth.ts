import { z } from 'zod';
import { messageAnswer, noContent, timestamp } from './common.ts';

/** The longest password accepted, in characters (longer ones only cost hashing time). */
export const MAX_PASSWORD_LENGTH = 128;

const email = z.email().max(254).meta({ example: 'asha@example.com' });
/** An address as typed at sign-in or reset: not checked for shape (the answer is the same either way). */
const typedEmail = z.string().max(254).meta({ example: 'asha@example.com' });
// Counted in UTF-16 units here, in characters by the password policy: room for 4-unit characters.
const newPassword = z
  .string()
  .max(MAX_PASSWORD_LENGTH * 4)
  .meta({ example: 'correct horse battery staple' });
const displayName = z.string().trim().min(1).max(100).meta({ example: 'Asha Rao' });
const oneTimeToken = z.string().min(10).max(200);
/**
 * Where to go once the address is confirmed: a path on this site (`/coach?x=1`), never another
 * host (`//evil.example`, `https://...`); the confirmation link carries it back.
 */
const nextPath = z
  .string()
  .max(500)
  .regex(/^\/(?![/\\])[^\s]*$/, 'must be a path on this site, starting with a single /')
  .meta({ example: '/coach/' });

/** One role a user holds or asked for. */
export const roleGrant = z.object({ role: z.string(), status: z.enum(['active', 'pending']) });

/** A user as the API shows it (`/api/auth/me` and every answer carrying a `user`). */
export const publicUser = z.object({
  id: z.string(),
  email: z.string(),
  displayName: z.string().nullable(),
  emailVerified: z.boolean(),
  disabled: z.boolean(),
  createdAt: timestamp,
  roles: z.array(roleGrant).readonly(),
});

/** An answer naming the user it concerns (sign-in, verification, role changes, ...). */
export const userAnswer = z.object({ user: publicUser });

/**
 * The public keys that verify access tokens (RFC 7517); each key keeps every member it has. `kty`
 * is always there, though optional here as in jose's `JWK` type that the server hands over.
 */
export const jwksAnswer = z.object({
  keys: z.array(z.looseObject({ kty: z.string().optional(), kid: z.string().optional(), alg: z.string().optional() })),
});

/** What the sign-in page offers. */
export const authConfigAnswer = z.object({
  googleClientId: z.string().nullable(),
  setupRequired: z.boolean(),
  /** The products people can use now (the welcome after setup offers each). */
  products: z.array(z.object({ name: z.string(), title: z.string(), summary: z.string() })).readonly(),
});

export const registerBody = z.object({
  email,
  password: newPassword,
  displayName: displayName.optional(),
  role: z.string().max(100).optional(),
  next: nextPath.optional(),
});
export const registerAnswer = messageAnswer;

export const verifyEmailBody = z.object({ token: oneTimeToken });

export const signInBody = z.object({
  email: typedEmail,
  password: z.string().max(1024).meta({ example: 'correct horse battery staple' }),
});
/** A session for clients that send a bearer token (the browser uses the cookie set alongside). */
export const signInAnswer = z.object({ user: publicUser, token: z.string(), expiresAt: timestamp });

export const signOutAnswer = noContent;

/** A display name as people set it: trimmed, 1 to 80 characters, no control characters. */
export const editableDisplayName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(80, 'must be at most 80 characters')
  .regex(/^[^\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]*$/u, 'must not contain control characters')
  .meta({ example: 'Asha Rao' });
export const changeNameBody = z.object({ displayName: editableDisplayName });

/** One sign-in that is still live: this device, or another browser or API client. */
export const sessionInfo = z.object({
  id: z.string(),
  /** The session making this request. */
  current: z.boolean(),
  createdAt: timestamp,
  lastSeenAt: timestamp,
  /** The browser's User-Agent at sign-in (cut to 300 characters), or null. */
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
});
export const sessionsAnswer = z.object({ sessions: z.array(sessionInfo).readonly() });
/** After "sign out other sessions": how many ended; this session's cookie (or `token`) is renewed. */
export const signOutOthersAnswer = z.object({ ended: z.number().int(), token: z.string(), expiresAt: timestamp });

/** Who is signed in, or null (for pages that work either way). */
export const sessionAnswer = z.object({ user: publicUser.nullable() });

export const changePasswordBody = z.object({ currentPassword: z.string().max(1024), newPassword });

export const resetRequestBody = z.object({ email: typedEmail });
export const resetRequestAnswer = messageAnswer;
export const resetBody = z.object({ token: oneTimeToken, password: newPassword });
export const resetAnswer = messageAnswer;
/** Whether a reset link can still be used, asked before the page shows the form. */
export const resetLinkBody = z.object({ token: oneTimeToken });
export const resetLinkAnswer = z.object({ state: z.enum(['valid', 'unknown', 'used', 'expired']) });
export const resendConfirmationBody = z.object({ email: typedEmail, next: nextPath.optional() });
export const resendConfirmationAnswer = messageAnswer;

export const googleSignInBody = z.object({ credential: z.string().min(10).max(8192) });

export const setupStateAnswer = z.object({ required: z.boolean() });
export const setupBody = z.object({ email, password: newPassword, displayName: displayName.optional() });

export const listUsersQuery = z.object({
  query: z.string().max(200).optional(),
  status: z.enum(['pending', 'all']).optional(),
});
export const usersAnswer = z.object({ users: z.array(publicUser).readonly() });

/** A role the caller may grant, approve and remove. */
export const manageableRole = z.object({ name: z.string(), title: z.string(), requiresApproval: z.boolean() });
export const manageableRolesAnswer = z.object({
  roles: z.array(manageableRole).readonly(),
  /** Only platform admins disable and enable accounts. */
  canDisable: z.boolean(),
});

export const userParams = z.object({ id: z.uuid() });
export const approveBody = z.object({ role: z.string() });
export const setRolesBody = z.object({
  add: z.array(z.string()).default([]),
  remove: z.array(z.string()).default([]),
});
