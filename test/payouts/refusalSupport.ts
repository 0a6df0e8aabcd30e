import type pg from 'pg';
import { expect } from 'vitest';
import type { EntryDetails } from '../../src/banks/iso20022/camtEntry.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { retryPayout } from '../../src/payouts/decisions.ts';
import { paidByBank } from '../../src/payouts/store/payouts.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { openAccount, UNION_ACCOUNT, type Pki, type RunningBank } from '../banks/simulator/support.ts';
import { bookedEntry, handStatement, importConfirmed } from '../reconciliation/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, keys, settings, submissionContext } from './support.ts';

/**
 * The scene of the tests of payouts the bank refused (RJCT) and a debit of no reference may be:
 * refused and paid payouts of the same amount and name (every seeded member has the same name, each
 * claim the same stay), sent to the bank simulator, and the debits the bank books, reconciled.
 */

export interface SentAttempt {
  id: number;
  e2e: string;
  payoutId: number;
  amountFen: number;
  creditorName: string;
}

/** The one person who would retry a refused payout: an ADMIN, as the hub allows while nothing shows the bank paid. */
const ADMIN = { subject: 'admin-solo', role: 'ADMIN' };

export type RefusalScene = ReturnType<typeof refusalScene>;

/** The scene on a test file's database, its batches sealed with the file's PKI (testFilePki). */
export function refusalScene(db: pg.Pool, pki: Pki) {
  const attemptsOfBatch = async (batchId: number): Promise<SentAttempt[]> => (await db.query<SentAttempt>(
    `SELECT id, end_to_end_id AS e2e, payout_id AS "payoutId", amount_fen AS "amountFen", creditor_name AS "creditorName"
       FROM payout_attempts WHERE batch_id = $1 ORDER BY id`, [batchId],
  )).rows;

  /** Sends a batch of everything ready to the simulator: its final answer and its attempts. */
  async function sent(bank: RunningBank): Promise<{ status: string; attempts: SentAttempt[] }> {
    const batch = await approvedBatch(db);
    const ctx = submissionContext(db, pki, bank);
    try {
      return { status: await advanceUntilFinal(ctx, batch.id), attempts: await attemptsOfBatch(batch.id) };
    } finally {
      ctx.remove();
    }
  }

  const wasPaid = async (payoutId: number) => (await paidByBank(db, [payoutId]))[0];

  return {
    wasPaid,

    /** `members` payouts of the same amount and name to cards the bank holds closed, refused (RJCT AC04). */
    async refusedPayouts(bank: RunningBank, members: number): Promise<SentAttempt[]> {
      for (let i = 0; i < members; i += 1) {
        const card = openAccount();
        bank.simulator.bank.setAccount({ account: card, status: 'CLOSED' });
        await approvedClaims(db, 1, { 0: card });
      }
      const { status, attempts } = await sent(bank);
      expect(status).toBe('REJECTED');
      return attempts;
    },

    /** Another member's payout of that amount, credited by the bank and awaiting its debit (PAID). */
    async paidPayout(bank: RunningBank): Promise<SentAttempt> {
      await approvedClaims(db, 1);
      const { status, attempts: [attempt] } = await sent(bank);
      expect(status).toBe('ACCEPTED');
      return attempt!;
    },

    /** Debits as the bank books them on today's statement, reconciled: the exceptions' ids, in order. */
    async reconciled(...entries: ReturnType<typeof bookedEntry>[]): Promise<number[]> {
      await importConfirmed(db, handStatement(chinaToday(), 10_000_000, entries, UNION_ACCOUNT));
      await reconcileAccount(db, UNION_ACCOUNT, { keys, startedBy: 'test' });
      return (await db.query<{ id: number }>('SELECT id FROM reconciliation_exceptions ORDER BY id')).rows.map((r) => r.id);
    },

    /** Why the four-eyes proposal was made, as its audit record says. */
    proposedBecause: async (proposalId: number) => (await db.query<{ reason: string }>(
      // The newest: proposal ids start again in each test, the audit log does not.
      `SELECT reason FROM audit_log WHERE action = 'four_eyes.propose' AND target_id = $1 ORDER BY seq DESC LIMIT 1`, [String(proposalId)])).rows[0]?.reason,

    /** One person alone cannot put the refused payout back in line, in code nor behind the code's back. */
    async expectNoRetryAlone(payoutId: number): Promise<void> {
      expect(await wasPaid(payoutId)).toBe(true);
      await expect(retryPayout(db, ADMIN, UNSCOPED, settings, payoutId, 'the match shows the member was not paid'))
        .rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('a statement shows it debited') });
      await expect(db.query(`UPDATE payouts SET status = 'READY', status_reason = NULL WHERE id = $1`, [payoutId])).rejects.toThrow(/the bank had paid it/);
    },
  };
}

/** A debit's transaction, its amount always given (a batch booking's TxAmt). */
type DebitDetails = EntryDetails & { amountFen: number };

/** A debit's transaction with the amount and the payee's name only, no reference. */
export const byNameOnly = (attempt: SentAttempt): DebitDetails => ({ amountFen: attempt.amountFen, creditor: { name: attempt.creditorName }, remittanceInfo: [] });

/** A debit's transaction naming the payment by its EndToEndId. */
export const byEndToEndId = (attempt: SentAttempt): DebitDetails => ({ ...byNameOnly(attempt), endToEndId: attempt.e2e });

/** A debit booked today: one transaction, or a batch booking of several (TxDtls), the entry their sum. */
export const debit = (...details: DebitDetails[]) => bookedEntry('DBIT', details.reduce((sum, d) => sum + d.amountFen, 0), chinaToday(), { details });
