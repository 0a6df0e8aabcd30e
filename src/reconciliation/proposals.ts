import { canMove } from '../kernel/transitions.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { conflict, forbidden, notFound, type DomainError } from '../kernel/errors.ts';
import type { Db } from '../kernel/transaction.ts';
import { applyManualPayment } from '../members/contributions.ts';
import { PROPOSAL_TRANSITIONS, type ProposalStatus } from './model.ts';
import { applyMatch, applyWriteOff, withOpenException } from './resolve.ts';
import * as store from './store/resolutions.ts';

/*
 * A four-eyes proposal (fourEyes.ts `decideOrPropose`) confirmed or rejected by a second person:
 * a confirmation makes the decision it holds (a manual contribution payment, the manual match or
 * write-off of an exception) in the same transaction. Apart from fourEyes.ts, which the decisions
 * themselves call to propose, so that the two depend one way.
 */

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
