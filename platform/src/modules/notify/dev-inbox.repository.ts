import type { Kysely, Selectable } from 'kysely';
import type { DB, DevInbox } from '#platform/db/platform.db.ts';

/** The development inbox's table (`dev_inbox`), on `database.view<DB>('platform')`. */

export type DevInboxRow = Pick<
  Selectable<DevInbox>,
  'id' | 'channel' | 'recipient' | 'sender' | 'subject' | 'text_body' | 'html_body' | 'created_at'
>;

/** Stores a message once per idempotency key; resolves with the stored message's id (new or earlier). */
export async function storeMessage(
  db: Kysely<DB>,
  message: {
    key: string;
    channel: 'email' | 'sms';
    recipient: string;
    sender: string | null;
    subject: string | null;
    text: string;
    html: string | null;
  },
): Promise<string | undefined> {
  await db
    .insertInto('dev_inbox')
    .values({
      idempotency_key: message.key,
      channel: message.channel,
      recipient: message.recipient,
      sender: message.sender,
      subject: message.subject,
      text_body: message.text,
      html_body: message.html,
    })
    .onConflict((conflict) => conflict.column('idempotency_key').doNothing())
    .execute();
  const row = await db
    .selectFrom('dev_inbox')
    .select('id')
    .where('idempotency_key', '=', message.key)
    .executeTakeFirst();
  return row?.id;
}

/** The inbox, newest first. */
export async function listMessages(db: Kysely<DB>, limit: number): Promise<DevInboxRow[]> {
  return db
    .selectFrom('dev_inbox')
    .select(['id', 'channel', 'recipient', 'sender', 'subject', 'text_body', 'html_body', 'created_at'])
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
}
