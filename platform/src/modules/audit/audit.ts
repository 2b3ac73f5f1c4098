import type { DB } from '#platform/db/platform.db.ts';
import type { Database, Tx } from '#platform/kernel/db/database.ts';
import {
  auditColumns,
  auditFacets,
  countRecentEvents,
  insertAuditEvents,
  listAuditEvents,
} from './audit.repository.ts';

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
  readonly actorName: string | null;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly targetName: string | null;
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

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  // Quote every cell; neutralise spreadsheet formulas (CSV injection).
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replace(/"/g, '""')}"`;
}

/** The trail as CSV (RFC 4180), one row per event. */
export function auditCsv(events: readonly AuditEvent[]): string {
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
  return `${[auditColumns.join(','), ...lines].join('\r\n')}\r\n`;
}

/** The audit trail of one installation. */
export interface AuditTrail {
  /** Appends an entry; with `tx` it exists if and only if that transaction commits. */
  record(entry: AuditEntry, tx?: Tx): Promise<void>;
  /**
   * Appends many entries in one statement. An actor given by id alone is recorded with their
   * email as it is now.
   */
  recordMany(entries: readonly AuditEntry[], tx?: Tx): Promise<void>;
  list(filter?: AuditFilter): Promise<AuditEvent[]>;
  /** The actions recorded so far and the people who acted: what the trail's filters offer. */
  facets(): Promise<{ actions: string[]; actors: { email: string; name: string | null }[] }>;
  /**
   * How many `action` events the last `withinMinutes` minutes recorded whose `details` carry the
   * given values (e.g. failed sign-ins for one address).
   */
  countRecent(recent: {
    readonly action: string;
    readonly withinMinutes: number;
    readonly details?: Record<string, string>;
  }): Promise<number>;
}

/** The audit trail over the platform's database. */
export function createAuditTrail(database: Database): AuditTrail {
  const db = database.view<DB>('platform');
  return {
    record: (entry, tx) => insertAuditEvents(tx === undefined ? db : tx.view<DB>('platform'), [entry]),
    recordMany: (entries, tx) => insertAuditEvents(tx === undefined ? db : tx.view<DB>('platform'), entries),
    list: (filter = {}) => listAuditEvents(db, filter),
    facets: () => auditFacets(db),
    countRecent: (recent) => countRecentEvents(db, recent),
  };
}
