import type { AnyKysely } from '#platform/kernel/db/database.ts';
import { applyLedgerChange, type LedgerChange, type LedgerResult } from '#platform/modules/payments/ledger.ts';

/**
 * Writes a ledger change for a test's user (a purchase, a grant) straight to the ledger: the same
 * code payments use, without a checkout. Apps cannot do this; tests set balances with it.
 */
export function applyTestLedgerChange(db: AnyKysely, change: LedgerChange): Promise<LedgerResult> {
  return applyLedgerChange(db, change);
}
