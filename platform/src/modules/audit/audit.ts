import { sql } from 'kysely';
import { queryable, type AnyKysely, type Database, type TxLike } from '#platform/kernel/db/database.ts';

/** Where a change came from. */
export interface AuditOrigin {
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}

/** One entry of the audit trail. */
export interface AuditEntry extends AuditOrigin {
  readonly actor?: { readonly id: string | null; readonly email?: string | null | undefined } | null | undefined;
  /** `auth.sign_in`, `auth.role_changed`, `complaints.escalated`, ... */
  readonly action: string;
  readonly target?: { readonly type: string; readonly id: string } | undefined;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly details?: unknown;
}

export interface AuditEvent {
  readonly id: string;
  readonly at: Date;
  readonly actorId: string | null;
  readonly actorEmail: string | null;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly before: unknown;
  readonly after: unknown;
  readonly details: unknown;
}

export interface AuditFilter {
  readonly actor?: string | undefined;
  readonly action?: string | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly limit?: number | undefined;
}

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

/** Appends an entry; pass the business transaction so the entry exists if and only if the change does. */
export async function recordAudit(db: TxLike, entry: AuditEntry): Promise<void> {
  await sql`insert into platform.audit_event
      (actor_id, actor_email, action, target_type, target_id, ip, user_agent, before, after, details)
    values (${entry.actor?.id ?? null}, ${entry.actor?.email ?? null}, ${entry.action},
      ${entry.target?.type ?? null}, ${entry.target?.id ?? null}, ${entry.ip ?? null}, ${entry.userAgent?.slice(0, 500) ?? null},
      ${json(entry.before)}::jsonb, ${json(entry.after)}::jsonb, ${json(entry.details)}::jsonb)`.execute(queryable(db));
}

/** The trail, newest first, filtered by actor email (substring), action (prefix) and time. */
export async function listAudit(db: AnyKysely, filter: AuditFilter = {}): Promise<AuditEvent[]> {
  const conditions = [sql`true`];
  if (filter.actor !== undefined && filter.actor !== '')
    conditions.push(sql`actor_email ilike ${`%${filter.actor.replace(/[%_\\]/g, (c) => `\\${c}`)}%`}`);
  if (filter.action !== undefined && filter.action !== '')
    conditions.push(sql`action like ${`${filter.action.replace(/[%_\\]/g, (c) => `\\${c}`)}%`}`);
  if (filter.from !== undefined) conditions.push(sql`at >= ${filter.from}`);
  if (filter.to !== undefined) conditions.push(sql`at <= ${filter.to}`);
  const rows = await sql<{
    id: string;
    at: Date;
    actor_id: string | null;
    actor_email: string | null;
    action: string;
    target_type: string | null;
    target_id: string | null;
    ip: string | null;
    user_agent: string | null;
    before: unknown;
    after: unknown;
    details: unknown;
  }>`select id::text, at, actor_id::text, actor_email, action, target_type, target_id, ip, user_agent, before, after, details
     from platform.audit_event where ${sql.join(conditions, sql` and `)}
     order by at desc, id desc limit ${Math.min(filter.limit ?? 200, 10_000)}`.execute(db);
  return rows.rows.map((row) => ({
    id: row.id,
    at: row.at,
    actorId: row.actor_id,
    actorEmail: row.actor_email,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    ip: row.ip,
    userAgent: row.user_agent,
    before: row.before,
    after: row.after,
    details: row.details,
  }));
}

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  // Quote every cell; neutralise spreadsheet formulas (CSV injection).
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replace(/"/g, '""')}"`;
}

/** The trail as CSV (RFC 4180), one row per event. */
export function auditCsv(events: readonly AuditEvent[]): string {
  const header = [
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
  ];
  const lines = events.map((event) =>
    [
      event.id,
      event.at.toISOString(),
      event.actorId,
      event.actorEmail,
      event.action,
      event.targetType,
      event.targetId,
      event.ip,
      event.userAgent,
      event.before,
      event.after,
      event.details,
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[header.join(','), ...lines].join('\r\n')}\r\n`;
}

/** The audit trail of one installation. */
export interface AuditTrail {
  /** Appends an entry; with `tx` it exists if and only if that transaction commits. */
  record(entry: AuditEntry, tx?: TxLike): Promise<void>;
  list(filter?: AuditFilter): Promise<AuditEvent[]>;
}

/** The audit trail over the platform's database. */
export function createAuditTrail(database: Database): AuditTrail {
  return {
    record: (entry, tx) => recordAudit(tx ?? database.db, entry),
    list: (filter) => listAudit(database.db, filter),
  };
}
