import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, LedgerBalance, LedgerEntry } from '#platform/db/platform.db.ts';

/**
 * The ledger's tables (`ledger_balance`, `ledger_entry`). Every function runs on the handle it is
 * given: the platform's tables on the pool, or inside a transaction (`tx.view<DB>('platform')`).
 * The statements that keep a balance from going below zero, and the batched ones, are SQL.
 */

/** Whose balance: the key of `ledger_balance`. */
export interface AccountKey {
  readonly userId: string;
  readonly app: string;
  readonly unit: string;
}

/** A debit of one account in a batch: what it takes, the balance it leaves, and its key. */
export interface BatchDebit extends AccountKey {
  readonly take: number;
  readonly after: number;
  readonly reference: string;
  readonly idempotencyKey: string;
}

type BalanceRow = Pick<Selectable<LedgerBalance>, 'user_id' | 'app' | 'unit' | 'balance'>;

export type LedgerEntryRow = Pick<
  Selectable<LedgerEntry>,
  'id' | 'kind' | 'amount' | 'balance_after' | 'reference' | 'created_at'
>;

const ofAccount = (account: AccountKey) => ({ user_id: account.userId, app: account.app, unit: account.unit }) as const;

/** Creates the account's balance row (at zero) if it has none. */
export async function ensureAccount(db: Kysely<DB>, account: AccountKey): Promise<void> {
  await db
    .insertInto('ledger_balance')
    .values(ofAccount(account))
    .onConflict((conflict) => conflict.doNothing())
    .execute();
}

/**
 * Writes an entry with `balance_after` still to be set; undefined when its idempotency key is
 * already taken (a concurrent insert of the same key waits for the other transaction first).
 */
export async function insertEntry(
  db: Kysely<DB>,
  entry: AccountKey & { kind: string; amount: number; reference: string | null; idempotencyKey: string },
): Promise<string | undefined> {
  const inserted = await db
    .insertInto('ledger_entry')
    .values({
      ...ofAccount(entry),
      kind: entry.kind,
      amount: entry.amount,
      balance_after: 0,
      reference: entry.reference,
      idempotency_key: entry.idempotencyKey,
    })
    .onConflict((conflict) => conflict.columns(['app', 'idempotency_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

/** The entry an idempotency key already applied, with its account's balance now. */
export async function entryByKey(
  db: Kysely<DB>,
  app: string,
  idempotencyKey: string,
): Promise<{ amount: string; balance: string | null } | undefined> {
  return db
    .selectFrom('ledger_entry as e')
    .select((eb) => [
      'e.amount',
      eb
        .selectFrom('ledger_balance as b')
        .select('b.balance')
        .whereRef('b.user_id', '=', 'e.user_id')
        .whereRef('b.app', '=', 'e.app')
        .whereRef('b.unit', '=', 'e.unit')
        .as('balance'),
    ])
    .where('e.app', '=', app)
    .where('e.idempotency_key', '=', idempotencyKey)
    .executeTakeFirst();
}

/**
 * Adds `amount` to the balance unless that would take it below zero: resolves with the new balance,
 * or undefined when refused (the row is locked until the transaction ends either way).
 */
export async function addToBalance(db: Kysely<DB>, account: AccountKey, amount: number): Promise<string | undefined> {
  const updated = await sql<Pick<BalanceRow, 'balance'>>`update platform.ledger_balance
    set balance = balance + ${amount}, updated_at = now()
    where user_id = ${account.userId}::uuid and app = ${account.app} and unit = ${account.unit}
      and balance + ${amount} >= 0
    returning balance::text`.execute(db);
  return updated.rows[0]?.balance;
}

export async function setBalanceAfter(db: Kysely<DB>, entryId: string, balance: string): Promise<void> {
  await db.updateTable('ledger_entry').set({ balance_after: balance }).where('id', '=', entryId).execute();
}

/** The account's balance (0 when it has none); with `lock`, its row is held until the transaction ends. */
export async function balanceOf(db: Kysely<DB>, account: AccountKey, lock = false): Promise<number> {
  const row = await db
    .selectFrom('ledger_balance')
    .select('balance')
    .where('user_id', '=', account.userId)
    .where('app', '=', account.app)
    .where('unit', '=', account.unit)
    .$if(lock, (query) => query.forUpdate())
    .executeTakeFirst();
  return Number(row?.balance ?? 0);
}

/** The account's entries, newest first. */
export async function listEntries(db: Kysely<DB>, account: AccountKey, limit: number): Promise<LedgerEntryRow[]> {
  return db
    .selectFrom('ledger_entry')
    .select(['id', 'kind', 'amount', 'balance_after', 'reference', 'created_at'])
    .where('user_id', '=', account.userId)
    .where('app', '=', account.app)
    .where('unit', '=', account.unit)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** Locks the balances of many accounts, always in the same order (no deadlock between batches). */
export async function lockBalances(db: Kysely<DB>, accounts: readonly AccountKey[]): Promise<BalanceRow[]> {
  const locked = await sql<BalanceRow>`select user_id::text, app, unit, balance::text from platform.ledger_balance
    where (user_id, app, unit) in (select * from unnest(${accounts.map((a) => a.userId)}::uuid[],
      ${accounts.map((a) => a.app)}::text[], ${accounts.map((a) => a.unit)}::text[]))
    order by user_id, app, unit for update`.execute(db);
  return locked.rows;
}

/**
 * Writes many debits' entries and takes each new one from its (locked) balance, in one statement:
 * a debit whose idempotency key was already used writes nothing and takes nothing. Resolves with
 * the keys that were new.
 */
export async function applyDebits(db: Kysely<DB>, kind: string, debits: readonly BatchDebit[]): Promise<Set<string>> {
  const inserted = await sql<Pick<Selectable<LedgerEntry>, 'idempotency_key'>>`with fresh as (
      insert into platform.ledger_entry (user_id, app, unit, kind, amount, balance_after, reference, idempotency_key)
      select user_id, app, unit, ${kind}, -take, after, reference, key
      from unnest(${debits.map((d) => d.userId)}::uuid[], ${debits.map((d) => d.app)}::text[],
        ${debits.map((d) => d.unit)}::text[], ${debits.map((d) => d.take)}::bigint[], ${debits.map((d) => d.after)}::bigint[],
        ${debits.map((d) => d.reference)}::text[], ${debits.map((d) => d.idempotencyKey)}::text[])
        as x(user_id, app, unit, take, after, reference, key)
      on conflict (app, idempotency_key) do nothing
      returning user_id, app, unit, amount, idempotency_key
    ), taken as (
      update platform.ledger_balance b set balance = b.balance + fresh.amount, updated_at = now()
      from fresh where b.user_id = fresh.user_id and b.app = fresh.app and b.unit = fresh.unit
    )
    select idempotency_key from fresh`.execute(db);
  return new Set(inserted.rows.map((row) => row.idempotency_key));
}
