import type { FastifyInstance } from 'fastify';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { sendShell, type WebBuild } from '#platform/kernel/http/web-pages.ts';
import type { AuthService } from './auth.service.ts';

/** The account and administration pages (React, from packages/ui), by path. */
export const accountPages = {
  '/sign-in': 'Sign in',
  '/register': 'Create an account',
  '/reset': 'Reset your password',
  '/reset/confirm': 'Choose a new password',
  '/verify-email': 'Confirm your email',
  '/account': 'Your account',
  '/awaiting-approval': 'Awaiting approval',
  '/welcome': 'Welcome',
  '/admin/users': 'Users',
  '/admin/users/:id': 'User',
  '/admin/audit': 'Audit trail',
} as const;

/**
 * Serves each page's shell. The pages hold no data: everything they show comes from the API,
 * which checks access itself, so the shells are public. `/setup` exists only until the first
 * administrator does.
 */
export async function accountPageRoutes(
  app: FastifyInstance,
  options: { readonly build: WebBuild; readonly auth: AuthService },
): Promise<void> {
  const { build, auth } = options;
  const config = { access: 'public' as const };
  for (const [url, title] of Object.entries(accountPages)) {
    app.get(url, { config, schema: { hide: true } }, async (_request, reply) =>
      sendShell(reply, build, { title: `${title} · Ballast`, entry: 'platform' }),
    );
  }
  app.get('/setup', { config, schema: { hide: true } }, async (_request, reply) => {
    if (!(await auth.setupRequired())) throw new AppError('not_found', 'http.not_found', 'Not found');
    return sendShell(reply, build, { title: 'Set up Ballast', entry: 'platform' });
  });
}
