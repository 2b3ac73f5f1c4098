import type { Kysely } from 'kysely';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database, Tx } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import * as entries from './ledger.repository.ts';

/** What a ledger entry records. */
export const ledgerKinds = ['purchase', 'usage', 'refund', 'adjustment', 'grant'] as const;
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

/** One account's share of a batched debit (`debitManyUpTo`). */
export interface BatchedDebit extends LedgerAccount {
  readonly amount: number;
  readonly reference: string;
  readonly idempotencyKey: string;
}

/** Where a ledger call runs: in the caller's transaction when given one, else in one of its own. */
export interface InTransaction {
  readonly tx?: Tx | undefined;
}

/**
 * Balances per user, app and unit, kept as a ledger: every credit and debit is an entry, applied
 * exactly once per idempotency key, and the balance never goes below zero.
 */
export interface Ledger {
  /**
   * Applies one change to a balance, exactly once per idempotency key. The entry row is written
   * first (its unique key makes a concurrent duplicate wait, then do nothing); the balance row is
   * updated with a guard, so it can never go below zero: a debit larger than the balance fails
   * with `payment_failed` (`ledger.insufficient_balance`).
   */
  applyChange(change: LedgerChange, options?: InTransaction): Promise<LedgerResult>;
  /**
   * Debits as much of `amount` as the balance holds (usage already consumed cannot be refused):
   * resolves with what was taken (`amount` negative), exactly once per idempotency key.
   */
  debitUpTo(change: LedgerChange, options?: InTransaction): Promise<LedgerResult>;
  /**
   * `debitUpTo` for many accounts in one transaction and a handful of statements (metering's
   * periodic flush). Each change names a distinct account; each is applied once per idempotency
   * key and takes at most what its balance holds. Resolves with what each key took (0 when it had
   * already been applied or the balance was empty).
   */
  debitManyUpTo(tx: Tx, kind: LedgerKind, changes: readonly BatchedDebit[]): Promise<Map<string, number>>;
  /** The balance (0 for an account that never had one). */
  balanceOf(account: LedgerAccount): Promise<number>;
  /**
   * The balance, its row locked until `tx` ends (created at zero when missing): what a debit of
   * this account in the same transaction will find.
   */
  lockBalance(tx: Tx, account: LedgerAccount): Promise<number>;
  /** The account's entries, newest first. */
  listEntries(account: LedgerAccount, limit?: number): Promise<LedgerEntry[]>;
}

/** What a debit of `amount` takes from `balance`: all of it, or what there is. */
const takeUpTo = (balance: number, amount: number): number => Math.max(0, Math.min(balance, amount));

/** The ledger on the platform's database. */
export function createLedger(database: Database): Ledger {
  const db = database.view<DB>('platform');

  function within<T>(options: InTransaction | undefined, work: (db: Kysely<DB>) => Promise<T>): Promise<T> {
    const tx = options?.tx;
    return tx === undefined
      ? database.transaction((own) => work(own.view<DB>('platform')))
      : work(tx.view<DB>('platform'));
  }

  async function applyChange(db: Kysely<DB>, change: LedgerChange): Promise<LedgerResult> {
    await entries.ensureAccount(db, change);
    const entryId = await entries.insertEntry(db, { ...change, reference: change.reference ?? null });
    if (entryId === undefined) {
      const earlier = (await entries.entryByKey(db, change.app, change.idempotencyKey))!;
      return { applied: false, balance: Number(earlier.balance), amount: Number(earlier.amount) };
    }
    const balance = await entries.addToBalance(db, change, change.amount);
    if (balance === undefined) {
      throw new AppError('payment_failed', 'ledger.insufficient_balance', 'The balance is too low for this');
    }
    await entries.setBalanceAfter(db, entryId, balance);
    return { applied: true, balance: Number(balance), amount: change.amount };
  }

  async function lockBalance(db: Kysely<DB>, account: LedgerAccount): Promise<number> {
    await entries.ensureAccount(db, account);
    return entries.balanceOf(db, account, true);
  }

  return {
    async applyChange(change, options) {
      if (!Number.isSafeInteger(change.amount) || change.amount === 0) {
        throw new AppError('invalid_input', 'ledger.invalid_amount', 'A ledger change is a non-zero whole number');
      }
      return within(options, (db) => applyChange(db, change));
    },

    async debitUpTo(change, options) {
      if (change.amount <= 0)
        throw new AppError('invalid_input', 'ledger.invalid_amount', 'A debit is a positive amount');
      return within(options, async (db) => {
        // The balance stays locked, so what is taken is what remains at commit.
        const available = await lockBalance(db, change);
        const take = takeUpTo(available, change.amount);
        if (take === 0) return { applied: false, balance: available, amount: 0 };
        return applyChange(db, { ...change, amount: -take });
      });
    },

    async debitManyUpTo(tx, kind, changes) {
      const taken = new Map<string, number>();
      if (changes.length === 0) return taken;
      const db = tx.view<DB>('platform');
      const accountKey = (account: LedgerAccount) => `${account.userId}|${account.app}|${account.unit}`;
      const locked = await entries.lockBalances(db, changes);
      const balances = new Map(
        locked.map((row) => [accountKey({ userId: row.user_id, app: row.app, unit: row.unit }), Number(row.balance)]),
      );
      const debits = changes
        .map((change) => {
          const balance = balances.get(accountKey(change)) ?? 0;
          const take = takeUpTo(balance, change.amount);
          return { ...change, take, after: balance - take };
        })
        .filter((debit) => debit.take > 0);
      if (debits.length === 0) return taken;
      const fresh = await entries.applyDebits(db, kind, debits);
      for (const debit of debits) if (fresh.has(debit.idempotencyKey)) taken.set(debit.idempotencyKey, debit.take);
      return taken;
    },

    balanceOf: (account) => entries.balanceOf(db, account),

    lockBalance: (tx, account) => lockBalance(tx.view<DB>('platform'), account),

    async listEntries(account, limit = 100) {
      const rows = await entries.listEntries(db, account, limit);
      return rows.map((row) => ({
        id: row.id,
        kind: row.kind as LedgerKind,
        amount: Number(row.amount),
        balanceAfter: Number(row.balance_after),
        reference: row.reference,
        createdAt: row.created_at,
      }));
    },
  };
}
