import type { Ballast } from '../host.ts';
import type { LedgerChange, LedgerResult } from '#platform/modules/payments/ledger.ts';

/**
 * Writes a ledger change for a test's user (a purchase, a grant) straight to the ledger: the same
 * code payments use, without a checkout. Apps cannot do this; tests set balances with it.
 */
export function applyTestLedgerChange(ballast: Ballast, change: LedgerChange): Promise<LedgerResult> {
  return ballast.payments.ledger.applyChange(change);
}
