import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { isAppError } from '#platform/kernel/errors/errors.ts';
import { createTestUser, startTestBallast, type TestBallast } from '#platform/testing/index.ts';
import type { Ledger } from './ledger.ts';

let server: TestBallast;
let db: Kysely<unknown>;
let ledger: Ledger;

beforeAll(async () => {
  server = await startTestBallast({ listen: false });
  db = server.ballast.database.db;
  ledger = server.ballast.payments.ledger;
});

afterAll(async () => {
  await server.close();
});

async function account(email: string) {
  const user = await createTestUser(server.ballast, email);
  return { userId: user.id, app: 'shop', unit: 'seconds' };
}

describe('the ledger', () => {
  it('never lets racing debits take the balance below zero', async () => {
    const who = await account('racing-debits@example.com');
    await ledger.applyChange({ ...who, kind: 'purchase', amount: 100, idempotencyKey: 'buy-1' });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) =>
        ledger.applyChange({ ...who, kind: 'usage', amount: -10, idempotencyKey: `use-${index}` }),
      ),
    );
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(10);
    expect(refused).toHaveLength(10);
    for (const outcome of refused) {
      const reason: unknown = outcome.status === 'rejected' ? outcome.reason : undefined;
      expect(isAppError(reason) && reason.code).toBe('ledger.insufficient_balance');
    }
    expect(await ledger.balanceOf(who)).toBe(0);
    const entries = await ledger.listEntries(who);
    expect(entries.reduce((sum, entry) => sum + entry.amount, 0)).toBe(0);
    expect(Math.min(...entries.map((entry) => entry.balanceAfter))).toBe(0);
  });

  it('applies one idempotency key once, even when sent twenty times at the same moment', async () => {
    const who = await account('same-key@example.com');
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        ledger.applyChange({ ...who, kind: 'purchase', amount: 1800, idempotencyKey: 'order:same' }),
      ),
    );
    expect(results.filter((result) => result.applied)).toHaveLength(1);
    expect(results.every((result) => result.balance === 1800)).toBe(true);
    expect(await ledger.balanceOf(who)).toBe(1800);
  });

  it('debits usage up to what is left, once per key, and refuses what the database constraint forbids', async () => {
    const who = await account('usage@example.com');
    await ledger.applyChange({ ...who, kind: 'purchase', amount: 50, idempotencyKey: 'buy' });
    const taken = await Promise.all([
      ledger.debitUpTo({ ...who, kind: 'usage', amount: 40, idempotencyKey: 'meter:a' }),
      ledger.debitUpTo({ ...who, kind: 'usage', amount: 40, idempotencyKey: 'meter:b' }),
      ledger.debitUpTo({ ...who, kind: 'usage', amount: 40, idempotencyKey: 'meter:a' }),
    ]);
    expect(
      taken
        .filter((result) => result.applied)
        .map((result) => -result.amount)
        .sort(),
    ).toEqual([10, 40]);
    expect(await ledger.balanceOf(who)).toBe(0);
    // The database itself refuses a negative balance, whatever the code does.
    await expect(
      sql`update platform.ledger_balance set balance = -1 where user_id = ${who.userId}::uuid`.execute(db),
    ).rejects.toThrow(/check constraint/);
  });

  it('debits many accounts in one transaction, each once per key and never below zero, racing single debits', async () => {
    const rich = await account('batch-rich@example.com');
    const poor = await account('batch-poor@example.com');
    await ledger.applyChange({ ...rich, kind: 'purchase', amount: 100, idempotencyKey: 'rich' });
    await ledger.applyChange({ ...poor, kind: 'purchase', amount: 5, idempotencyKey: 'poor' });
    const batch = () =>
      server.ballast.database.transaction((tx) =>
        ledger.debitManyUpTo(tx, 'usage', [
          { ...rich, amount: 30, reference: 'session:r', idempotencyKey: 'session:r:30' },
          { ...poor, amount: 30, reference: 'session:p', idempotencyKey: 'session:p:30' },
        ]),
      );
    const [first, second] = await Promise.all([
      batch(),
      batch(),
      ledger.debitUpTo({ ...poor, kind: 'usage', amount: 3, idempotencyKey: 'single:p' }),
    ]);
    const takenRich = (first.get('session:r:30') ?? 0) + (second.get('session:r:30') ?? 0);
    expect(takenRich).toBe(30);
    expect(await ledger.balanceOf(rich)).toBe(70);
    // The poor account had 5: the batch and the single debit together took exactly 5.
    expect(await ledger.balanceOf(poor)).toBe(0);
    const entries = await ledger.listEntries(poor);
    expect(entries.filter((entry) => entry.kind === 'usage').reduce((sum, entry) => sum - entry.amount, 0)).toBe(5);
  });
});
