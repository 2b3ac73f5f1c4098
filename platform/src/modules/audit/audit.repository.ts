import { sql, type Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';
import type { AuditEntry, AuditEvent, AuditFilter } from './audit.ts';

/**
 * The audit trail's table (`audit_event`, append-only). Every function runs on the handle it is
 * given: the platform's tables on the pool, or inside a transaction (`tx.view<DB>('platform')`).
 */

/** The columns of an event, in the order the trail lists and exports them. */
export const auditColumns = [
  'id',
  'at',
  'actor_id',
  'actor_email',
  'action',
  'target_type',
  'target_id',
  'ip',
  'user_agent',
  'before',
  'after',
  'details',
] as const;

/** `%` and `_` match themselves in a LIKE pattern built from `text`. */
const likeLiteral = (text: string) => text.replace(/[%_\\]/g, (c) => `\\${c}`);

/**
 * Appends entries in one statement whose text is the same for any number of entries (columns as
 * arrays, `unnest`ed), so it is planned once per connection; an actor named by id alone gets their
 * current email.
 */
export async function insertAuditEvents(db: Kysely<DB>, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const column = <T>(value: (entry: AuditEntry) => T) => entries.map(value);
  const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
  await sql`insert into platform.audit_event
      (actor_id, actor_email, action, target_type, target_id, ip, user_agent, before, after, details)
    select x.actor_id,
      coalesce(x.actor_email, (select u.email from platform."user" u where u.id = x.actor_id)),
      x.action, x.target_type, x.target_id, x.ip, x.user_agent, x.before, x.after, x.details
    from unnest(${column((entry) => entry.actor?.id ?? null)}::uuid[],
      ${column((entry) => entry.actor?.email ?? null)}::text[], ${column((entry) => entry.action)}::text[],
      ${column((entry) => entry.target?.type ?? null)}::text[], ${column((entry) => entry.target?.id ?? null)}::text[],
      ${column((entry) => entry.ip ?? null)}::text[], ${column((entry) => entry.userAgent?.slice(0, 500) ?? null)}::text[],
      ${column((entry) => json(entry.before))}::jsonb[], ${column((entry) => json(entry.after))}::jsonb[],
      ${column((entry) => json(entry.details))}::jsonb[])
      as x(actor_id, actor_email, action, target_type, target_id, ip, user_agent, before, after, details)`.execute(db);
}

/** The trail, newest first, filtered by actor email (substring), action (prefix) and time. */
export async function listAuditEvents(db: Kysely<DB>, filter: AuditFilter): Promise<AuditEvent[]> {
  // Names as they are now: the actor, and the user a change concerns (the target, or `details.userId`).
  let query = db
    .selectFrom('audit_event')
    .select(auditColumns)
    .select((eb) => [
      eb
        .selectFrom('user as actor')
        .select('actor.display_name')
        .whereRef('actor.id', '=', 'audit_event.actor_id')
        .as('actor_name'),
      eb
        .selectFrom('user as target')
        .select(sql<string>`coalesce(target.display_name || ' <' || target.email || '>', target.email)`.as('name'))
        .where(
          sql<string>`target.id::text`,
          '=',
          sql<string>`case when audit_event.target_type = 'user' then audit_event.target_id
            else audit_event.details->>'userId' end`,
        )
        .as('target_name'),
    ]);
  if (filter.actor !== undefined && filter.actor !== '') {
    query = query.where('actor_email', 'ilike', `%${likeLiteral(filter.actor)}%`);
  }
  if (filter.action !== undefined && filter.action !== '') {
    query = query.where('action', 'like', `${likeLiteral(filter.action)}%`);
  }
  if (filter.from !== undefined) query = query.where('at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('at', '<=', filter.to);
  const rows = await query
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(Math.min(filter.limit ?? 200, 10_000))
    .execute();
  return rows.map((row) => ({
    id: row.id,
    at: row.at,
    actorId: row.actor_id,
    actorEmail: row.actor_email,
    actorName: row.actor_name,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    targetName: row.target_name,
    ip: row.ip,
    userAgent: row.user_agent,
    before: row.before,
    after: row.after,
    details: row.details,
  }));
}

/** How many `action` events the last `withinMinutes` minutes hold whose details carry `details`' values. */
export async function countRecentEvents(
  db: Kysely<DB>,
  recent: { readonly action: string; readonly withinMinutes: number; readonly details?: Record<string, string> },
): Promise<number> {
  let query = db
    .selectFrom('audit_event')
    .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('count'))
    .where('action', '=', recent.action)
    .where('at', '>', sql<Date>`now() - make_interval(mins => ${recent.withinMinutes})`);
  for (const [key, value] of Object.entries(recent.details ?? {})) {
    query = query.where(sql<string>`details->>${sql.lit(key)}`, '=', value);
  }
  const row = await query.executeTakeFirst();
  return row?.count ?? 0;
}

/** Every action recorded, and everyone who acted (by email, with their display name now). */
export async function auditFacets(
  db: Kysely<DB>,
): Promise<{ actions: string[]; actors: { email: string; name: string | null }[] }> {
  const actions = await db.selectFrom('audit_event').select('action').distinct().orderBy('action').execute();
  const actors = await db
    .selectFrom('audit_event as e')
    .leftJoin('user as u', 'u.id', 'e.actor_id')
    .select(['e.actor_email as email', 'u.display_name as name'])
    .where('e.actor_email', 'is not', null)
    .distinct()
    .orderBy('e.actor_email')
    .limit(500)
    .execute();
  return {
    actions: actions.map((row) => row.action),
    actors: actors.map((row) => ({ email: row.email!, name: row.name })),
  };
}
