import { sql } from 'kysely';
import { z } from 'zod';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { queryable, txOf, type AnyKysely, type Tx } from '#platform/kernel/db/database.ts';
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
  preferences(userId: string): Promise<{ type: string; channel: Channel; enabled: boolean; mandatory: boolean }[]>;
  listInApp(userId: string, options?: { unreadOnly?: boolean; limit?: number }): Promise<InAppNotification[]>;
  /** Marks one (or, without an id, every) notification of the user read; resolves with how many changed. */
  markRead(userId: string, id?: string): Promise<number>;
  /** The task that delivers: register it with the task engine. */
  readonly deliveryTask: TaskDefinition;
  readonly definitions: ReadonlyMap<string, NotificationDefinition>;
}

export interface CreateNotifierOptions {
  readonly db: AnyKysely;
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
}

/** Ballast's email layout around a notification's HTML content. */
export function emailLayout(rendered: RenderedNotification): string {
  const content =
    rendered.html ??
    rendered.text
      .split(/\n{2,}/)
      .map((paragraph) => `<p>${escapeHtml(paragraph).replace(/\n/g, '<br />')}</p>`)
      .join('\n');
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><meta name="viewport" content="width=device-width" /><title>${escapeHtml(rendered.title)}</title></head>
  <body style="margin:0;padding:24px;background:#f6f7f9;font-family:system-ui,sans-serif;color:#1b2a3a">
    <div style="max-width:560px;margin:0 auto;background:#fff;border-radius:8px;padding:24px">
      <h1 style="font-size:20px;margin:0 0 16px">${escapeHtml(rendered.title)}</h1>
      ${content}
    </div>
  </body>
</html>`;
}

const deliveryPayload = z.object({ deliveryId: z.uuid().optional(), notificationId: z.uuid().optional() });

/**
 * Notifications: in-app (stored, read/unread, pushed live), email and SMS, each delivery a task
 * with retries, backoff and dead letters. A delivery is marked `sending` before the provider is
 * called and `sent` after; a retry that finds `sending` (the previous attempt died between the
 * two) marks it `unconfirmed` for an operator instead of sending again: never a second message.
 */
export function createNotifier(options: CreateNotifierOptions): Notifier {
  const { db, log } = options;
  const definitions = new Map(options.definitions.map((definition) => [definition.type, definition]));
  if (definitions.size !== options.definitions.length) throw new Error('two notifications share a type');
  const retries = options.retries ?? 5;

  async function optedOut(tx: ReturnType<typeof queryable>, userId: string, type: string): Promise<Set<string>> {
    const rows = await sql<{ channel: string }>`
      select channel from platform.notification_preference
      where user_id = ${userId} and type = ${type} and enabled = false`.execute(tx);
    return new Set(rows.rows.map((row) => row.channel));
  }

  const deliveryTask = defineTask({
    name: 'platform.deliver-notification',
    payload: deliveryPayload,
    retries,
    retryDelaySeconds: 10,
    timeoutSeconds: 120,
    handler: async (payload, ctx) => {
      if (payload.notificationId !== undefined) {
        const rows = await sql<{
          id: string;
          user_id: string;
          type: string;
          title: string;
          body: string;
          link: string | null;
          created_at: Date;
          read_at: Date | null;
        }>`select id::text, user_id, type, title, body, link, created_at, read_at
           from platform.notification where id = ${payload.notificationId}`.execute(db);
        const row = rows.rows[0];
        if (row === undefined) return;
        await options.push(row.user_id, {
          id: row.id,
          type: row.type,
          title: row.title,
          body: row.body,
          link: row.link,
          createdAt: row.created_at,
          readAt: row.read_at,
        });
        return;
      }
      if (payload.deliveryId === undefined) return;
      const found = await sql<{
        id: string;
        idempotency_key: string;
        channel: 'email' | 'sms';
        recipient: string;
        subject: string | null;
        text_body: string;
        html_body: string | null;
        status: string;
      }>`select id::text, idempotency_key, channel, recipient, subject, text_body, html_body, status
         from platform.notification_delivery where id = ${payload.deliveryId}`.execute(db);
      const delivery = found.rows[0];
      if (delivery === undefined || ['sent', 'unconfirmed', 'failed'].includes(delivery.status)) return;
      if (delivery.status === 'sending') {
        // The previous attempt stopped after it may have handed the message over: never send twice.
        await sql`update platform.notification_delivery
          set status = 'unconfirmed', last_error = 'the previous attempt stopped while sending; not sent again to avoid a duplicate'
          where id = ${delivery.id} and status = 'sending'`.execute(db);
        ctx.log.warn({ deliveryId: delivery.id, channel: delivery.channel }, 'delivery unconfirmed: not resent');
        return;
      }
      const claimed = await sql`update platform.notification_delivery
        set status = 'sending', attempts = attempts + 1
        where id = ${delivery.id} and status = 'pending'`.execute(db);
      if (Number(claimed.numAffectedRows ?? 0) === 0) return;
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
        await sql`update platform.notification_delivery
          set status = 'sent', sent_at = now(), transport = ${sender.name}, provider_message_id = ${result.providerMessageId}, last_error = null
          where id = ${delivery.id}`.execute(db);
        ctx.log.info(
          { deliveryId: delivery.id, channel: delivery.channel, transport: sender.name },
          'notification sent',
        );
      } catch (error) {
        // The provider answered with an error (or could not be reached): nothing was handed over.
        const last = ctx.attempt > retries || error instanceof PermanentExternalError;
        await sql`update platform.notification_delivery
          set status = ${last ? 'failed' : 'pending'}, last_error = ${error instanceof Error ? error.message : String(error)}
          where id = ${delivery.id}`.execute(db);
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
      const run = async (tx: Tx): Promise<{ channels: Channel[] }> => {
        const q = queryable(tx);
        const userId = message.to.userId;
        const skip = userId === undefined || definition.mandatory ? new Set<string>() : await optedOut(q, userId, type);
        const sent: Channel[] = [];
        for (const channel of definition.channels) {
          if (skip.has(channel)) continue;
          const key = `${type}:${message.idempotencyKey}:${channel}`;
          if (channel === 'in_app') {
            if (userId === undefined) continue;
            const inserted = await sql<{ id: string }>`
              insert into platform.notification (user_id, type, title, body, link, idempotency_key)
              values (${userId}, ${type}, ${rendered.title}, ${rendered.text}, ${rendered.link ?? null}, ${key})
              on conflict (idempotency_key) do nothing returning id::text`.execute(q);
            const id = inserted.rows[0]?.id;
            if (id !== undefined) await options.enqueue(deliveryTask, { notificationId: id }, { tx, dedupeKey: key });
            sent.push(channel);
            continue;
          }
          const recipient = channel === 'email' ? message.to.email : message.to.phone;
          if (recipient === undefined) {
            log.warn({ type, channel }, 'notification channel skipped: recipient has no address for it');
            continue;
          }
          const inserted = await sql<{ id: string }>`
            insert into platform.notification_delivery (idempotency_key, type, channel, recipient, subject, text_body, html_body)
            values (${key}, ${type}, ${channel}, ${recipient}, ${channel === 'email' ? rendered.title : null},
              ${channel === 'sms' ? (rendered.sms ?? rendered.text) : rendered.text},
              ${channel === 'email' ? emailLayout(rendered) : null})
            on conflict (idempotency_key) do nothing returning id::text`.execute(q);
          const id = inserted.rows[0]?.id;
          if (id !== undefined) await options.enqueue(deliveryTask, { deliveryId: id }, { tx, dedupeKey: key });
          sent.push(channel);
        }
        return { channels: sent };
      };
      if (message.tx !== undefined) return run(message.tx);
      return db.transaction().execute((trx) => run(txOf(trx)));
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
      await sql`insert into platform.notification_preference (user_id, type, channel, enabled)
        values (${userId}, ${type}, ${channel}, ${enabled})
        on conflict (user_id, type, channel) do update set enabled = excluded.enabled, updated_at = now()`.execute(db);
    },

    async preferences(userId) {
      const rows = await sql<{ type: string; channel: string; enabled: boolean }>`
        select type, channel, enabled from platform.notification_preference where user_id = ${userId}`.execute(db);
      return [...definitions.values()].flatMap((definition) =>
        definition.channels.map((channel) => ({
          type: definition.type,
          channel,
          mandatory: definition.mandatory,
          enabled:
            definition.mandatory ||
            (rows.rows.find((row) => row.type === definition.type && row.channel === channel)?.enabled ?? true),
        })),
      );
    },

    async listInApp(userId, listOptions = {}) {
      const rows = await sql<{
        id: string;
        type: string;
        title: string;
        body: string;
        link: string | null;
        created_at: Date;
        read_at: Date | null;
      }>`select id::text, type, title, body, link, created_at, read_at from platform.notification
         where user_id = ${userId} ${listOptions.unreadOnly === true ? sql`and read_at is null` : sql``}
         order by created_at desc limit ${listOptions.limit ?? 50}`.execute(db);
      return rows.rows.map((row) => ({
        id: row.id,
        type: row.type,
        title: row.title,
        body: row.body,
        link: row.link,
        createdAt: row.created_at,
        readAt: row.read_at,
      }));
    },

    async markRead(userId, id) {
      const result = await sql`update platform.notification set read_at = now()
        where user_id = ${userId} and read_at is null ${id === undefined ? sql`` : sql`and id = ${id}`}`.execute(db);
      return Number(result.numAffectedRows ?? 0);
    },
  };
}
