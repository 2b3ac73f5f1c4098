import type { Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';
import { listMessages, storeMessage } from '../dev-inbox.repository.ts';
import type { EmailMessage, EmailSender } from './email.ts';
import type { SmsMessage, SmsSender } from './sms.ts';

/**
 * The development inbox: without an SMTP server or a Twilio account, email and SMS are stored in
 * `platform.dev_inbox` and shown at `/dev/inbox`. Storing is idempotent on the message's key, so a
 * retried delivery never shows twice.
 */
export function createDevInboxSenders(db: Kysely<DB>): { email: EmailSender; sms: SmsSender } {
  async function store(values: {
    key: string;
    channel: 'email' | 'sms';
    recipient: string;
    sender: string | null;
    subject: string | null;
    text: string;
    html: string | null;
  }): Promise<{ providerMessageId: string }> {
    const id = await storeMessage(db, values);
    return { providerMessageId: `dev-inbox:${id ?? values.key}` };
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
export async function listDevInbox(db: Kysely<DB>, limit = 200): Promise<DevInboxMessage[]> {
  const rows = await listMessages(db, limit);
  return rows.map((row) => ({
    id: row.id,
    channel: row.channel === 'sms' ? 'sms' : 'email',
    recipient: row.recipient,
    sender: row.sender,
    subject: row.subject,
    text: row.text_body,
    html: row.html_body,
    createdAt: row.created_at,
  }));
}
