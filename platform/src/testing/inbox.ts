import { setTimeout as sleep } from 'node:timers/promises';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database } from '#platform/kernel/db/database.ts';

/**
 * The text of every email to `recipient` whose subject matches, oldest first, from the
 * development inbox, once at least `count` have arrived (delivery is a background task).
 * Throws after 20 seconds.
 */
export async function waitForEmails(
  database: Pick<Database, 'view'>,
  recipient: string,
  subject: RegExp,
  count = 1,
): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rows = await database
      .view<DB>('platform')
      .selectFrom('dev_inbox')
      .select(['subject', 'text_body'])
      .where('recipient', '=', recipient)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    const found = rows.filter((row) => subject.test(row.subject ?? '')).map((row) => row.text_body);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`fewer than ${count} emails "${subject}" for ${recipient}`);
    await sleep(100);
  }
}

/** The token of the one-time link in an email (`...?token=...`). */
export function linkToken(text: string): string {
  const match = /token=([A-Za-z0-9_-]+)/.exec(text);
  if (match === null) throw new Error(`no link in: ${text}`);
  return match[1]!;
}
