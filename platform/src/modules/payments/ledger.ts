import { sql, type Kysely } from 'kysely';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { AnyKysely } from '#platform/kernel/db/database.ts';

/** What a ledger entry records. */
export const ledgerKinds = ['purchase', 'usage', 'refund', 'adjustment'] as const;
export type LedgerKind = (typeof ledgerKinds)[number];

/** Whose balance: a user's, in one app, counted in one unit (`seconds` of talk-time, `tokens`). */
export interface LedgerAccount {
  readonly userId: string;
  readonly app: string;
  readonly unit: string;
}

export interface LedgerChange extends LedgerAccount {
  readonly kind: LedgerKind;
  /** Positive credits, negative debits, in whole units. */
  readonly amount: number;
  /** What caused it: an order, a session. */
  readonly reference?: string | undefined;
  /** The same key twice is one change: the second is a no-op that reports the first. */
  readonly idempotencyKey: string;
}

export interface LedgerResult {
  /** False when the idempotency key had already been applied. */
  readonly applied: boolean;
  readonly balance: number;
  readonly amount: number;
}

export interface LedgerEntry {
  readonly id: string;
  readonly kind: LedgerKind;
  readonly amount: number;
  readonly balanceAfter: number;
  readonly reference: string | null;
  readonly createdAt: Date;
}

type Db = Kysely<unknown> | AnyKysely;

async function ensureAccount(tx: Kysely<unknown>, account: LedgerAccount): Promise<void> {
  await sql`insert into platform.ledger_balance (user_id, app, unit) values (${account.userId}::uuid, ${account.app}, ${account.unit})
    on conflict do nothing`.execute(tx);
}

async function inTransaction<T>(db: Db, work: (tx: Kysely<unknown>) => Promise<T>): Promise<T> {
  const kysely = db as Kysely<unknown>;
  if (kysely.isTransaction) return work(kysely);
  return kysely.transaction().execute(work);
}

/**
 * Applies one change to a balance, exactly once per idempotency key, inside the caller's
 * transaction when given one. The entry row is written first (its unique key makes a concurrent
 * duplicate wait, then do nothing); the balance row is updated with a guard, so it can never go
 * below zero: a debit larger than the balance fails with `payment_failed`.
 */
export async function applyLedgerChange(db: Db, change: LedgerChange): Promise<LedgerResult> {
  if (!Number.isSafeInteger(change.amount) || change.amount === 0) {
    throw new AppError('invalid_input', 'ledger.invalid_amount', 'A ledger change is a non-zero whole number');
  }
  return inTransaction(db, async (tx) => {
    await ensureAccount(tx, change);
    const inserted = await sql<{ id: string }>`insert into platform.ledger_entry
        (user_id, app, unit, kind, amount, balance_after, reference, idempotency_key)
      values (${change.userId}::uuid, ${change.app}, ${change.unit}, ${change.kind}, ${change.amount}, 0,
        ${change.reference ?? null}, ${change.idempotencyKey})
      on conflict (app, idempotency_key) do nothing
      returning id::text`.execute(tx);
    const entry = inserted.rows[0];
    if (entry === undefined) {
      const earlier = await sql<{ amount: string; balance: string }>`select e.amount::text,
          (select balance::text from platform.ledger_balance b
            where b.user_id = e.user_id and b.app = e.app and b.unit = e.unit) as balance
        from platform.ledger_entry e where e.app = ${change.app} and e.idempotency_key = ${change.idempotencyKey}`.execute(
        tx,
      );
      const row = earlier.rows[0]!;
      return { applied: false, balance: Number(row.balance), amount: Number(row.amount) };
    }
    const updated = await sql<{ balance: string }>`update platform.ledger_balance
      set balance = balance + ${change.amount}, updated_at = now()
      where user_id = ${change.userId}::uuid and app = ${change.app} and unit = ${change.unit}
        and balance + ${change.amount} >= 0
      returning balance::text`.execute(tx);
    const balance = updated.rows[0]?.balance;
    if (balance === undefined) {
      throw new AppError('payment_failed', 'ledger.insufficient_balance', 'The balance is too low for this');
    }
    await sql`update platform.ledger_entry set balance_after = ${balance}::bigint where id = ${entry.id}::bigint`.execute(
      tx,
    );
    return { applied: true, balance: Number(balance), amount: change.amount };
  });
}

/**
 * Debits as much of `amount` as the balance holds (usage already consumed cannot be refused):
 * returns what was taken. Exactly once per idempotency key.
 */
export async function debitUpTo(
  db: Db,
  change: Omit<LedgerChange, 'amount'> & { readonly amount: number },
): Promise<LedgerResult> {
  if (change.amount <= 0) throw new AppError('invalid_input', 'ledger.invalid_amount', 'A debit is a positive amount');
  return inTransaction(db, async (tx) => {
    await ensureAccount(tx, change);
    // Lock the balance so the amount taken is what remains at commit.
    const current = await sql<{ balance: string }>`select balance::text from platform.ledger_balance
      where user_id = ${change.userId}::uuid and app = ${change.app} and unit = ${change.unit} for update`.execute(tx);
    const available = Number(current.rows[0]?.balance ?? 0);
    const take = Math.min(available, change.amount);
    if (take === 0) return { applied: false, balance: available, amount: 0 };
    return applyLedgerChange(tx, { ...change, amount: -take });
  });
}

export async function balanceOf(db: Db, account: LedgerAccount): Promise<number> {
  const result = await sql<{ balance: string }>`select balance::text from platform.ledger_balance
    where user_id = ${account.userId}::uuid and app = ${account.app} and unit = ${account.unit}`.execute(db);
  return Number(result.rows[0]?.balance ?? 0);
}

export async function listLedger(db: Db, account: LedgerAccount, limit = 100): Promise<LedgerEntry[]> {
  const result = await sql<{
    id: string;
    kind: LedgerKind;
    amount: string;
    balance_after: string;
    reference: string | null;
    created_at: Date;
  }>`select id::text, kind, amount::text, balance_after::text, reference, created_at from platform.ledger_entry
    where user_id = ${account.userId}::uuid and app = ${account.app} and unit = ${account.unit}
    order by id desc limit ${limit}`.execute(db);
  return result.rows.map((row) => ({
    id: row.id,
    kind: row.kind,
    amount: Number(row.amount),
    balanceAfter: Number(row.balance_after),
    reference: row.reference,
    createdAt: row.created_at,
  }));
}

/**
 * `debitUpTo` for many accounts in one transaction and a handful of statements (metering's
 * periodic flush). Each change names a distinct account; each is applied once per idempotency
 * key and takes at most what its balance holds. Resolves with what each key took (0 when it had
 * already been applied or the balance was empty).
 */
export async function debitManyUpTo(
  tx: Kysely<unknown>,
  kind: LedgerKind,
  changes: readonly (LedgerAccount & { amount: number; reference: string; idempotencyKey: string })[],
): Promise<Map<string, number>> {
  const taken = new Map<string, number>();
  if (changes.length === 0) return taken;
  const accountKey = (account: LedgerAccount) => `${account.userId}|${account.app}|${account.unit}`;
  const locked = await sql<{
    user_id: string;
    app: string;
    unit: string;
    balance: string;
  }>`select user_id::text, app, unit,
      balance::text from platform.ledger_balance
    where (user_id, app, unit) in (select * from unnest(${changes.map((c) => c.userId)}::uuid[],
      ${changes.map((c) => c.app)}::text[], ${changes.map((c) => c.unit)}::text[]))
    order by user_id, app, unit for update`.execute(tx);
  const balances = new Map(
    locked.rows.map((row) => [accountKey({ userId: row.user_id, app: row.app, unit: row.unit }), Number(row.balance)]),
  );
  const rows = changes
    .map((change) => {
      const balance = balances.get(accountKey(change)) ?? 0;
      const take = Math.min(balance, change.amount);
      return { ...change, take, after: balance - take };
    })
    .filter((row) => row.take > 0);
  if (rows.length === 0) return taken;
  const inserted = await sql<{ idempotency_key: string }>`insert into platform.ledger_entry
      (user_id, app, unit, kind, amount, balance_after, reference, idempotency_key)
    select user_id, app, unit, ${kind}, -take, after, reference, key
    from unnest(${rows.map((r) => r.userId)}::uuid[], ${rows.map((r) => r.app)}::text[], ${rows.map((r) => r.unit)}::text[],
      ${rows.map((r) => r.take)}::bigint[], ${rows.map((r) => r.after)}::bigint[], ${rows.map((r) => r.reference)}::text[],
      ${rows.map((r) => r.idempotencyKey)}::text[]) as x(user_id, app, unit, take, after, reference, key)
    on conflict (app, idempotency_key) do nothing
    returning idempotency_key`.execute(tx);
  const fresh = new Set(inserted.rows.map((row) => row.idempotency_key));
  const applied = rows.filter((row) => fresh.has(row.idempotencyKey));
  if (applied.length > 0) {
    await sql`update platform.ledger_balance b set balance = b.balance - x.take, updated_at = now()
      from unnest(${applied.map((r) => r.userId)}::uuid[], ${applied.map((r) => r.app)}::text[],
        ${applied.map((r) => r.unit)}::text[], ${applied.map((r) => r.take)}::bigint[]) as x(user_id, app, unit, take)
      where b.user_id = x.user_id and b.app = x.app and b.unit = x.unit`.execute(tx);
  }
  for (const row of applied) taken.set(row.idempotencyKey, row.take);
  return taken;
}
