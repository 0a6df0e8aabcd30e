import { canMove } from '../kernel/transitions.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { conflict, forbidden, notFound, type DomainError } from '../kernel/errors.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { applyManualPayment } from '../members/contributions.ts';
import { PROPOSAL_TRANSITIONS, type NewProposal, type ProposalStatus } from './model.ts';
import { applyMatch, applyWriteOff, withOpenException } from './resolve.ts';
import * as store from './store/resolutions.ts';

/**
 * Four eyes on money decisions people make by hand (FOUR_EYES_ABOVE_FEN): a manual contribution
 * payment, the manual match or write-off of a reconciliation exception. At or below the threshold
 * it takes effect at once; above, it is checked exactly as it would be made (then undone) and kept
 * as a proposal, which takes effect when a second person confirms it. The database refuses a
 * confirmation by the proposer (four_eyes_proposals CHECK). Each step is audited in its transaction.
 */

/** Makes the decision (`apply`) at once, or above `aboveFen` checks it and stores it as a proposal: its id, else null. */
export async function decideOrPropose(tx: Tx, actor: Actor, aboveFen: number, proposal: NewProposal, apply: () => Promise<void>): Promise<number | null> {
  if (proposal.amountFen <= aboveFen) {
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
    action: 'four_eyes.propose', targetType: 'FourEyesProposal', targetId: String(id),
    details: { kind: proposal.kind, amountFen: proposal.amountFen, unitId: 'unitId' in proposal ? proposal.unitId : null,
      exceptionId: 'exceptionId' in proposal ? proposal.exceptionId : null, decision: proposal.decision },
  });
  return id;
}

/**
 * Why `actor` may not confirm (or reject) a proposal now, or null: it is PENDING and, to confirm,
 * they did not propose it. decideProposal throws it; FourEyesProposal.viewerCanDecide shows it.
 */
export function decisionRefusal(actor: Pick<Actor, 'subject'>, proposal: { status: ProposalStatus; proposedBy: string }, confirm: boolean): DomainError | null {
  const status = confirm ? 'CONFIRMED' : 'REJECTED';
  if (!canMove(PROPOSAL_TRANSITIONS, proposal.status, status)) return conflict(`input.proposalId: is ${proposal.status} already`, 'input.proposalId');
  return confirm && proposal.proposedBy === actor.subject ? forbidden('input.proposalId: you proposed this decision: a second person must confirm it') : null;
}

/**
 * A second person confirms (the decision takes effect, in the same transaction) or rejects a
 * pending proposal; the proposer may only reject (withdraw) their own.
 */
export async function decideProposal(db: Db, actor: Actor, id: number, confirm: boolean, reason: string | null): Promise<void> {
  await inTransaction(db, async (tx) => {
    const p = await store.lockProposal(tx, id);
    if (!p) throw notFound('four-eyes proposal', 'input.proposalId');
    const status = confirm ? 'CONFIRMED' : 'REJECTED';
    const refusal = decisionRefusal(actor, p, confirm);
    if (refusal) throw refusal;
    await store.markProposalDecided(tx, id, status, actor.subject, reason);
    await recordAudit(tx, actor, {
      action: confirm ? 'four_eyes.confirm' : 'four_eyes.reject', targetType: 'FourEyesProposal', targetId: String(id), reason,
      details: { kind: p.kind, amountFen: p.amountFen, proposedBy: p.proposedBy },
    });
    if (!confirm) return;
    const by = { proposalId: p.id, proposedBy: p.proposedBy };
    if (p.kind === 'CONTRIBUTION_PAYMENT') await applyManualPayment(tx, actor, p.decision, by);
    else if (p.kind === 'EXCEPTION_MATCH') await withOpenException(tx, p.exceptionId!, (x) => applyMatch(tx, actor, x, p.decision, by));
    else await withOpenException(tx, p.exceptionId!, (x) => applyWriteOff(tx, actor, x, p.decision.reason, by));
  });
}
