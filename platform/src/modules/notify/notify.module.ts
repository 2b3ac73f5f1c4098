import type { z } from 'zod';
import type { DB } from '#platform/db/platform.db.ts';
import type { StartupProblem } from '#platform/kernel/errors/errors.ts';
import type { Tx } from '#platform/kernel/db/database.ts';
import { assertOwnedBy } from '#platform/kernel/lifecycle/define-app.ts';
import type { Channel, NotificationDefinition } from '#platform/kernel/lifecycle/define-notification.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { devInboxRoutes } from './dev-inbox.routes.ts';
import { createNotifier, type Notifier, type Recipient } from './notifier.ts';
import { notifySettings } from './notify.settings.ts';
import { preferencesRoutes } from './preferences.routes.ts';
import { createDevInboxSenders } from './providers/dev-inbox.ts';
import { createSmtpSender } from './providers/smtp.ts';
import { createTwilioSender } from './providers/twilio.ts';

/** One notification an app sends, its data typed by the notification's schema. */
export interface AppNotification<Schema extends z.ZodType> {
  readonly to: Recipient;
  readonly data: z.input<Schema>;
  /** Identifies this message for good: sending again with the same key is a no-op. */
  readonly idempotencyKey: string;
  /** Your open transaction: the notification exists if and only if it commits. */
  readonly tx?: Tx;
}

/**
 * Sends one of the app's own notification types (in-app, email, SMS per the type and the user's
 * preferences), each delivery a task; resolves with the channels it will go out on.
 */
export type NotifyPort = <Schema extends z.ZodType>(
  notice: NotificationDefinition<Schema>,
  message: AppNotification<Schema>,
) => Promise<{ channels: Channel[] }>;

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** Notifications: in-app, email, SMS. */
    notify: Notifier;
  }
  interface AppPorts {
    readonly notify: NotifyPort;
  }
}

/** Every notification type the platform's modules and the apps declare. */
function allDefinitions(
  modules: readonly { readonly notifications?: readonly NotificationDefinition[] }[],
): NotificationDefinition[] {
  return modules.flatMap((item) => item.notifications ?? []);
}

/**
 * In production, a notification type that uses a channel with no provider configured would fail
 * every send: refuse to start instead, naming the types.
 */
export function checkNotificationChannels(
  settings: { readonly smtpUrl: string | undefined; readonly twilio: unknown },
  definitions: readonly NotificationDefinition[],
): StartupProblem[] {
  const problems: StartupProblem[] = [];
  const using = (channel: Channel) =>
    definitions.filter((definition) => definition.channels.includes(channel)).map((definition) => definition.type);
  if (settings.smtpUrl === undefined && using('email').length > 0) {
    problems.push({
      setting: 'SMTP_URL',
      message: `is missing, but these notifications send email: ${using('email').join(', ')}`,
      fix: 'set SMTP_URL=smtps://user:password@smtp.example.com:465',
    });
  }
  if (settings.twilio === undefined && using('sms').length > 0) {
    problems.push({
      setting: 'TWILIO_ACCOUNT_SID',
      message: `is missing, but these notifications send SMS: ${using('sms').join(', ')}`,
      fix: 'set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM',
    });
  }
  return problems;
}

/**
 * Notifications: in-app (stored, pushed live), email (SMTP) and SMS (Twilio), each delivery a task
 * that never sends twice; a development inbox when no provider is configured.
 */
export const notifyModule = defineModule({
  name: 'notify',
  dependsOn: ['tasks', 'realtime'],
  settings: notifySettings,
  migrations: new URL('./migrations/', import.meta.url).pathname,
  checkStartup: (config, declared) =>
    config.isProduction
      ? checkNotificationChannels(config.notify, allDefinitions([...declared.modules, ...declared.apps]))
      : [],
  create: (ctx, deps) => {
    const { settings } = ctx;
    const platformTables = ctx.database.view<DB>('platform');
    const devInbox = createDevInboxSenders(platformTables);
    const appNames = ctx.apps.map((app) => app.name);
    const notifier = createNotifier({
      database: ctx.database,
      log: ctx.log,
      definitions: allDefinitions([...ctx.modules, ...ctx.apps]),
      email:
        settings.smtpUrl === undefined
          ? devInbox.email
          : createSmtpSender({ url: settings.smtpUrl, service: ctx.external('smtp') }),
      sms:
        settings.twilio === undefined
          ? devInbox.sms
          : createTwilioSender({ ...settings.twilio, service: ctx.external('twilio') }),
      emailFrom: settings.emailFrom,
      publicUrl: ctx.config.http.publicUrl,
      productNames: new Map(ctx.apps.map((app) => [app.name, app.title])),
      enqueue: (task, payload, options) => deps.tasks.enqueue(task, payload, options),
      push: async (userId, notification) => {
        // A platform notification reaches the user in whichever app they have open.
        const prefix = notification.type.slice(0, notification.type.indexOf('.'));
        for (const app of appNames.includes(prefix) ? [prefix] : appNames) {
          await deps.realtime.publish({ app, channel: `user:${userId}`, event: 'notification', data: notification });
        }
      },
    });
    return {
      service: notifier,
      tasks: [notifier.deliveryTask],
      routes: async (server) => {
        await server.register(devInboxRoutes, { config: ctx.config, db: platformTables });
        await server.register(preferencesRoutes, { notifier });
      },
      forApp: (app) => (notice, message) => {
        assertOwnedBy(app.name, 'notifications', notice.type);
        return notifier.send(notice.type, message);
      },
    };
  },
});
