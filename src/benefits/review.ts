import type pg from 'pg';
import { inTransaction, type Queryable } from '../db/pool.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Scope } from '../members/store.ts';
import { TOTAL_COLUMNS } from './adjudicate.ts';
import type { Programme } from './rules/ruleSet.ts';
import type { ClaimStatus } from './rows.ts';
import { conflict, invalid, forbidden, notFound } from '../kernel/errors.ts';

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
interface LockedClaim {
  id: number;
  memberId: number;
  planYear: number;
  status: ClaimStatus;
  outOfPocketFen: number;
  /** Everyone who adjusted a line of the claim. */
  adjustedBy: string[];
}

async function lockClaim(tx: Queryable, claimId: number, scope: Scope, field: string): Promise<LockedClaim> {
  const { rows: [found] } = await tx.query<{ memberId: number; planYear: number }>(
    `SELECT c.member_id AS "memberId", c.plan_year AS "planYear" FROM claims c
      WHERE c.id = $1 AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM members m WHERE m.id = c.member_id AND m.unit_id = $2))
        AND ($3::bigint IS NULL OR c.member_id = $3)`,
    [claimId, scope.unitId, scope.memberId],
  );
  if (!found) throw notFound('claim');
  await tx.query(`SELECT 1 FROM member_year_totals WHERE member_id = $1 AND plan_year = $2 FOR UPDATE`, [found.memberId, found.planYear]);
  const { rows: [claim] } = await tx.query<LockedClaim>(
    `SELECT id, member_id AS "memberId", plan_year AS "planYear", status, out_of_pocket_fen AS "outOfPocketFen", adjusted_by AS "adjustedBy"
       FROM claims WHERE id = $1 FOR UPDATE`,
    [claimId],
  );
  if (claim!.status !== 'PENDING_REVIEW') throw conflict(`the claim is ${claim!.status}, not PENDING_REVIEW`, field);
  return claim!;
}

export async function approveClaim(db: pg.Pool, actor: Actor, scope: Scope, claimId: number, note: string | null): Promise<void> {
  await inTransaction(db, async (tx) => {
    const claim = await lockClaim(tx, claimId, scope, 'input.claimId');
    if (claim.adjustedBy.includes(actor.subject)) {
      throw forbidden(`approveClaim: ${actor.subject} adjusted this claim and cannot also approve it; another REVIEWER or ADMIN must (four eyes)`);
    }
    await tx.query(
      `UPDATE claims SET status = 'APPROVED', decided_by = $2, decided_at = now(), decision_reason = $3, updated_at = now() WHERE id = $1`,
      [claimId, actor.subject, note],
    );
    await tx.query(`UPDATE benefit_lines SET status = 'APPROVED' WHERE claim_id = $1 AND status = 'PENDING'`, [claimId]);
    const { rows } = await tx.query<{ total: number }>(`SELECT total_fen AS total FROM claims WHERE id = $1`, [claimId]);
    await recordAudit(tx, actor, { action: 'claim.approve', targetType: 'Claim', targetId: String(claimId), reason: note, details: { totalFen: rows[0]!.total } });
  });
}

export async function rejectClaim(db: pg.Pool, actor: Actor, scope: Scope, claimId: number, reason: string): Promise<void> {
  await inTransaction(db, async (tx) => {
    const claim = await lockClaim(tx, claimId, scope, 'input.claimId');
    const { rows: lines } = await tx.query<{ programme: Programme; payable: number }>(
      `SELECT programme, coalesce(adjusted_fen, amount_fen) AS payable FROM benefit_lines WHERE claim_id = $1`,
      [claimId],
    );
    const minus = (p: Programme) => lines.filter((l) => l.programme === p).reduce((sum, l) => sum + l.payable, 0);
    await tx.query(
      `UPDATE member_year_totals SET inpatient_fen = greatest(0, inpatient_fen - $3), critical_fen = greatest(0, critical_fen - $4),
              major_disease_fen = greatest(0, major_disease_fen - $5), out_of_pocket_fen = greatest(0, out_of_pocket_fen - $6),
              claims = greatest(0, claims - 1), updated_at = now()
        WHERE member_id = $1 AND plan_year = $2`,
      [claim.memberId, claim.planYear, minus('INPATIENT'), minus('CRITICAL'), minus('MAJOR_DISEASE'), claim.outOfPocketFen],
    );
    await tx.query(`UPDATE benefit_lines SET status = 'REJECTED' WHERE claim_id = $1`, [claimId]);
    await tx.query(`DELETE FROM disease_group_grants WHERE claim_id = $1`, [claimId]);
    await tx.query(
      `UPDATE claims SET status = 'REJECTED', decided_by = $2, decided_at = now(), decision_reason = $3, updated_at = now() WHERE id = $1`,
      [claimId, actor.subject, reason],
    );
    await recordAudit(tx, actor, {
      action: 'claim.reject', targetType: 'Claim', targetId: String(claimId), reason,
      details: { releasedFen: lines.reduce((sum, l) => sum + l.payable, 0) },
    });
  });
}

/** Returns the claim id of the adjusted line. */
export async function adjustClaimLine(db: pg.Pool, actor: Actor, scope: Scope, lineId: number, amountFen: number, reason: string): Promise<number> {
  if (!Number.isSafeInteger(amountFen) || amountFen < 0) throw invalid('input.amountFen', 'must be a whole number of fen, not negative');
  return inTransaction(db, async (tx) => {
    const { rows: [line] } = await tx.query<{ claimId: number }>(`SELECT claim_id AS "claimId" FROM benefit_lines WHERE id = $1`, [lineId]);
    if (!line) throw notFound('benefit line');
    const claim = await lockClaim(tx, line.claimId, scope, 'input.lineId');
    const { rows: [locked] } = await tx.query<{ programme: Programme; amountFen: number; payable: number }>(
      `SELECT programme, amount_fen AS "amountFen", coalesce(adjusted_fen, amount_fen) AS payable FROM benefit_lines WHERE id = $1 FOR UPDATE`,
      [lineId],
    );
    if (amountFen > locked!.amountFen) {
      throw invalid('input.amountFen', `must not exceed the computed amount ${locked!.amountFen} fen (adjustments only lower a line)`);
    }
    const column = TOTAL_COLUMNS[locked!.programme];
    await tx.query(
      `UPDATE member_year_totals SET ${column} = greatest(0, ${column} - $3), updated_at = now() WHERE member_id = $1 AND plan_year = $2`,
      [claim.memberId, claim.planYear, locked!.payable - amountFen],
    );
    await tx.query(
      `UPDATE benefit_lines SET adjusted_fen = $2, adjustment_reason = $3, adjusted_by = $4, adjusted_at = now() WHERE id = $1`,
      [lineId, amountFen, reason, actor.subject],
    );
    await tx.query(
      `UPDATE claims SET total_fen = (SELECT coalesce(sum(coalesce(adjusted_fen, amount_fen)), 0) FROM benefit_lines WHERE claim_id = $1),
              updated_at = now() WHERE id = $1`,
      [claim.id],
    );
    await recordAudit(tx, actor, {
      action: 'claim.adjust_line', targetType: 'BenefitLine', targetId: String(lineId), reason,
      details: { claimId: claim.id, programme: locked!.programme, computedFen: locked!.amountFen, fromFen: locked!.payable, toFen: amountFen },
    });
    return claim.id;
  });
}
