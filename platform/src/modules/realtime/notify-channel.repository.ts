import { sql, type Kysely } from 'kysely';
import type pg from 'pg';

/**
 * The statements of the PostgreSQL bus (LISTEN/NOTIFY; no table). Publishing runs on any Kysely
 * handle of the pool; listening and its liveness probe run on the bus's dedicated connection,
 * which Kysely does not hold (it must stay open, outside the pool, to hear notifications).
 */

/** Sends `payload` to every connection listening on `channel` (delivered when the statement commits). */
export async function notifyChannel<Tables>(db: Kysely<Tables>, channel: string, payload: string): Promise<void> {
  await sql`select pg_notify(${channel}, ${payload})`.execute(db);
}

/**
 * Sends each payload to `channel` in one statement, in order (a storm of live updates costs one
 * round trip, not one each). PostgreSQL delivers identical payloads sent in one transaction once.
 */
export async function notifyChannelMany<Tables>(
  db: Kysely<Tables>,
  channel: string,
  payloads: readonly string[],
): Promise<void> {
  if (payloads.length === 0) return;
  await sql`select pg_notify(${channel}, payload) from unnest(${payloads}::text[]) with ordinality as m(payload, n)`.execute(
    db,
  );
}

/**
 * Starts listening on the channels. Their names are identifiers, not parameters: only names made
 * by the bus itself (letters, digits and underscores) are accepted.
 */
export async function listenOn(client: pg.Client, channels: readonly string[]): Promise<void> {
  for (const channel of channels) {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  }
  await client.query(channels.map((channel) => `listen ${channel}`).join('; '));
}

/** One round trip on the dedicated connection; fails when no answer comes within `timeoutMs`. */
export async function probeConnection(client: pg.Client, timeoutMs: number): Promise<void> {
  await client.query({ text: 'select 1', query_timeout: timeoutMs } as pg.QueryConfig);
}
