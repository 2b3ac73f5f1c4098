import { createHmac } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import * as contract from '@ballast/contracts/auth';
import type { AuditOrigin } from '#platform/modules/audit/audit.ts';
import type { Config } from '#platform/kernel/config/load-config.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { constantTimeEqual } from '#platform/kernel/security/crypto.ts';
import { rateLimit } from '#platform/kernel/http/rate-limit.ts';
import type { Access, RequestUser } from '#platform/kernel/http/request-context.ts';
import { accessRefusal, decideAccess } from './access.ts';
import { PLATFORM_ADMIN, type AuthService, type Session } from './auth.service.ts';

export const SESSION_COOKIE = 'ballast_session';
export const CSRF_COOKIE = 'ballast_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface AuthHttpOptions {
  readonly config: Config;
  readonly auth: AuthService;
  /** The available apps, offered after setup. */
  readonly products?: readonly { readonly name: string; readonly title: string; readonly summary: string }[];
}

/** The CSRF token of a session: an HMAC of its token id, so it cannot be made without the secret. */
export function csrfTokenFor(secret: string, tokenId: string): string {
  return createHmac('sha256', secret).update(`csrf:${tokenId}`).digest('base64url');
}

function originOf(request: FastifyRequest): AuditOrigin {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/**
 * Authentication for every request (cookie or bearer token → `request.user`), access checks from
 * each route's `config.access`, and CSRF protection for cookie-authenticated writes (the
 * `x-csrf-token` header must carry the session's token, which the readable `ballast_csrf` cookie
 * gives same-origin scripts; a foreign page can neither read it nor set the header).
 */
export async function registerAuthentication(app: FastifyInstance, options: AuthHttpOptions): Promise<void> {
  const { auth, config } = options;
  // Cookies are parsed by the hook below (the plugin's own hook would be one more per request,
  // and would make a map for cookies to set on every answer; `setCookie` makes it when used).
  await app.register(fastifyCookie, { hook: false });

  // One hook, before body parsing and validation: who is calling, may they write (CSRF), and may
  // they call this route at all. An anonymous caller gets 401 whatever the body holds.
  // A request without a token is decided at once (no promise); one with a token waits for its user.
  app.addHook('onRequest', (request, _reply, done) => {
    const cookieHeader = request.headers.cookie;
    request.cookies = cookieHeader === undefined ? {} : app.parseCookie(cookieHeader);
    const bearer = bearerToken(request);
    const token = bearer ?? request.cookies[SESSION_COOKIE];
    if (token === undefined || token === '') {
      done(refusalOf(request));
      return;
    }
    auth.authenticate(token).then((actor) => {
      if (actor !== null) request.user = { ...actor, via: bearer === undefined ? 'cookie' : 'bearer' };
      done(refusalOf(request));
    }, done);
  });

  /** Why the request may not go on (a CSRF failure, no access to the route), or undefined. */
  function refusalOf(request: FastifyRequest): AppError | undefined {
    const user: RequestUser | null = request.user;
    if (user !== null && user.via === 'cookie' && unsafeMethods.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      const expected = csrfTokenFor(config.security.sessionSecret, user.tokenId);
      if (typeof sent !== 'string' || !constantTimeEqual(sent, expected)) {
        return new AppError('forbidden', 'auth.csrf', 'Missing or wrong CSRF token (send the x-csrf-token header)');
      }
    }
    const access: Access | undefined = request.routeOptions.config.access;
    return accessRefusal(decideAccess(access, user));
  }
}

function setSessionCookies(reply: FastifyReply, config: Config, session: Session): void {
  const maxAge = Math.max(0, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000));
  const common = { path: '/', sameSite: 'lax' as const, secure: config.isProduction, maxAge };
  void reply.setCookie(SESSION_COOKIE, session.token, { ...common, httpOnly: true });
  void reply.setCookie(CSRF_COOKIE, csrfTokenFor(config.security.sessionSecret, session.tokenId), {
    ...common,
    httpOnly: false,
  });
}

function clearSessionCookies(reply: FastifyReply, config: Config): void {
  for (const name of [SESSION_COOKIE, CSRF_COOKIE]) {
    void reply.clearCookie(name, { path: '/', sameSite: 'lax', secure: config.isProduction });
  }
}

const publicAccess = { access: 'public' as const };
const userAccess = { access: 'user' as const };
const adminAccess = { access: [PLATFORM_ADMIN] as readonly string[] };

/** The account API under /api/auth, and the public keys. */
export async function authRoutes(server: FastifyInstance, options: AuthHttpOptions): Promise<void> {
  const app = server.withTypeProvider<ZodTypeProvider>();
  const { auth, config } = options;

  app.get(
    '/.well-known/jwks.json',
    {
      config: publicAccess,
      schema: {
        tags: ['auth'],
        summary: 'Public keys that verify access tokens',
        response: { 200: contract.jwksAnswer },
      },
    },
    async (_request, reply) => {
      void reply.header('cache-control', 'public, max-age=300');
      return auth.jwks();
    },
  );

  app.get(
    '/api/auth/config',
    {
      config: publicAccess,
      schema: { tags: ['auth'], summary: 'What the sign-in page offers', response: { 200: contract.authConfigAnswer } },
    },
    async () => ({
      googleClientId: config.auth.googleClientId ?? null,
      setupRequired: await auth.setupRequired(),
      products: options.products ?? [],
    }),
  );

  app.post(
    '/api/auth/register',
    {
      config: {
        ...publicAccess,
        ...rateLimit({
          name: 'register',
          max: config.auth.limits.registrationsPerHour,
          windowMs: 3_600_000,
          by: 'ip',
          countValidOnly: true,
        }),
      },
      // Refused input answers 400 here, before the registration counts against the limit.
      preHandler: async (request) => {
        auth.checkRegistration(request.body);
      },
      schema: {
        tags: ['auth'],
        summary: 'Create an account (a verification email follows)',
        body: contract.registerBody,
        response: { 202: contract.registerAnswer },
      },
    },
    async (request, reply) => {
      await auth.register(request.body, originOf(request));
      return reply.status(202).send({
        message:
          'Check your inbox: we sent a link to confirm your address (if you already have an account, a reminder).',
      });
    },
  );

  app.post(
    '/api/auth/verify-email',
    {
      config: { ...publicAccess, ...rateLimit({ name: 'verify-email', max: 20, windowMs: 3_600_000, by: 'ip' }) },
      schema: {
        tags: ['auth'],
        summary: 'Confirm an email address',
        body: contract.verifyEmailBody,
        response: { 200: contract.userAnswer },
      },
    },
    async (request, reply) => {
      const session = await auth.verifyEmail(request.body.token, originOf(request));
      setSessionCookies(reply, config, session);
      return { user: session.user };
    },
  );

  app.post(
    '/api/auth/resend-confirmation',
    {
      config: {
        ...publicAccess,
        // Per address (one inbox is not flooded) and per client IP (one client cannot walk through
        // many addresses); either answers 429 with Retry-After.
        ...rateLimit(
          { name: 'resend-confirmation', max: 3, windowMs: 3_600_000, by: 'email' },
          { name: 'resend-confirmation-ip', max: 10, windowMs: 3_600_000, by: 'ip' },
        ),
      },
      schema: {
        tags: ['auth'],
        summary: 'Email a new confirmation link to an unconfirmed account (same answer for any address)',
        body: contract.resendConfirmationBody,
        response: { 202: contract.resendConfirmationAnswer },
      },
    },
    async (request, reply) => {
      await auth.resendConfirmation(request.body, originOf(request));
      return reply.status(202).send({
        message: 'If an unconfirmed account uses this address, a new confirmation link is on its way.',
      });
    },
  );

  app.post(
    '/api/auth/sign-in',
    {
      config: {
        ...publicAccess,
        ...rateLimit({
          name: 'sign-in',
          max: config.auth.limits.signInAttempts,
          windowMs: 15 * 60_000,
          by: 'ip+email',
        }),
      },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email and password',
        body: contract.signInBody,
        response: { 200: contract.signInAnswer },
      },
    },
    async (request, reply) => {
      const session = await auth.signIn(request.body, originOf(request));
      setSessionCookies(reply, config, session);
      return { user: session.user, token: session.token, expiresAt: session.expiresAt };
    },
  );

  app.post(
    '/api/auth/sign-out',
    {
      config: userAccess,
      schema: {
        tags: ['auth'],
        summary: 'Sign out everywhere (revokes every token)',
        response: { 204: contract.signOutAnswer },
      },
    },
    async (request, reply) => {
      await auth.signOut(request.user!, originOf(request));
      clearSessionCookies(reply, config);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/auth/sessions/sign-out-others',
    {
      config: { ...userAccess, ...rateLimit({ name: 'sign-out-others', max: 10, windowMs: 15 * 60_000, by: 'user' }) },
      schema: {
        tags: ['auth'],
        summary: 'Sign out every other session; this one stays signed in with a renewed token (and cookie)',
        response: { 200: contract.signOutOthersAnswer },
      },
    },
    async (request, reply) => {
      const { session, ended } = await auth.signOutOthers(request.user!, originOf(request));
      if (request.user!.via === 'cookie') setSessionCookies(reply, config, session);
      return { ended, token: session.token, expiresAt: session.expiresAt };
    },
  );

  app.get(
    '/api/auth/sessions',
    {
      config: userAccess,
      schema: {
        tags: ['auth'],
        summary: "The signed-in user's live sessions (this one marked current)",
        response: { 200: contract.sessionsAnswer },
      },
    },
    async (request) => ({
      sessions: (await auth.listSessions(request.user!)).map((row) => ({
        id: row.id,
        current: row.current,
        createdAt: row.created_at,
        lastSeenAt: row.last_seen_at,
        userAgent: row.user_agent,
        ip: row.ip,
      })),
    }),
  );

  app.patch(
    '/api/auth/me',
    {
      config: { ...userAccess, ...rateLimit({ name: 'change-name', max: 30, windowMs: 15 * 60_000, by: 'user' }) },
      schema: {
        tags: ['auth'],
        summary: 'Change your display name',
        body: contract.changeNameBody,
        response: { 200: contract.userAnswer },
      },
    },
    async (request) => ({
      user: await auth.changeDisplayName(request.user!, request.body.displayName, originOf(request)),
    }),
  );

  app.get(
    '/api/auth/me',
    {
      config: userAccess,
      schema: { tags: ['auth'], summary: 'The signed-in user', response: { 200: contract.userAnswer } },
    },
    async (request) => ({ user: await auth.me(request.user!) }),
  );

  app.get(
    '/api/auth/session',
    {
      config: publicAccess,
      schema: {
        tags: ['auth'],
        summary: 'Who is signed in, or null (for pages that work either way)',
        response: { 200: contract.sessionAnswer },
      },
    },
    async (request) => ({ user: request.user === null ? null : await auth.me(request.user) }),
  );

  app.post(
    '/api/auth/password',
    {
      config: { ...userAccess, ...rateLimit({ name: 'change-password', max: 10, windowMs: 15 * 60_000, by: 'user' }) },
      schema: {
        tags: ['auth'],
        summary: 'Change password (signs out every other session)',
        body: contract.changePasswordBody,
        response: { 200: contract.userAnswer },
      },
    },
    async (request, reply) => {
      const session = await auth.changePassword(request.user!, request.body, originOf(request));
      setSessionCookies(reply, config, session);
      return { user: session.user };
    },
  );

  app.post(
    '/api/auth/reset-request',
    {
      config: {
        ...publicAccess,
        ...rateLimit({
          name: 'reset-request',
          max: config.auth.limits.resetRequestsPerHour,
          windowMs: 3_600_000,
          by: 'email',
        }),
      },
      schema: {
        tags: ['auth'],
        summary: 'Email a one-time password reset link',
        body: contract.resetRequestBody,
        response: { 202: contract.resetRequestAnswer },
      },
    },
    async (request, reply) => {
      await auth.requestReset(request.body.email, originOf(request));
      return reply.status(202).send({ message: 'If an account uses this address, a reset link is on its way.' });
    },
  );

  app.post(
    '/api/auth/reset/check',
    {
      config: { ...publicAccess, ...rateLimit({ name: 'reset-check', max: 30, windowMs: 3_600_000, by: 'ip' }) },
      schema: {
        tags: ['auth'],
        summary: 'Whether a reset link can still be used (valid, unknown, used or expired); does not use it',
        body: contract.resetLinkBody,
        response: { 200: contract.resetLinkAnswer },
      },
    },
    async (request) => ({ state: await auth.resetLinkState(request.body.token) }),
  );

  app.post(
    '/api/auth/reset',
    {
      config: { ...publicAccess, ...rateLimit({ name: 'reset', max: 10, windowMs: 3_600_000, by: 'ip' }) },
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with a reset link',
        body: contract.resetBody,
        response: { 200: contract.resetAnswer },
      },
    },
    async (request) => {
      await auth.resetPassword(request.body, originOf(request));
      return { message: 'Your password is changed. Sign in with the new one.' };
    },
  );

  app.post(
    '/api/auth/google',
    {
      config: { ...publicAccess, ...rateLimit({ name: 'google', max: 20, windowMs: 15 * 60_000, by: 'ip' }) },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with a Google ID token',
        body: contract.googleSignInBody,
        response: { 200: contract.userAnswer },
      },
    },
    async (request, reply) => {
      const session = await auth.googleSignIn(request.body.credential, originOf(request));
      setSessionCookies(reply, config, session);
      return { user: session.user };
    },
  );

  app.get(
    '/api/auth/setup',
    {
      config: publicAccess,
      schema: {
        tags: ['auth'],
        summary: 'Whether the first admin must still be created',
        response: { 200: contract.setupStateAnswer },
      },
    },
    async () => ({ required: await auth.setupRequired() }),
  );

  app.post(
    '/api/auth/setup',
    {
      config: {
        ...publicAccess,
        ...rateLimit({ name: 'setup', max: 5, windowMs: 3_600_000, by: 'ip', countValidOnly: true }),
      },
      preHandler: async (request) => {
        auth.checkRegistration(request.body);
      },
      schema: {
        tags: ['auth'],
        summary: 'Create the first platform admin (once)',
        body: contract.setupBody,
        response: { 201: contract.userAnswer },
      },
    },
    async (request, reply) => {
      const session = await auth.setup(request.body, originOf(request));
      setSessionCookies(reply, config, session);
      return reply.status(201).send({ user: session.user });
    },
  );

  // Administration: platform admins, and approvers for the roles they approve.
  // Runs before validation, so a caller who may not use the route learns nothing from its schema.
  const approverOnly = async (request: FastifyRequest): Promise<void> => {
    const actor = request.user;
    if (actor === null) throw new AppError('unauthenticated', 'auth.unauthenticated', 'Sign in first');
    const approver =
      actor.roles.includes(PLATFORM_ADMIN) ||
      [...auth.roleDefinitions.values()].some((role) => auth.canManage(actor, role.name));
    if (!approver) throw new AppError('forbidden', 'auth.forbidden', 'You do not have access to this');
  };
  app.get(
    '/api/auth/admin/users',
    {
      config: { access: 'user' },
      onRequest: approverOnly,
      schema: {
        tags: ['auth'],
        summary: 'Users, for admins and approvers',
        querystring: contract.listUsersQuery,
        response: { 200: contract.usersAnswer },
      },
    },
    async (request) => {
      return { users: await auth.listUsers(request.query) };
    },
  );
  app.get(
    '/api/auth/admin/roles',
    {
      config: { access: 'user' },
      onRequest: approverOnly,
      schema: {
        tags: ['auth'],
        summary: 'The roles the caller may grant, approve and remove',
        response: { 200: contract.manageableRolesAnswer },
      },
    },
    async (request) => {
      const actor = request.user!;
      const admin = actor.roles.includes(PLATFORM_ADMIN);
      const roles = [...auth.roleDefinitions.values()]
        .filter((role) => auth.canManage(actor, role.name))
        .map((role) => ({ name: role.name, title: role.title, requiresApproval: role.requiresApproval }));
      if (admin) roles.push({ name: PLATFORM_ADMIN, title: 'Platform administrator', requiresApproval: false });
      return { roles, canDisable: admin };
    },
  );
  app.post(
    '/api/auth/admin/users/:id/approve',
    {
      config: { access: 'user' },
      onRequest: approverOnly,
      schema: {
        tags: ['auth'],
        summary: 'Approve a pending role',
        params: contract.userParams,
        body: contract.approveBody,
        response: { 200: contract.userAnswer },
      },
    },
    async (request) => {
      return { user: await auth.approve(request.user!, request.params.id, request.body.role, originOf(request)) };
    },
  );
  app.post(
    '/api/auth/admin/users/:id/roles',
    {
      config: { access: 'user' },
      onRequest: approverOnly,
      schema: {
        tags: ['auth'],
        summary: 'Grant or remove roles',
        params: contract.userParams,
        body: contract.setRolesBody,
        response: { 200: contract.userAnswer },
      },
    },
    async (request) => ({
      user: await auth.setRoles(request.user!, request.params.id, request.body, originOf(request)),
    }),
  );
  for (const [path, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/api/auth/admin/users/:id/${path}`,
      {
        config: adminAccess,
        schema: {
          tags: ['auth'],
          summary: `${path} an account`,
          params: contract.userParams,
          response: { 200: contract.userAnswer },
        },
      },
      async (request) => ({
        user: await auth.setDisabled(request.user!, request.params.id, disabled, originOf(request)),
      }),
    );
  }
}
