import { recordAudit } from '../audit/audit.ts';
import { nameProblem } from '../banks/iso20022/fields.ts';
import { inTransaction } from '../db/pool.ts';
import { chinaToday } from '../kernel/time.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { decrypt, type PersonalDataKeys } from '../privacy/personalData.ts';
import { subjectLine } from '../seals/cms/asn1.ts';
import { type Seal, sealDocument } from '../seals/cms/seal.ts';
import { expectStatus, lockedBatch } from './decisions.ts';
import { batchDocument, fileToKeep, writeBatchFiles } from './files.ts';
import { statusesInto } from '../kernel/transitions.ts';
import { BATCH_TRANSITIONS, funderPayingAccount, type BatchRow, type PayoutSettings, type RefusalsAfterPayment } from './model.ts';
import {
  cancelAttempts, cancelEmptiedBatch, hasUnansweredRetry, markBatchSealed, plannedAttempts, reduceBatchTotals, type PlannedAttempt,
} from './store/batches.ts';
import { fundersByIds } from './store/funders.ts';
import { batchAccount } from './store/submission.ts';
import { cancelPayoutsOfReversedClaims, failPayouts, followBankCards, payoutsWaitAgain } from './store/payouts.ts';

/**
 * Sealing an APPROVED batch (worker side: the seal key lives with the workers): the payments that
 * may no longer go leave it, its pain.001 is written and sealed (CMS, src/seals/cms) under
 * PAYOUT_OUT_DIR, readable by the worker's user only, and kept in the row encrypted.
 */

export interface SealingContext {
  keys: PersonalDataKeys;
  seal: Seal;
  /** PAYOUT_OUT_DIR: `<MsgId>.xml` and `<MsgId>.xml.p7s` are written here. */
  outDir: string;
  /** The union as initiating party. */
  initiatingParty: { name: string; id?: string };
}

/** Who the payout worker acts as (audit), sealing or cancelling a batch. */
export const PAYOUT_WORKER = { subject: 'payout-worker', role: 'SERVICE' };

/**
 * Why a one-person retry of a payout the bank had paid, or one confirmed before a debit of an earlier attempt found since (0070),
 * leaves its batch (at sealing, or at the hand-over): the payout is FAILED with it.
 */
export const PAID_BEFORE_REASON = 'a statement shows the bank paid an earlier attempt (debited), or the bank reported it credited after refusing it, '
  + 'after it was retried by one person: trying it again needs one FINANCE person\'s proposal and another\'s confirmation; '
  + 'so does a retry two confirmed before a statement showed an earlier attempt debited again (its return reversed, 冲正)';

/**
 * Takes the account's reconciliation lock (`lockAccount`, before any row: the lock order of a
 * reconciliation run and of a status report) when the batch holds a retry the bank has not answered,
 * what paidBeforeUnconfirmed can be true of, so that a credit after a refusal or a debit on a
 * statement being committed is seen; other batches do not wait for a run. The account locked, or
 * null when the batch holds no such retry. Sealing, the hand-over and a re-send of the sealed file
 * (submission.ts) take it.
 */
export async function lockAccountForRetries(tx: Tx, batchId: number, lockAccount: RefusalsAfterPayment['lockAccount']): Promise<string | null> {
  if (!(await hasUnansweredRetry(tx, batchId))) return null;
  const account = await batchAccount(tx, batchId);
  await lockAccount(tx, account);
  return account;
}

/**
 * Writes and seals an APPROVED batch's pain.001, refused (`refused`: why; the refusal audited, the
 * batch left as it is) when its debtor is not the account this worker's settings give its funder
 * (debtorProblem).
 * A payment leaves the batch first (a batch only ever loses payments after its approval, never
 * gains one) when its claim was reversed or rejected since (the payout is CANCELLED), or when its
 * member's bank card is no longer the one the attempt carries, the one the approver saw, or payouts
 * to it wait (bank_card_waits: its member not told of its replacement; the payout waits again, HELD
 * while the new card cools off or until it is confirmed), or when the file cannot carry its payee's name
 * (a row from before names were checked as the file checks them, which would fail the whole file:
 * the payout FAILED with the reason, retried once the name is corrected). With none left the batch
 * is cancelled and `file` is null. The files are written before the row commits; a crash between
 * leaves files that the next sealing overwrites, and the row is the record (its file encrypted).
 * A retry's payment also leaves it when the bank had paid its payout before and no second FINANCE
 * person confirmed the retry (the payout FAILED with the reason). `lockAccount` (the worker's
 * `refusalsAfterPayment.lockAccount`) is taken first when the batch holds a retry, so a credit after a
 * refusal or a debit on a statement being committed is seen here; one committed after the sealing
 * is found at the hand-over (submission.ts, markSending), which checks again.
 */
export async function sealBatch(
  db: Db, sealing: SealingContext, settings: Pick<PayoutSettings, 'coolingOffDays' | 'account'>, batchId: number, now = new Date(),
  lockAccount: RefusalsAfterPayment['lockAccount'] | null = null,
): Promise<{ msgId: string; file: string | null; refused: string | null }> {
  return inTransaction(db, async (tx) => {
    if (lockAccount) await lockAccountForRetries(tx, batchId, lockAccount);
    const batch = await lockedBatch(tx, batchId);
    expectStatus(batch, statusesInto(BATCH_TRANSITIONS, 'SEALED'), 'seal');
    const debtorRefused = await debtorProblem(tx, settings, batch);
    if (debtorRefused) {
      await recordAudit(tx, PAYOUT_WORKER, {
        action: 'payout.batch.seal.refuse', targetType: 'PayoutBatch', targetId: batch.msgId, reason: debtorRefused,
        details: { batchId, funderId: batch.funderId, debtorAccount: batch.debtorAccount },
      });
      return { msgId: batch.msgId, file: null, refused: debtorRefused };
    }
    const planned = await plannedAttempts(tx, batchId, settings.coolingOffDays);
    const reversed = planned.filter((a) => a.claimStatus !== 'APPROVED');
    // The bank paid an earlier attempt, found after a one-person retry: only two FINANCE people may send it again.
    const paidBefore = planned.filter((a) => a.claimStatus === 'APPROVED' && a.paidBeforeUnconfirmed);
    const approved = planned.filter((a) => a.claimStatus === 'APPROVED' && !a.paidBeforeUnconfirmed).map((a) => {
      const creditorAccount = decrypt(sealing.keys, a.accountEnc);
      // A card that waits now (its member found not told since the batch was made, 0073) leaves as a changed one does.
      const cardChanged = a.memberCardEnc === null || a.cardWaits || decrypt(sealing.keys, a.memberCardEnc) !== creditorAccount;
      // The writer's own check: a name it refuses would throw, and the whole batch would wait for good.
      return { ...a, creditorAccount, cardChanged, nameRefused: cardChanged ? null : nameProblem(a.creditorName) };
    });
    const cardChanged = approved.filter((a) => a.cardChanged);
    const refused = approved.filter((a): a is typeof a & { nameRefused: string } => a.nameRefused !== null);
    const attempts = approved.filter((a) => !a.cardChanged && a.nameRefused === null);
    if (reversed.length + paidBefore.length + cardChanged.length + refused.length > 0) {
      await withdrawPayments(tx, settings, batch, { reversed, paidBefore, cardChanged, refused }, attempts.length);
    }
    if (attempts.length === 0) return { msgId: batch.msgId, file: null, refused: null };
    // Asked for the day it is sealed (and sent), not the day the batch was made: a bank may refuse a past date.
    const requestedExecutionDate = [batch.requestedExecutionDate, chinaToday(now)].sort()[1]!;
    const xml = batchDocument({
      msgId: batch.msgId,
      pmtInfId: batch.pmtInfId,
      requestedExecutionDate,
      debtor: { name: batch.debtorName, account: batch.debtorAccount, agent: batch.debtorAgent },
      initiatingParty: sealing.initiatingParty,
      attempts,
    }, now);
    const content = Buffer.from(xml, 'utf8');
    const { fileEnc, sha256 } = fileToKeep(sealing.keys, xml, content);
    const seal = sealDocument(content, sealing.seal, now);
    const file = writeBatchFiles(sealing.outDir, batch.msgId, content, seal);
    await markBatchSealed(tx, batchId, { fileEnc, sha256, seal, sealedAt: now, requestedExecutionDate });
    await recordAudit(tx, PAYOUT_WORKER, {
      action: 'payout.batch.seal', targetType: 'PayoutBatch', targetId: batch.msgId,
      details: { batchId, sha256: sha256.toString('hex'), signer: subjectLine(sealing.seal.certificate) },
    });
    return { msgId: batch.msgId, file, refused: null };
  });
}

/**
 * Why this worker may not seal the batch, or null: its debtor is not the account the worker's own
 * settings give its funder (funderPayingAccount). UNION has no account in the table, so a batch made
 * by a gateway with another PAYOUT_ACCOUNT (an old one, the simulator's) would otherwise go out
 * under the union's initiating party and seal, debiting an account that is not the union's.
 */
async function debtorProblem(tx: Tx, settings: Pick<PayoutSettings, 'account'>, batch: BatchRow): Promise<string | null> {
  const [funder] = await fundersByIds(tx, [batch.funderId]);
  const paying = funderPayingAccount(settings, funder!);
  if (batch.debtorAccount === paying.account) return null;
  return `its debtor account ${batch.debtorAccount} is not the one funder ${funder!.code} pays from in the payout worker's settings, `
    + `${paying.account}${funder!.account === null ? ' (PAYOUT_ACCOUNT)' : ''}: it was not sealed or sent; `
    + 'withdraw it (cancelPayoutBatch) and make it again, or correct the PAYOUT_ACCOUNT of the process that made it or of the worker';
}

/**
 * Payments leave the batch (attempts cancelled) and its totals follow; audited. Payouts of claims
 * no longer approved are CANCELLED; payouts whose card changed wait for a later batch, whose
 * approver sees the new card; payouts whose payee's name the file cannot carry are FAILED with
 * the reason: waiting again, each would be the next batch's oldest payout and leave it again. So
 * are one-person retries of payouts the bank had paid before (only two FINANCE people retry them).
 */
async function withdrawPayments(
  tx: Tx, settings: Pick<PayoutSettings, 'coolingOffDays'>, batch: BatchRow,
  withdrawn: { reversed: PlannedAttempt[]; paidBefore: PlannedAttempt[]; cardChanged: PlannedAttempt[]; refused: (PlannedAttempt & { nameRefused: string })[] },
  remaining: number,
): Promise<void> {
  const all = [...withdrawn.reversed, ...withdrawn.paidBefore, ...withdrawn.cardChanged, ...withdrawn.refused];
  await cancelAttempts(tx, all.map((a) => a.attemptId));
  if (withdrawn.reversed.length > 0) await cancelPayoutsOfReversedClaims(tx, withdrawn.reversed.map((a) => a.payoutId));
  if (withdrawn.cardChanged.length > 0) {
    const changedIds = withdrawn.cardChanged.map((a) => a.payoutId);
    await payoutsWaitAgain(tx, changedIds);
    await followBankCards(tx, settings.coolingOffDays, changedIds);
  }
  if (withdrawn.paidBefore.length > 0) {
    await failPayouts(tx, withdrawn.paidBefore.map((a) => ({ payoutId: a.payoutId, reason: PAID_BEFORE_REASON })));
  }
  if (withdrawn.refused.length > 0) {
    await failPayouts(tx, withdrawn.refused.map((a) => ({
      payoutId: a.payoutId,
      reason: `the member's name ${a.nameRefused}, so the bank's file cannot carry it: correct the name, then retry the payout`,
    })));
  }
  if (remaining === 0) await cancelEmptiedBatch(tx, batch.id);
  else await reduceBatchTotals(tx, batch.id, all.length, all.reduce((sum, a) => sum + a.amountFen, 0));
  await recordAudit(tx, PAYOUT_WORKER, {
    action: 'payout.batch.withdraw', targetType: 'PayoutBatch', targetId: batch.msgId,
    reason: [
      withdrawn.reversed.length ? 'claims no longer approved' : null,
      withdrawn.paidBefore.length ? 'paid by the bank before, retried without four eyes (or confirmed before a debit found since)' : null,
      withdrawn.cardChanged.length ? 'bank cards changed since the batch was created' : null,
      withdrawn.refused.length ? "names the bank's file cannot carry" : null,
    ].filter(Boolean).join('; '),
    details: {
      batchId: batch.id,
      claims: withdrawn.reversed.map((a) => ({ claimId: a.claimId, status: a.claimStatus, amountFen: a.amountFen })),
      paidBefore: withdrawn.paidBefore.map((a) => ({ payoutId: a.payoutId, claimId: a.claimId, amountFen: a.amountFen })),
      cardChanged: withdrawn.cardChanged.map((a) => ({ payoutId: a.payoutId, claimId: a.claimId, amountFen: a.amountFen })),
      // The reason only (a length, a code point): the name is personal data.
      nameRefused: withdrawn.refused.map((a) => ({ payoutId: a.payoutId, claimId: a.claimId, amountFen: a.amountFen, reason: a.nameRefused })),
      remaining,
    },
  });
}
