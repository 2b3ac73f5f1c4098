import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import * as contract from '@ballast/contracts/notify';
import type { Notifier } from './notifier.ts';

export interface PreferencesRoutesOptions {
  readonly notifier: Notifier;
}

/**
 * The signed-in user's notification settings (the account page's "Notifications" section, which
 * every email's footer links): each type on each channel, on or off; mandatory ones stay on.
 */
export async function preferencesRoutes(server: FastifyInstance, options: PreferencesRoutesOptions): Promise<void> {
  const app = server.withTypeProvider<ZodTypeProvider>();
  const { notifier } = options;

  app.get(
    '/api/notifications/preferences',
    {
      config: { access: 'user' },
      schema: {
        tags: ['notifications'],
        summary: 'Which notifications the signed-in user gets, by type and channel',
        response: { 200: contract.preferencesAnswer },
      },
    },
    async (request) => ({ preferences: await notifier.preferences(request.user!.id) }),
  );

  app.put(
    '/api/notifications/preferences',
    {
      config: { access: 'user' },
      schema: {
        tags: ['notifications'],
        summary: 'Turn one notification type on or off on one channel (mandatory ones cannot be turned off)',
        body: contract.setPreferenceBody,
        response: { 200: contract.preferencesAnswer },
      },
    },
    async (request) => {
      const { type, channel, enabled } = request.body;
      await notifier.setPreference(request.user!.id, type, channel, enabled);
      return { preferences: await notifier.preferences(request.user!.id) };
    },
  );
}
