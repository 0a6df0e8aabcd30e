import type { Queryable, Tx } from '../kernel/transaction.ts';
import { Params } from '../db/sql.ts';
import { memberRowScopeSql, type Scope } from '../members/store.ts';
import type { Programme } from './rules/ruleSet.ts';
import type { BenefitLineRow, BenefitTotalsRow, ClaimRow, ClaimStatus } from './rows.ts';
import { groupBy, type Page } from '../kernel/page.ts';

/**
 * SQL of the benefits domain (reads). Every read takes the members' `Scope`: a unit operator sees
 * the claims of their unit's members, a member their own; others are never loaded.
 */
export const CLAIM_COLUMNS = `c.id, c.settlement_id AS "settlementId", c.member_id AS "memberId", c.unit_id AS "unitId",
  c.enrolment_id AS "enrolmentId", c.plan_year AS "planYear", c.setl_time AS "setlTime", c.rule_set_id AS "ruleSetId",
  c.rule_set_version AS "ruleSetVersion", c.status, c.eligible, c.psn_part_amt AS "psnPartAmt",
  c.computed_total_fen AS "computedTotalFen", c.total_fen AS "totalFen", c.reasons, c.reason_codes AS "reasonCodes",
  c.warnings, c.out_of_pocket_fen AS "outOfPocketFen", c.decided_by AS "decidedBy", c.decided_at AS "decidedAt",
  c.decision_reason AS "decisionReason", c.created_at AS "createdAt", c.updated_at AS "updatedAt"`;

export const LINE_COLUMNS = `l.id, l.claim_id AS "claimId", l.programme, l.basis_fen AS "basisFen", l.ratio_bp AS "ratioBp",
  l.fixed_fen AS "fixedFen", l.before_caps_fen AS "beforeCapsFen", l.caps_hit AS "capsHit", l.amount_fen AS "amountFen",
  l.adjusted_fen AS "adjustedFen", l.adjustment_reason AS "adjustmentReason", l.adjusted_by AS "adjustedBy",
  l.adjusted_at AS "adjustedAt", l.disease_groups AS "diseaseGroups", l.explanation, l.status, l.paid_at AS "paidAt"`;

export interface ClaimFilter {
  status?: ClaimStatus | null;
  memberId?: number | null;
  unitId?: number | null;
  programme?: Programme | null;
  minTotalFen?: number | null;
  maxTotalFen?: number | null;
  /** China dates, inclusive. */
  settledFrom?: string | null;
  settledTo?: string | null;
  planYear?: number | null;
}

function claimFilterSql(p: Params, scope: Scope, f: ClaimFilter): string {
  const where = [memberRowScopeSql(p, scope, 'c')];
  if (f.status) where.push(`c.status = ${p.add(f.status)}`);
  if (f.memberId != null) where.push(`c.member_id = ${p.add(f.memberId)}`);
  if (f.unitId != null) where.push(`c.unit_id = ${p.add(f.unitId)}`);
  if (f.programme) {
    where.push(`EXISTS (SELECT 1 FROM benefit_lines l WHERE l.claim_id = c.id AND l.programme = ${p.add(f.programme)}
                          AND coalesce(l.adjusted_fen, l.amount_fen) > 0)`);
  }
  if (f.minTotalFen != null) where.push(`c.total_fen >= ${p.add(f.minTotalFen)}`);
  if (f.maxTotalFen != null) where.push(`c.total_fen <= ${p.add(f.maxTotalFen)}`);
  if (f.settledFrom) where.push(`c.setl_time >= (${p.add(f.settledFrom)}::date::timestamp AT TIME ZONE 'Asia/Shanghai')`);
  if (f.settledTo) where.push(`c.setl_time < ((${p.add(f.settledTo)}::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')`);
  if (f.planYear != null) where.push(`c.plan_year = ${p.add(f.planYear)}`);
  return where.join(' AND ');
}

export async function claimsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<ClaimRow[]> {
  const p = new Params();
  const { rows } = await db.query<ClaimRow>(
    `SELECT ${CLAIM_COLUMNS} FROM claims c WHERE c.id = ANY(${p.add(ids)}) AND ${memberRowScopeSql(p, scope, 'c')}`,
    p.values,
  );
  return rows;
}

export async function claimsOfSettlements(db: Queryable, settlementIds: readonly number[], scope: Scope): Promise<(ClaimRow | null)[]> {
  const p = new Params();
  const { rows } = await db.query<ClaimRow>(
    `SELECT ${CLAIM_COLUMNS} FROM claims c WHERE c.settlement_id = ANY(${p.add(settlementIds)}) AND ${memberRowScopeSql(p, scope, 'c')}`,
    p.values,
  );
  const bySettlement = new Map(rows.map((r) => [r.settlementId, r]));
  return settlementIds.map((id) => bySettlement.get(id) ?? null);
}

/** Newest first (id descending); the cursor is the last id seen. */
export async function listClaims(db: Queryable, scope: Scope, filter: ClaimFilter, page: Page): Promise<ClaimRow[]> {
  const p = new Params();
  const where = claimFilterSql(p, scope, filter);
  const after = page.afterKey === null ? '' : `AND c.id < ${p.add(page.afterKey)}`;
  const { rows } = await db.query<ClaimRow>(
    `SELECT ${CLAIM_COLUMNS} FROM claims c WHERE ${where} ${after} ORDER BY c.id DESC LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countClaims(db: Queryable, scope: Scope, filter: ClaimFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM claims c WHERE ${claimFilterSql(p, scope, filter)}`, p.values);
  return rows[0]!.n;
}

/** One page of claims for each of several members, in one query. */
export async function claimsOfMembers(db: Queryable, memberIds: number[], scope: Scope, filter: ClaimFilter, page: Page): Promise<Map<number, ClaimRow[]>> {
  const p = new Params();
  const where = claimFilterSql(p, scope, filter);
  const after = page.afterKey === null ? '' : `AND c.id < ${p.add(page.afterKey)}`;
  const { rows } = await db.query<ClaimRow>(
    `SELECT page.* FROM unnest(${p.add(memberIds)}::bigint[]) AS parent(id)
     CROSS JOIN LATERAL (SELECT ${CLAIM_COLUMNS} FROM claims c WHERE c.member_id = parent.id AND ${where} ${after}
                          ORDER BY c.id DESC LIMIT ${p.add(page.limit)}) page`,
    p.values,
  );
  return groupBy(rows, (r) => r.memberId);
}

export async function linesOfClaims(db: Queryable, claimIds: readonly number[]): Promise<BenefitLineRow[][]> {
  const { rows } = await db.query<BenefitLineRow>(`SELECT ${LINE_COLUMNS} FROM benefit_lines l WHERE l.claim_id = ANY($1) ORDER BY l.id`, [claimIds]);
  const byClaim = groupBy(rows, (r) => r.claimId);
  return claimIds.map((id) => byClaim.get(id) ?? []);
}

/** Lines by id, only where their claim is in scope. */
export async function linesByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<BenefitLineRow[]> {
  const p = new Params();
  const { rows } = await db.query<BenefitLineRow>(
    `SELECT ${LINE_COLUMNS} FROM benefit_lines l JOIN claims c ON c.id = l.claim_id
      WHERE l.id = ANY(${p.add(ids)}) AND ${memberRowScopeSql(p, scope, 'c')}`,
    p.values,
  );
  return rows;
}

export async function memberYearTotals(db: Queryable, keys: readonly { memberId: number; planYear: number }[]): Promise<BenefitTotalsRow[]> {
  const { rows } = await db.query<BenefitTotalsRow>(
    `SELECT k.member_id AS "memberId", k.plan_year AS "planYear", coalesce(t.inpatient_fen, 0) AS "inpatientFen",
            coalesce(t.critical_fen, 0) AS "criticalFen", coalesce(t.major_disease_fen, 0) AS "majorDiseaseFen",
            coalesce(t.out_of_pocket_fen, 0) AS "outOfPocketFen", coalesce(t.claims, 0) AS claims
       FROM unnest($1::bigint[], $2::int[]) AS k(member_id, plan_year)
       LEFT JOIN member_year_totals t ON t.member_id = k.member_id AND t.plan_year = k.plan_year`,
    [keys.map((k) => k.memberId), keys.map((k) => k.planYear)],
  );
  const byKey = new Map(rows.map((r) => [`${r.memberId}:${r.planYear}`, r]));
  return keys.map((k) => byKey.get(`${k.memberId}:${k.planYear}`)!);
}

// Payouts change these rows through the two functions below (benefits owns benefit_lines and recoveries).

/**
 * The lines a paid payout covered are PAID. A line whose claim was reversed while the payment was
 * on its way was paid all the same: it becomes a recovery from the member (docs/design.md, Default benefit rules, rule 5).
 */
export async function markPayoutLinesPaid(tx: Tx, payoutIds: readonly number[]): Promise<void> {
  if (payoutIds.length === 0) return;
  const { rows } = await tx.query<{ lineId: number; cancelled: boolean }>(
    `UPDATE benefit_lines l SET status = 'PAID', paid_at = now()
       FROM payout_lines pl, claims c
      WHERE pl.payout_id = ANY($1::bigint[]) AND l.id = pl.benefit_line_id AND c.id = l.claim_id AND l.status IN ('APPROVED', 'CANCELLED')
     RETURNING l.id AS "lineId", c.status = 'CANCELLED' AS cancelled`,
    [payoutIds],
  );
  const reversed = rows.filter((r) => r.cancelled);
  if (reversed.length === 0) return;
  await tx.query(
    `INSERT INTO recoveries (benefit_line_id, claim_id, member_id, reversal_settlement_id, amount_fen)
     SELECT l.id, l.claim_id, c.member_id, r.reversal_settlement_id, pl.amount_fen
       FROM benefit_lines l JOIN claims c ON c.id = l.claim_id JOIN payout_lines pl ON pl.benefit_line_id = l.id
       JOIN claim_reversals r ON r.claim_id = c.id
      WHERE l.id = ANY($1::bigint[])
     ON CONFLICT (benefit_line_id) DO NOTHING`,
    [reversed.map((r) => r.lineId)],
  );
}

/** The lines a returned payout paid are owed again; where the claim was reversed meanwhile, nothing is owed and its recovery is moot. */
export async function unpayPayoutLines(db: Queryable, payoutId: number): Promise<void> {
  await db.query(
    `UPDATE recoveries r SET status = 'RECOVERED'
       FROM payout_lines pl WHERE pl.payout_id = $1 AND r.benefit_line_id = pl.benefit_line_id AND r.status = 'OPEN'`,
    [payoutId],
  );
  await db.query(
    `UPDATE benefit_lines l SET paid_at = NULL,
            status = CASE WHEN c.status = 'CANCELLED' THEN 'CANCELLED' ELSE 'APPROVED' END
       FROM payout_lines pl, claims c
      WHERE pl.payout_id = $1 AND l.id = pl.benefit_line_id AND c.id = l.claim_id AND l.status = 'PAID'`,
    [payoutId],
  );
}
