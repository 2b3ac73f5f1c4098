import { z } from 'zod';
import type { DB } from '#platform/db/platform.db.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Database, Tx } from '#platform/kernel/db/database.ts';
import { escapeHtml } from '#platform/kernel/http/html.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import { PermanentExternalError } from '#platform/kernel/resilience/external-service.ts';
import { defineTask, type TaskDefinition } from '#platform/kernel/lifecycle/define-task.ts';
import type { EnqueueOptions } from '#platform/modules/tasks/task-engine.ts';
import type {
  Channel,
  NotificationDefinition,
  RenderedNotification,
} from '#platform/kernel/lifecycle/define-notification.ts';
import type { EmailSender } from './providers/email.ts';
import type { SmsSender } from './providers/sms.ts';
import * as notifications from './notifications.repository.ts';

/** Who a notification is for. In-app needs a user id; email an address; SMS a phone number (E.164). */
export interface Recipient {
  readonly userId?: string;
  readonly email?: string;
  readonly phone?: string;
}

export interface SendNotification {
  readonly to: Recipient;
  readonly data: unknown;
  /**
   * Identifies this message for good (e.g. `care-plan:<session id>`): sending again with the same
   * key is a no-op, so a retried task or a replayed request never notifies twice.
   */
  readonly idempotencyKey: string;
  /** The caller's transaction: the notification exists if and only if it commits. */
  readonly tx?: Tx;
}

export interface InAppNotification {
  readonly id: string;
  readonly type: string;
  readonly title: string;
  readonly body: string;
  readonly link: string | null;
  readonly createdAt: Date;
  readonly readAt: Date | null;
}

export interface Notifier {
  /** Stores the in-app message and enqueues one delivery task per channel, in one transaction. */
  send(type: string, message: SendNotification): Promise<{ channels: Channel[] }>;
  setPreference(userId: string, type: string, channel: Channel, enabled: boolean): Promise<void>;
  preferences(
    userId: string,
  ): Promise<{ type: string; title: string; channel: Channel; enabled: boolean; mandatory: boolean }[]>;
  listInApp(userId: string, options?: { unreadOnly?: boolean; limit?: number }): Promise<InAppNotification[]>;
  /** Marks one (or, without an id, every) notification of the user read; resolves with how many changed. */
  markRead(userId: string, id?: string): Promise<number>;
  /** The task that delivers: register it with the task engine. */
  readonly deliveryTask: TaskDefinition;
  readonly definitions: ReadonlyMap<string, NotificationDefinition>;
}

export interface CreateNotifierOptions {
  readonly database: Database;
  readonly log: Logger;
  readonly definitions: readonly NotificationDefinition[];
  readonly email: EmailSender;
  readonly sms: SmsSender;
  readonly emailFrom: string;
  readonly enqueue: (task: TaskDefinition, payload: unknown, options?: EnqueueOptions) => Promise<string | null>;
  /** Pushes an in-app notification to the user's open pages. */
  readonly push: (userId: string, notification: InAppNotification) => Promise<void>;
  /** Retries of a delivery before it is dead-lettered. */
  readonly retries?: number;
  /** The site's public address: the email footer links its notification settings. */
  readonly publicUrl: string;
  /** Each app's title by name: an email about an app carries its name; others say Ballast. */
  readonly productNames?: ReadonlyMap<string, string>;
}

/** The product name of emails that are not about one app. */
export const PLATFORM_PRODUCT = 'Ballast';

/** What every email says around its content: which product sent it, and where its settings are. */
export interface EmailFrame {
  /** The product's name (an app's title, or the platform's). */
  readonly product: string;
  /** The notification settings page (the account page's section). */
  readonly settingsLink: string;
  /** Sent whatever the preferences (account and payment emails): the footer says so. */
  readonly mandatory: boolean;
}

/** The plain-text footer of an email. */
export function emailFooterText(frame: EmailFrame): string {
  const which = frame.mandatory
    ? 'This email is about your account, so it is always sent. Choose which other emails you get'
    : 'Choose which emails you get';
  return `--\n${frame.product}\n${which}: ${frame.settingsLink}`;
}

/** Ballast's email layout around a notification's HTML content, with the product name and footer. */
export function emailLayout(rendered: RenderedNotification, frame: EmailFrame): string {
  const content =
    rendered.html ??
    rendered.text
      .split(/\n{2,}/)
      .map((paragraph) => `<p>${escapeHtml(paragraph).replace(/\n/g, '<br />')}</p>`)
      .join('\n');
  const which = frame.mandatory
    ? 'This email is about your account, so it is always sent.'
    : 'You get this email because of your notification settings.';
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><meta name="viewport" content="width=device-width" /><title>${escapeHtml(rendered.title)}</title></head>
  <body style="margin:0;padding:24px;background:#f6f7f9;font-family:system-ui,sans-serif;color:#1b2a3a">
    <div style="max-width:560px;margin:0 auto;background:#fff;border-radius:8px;padding:24px">
      <p class="product" style="margin:0 0 12px;font-weight:700;color:#1e3354">${escapeHtml(frame.product)}</p>
      <h1 style="font-size:20px;margin:0 0 16px">${escapeHtml(rendered.title)}</h1>
      ${content}
    </div>
    <p class="footer" style="max-width:560px;margin:16px auto 0;font-size:13px;color:#4a5666">${escapeHtml(frame.product)} · ${which} <a href="${escapeHtml(frame.settingsLink)}" style="color:#1e3354">Notification settings</a></p>
  </body>
</html>`;
}

function inAppOf(row: notifications.InAppRow): InAppNotification {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    body: row.body,
    link: row.link,
    createdAt: row.created_at,
    readAt: row.read_at,
  };
}

const deliveryPayload = z.object({ deliveryId: z.uuid().optional(), notificationId: z.uuid().optional() });

/**
 * Notifications: in-app (stored, read/unread, pushed live), email and SMS, each delivery a task
 * with retries, backoff and dead letters. A delivery is marked `sending` before the provider is
 * called and `sent` after; a retry that finds `sending` (the previous attempt died between the
 * two) marks it `unconfirmed` for an operator instead of sending again: never a second message.
 */
export function createNotifier(options: CreateNotifierOptions): Notifier {
  const { database, log } = options;
  const db = database.view<DB>('platform');
  const definitions = new Map(options.definitions.map((definition) => [definition.type, definition]));
  if (definitions.size !== options.definitions.length) throw new Error('two notifications share a type');
  const retries = options.retries ?? 5;

  const deliveryTask = defineTask({
    name: 'platform.deliver-notification',
    payload: deliveryPayload,
    retries,
    retryDelaySeconds: 10,
    timeoutSeconds: 120,
    handler: async (payload, ctx) => {
      if (payload.notificationId !== undefined) {
        const row = await notifications.findInApp(db, payload.notificationId);
        if (row === undefined) return;
        await options.push(row.user_id, inAppOf(row));
        return;
      }
      if (payload.deliveryId === undefined) return;
      const delivery = await notifications.findDelivery(db, payload.deliveryId);
      if (delivery === undefined || ['sent', 'unconfirmed', 'failed'].includes(delivery.status)) return;
      if (delivery.status === 'sending') {
        // The previous attempt stopped after it may have handed the message over: never send twice.
        await notifications.markUnconfirmed(
          db,
          delivery.id,
          'the previous attempt stopped while sending; not sent again to avoid a duplicate',
        );
        ctx.log.warn({ deliveryId: delivery.id, channel: delivery.channel }, 'delivery unconfirmed: not resent');
        return;
      }
      if (!(await notifications.claimDelivery(db, delivery.id))) return;
      const sender = delivery.channel === 'email' ? options.email : options.sms;
      try {
        const result =
          delivery.channel === 'email'
            ? await options.email.send({
                to: delivery.recipient,
                from: options.emailFrom,
                subject: delivery.subject ?? '',
                text: delivery.text_body,
                html: delivery.html_body ?? escapeHtml(delivery.text_body),
                idempotencyKey: delivery.idempotency_key,
              })
            : await options.sms.send({
                to: delivery.recipient,
                body: delivery.text_body,
                idempotencyKey: delivery.idempotency_key,
              });
        await notifications.markSent(db, delivery.id, {
          transport: sender.name,
          providerMessageId: result.providerMessageId,
        });
        ctx.log.info(
          { deliveryId: delivery.id, channel: delivery.channel, transport: sender.name },
          'notification sent',
        );
      } catch (error) {
        // The provider answered with an error (or could not be reached): nothing was handed over.
        const last = ctx.attempt > retries || error instanceof PermanentExternalError;
        await notifications.markAttemptFailed(
          db,
          delivery.id,
          last ? 'failed' : 'pending',
          error instanceof Error ? error.message : String(error),
        );
        throw error;
      }
    },
  });

  return {
    deliveryTask,
    definitions,

    async send(type, message) {
      const definition = definitions.get(type);
      if (definition === undefined) throw new Error(`unknown notification type ${type}`);
      const parsed = definition.data.safeParse(message.data);
      if (!parsed.success) {
        throw new AppError('invalid_input', 'notify.invalid_data', `data of notification ${type} is invalid`, {
          errors: parsed.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message })),
        });
      }
      const rendered = definition.render(parsed.data);
      const frame: EmailFrame = {
        product: options.productNames?.get(rendered.app ?? type.slice(0, type.indexOf('.'))) ?? PLATFORM_PRODUCT,
        settingsLink: `${options.publicUrl}/account#notifications`,
        mandatory: definition.mandatory,
      };
      const run = async (tx: Tx): Promise<{ channels: Channel[] }> => {
        const q = tx.view<DB>('platform');
        const userId = message.to.userId;
        const skip =
          userId === undefined || definition.mandatory
            ? new Set<string>()
            : await notifications.optedOutChannels(q, userId, type);
        const sent: Channel[] = [];
        for (const channel of definition.channels) {
          if (skip.has(channel)) continue;
          const key = `${type}:${message.idempotencyKey}:${channel}`;
          if (channel === 'in_app') {
            if (userId === undefined) continue;
            const id = await notifications.insertInApp(q, {
              userId,
              type,
              title: rendered.title,
              body: rendered.text,
              link: rendered.link ?? null,
              key,
            });
            if (id !== undefined) await options.enqueue(deliveryTask, { notificationId: id }, { tx, dedupeKey: key });
            sent.push(channel);
            continue;
          }
          const recipient = channel === 'email' ? message.to.email : message.to.phone;
          if (recipient === undefined) {
            log.warn({ type, channel }, 'notification channel skipped: recipient has no address for it');
            continue;
          }
          const id = await notifications.insertDelivery(q, {
            key,
            type,
            channel,
            recipient,
            subject: channel === 'email' ? rendered.title : null,
            text: channel === 'sms' ? (rendered.sms ?? rendered.text) : `${rendered.text}\n\n${emailFooterText(frame)}`,
            html: channel === 'email' ? emailLayout(rendered, frame) : null,
          });
          if (id !== undefined) await options.enqueue(deliveryTask, { deliveryId: id }, { tx, dedupeKey: key });
          sent.push(channel);
        }
        return { channels: sent };
      };
      if (message.tx !== undefined) return run(message.tx);
      return database.transaction(run);
    },

    async setPreference(userId, type, channel, enabled) {
      const definition = definitions.get(type);
      if (definition === undefined) {
        throw new AppError('not_found', 'notify.unknown_type', `No notification type ${type}`);
      }
      if (!definition.channels.includes(channel)) {
        throw new AppError('invalid_input', 'notify.unknown_channel', `${type} is not sent by ${channel}`);
      }
      if (definition.mandatory && !enabled) {
        throw new AppError('invalid_input', 'notify.mandatory', `${type} is mandatory and cannot be turned off`);
      }
      await notifications.setPreference(db, { userId, type, channel, enabled });
    },

    async preferences(userId) {
      const rows = await notifications.listPreferences(db, userId);
      return [...definitions.values()].flatMap((definition) =>
        definition.channels.map((channel) => ({
          type: definition.type,
          title: definition.title,
          channel,
          mandatory: definition.mandatory,
          enabled:
            definition.mandatory ||
            (rows.find((row) => row.type === definition.type && row.channel === channel)?.enabled ?? true),
        })),
      );
    },

    async listInApp(userId, listOptions = {}) {
      const rows = await notifications.listInApp(db, userId, {
        unreadOnly: listOptions.unreadOnly === true,
        limit: listOptions.limit ?? 50,
      });
      return rows.map(inAppOf);
    },

    async markRead(userId, id) {
      return notifications.markRead(db, userId, id);
    },
  };
}
