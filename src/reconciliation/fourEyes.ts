import { recordAudit, type Actor } from '../audit/audit.ts';
import { conflict } from '../kernel/errors.ts';
import { fenToCnyGrouped } from '../kernel/money.ts';
import type { Tx } from '../kernel/transaction.ts';
import type { ContributionKey } from '../members/model.ts';
import { enrolmentsNewlyCovered } from '../members/store/coverage.ts';
import type { NewProposal } from './model.ts';
import * as store from './store/resolutions.ts';

/**
 * Four eyes on money decisions people make by hand (FOUR_EYES_ABOVE_FEN): a manual contribution
 * payment, the manual match or write-off of a reconciliation exception. At or below the threshold
 * it takes effect at once; above, it is checked exactly as it would be made (then undone) and kept
 * as a proposal, which takes effect when a second person confirms it (proposals.ts). A manual
 * payment counts with what its recorder already recorded alone for the unit's plan year, and needs
 * a second person whatever its amount beyond what the unit owes or when it would cover an enrolment
 * (manualPayments.ts); a manual match needs one whatever its amount when its debit would no longer
 * count another payout as paid by the bank, or when the credit it gives to units would cover an
 * enrolment (resolve.ts): both judge coverage with `whyCoverageNeedsSecondPerson`.
 * The database refuses a confirmation by the proposer (four_eyes_proposals CHECK). Each step is
 * audited in its transaction, a proposal with why it needs a second person.
 */

/** Makes the decision (`apply`) at once, or above `aboveFen` checks it and stores it as a proposal: its id, else null. */
export async function decideOrPropose(tx: Tx, actor: Actor, aboveFen: number, proposal: NewProposal, apply: () => Promise<void>): Promise<number | null> {
  return proposeWhen(tx, actor, aboveThreshold(proposal.amountFen, aboveFen), proposal, apply);
}

/** Why a decision of `amountFen` needs a second person by its amount alone, or null. */
export function aboveThreshold(amountFen: number, aboveFen: number): string | null {
  return amountFen > aboveFen ? `${fenToCnyGrouped(amountFen)} is above FOUR_EYES_ABOVE_FEN (${fenToCnyGrouped(aboveFen)})` : null;
}

/**
 * Why `amountFen` more paid for a unit's plan year needs a second person whatever its amount, or
 * null: it would make the unit's payments cover enrolments they do not cover yet, judged on
 * `paidFen`, everything paid so far. Their claims, those refused for the unpaid contribution too,
 * would be paid: money one person would move, by choosing the unit.
 */
export async function whyCoverageNeedsSecondPerson(
  tx: Tx, year: ContributionKey & { owedFen: number; paidFen: number }, amountFen: number,
): Promise<string | null> {
  const { unitId, planYear, owedFen, paidFen } = year;
  const covered = await enrolmentsNewlyCovered(tx, unitId, planYear, paidFen, amountFen);
  return covered > 0
    ? `this ${fenToCnyGrouped(amountFen)} would make unit ${unitId}'s payments for ${planYear} cover ${covered} enrolment${covered > 1 ? 's' : ''} `
      + `they do not cover yet (unpaid ${fenToCnyGrouped(owedFen - paidFen)} of ${fenToCnyGrouped(owedFen)}): their claims would be paid`
    : null;
}

/**
 * Makes the decision (`apply`) at once when `secondPerson` is null; else checks it and stores it as
 * a proposal, audited with `secondPerson`, why it needs one: its id.
 */
export async function proposeWhen(tx: Tx, actor: Actor, secondPerson: string | null, proposal: NewProposal, apply: () => Promise<void>): Promise<number | null> {
  if (secondPerson === null) {
    await apply();
    return null;
  }
  // Checked as it will be made, so the proposer hears of a mistake now, not the confirmer later.
  await store.undone(tx, apply);
  const id = await store.insertProposal(tx, proposal, actor.subject);
  if (id === null) {
    throw proposal.kind === 'CONTRIBUTION_PAYMENT'
      ? conflict(`input.reference: a payment with reference ${proposal.decision.reference} already waits for a second person`, 'input.reference')
      : conflict('input.exceptionId: a decision on this exception already waits for a second person', 'input.exceptionId');
  }
  await recordAudit(tx, actor, {
    action: 'four_eyes.propose', targetType: 'FourEyesProposal', targetId: String(id), reason: secondPerson,
    details: { kind: proposal.kind, amountFen: proposal.amountFen, unitId: 'unitId' in proposal ? proposal.unitId : null,
      exceptionId: 'exceptionId' in proposal ? proposal.exceptionId : null, decision: proposal.decision },
  });
  return id;
}
