import { inTransaction } from '../db/pool.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Programme } from './rules/ruleSet.ts';
import * as store from './store.ts';
import { conflict, invalid, forbidden, notFound } from '../kernel/errors.ts';
import type { Scope } from '../kernel/scope.ts';

/**
 * Review (maker-checker) of claims in PENDING_REVIEW. Each decision runs in one transaction that
 * locks the member-year totals row first (the same order as adjudication), then the claim, and
 * records the audit entry. Rules decided here:
 * - approve: the claim and its lines become APPROVED; not by anyone who adjusted one of its lines
 *   (four eyes: claims.adjusted_by, kept by the database, whose CHECK claims_four_eyes also refuses it).
 * - reject (reason required): REJECTED; its line amounts and its out-of-pocket contribution leave
 *   the member-year totals and its first-diagnosis grants are released (the claim no longer counts).
 * - adjust a line (reason required): only downwards, 0 ≤ amount ≤ computed (raising would bypass
 *   the rules' caps; a higher entitlement needs a rule change and replay). The computed amount
 *   stays beside the adjusted one; the member-year totals drop by the difference; the running
 *   out-of-pocket total keeps the computed figures. The claim stays PENDING_REVIEW for a decision.
 */
async function lockClaim(tx: Tx, claimId: number, scope: Scope, field: string): Promise<store.ReviewedClaim> {
  const found = await store.claimInScope(tx, claimId, scope);
  if (!found) throw notFound('claim');
  await store.lockMemberYear(tx, found.memberId, found.planYear);
  const claim = await store.lockClaim(tx, claimId);
  if (claim.status !== 'PENDING_REVIEW') throw conflict(`the claim is ${claim.status}, not PENDING_REVIEW`, field);
  return claim;
}

export async function approveClaim(db: Db, actor: Actor, scope: Scope, claimId: number, note: string | null): Promise<void> {
  await inTransaction(db, async (tx) => {
    const claim = await lockClaim(tx, claimId, scope, 'input.claimId');
    if (claim.adjustedBy.includes(actor.subject)) {
      throw forbidden(`approveClaim: ${actor.subject} adjusted this claim and cannot also approve it; another REVIEWER or ADMIN must (four eyes)`);
    }
    const totalFen = await store.approveClaim(tx, claimId, actor.subject, note);
    await recordAudit(tx, actor, { action: 'claim.approve', targetType: 'Claim', targetId: String(claimId), reason: note, details: { totalFen } });
  });
}

export async function rejectClaim(db: Db, actor: Actor, scope: Scope, claimId: number, reason: string): Promise<void> {
  await inTransaction(db, async (tx) => {
    const claim = await lockClaim(tx, claimId, scope, 'input.claimId');
    const lines = await store.payableLinesOfClaim(tx, claimId);
    const released = (p: Programme) => lines.filter((l) => l.programme === p).reduce((sum, l) => sum + l.payable, 0);
    await store.releaseFromTotals(tx, claim.memberId, claim.planYear, {
      INPATIENT: released('INPATIENT'), CRITICAL: released('CRITICAL'), MAJOR_DISEASE: released('MAJOR_DISEASE'), outOfPocket: claim.outOfPocketFen,
    });
    await store.rejectClaim(tx, claimId, actor.subject, reason);
    await recordAudit(tx, actor, {
      action: 'claim.reject', targetType: 'Claim', targetId: String(claimId), reason,
      details: { releasedFen: lines.reduce((sum, l) => sum + l.payable, 0) },
    });
  });
}

/** Returns the claim id of the adjusted line. */
export async function adjustClaimLine(db: Db, actor: Actor, scope: Scope, lineId: number, amountFen: number, reason: string): Promise<number> {
  if (!Number.isSafeInteger(amountFen) || amountFen < 0) throw invalid('input.amountFen', 'must be a whole number of fen, not negative');
  return inTransaction(db, async (tx) => {
    const claimId = await store.claimOfLine(tx, lineId);
    if (claimId === null) throw notFound('benefit line');
    const claim = await lockClaim(tx, claimId, scope, 'input.lineId');
    const locked = await store.lockLine(tx, lineId);
    if (amountFen > locked.amountFen) {
      throw invalid('input.amountFen', `must not exceed the computed amount ${locked.amountFen} fen (adjustments only lower a line)`);
    }
    await store.adjustLine(
      tx, { id: lineId, claimId: claim.id, programme: locked.programme, memberId: claim.memberId, planYear: claim.planYear },
      amountFen, locked.payable - amountFen, reason, actor.subject,
    );
    await recordAudit(tx, actor, {
      action: 'claim.adjust_line', targetType: 'BenefitLine', targetId: String(lineId), reason,
      details: { claimId: claim.id, programme: locked.programme, computedFen: locked.amountFen, fromFen: locked.payable, toFen: amountFen },
    });
    return claim.id;
  });
}
