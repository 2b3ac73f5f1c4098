import { sql } from 'kysely';
import type { AnyKysely } from '#platform/kernel/db/database.ts';
import type { EmailMessage, EmailSender } from './email.ts';
import type { SmsMessage, SmsSender } from './sms.ts';

/**
 * The development inbox: without an SMTP server or a Twilio account, email and SMS are stored in
 * `platform.dev_inbox` and shown at `/dev/inbox`. Storing is idempotent on the message's key, so a
 * retried delivery never shows twice.
 */
export function createDevInboxSenders(db: AnyKysely): { email: EmailSender; sms: SmsSender } {
  async function store(values: {
    key: string;
    channel: 'email' | 'sms';
    recipient: string;
    sender: string | null;
    subject: string | null;
    text: string;
    html: string | null;
  }): Promise<{ providerMessageId: string }> {
    await sql`
      insert into platform.dev_inbox (idempotency_key, channel, recipient, sender, subject, text_body, html_body)
      values (${values.key}, ${values.channel}, ${values.recipient}, ${values.sender}, ${values.subject}, ${values.text}, ${values.html})
      on conflict (idempotency_key) do nothing`.execute(db);
    const row = await sql<{
      id: string;
    }>`select id::text from platform.dev_inbox where idempotency_key = ${values.key}`.execute(db);
    return { providerMessageId: `dev-inbox:${row.rows[0]?.id ?? values.key}` };
  }
  return {
    email: {
      name: 'dev-inbox',
      send: (message: EmailMessage) =>
        store({
          key: message.idempotencyKey,
          channel: 'email',
          recipient: message.to,
          sender: message.from,
          subject: message.subject,
          text: message.text,
          html: message.html,
        }),
    },
    sms: {
      name: 'dev-inbox',
      send: (message: SmsMessage) =>
        store({
          key: message.idempotencyKey,
          channel: 'sms',
          recipient: message.to,
          sender: null,
          subject: null,
          text: message.body,
          html: null,
        }),
    },
  };
}

export interface DevInboxMessage {
  readonly id: string;
  readonly channel: 'email' | 'sms';
  readonly recipient: string;
  readonly sender: string | null;
  readonly subject: string | null;
  readonly text: string;
  readonly html: string | null;
  readonly createdAt: Date;
}

/** The development inbox, newest first. */
export async function listDevInbox(db: AnyKysely, limit = 200): Promise<DevInboxMessage[]> {
  const rows = await sql<{
    id: string;
    channel: 'email' | 'sms';
    recipient: string;
    sender: string | null;
    subject: string | null;
    text_body: string;
    html_body: string | null;
    created_at: Date;
  }>`select id::text, channel, recipient, sender, subject, text_body, html_body, created_at
     from platform.dev_inbox order by created_at desc, id limit ${limit}`.execute(db);
  return rows.rows.map((row) => ({
    id: row.id,
    channel: row.channel,
    recipient: row.recipient,
    sender: row.sender,
    subject: row.subject,
    text: row.text_body,
    html: row.html_body,
    createdAt: row.created_at,
  }));
}
