import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, Notification, NotificationDelivery } from '#platform/db/platform.db.ts';

/**
 * Notifications' tables (`notification`, `notification_delivery`, `notification_preference`). Every
 * function runs on the handle it is given: the platform's tables on the pool
 * (`database.view<DB>('platform')`) or inside a transaction (`tx.view<DB>('platform')`).
 */

export type InAppRow = Pick<
  Selectable<Notification>,
  'id' | 'user_id' | 'type' | 'title' | 'body' | 'link' | 'created_at' | 'read_at'
>;

export type DeliveryRow = Pick<
  Selectable<NotificationDelivery>,
  'id' | 'idempotency_key' | 'channel' | 'recipient' | 'subject' | 'text_body' | 'html_body' | 'status'
>;

const inAppColumns = ['id', 'user_id', 'type', 'title', 'body', 'link', 'created_at', 'read_at'] as const;

/** The channels of `type` the user turned off. */
export async function optedOutChannels(db: Kysely<DB>, userId: string, type: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('notification_preference')
    .select('channel')
    .where('user_id', '=', userId)
    .where('type', '=', type)
    .where('enabled', '=', false)
    .execute();
  return new Set(rows.map((row) => row.channel));
}

/** Stores an in-app notification; undefined when its idempotency key is already taken. */
export async function insertInApp(
  db: Kysely<DB>,
  notification: { userId: string; type: string; title: string; body: string; link: string | null; key: string },
): Promise<string | undefined> {
  const inserted = await db
    .insertInto('notification')
    .values({
      user_id: notification.userId,
      type: notification.type,
      title: notification.title,
      body: notification.body,
      link: notification.link,
      idempotency_key: notification.key,
    })
    .onConflict((conflict) => conflict.column('idempotency_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

/** Stores an email or SMS to deliver (`pending`); undefined when its idempotency key is already taken. */
export async function insertDelivery(
  db: Kysely<DB>,
  delivery: {
    key: string;
    type: string;
    channel: 'email' | 'sms';
    recipient: string;
    subject: string | null;
    text: string;
    html: string | null;
  },
): Promise<string | undefined> {
  const inserted = await db
    .insertInto('notification_delivery')
    .values({
      idempotency_key: delivery.key,
      type: delivery.type,
      channel: delivery.channel,
      recipient: delivery.recipient,
      subject: delivery.subject,
      text_body: delivery.text,
      html_body: delivery.html,
    })
    .onConflict((conflict) => conflict.column('idempotency_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

export async function findInApp(db: Kysely<DB>, id: string): Promise<InAppRow | undefined> {
  return db.selectFrom('notification').select(inAppColumns).where('id', '=', id).executeTakeFirst();
}

export async function findDelivery(db: Kysely<DB>, id: string): Promise<DeliveryRow | undefined> {
  return db
    .selectFrom('notification_delivery')
    .select(['id', 'idempotency_key', 'channel', 'recipient', 'subject', 'text_body', 'html_body', 'status'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Marks a delivery left `sending` by a dead attempt `unconfirmed`, with why. */
export async function markUnconfirmed(db: Kysely<DB>, id: string, reason: string): Promise<void> {
  await db
    .updateTable('notification_delivery')
    .set({ status: 'unconfirmed', last_error: reason })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .execute();
}

/** Moves a `pending` delivery to `sending` and counts the attempt; false when it was not pending. */
export async function claimDelivery(db: Kysely<DB>, id: string): Promise<boolean> {
  const result = await db
    .updateTable('notification_delivery')
    .set((eb) => ({ status: 'sending', attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function markSent(
  db: Kysely<DB>,
  id: string,
  sent: { transport: string; providerMessageId: string },
): Promise<void> {
  await db
    .updateTable('notification_delivery')
    .set({
      status: 'sent',
      sent_at: sql<Date>`now()`,
      transport: sent.transport,
      provider_message_id: sent.providerMessageId,
      last_error: null,
    })
    .where('id', '=', id)
    .execute();
}

/** Records a failed attempt: `pending` again for a retry, or `failed` for good. */
export async function markAttemptFailed(
  db: Kysely<DB>,
  id: string,
  status: 'pending' | 'failed',
  error: string,
): Promise<void> {
  await db.updateTable('notification_delivery').set({ status, last_error: error }).where('id', '=', id).execute();
}

export async function setPreference(
  db: Kysely<DB>,
  preference: { userId: string; type: string; channel: string; enabled: boolean },
): Promise<void> {
  await db
    .insertInto('notification_preference')
    .values({
      user_id: preference.userId,
      type: preference.type,
      channel: preference.channel,
      enabled: preference.enabled,
    })
    .onConflict((conflict) =>
      conflict
        .columns(['user_id', 'type', 'channel'])
        .doUpdateSet((eb) => ({ enabled: eb.ref('excluded.enabled'), updated_at: sql<Date>`now()` })),
    )
    .execute();
}

export async function listPreferences(
  db: Kysely<DB>,
  userId: string,
): Promise<{ type: string; channel: string; enabled: boolean }[]> {
  return db
    .selectFrom('notification_preference')
    .select(['type', 'channel', 'enabled'])
    .where('user_id', '=', userId)
    .execute();
}

/** The user's in-app notifications, newest first. */
export async function listInApp(
  db: Kysely<DB>,
  userId: string,
  options: { unreadOnly: boolean; limit: number },
): Promise<InAppRow[]> {
  return db
    .selectFrom('notification')
    .select(inAppColumns)
    .where('user_id', '=', userId)
    .$if(options.unreadOnly, (query) => query.where('read_at', 'is', null))
    .orderBy('created_at', 'desc')
    .limit(options.limit)
    .execute();
}

/** Marks one (or, without an id, every) unread notification of the user read; resolves with how many. */
export async function markRead(db: Kysely<DB>, userId: string, id?: string): Promise<number> {
  const result = await db
    .updateTable('notification')
    .set({ read_at: sql<Date>`now()` })
    .where('user_id', '=', userId)
    .where('read_at', 'is', null)
    .$if(id !== undefined, (query) => query.where('id', '=', id!))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
