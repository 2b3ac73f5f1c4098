import { sql, type Kysely } from 'kysely';

/** A ledger entry may be a `grant`: free units an administrator credits (audited as `payments.grant`). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table platform.ledger_entry drop constraint ledger_entry_kind_check;
    alter table platform.ledger_entry add constraint ledger_entry_kind_check
      check (kind in ('purchase', 'usage', 'refund', 'adjustment', 'grant'));
  `.execute(db);
}
