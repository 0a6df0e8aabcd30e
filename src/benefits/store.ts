import type { Queryable, Tx } from '../kernel/transaction.ts';
import { Params } from '../db/sql.ts';
import type { EnrolmentFacts, PlanYearTotals } from './rules/engine.ts';
import { SETTLEMENT_AMOUNT_FIELDS, type Programme, type RuleSet } from './rules/ruleSet.ts';
import {
  REVERSAL_DECIDER, type BenefitLineRow, type BenefitTotalsRow, type ClaimRow, type ClaimStatus, type LineStatus, type PendingSettlementRow,
  type RedecisionRow, type ReplayClaimRow, type ReversalOutcome, type RuleSetRow,
} from './model.ts';
import { groupBy, type Page } from '../kernel/page.ts';
import type { Scope } from '../kernel/scope.ts';
import { memberRowScopeSql, memberScopeSql } from '../db/scope.ts';
import { keysetSql, type Ordering } from '../db/keyset.ts';

/**
 * All SQL of the benefits domain. Reads for the API take the members' `Scope`: a unit operator sees
 * the claims of their unit's members, a member their own; others are never loaded. Functions that
 * lock rows or write take the deciding transaction (`tx: Tx`).
 */
export const CLAIM_COLUMNS = `c.id, c.settlement_id AS "settlementId", c.member_id AS "memberId", c.unit_id AS "unitId",
  c.enrolment_id AS "enrolmentId", c.plan_year AS "planYear", c.setl_time AS "setlTime", c.rule_set_id AS "ruleSetId",
  c.rule_set_version AS "ruleSetVersion", c.status, c.eligible, c.psn_part_amt AS "psnPartAmt",
  c.computed_total_fen AS "computedTotalFen", c.total_fen AS "totalFen", c.reasons, c.reason_codes AS "reasonCodes",
  c.warnings, c.out_of_pocket_fen AS "outOfPocketFen", c.decided_by AS "decidedBy", c.decided_at AS "decidedAt",
  c.decision_reason AS "decisionReason", c.adjusted_by AS "adjustedBy", c.created_at AS "createdAt", c.updated_at AS "updatedAt",
  coalesce((c.facts ->> 'contributionPaid')::boolean, false) AS "contributionCovered"`;

export const LINE_COLUMNS = `l.id, l.claim_id AS "claimId", l.programme, l.basis_fen AS "basisFen", l.ratio_bp AS "ratioBp",
  l.fixed_fen AS "fixedFen", l.before_caps_fen AS "beforeCapsFen", l.caps_hit AS "capsHit", l.amount_fen AS "amountFen",
  (SELECT f.code FROM funders f WHERE f.id = l.funder_id) AS funder,
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

/** Claims newest first, or by one of these fields (the API's ClaimOrderField). */
export const CLAIM_ORDER: Ordering<'DECIDED_AT' | 'TOTAL' | 'SETTLED_AT'> = {
  key: 'c.id',
  direction: 'DESC',
  fields: {
    DECIDED_AT: { sql: 'c.decided_at', kind: 'timestamp', nullable: true },
    TOTAL: { sql: 'c.total_fen', kind: 'integer' },
    SETTLED_AT: { sql: 'c.setl_time', kind: 'timestamp' },
  },
};

export async function listClaims(db: Queryable, scope: Scope, filter: ClaimFilter, page: Page): Promise<ClaimRow[]> {
  const p = new Params();
  const where = claimFilterSql(p, scope, filter);
  const keyset = keysetSql(p, CLAIM_ORDER, page);
  const { rows } = await db.query<ClaimRow>(
    `SELECT ${CLAIM_COLUMNS}${keyset.pageKey} FROM claims c WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
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
  const keyset = keysetSql(p, CLAIM_ORDER, page);
  const { rows } = await db.query<ClaimRow>(
    `SELECT page.* FROM unnest(${p.add(memberIds)}::bigint[]) AS parent(id)
     CROSS JOIN LATERAL (SELECT ${CLAIM_COLUMNS}${keyset.pageKey} FROM claims c WHERE c.member_id = parent.id AND ${where} AND ${keyset.where}
                          ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}) page`,
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
            coalesce(t.provincial_subsidy_fen, 0) AS "provincialSubsidyFen",
            coalesce(t.out_of_pocket_fen, 0) AS "outOfPocketFen", coalesce(t.claims, 0) AS claims
       FROM unnest($1::bigint[], $2::int[]) AS k(member_id, plan_year)
       LEFT JOIN member_year_totals t ON t.member_id = k.member_id AND t.plan_year = k.plan_year`,
    [keys.map((k) => k.memberId), keys.map((k) => k.planYear)],
  );
  const byKey = new Map(rows.map((r) => [`${r.memberId}:${r.planYear}`, r]));
  return keys.map((k) => byKey.get(`${k.memberId}:${k.planYear}`)!);
}

// ---- adjudication ----

/** The settlement's amount fields the rule engine reads (alias `s`), as one JSON object of fen. */
const AMOUNTS_SQL = `jsonb_build_object(${SETTLEMENT_AMOUNT_FIELDS.map((f) => `'${f}', s.${f}`).join(', ')})`;

/** The member-year totals column of each programme. */
const TOTAL_COLUMNS: Record<Programme, string> = {
  INPATIENT: 'inpatient_fen', CRITICAL: 'critical_fen', MAJOR_DISEASE: 'major_disease_fen', PROVINCIAL_SUBSIDY: 'provincial_subsidy_fen',
};

/** The member-year keys (alias `wanted`) of the matched settlements among `$1`. */
const WANTED_TOTALS_SQL = `SELECT DISTINCT s.member_id, e.plan_year FROM settlements s JOIN enrolments e ON e.id = s.enrolment_id
  WHERE s.id = ANY($1) AND s.status = 'MATCHED'`;

const TOTALS_COLUMNS = `t.member_id AS "memberId", t.plan_year AS "planYear", t.inpatient_fen AS "inpatientFen", t.critical_fen AS "criticalFen",
  t.major_disease_fen AS "majorDiseaseFen", t.provincial_subsidy_fen AS "provincialSubsidyFen", t.out_of_pocket_fen AS "outOfPocketFen", t.claims`;

/** Ensures and locks the member-year totals of the matched settlements among `ids`, in key order. */
export async function lockTotalsOfSettlements(tx: Tx, ids: readonly number[]): Promise<BenefitTotalsRow[]> {
  const { rows } = await tx.query<BenefitTotalsRow>(
    `WITH wanted AS (${WANTED_TOTALS_SQL})
     INSERT INTO member_year_totals AS t (member_id, plan_year)
     SELECT member_id, plan_year FROM wanted ORDER BY member_id, plan_year
     ON CONFLICT (member_id, plan_year) DO UPDATE SET updated_at = t.updated_at
     RETURNING ${TOTALS_COLUMNS}`,
    [ids],
  );
  return rows;
}

/**
 * Creates the member-year totals rows the matched settlements among `ids` do not have yet (all
 * zero, as a missing row reads), in a statement of its own: committed at once, a new row is not
 * held by the long transaction of one batch while another batch waits to lock it.
 */
export async function ensureTotalsOfSettlements(db: Queryable, ids: readonly number[]): Promise<void> {
  await db.query(
    // Only keys without a row reach ON CONFLICT: its check would wait for a transaction updating an existing row.
    `INSERT INTO member_year_totals (member_id, plan_year)
     SELECT member_id, plan_year FROM (${WANTED_TOTALS_SQL}) wanted
      WHERE NOT EXISTS (SELECT 1 FROM member_year_totals t WHERE t.member_id = wanted.member_id AND t.plan_year = wanted.plan_year)
      ORDER BY member_id, plan_year
     ON CONFLICT (member_id, plan_year) DO NOTHING`,
    [ids],
  );
}

/**
 * Locks, in key order, the member-year totals of the matched settlements among `ids` that no other
 * transaction holds; those held elsewhere are left out (SKIP LOCKED), not waited for.
 */
export async function lockFreeTotalsOfSettlements(tx: Tx, ids: readonly number[]): Promise<BenefitTotalsRow[]> {
  const { rows } = await tx.query<BenefitTotalsRow>(
    `SELECT ${TOTALS_COLUMNS}
       FROM member_year_totals t JOIN (${WANTED_TOTALS_SQL}) wanted USING (member_id, plan_year)
      ORDER BY t.member_id, t.plan_year
        FOR UPDATE OF t SKIP LOCKED`,
    [ids],
  );
  return rows;
}

/** A matched settlement still to adjudicate: a settlement without its claim, a reversal not applied yet. */
const UNADJUDICATED = `CASE s.kind WHEN 'SETTLEMENT' THEN NOT EXISTS (SELECT 1 FROM claims c WHERE c.settlement_id = s.id)
                        ELSE NOT EXISTS (SELECT 1 FROM claim_reversals r WHERE r.reversal_settlement_id = s.id) END`;

/**
 * The first day of the enrolment's (alias `e`) unbroken SPECIAL_DISEASE add-on (special_disease_since,
 * 0067) when that was after the enrolment chain's first day, else null (the general waiting period
 * covers it): EnrolmentFacts.specialDiseaseAddedOn, the same wherever the facts are read.
 */
const ADD_ON_ADDED_SQL = `CASE WHEN e.special_disease_since > e.first_enrolled_on THEN to_char(e.special_disease_since, 'YYYY-MM-DD') END`;

/** The settlement's (alias `s`) admission day (begndate) as the rules read it: SettlementFacts.admittedOn. */
const ADMITTED_ON_SQL = `to_char(s.begndate, 'YYYY-MM-DD')`;

/** A settlement (alias `s`) with its enrolment's facts (alias `e`) as `PendingSettlementRow`. */
const PENDING_COLUMNS = `s.id, s.kind, s.reverses_id AS "reversesId", s.member_id AS "memberId", s.unit_id AS "unitId",
  s.enrolment_id AS "enrolmentId", e.plan_year AS "planYear", e.plan, e.special_disease AS "specialDisease",
  e.first_enrolled_on AS "firstEnrolledOn", e.enrolled_on AS "enrolledOn", ${ADD_ON_ADDED_SQL} AS "specialDiseaseAddedOn",
  e.member_categories AS "memberCategories",
  (SELECT u.unit_type FROM units u WHERE u.id = s.unit_id) AS "unitType",
  (SELECT u.organisation_id FROM units u WHERE u.id = s.unit_id) AS "organisationId",
  s.med_type AS "medType", s.setl_time AS "setlTime", ${ADMITTED_ON_SQL} AS "admittedOn", s.diagnoses, ${AMOUNTS_SQL} AS amounts`;

/**
 * The matched settlements among `ids` without a claim, and matched reversals not yet applied, in
 * the order they are decided: settlement time, then id. The order is the settlements' own, not the
 * order their ids arrive in, so the same settlements split the caps the same way in any run.
 */
export async function pendingSettlements(tx: Tx, ids: readonly number[]): Promise<PendingSettlementRow[]> {
  const { rows } = await tx.query<PendingSettlementRow>(
    `SELECT ${PENDING_COLUMNS}
       FROM settlements s JOIN enrolments e ON e.id = s.enrolment_id
      WHERE s.id = ANY($1) AND s.status = 'MATCHED'
        AND ${UNADJUDICATED}
      ORDER BY s.setl_time, s.id`,
    [ids],
  );
  return rows;
}

/** The settlement of a claim with its enrolment's facts as they are now (re-decision). */
export async function settlementOfClaim(db: Queryable, claimId: number): Promise<PendingSettlementRow | null> {
  const { rows } = await db.query<PendingSettlementRow>(
    `SELECT ${PENDING_COLUMNS}
       FROM claims c JOIN settlements s ON s.id = c.settlement_id JOIN enrolments e ON e.id = s.enrolment_id
      WHERE c.id = $1 AND s.status = 'MATCHED'`,
    [claimId],
  );
  return rows[0] ?? null;
}

/** MATCHED settlements without a claim, and MATCHED reversals not yet applied, in id order (the sweeper). */
export async function unadjudicatedSettlementIds(db: Queryable, afterId: number, limit: number): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT s.id FROM settlements s
      WHERE s.status = 'MATCHED' AND s.id > $1
        AND ${UNADJUDICATED}
      ORDER BY s.id LIMIT $2`,
    [afterId, limit],
  );
  return rows.map((r) => r.id);
}

/** The disease groups each member was granted a first-diagnosis lump sum for, by member. */
export async function grantedDiseaseGroups(db: Queryable, memberIds: readonly number[]): Promise<Map<number, string[]>> {
  if (!memberIds.length) return new Map();
  const { rows } = await db.query<{ memberId: number; groups: string[] }>(
    `SELECT member_id AS "memberId", array_agg(disease_group ORDER BY disease_group) AS groups
       FROM disease_group_grants WHERE member_id = ANY($1) GROUP BY member_id`,
    [memberIds],
  );
  return new Map(rows.map((r) => [r.memberId, r.groups]));
}

/** A claim as adjudication decides it (its rule set known), with the facts and totals it was decided on. */
export type NewClaim = Pick<ClaimRow, 'settlementId' | 'memberId' | 'unitId' | 'enrolmentId' | 'planYear' | 'setlTime' | 'status'
  | 'eligible' | 'psnPartAmt' | 'totalFen' | 'reasons' | 'reasonCodes' | 'warnings' | 'outOfPocketFen'> & {
  ruleSetId: string;
  ruleSetVersion: number;
  facts: EnrolmentFacts;
  totalsBefore: PlanYearTotals;
  /** Who decided it (an automatic approval), or null while it waits or when it is ineligible. */
  decidedBy: string | null;
};

/**
 * decided_at of a claim the rules decide now, given its new status: null while it waits for review.
 * A claim the rules refuse (INELIGIBLE) is decided too, with no decider: its decision promise is kept.
 */
const decidedNowSql = (status: string) => `CASE WHEN ${status} = 'PENDING_REVIEW' THEN NULL ELSE now() END`;

/** Inserts the claims (a settlement that has one already is skipped); returns the new claim ids by settlement id. */
export async function insertClaims(tx: Tx, claims: readonly NewClaim[]): Promise<Map<number, number>> {
  const { rows } = await tx.query<{ id: number; settlementId: number }>(
    `INSERT INTO claims (settlement_id, member_id, unit_id, enrolment_id, plan_year, setl_time, rule_set_id, rule_set_version,
                         status, eligible, psn_part_amt, computed_total_fen, total_fen, reasons, reason_codes, warnings, facts,
                         totals_before, out_of_pocket_fen, decided_by, decided_at)
     SELECT settlement_id, member_id, unit_id, enrolment_id, plan_year, setl_time, rule_set_id, rule_set_version,
            status, eligible, psn_part_amt, total_fen, total_fen, reasons, reason_codes, warnings, facts,
            totals_before, out_of_pocket_fen, decided_by, ${decidedNowSql('status')}
       FROM jsonb_to_recordset($1::jsonb) AS r(settlement_id bigint, member_id bigint, unit_id bigint, enrolment_id bigint,
            plan_year int, setl_time timestamptz, rule_set_id text, rule_set_version int, status text, eligible boolean,
            psn_part_amt bigint, total_fen bigint, reasons text[], reason_codes text[], warnings text[], facts jsonb,
            totals_before jsonb, out_of_pocket_fen bigint, decided_by text)
     ON CONFLICT (settlement_id) DO NOTHING
     RETURNING id, settlement_id AS "settlementId"`,
    [JSON.stringify(claims.map((c) => ({
      settlement_id: c.settlementId, member_id: c.memberId, unit_id: c.unitId, enrolment_id: c.enrolmentId, plan_year: c.planYear,
      setl_time: c.setlTime.toISOString(), rule_set_id: c.ruleSetId, rule_set_version: c.ruleSetVersion, status: c.status,
      eligible: c.eligible, psn_part_amt: c.psnPartAmt, total_fen: c.totalFen, reasons: c.reasons, reason_codes: c.reasonCodes,
      warnings: c.warnings, facts: c.facts, totals_before: c.totalsBefore, out_of_pocket_fen: c.outOfPocketFen, decided_by: c.decidedBy,
    })))],
  );
  return new Map(rows.map((r) => [r.settlementId, r.id]));
}

/** A line as adjudication decides it: no adjustment or payment yet. */
export type NewBenefitLine = Omit<BenefitLineRow, 'id' | 'adjustedFen' | 'adjustmentReason' | 'adjustedBy' | 'adjustedAt' | 'paidAt'>;

/** Inserts the lines, each with its funder's id; a funder code with no funders row is a fault (rule sets naming one are refused). */
export async function insertBenefitLines(tx: Tx, lines: readonly NewBenefitLine[]): Promise<void> {
  if (!lines.length) return;
  const { rowCount } = await tx.query(
    `INSERT INTO benefit_lines (claim_id, programme, funder_id, basis_fen, ratio_bp, fixed_fen, before_caps_fen, caps_hit, amount_fen,
                                disease_groups, explanation, status)
     SELECT claim_id, programme, f.id, basis_fen, ratio_bp, fixed_fen, before_caps_fen, caps_hit, amount_fen, disease_groups, explanation, status
       FROM jsonb_to_recordset($1::jsonb) AS r(claim_id bigint, programme text, funder text, basis_fen bigint, ratio_bp int, fixed_fen bigint,
            before_caps_fen bigint, caps_hit text[], amount_fen bigint, disease_groups text[], explanation text, status text)
       JOIN funders f ON f.code = r.funder`,
    [JSON.stringify(lines.map((l) => ({
      claim_id: l.claimId, programme: l.programme, funder: l.funder, basis_fen: l.basisFen, ratio_bp: l.ratioBp, fixed_fen: l.fixedFen,
      before_caps_fen: l.beforeCapsFen, caps_hit: l.capsHit, amount_fen: l.amountFen, disease_groups: l.diseaseGroups,
      explanation: l.explanation, status: l.status,
    })))],
  );
  if (rowCount !== lines.length) {
    const missing = [...new Set(lines.map((l) => l.funder))].join(', ');
    throw new Error(`a benefit line names a funder with no funders row (one of ${missing})`);
  }
}

/** Grants the disease groups (a group a member holds already is skipped); returns how many were granted. */
export async function grantDiseaseGroups(tx: Tx, grants: readonly { memberId: number; diseaseGroup: string; claimId: number }[]): Promise<number> {
  if (!grants.length) return 0;
  const { rowCount } = await tx.query(
    `INSERT INTO disease_group_grants (member_id, disease_group, claim_id)
     SELECT member_id, disease_group, claim_id FROM jsonb_to_recordset($1::jsonb) AS r(member_id bigint, disease_group text, claim_id bigint)
     ON CONFLICT (member_id, disease_group) DO NOTHING`,
    [JSON.stringify(grants.map((g) => ({ member_id: g.memberId, disease_group: g.diseaseGroup, claim_id: g.claimId })))],
  );
  return rowCount ?? 0;
}

/** Stores the member-year totals (rows locked by `lockTotalsOfSettlements`). */
export async function writeTotals(tx: Tx, totals: readonly BenefitTotalsRow[]): Promise<void> {
  await tx.query(
    `UPDATE member_year_totals t SET inpatient_fen = r.i, critical_fen = r.c, major_disease_fen = r.m, provincial_subsidy_fen = r.p,
            out_of_pocket_fen = r.o, claims = r.claims, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS r(member_id bigint, plan_year int, i bigint, c bigint, m bigint, p bigint, o bigint, claims int)
      WHERE t.member_id = r.member_id AND t.plan_year = r.plan_year`,
    [JSON.stringify(totals.map((t) => ({
      member_id: t.memberId, plan_year: t.planYear, i: t.inpatientFen, c: t.criticalFen, m: t.majorDiseaseFen, p: t.provincialSubsidyFen,
      o: t.outOfPocketFen, claims: t.claims,
    })))],
  );
}

// ---- reversals ----

export interface ReversedClaim {
  id: number;
  status: ClaimStatus;
  outOfPocketFen: number;
  memberId: number;
  planYear: number;
}

/** The claim of a settlement, locked; null when the settlement has none. */
export async function lockClaimOfSettlement(tx: Tx, settlementId: number): Promise<ReversedClaim | null> {
  const { rows: [claim] } = await tx.query<ReversedClaim>(
    `SELECT id, status, out_of_pocket_fen AS "outOfPocketFen", member_id AS "memberId", plan_year AS "planYear"
       FROM claims WHERE settlement_id = $1 FOR UPDATE`,
    [settlementId],
  );
  return claim ?? null;
}

/** A CANCELLED claim without lines for a settlement reversed before it was adjudicated; returns its id. */
export async function insertClaimCancelledBeforeAdjudication(tx: Tx, reversal: PendingSettlementRow): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO claims (settlement_id, member_id, unit_id, enrolment_id, plan_year, setl_time, status, eligible, psn_part_amt,
                         computed_total_fen, total_fen, decided_by, decided_at, decision_reason)
     SELECT o.id, $2, $3, $4, $5, o.setl_time, 'CANCELLED', false, o.psn_part_amt, 0, 0, $7, now(),
            'reversed by settlement ' || $6 || ' before adjudication'
       FROM settlements o WHERE o.id = $1
     RETURNING id`,
    [reversal.reversesId, reversal.memberId, reversal.unitId, reversal.enrolmentId, reversal.planYear, reversal.id, REVERSAL_DECIDER],
  );
  return rows[0]!.id;
}

/** The lines of a claim, locked, with what each pays now. */
export async function lockLinesOfClaim(tx: Tx, claimId: number): Promise<{ id: number; programme: Programme; payable: number; status: LineStatus }[]> {
  const { rows } = await tx.query<{ id: number; programme: Programme; payable: number; status: LineStatus }>(
    `SELECT id, programme, coalesce(adjusted_fen, amount_fen) AS payable, status FROM benefit_lines WHERE claim_id = $1 ORDER BY id FOR UPDATE`,
    [claimId],
  );
  return rows;
}

/** A recovery from the member for each PAID line of the claim (what it pays now, when above 0). */
export async function insertRecoveriesOfPaidLines(tx: Tx, claimId: number, memberId: number, reversalSettlementId: number): Promise<void> {
  await tx.query(
    `INSERT INTO recoveries (benefit_line_id, claim_id, member_id, reversal_settlement_id, amount_fen)
     SELECT l.id, l.claim_id, $2, $3, coalesce(l.adjusted_fen, l.amount_fen) FROM benefit_lines l
      WHERE l.claim_id = $1 AND l.status = 'PAID' AND coalesce(l.adjusted_fen, l.amount_fen) > 0
     ON CONFLICT (benefit_line_id) DO NOTHING`,
    [claimId, memberId, reversalSettlementId],
  );
}

export async function cancelUnpaidLines(tx: Tx, claimId: number): Promise<void> {
  await tx.query(`UPDATE benefit_lines SET status = 'CANCELLED' WHERE claim_id = $1 AND status <> 'PAID'`, [claimId]);
}

/**
 * Cancels a claim for a reversal (claim_reversals records when). A decided claim keeps who decided it
 * and when: its payment came after that decision, and the figures count the decision on its day. One
 * still under review is closed by the reversal (REVERSAL_DECIDER, now).
 */
export async function cancelClaim(tx: Tx, claimId: number, reversalSettlementId: number): Promise<void> {
  await tx.query(
    `UPDATE claims SET status = 'CANCELLED',
            decided_by = CASE WHEN status = 'PENDING_REVIEW' THEN $3 ELSE decided_by END,
            decided_at = CASE WHEN status = 'PENDING_REVIEW' THEN now() ELSE decided_at END,
            decision_reason = 'reversed by settlement ' || $2, updated_at = now() WHERE id = $1`,
    [claimId, reversalSettlementId, REVERSAL_DECIDER],
  );
}

export async function insertClaimReversal(
  tx: Tx,
  reversal: { reversalSettlementId: number; claimId: number; outcome: ReversalOutcome; cancelledFen: number; recoveryFen: number },
): Promise<void> {
  await tx.query(
    `INSERT INTO claim_reversals (reversal_settlement_id, claim_id, outcome, cancelled_fen, recovery_fen) VALUES ($1, $2, $3, $4, $5)`,
    [reversal.reversalSettlementId, reversal.claimId, reversal.outcome, reversal.cancelledFen, reversal.recoveryFen],
  );
}

/** The first-diagnosis groups a claim holds granted. */
export async function grantsOfClaim(tx: Tx, claimId: number): Promise<string[]> {
  const { rows } = await tx.query<{ group: string }>(`SELECT disease_group AS "group" FROM disease_group_grants WHERE claim_id = $1 ORDER BY disease_group`, [claimId]);
  return rows.map((r) => r.group);
}

/** Releases the first-diagnosis grants a claim took (reversed or rejected: it no longer counts). */
export async function releaseDiseaseGroupGrants(tx: Tx, claimId: number): Promise<void> {
  await tx.query(`DELETE FROM disease_group_grants WHERE claim_id = $1`, [claimId]);
}

// ---- review ----

/**
 * The member and plan year of a claim within the caller's scope; null when there is none. The
 * member and its unit are locked (FOR SHARE) until the commit and the scope checked on the rows
 * locked, so a move (the member's to another unit, the unit's to another organisation) either
 * commits first, and the claim is out of the old scope, or waits.
 */
export async function claimInScope(tx: Tx, claimId: number, scope: Scope): Promise<{ memberId: number; planYear: number; status: ClaimStatus } | null> {
  const p = new Params();
  const { rows: [found] } = await tx.query<{ memberId: number; planYear: number; status: ClaimStatus }>(
    `SELECT c.member_id AS "memberId", c.plan_year AS "planYear", c.status
       FROM claims c JOIN members m ON m.id = c.member_id JOIN units u ON u.id = m.unit_id
      WHERE c.id = ${p.add(claimId)} AND ${memberScopeSql(p, scope, 'm', 'u')}
        FOR SHARE OF m, u`,
    p.values,
  );
  return found ?? null;
}

/** Locks a member-year totals row (taken before the claim: the order adjudication locks in). */
export async function lockMemberYear(tx: Tx, memberId: number, planYear: number): Promise<void> {
  await tx.query(`SELECT 1 FROM member_year_totals WHERE member_id = $1 AND plan_year = $2 FOR UPDATE`, [memberId, planYear]);
}

/**
 * Locks the claims of a member across plan years (a transaction advisory lock), taken by an approval
 * and a re-decision (which may approve: an upheld appeal, a fact that changed) after its member-year
 * and its claim: a claim sharing its stay with one of another plan year (a stay over 1 January) is
 * under no common member-year lock, so two approving the two at once would each read the other
 * still waiting, or refused.
 */
export async function lockMemberApprovals(tx: Tx, memberId: number): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('claim_approvals:' || $1::bigint, 0))`, [memberId]);
}

export interface ReviewedClaim {
  id: number;
  settlementId: number;
  memberId: number;
  planYear: number;
  status: ClaimStatus;
  outOfPocketFen: number;
  /** What its lines pay now (after any adjustment): the total a reviewer approves. */
  totalFen: number;
  /** Everyone who adjusted a line of the claim. */
  adjustedBy: string[];
}

export async function lockClaim(tx: Tx, claimId: number): Promise<ReviewedClaim> {
  const { rows: [claim] } = await tx.query<ReviewedClaim>(
    `SELECT id, settlement_id AS "settlementId", member_id AS "memberId", plan_year AS "planYear", status, out_of_pocket_fen AS "outOfPocketFen",
            total_fen AS "totalFen", adjusted_by AS "adjustedBy"
       FROM claims WHERE id = $1 FOR UPDATE`,
    [claimId],
  );
  return claim!;
}

/**
 * Who may not approve a claim alone, besides whoever adjusted a line of it (claims.adjusted_by): the
 * people who shaped what it pays before a reviewer saw it.
 */
export interface ApprovalBars {
  /** Everyone who set the targeted groups of its enrolment (enrolments.categories_set_by, migration 0057): the groups decide what the rules pay it. */
  categoriesSetBy: string[];
  /**
   * Everyone who entered or submitted the application it was settled from (applications.entered_by
   * and member_submitters, 0036 and 0063: a member's subject is the person): their figures are its
   * settlement; none for a stay from the platform's feed.
   */
  applicants: string[];
}

/** The ApprovalBars of each claim, in the order of `claimIds` (trigger claims_applicant_four_eyes, 0069, keeps the applicants' too). */
export async function approvalBarsOfClaims(db: Queryable, claimIds: readonly number[]): Promise<ApprovalBars[]> {
  const { rows } = await db.query<ApprovalBars & { claimId: number }>(
    `SELECT c.id AS "claimId", e.categories_set_by AS "categoriesSetBy", coalesce(a.entered_by || a.member_submitters, '{}') AS applicants
       FROM claims c JOIN enrolments e ON e.id = c.enrolment_id LEFT JOIN applications a ON a.settlement_id = c.settlement_id
      WHERE c.id = ANY($1::bigint[])`,
    [claimIds],
  );
  const byClaim = new Map(rows.map(({ claimId, ...bars }) => [claimId, bars]));
  return claimIds.map((id) => byClaim.get(id) ?? { categoriesSetBy: [], applicants: [] });
}

/** approvalBarsOfClaims of one claim. */
export async function approvalBarsOfClaim(tx: Tx, claimId: number): Promise<ApprovalBars> {
  return (await approvalBarsOfClaims(tx, [claimId]))[0]!;
}

/** The claim and its PENDING lines become APPROVED; returns the claim's total. */
export async function approveClaim(tx: Tx, claimId: number, decidedBy: string, note: string | null): Promise<number> {
  await tx.query(
    `UPDATE claims SET status = 'APPROVED', decided_by = $2, decided_at = now(), decision_reason = $3, updated_at = now() WHERE id = $1`,
    [claimId, decidedBy, note],
  );
  await tx.query(`UPDATE benefit_lines SET status = 'APPROVED' WHERE claim_id = $1 AND status = 'PENDING'`, [claimId]);
  const { rows } = await tx.query<{ total: number }>(`SELECT total_fen AS total FROM claims WHERE id = $1`, [claimId]);
  return rows[0]!.total;
}

/** A reviewer's adjustment of a line: the amount it was lowered to, why and by whom. */
export interface LineAdjustment {
  fen: number;
  reason: string;
  by: string;
}

/** What each line of a claim pays now, by programme, with the reviewer's adjustment when it has one. */
export async function payableLinesOfClaim(tx: Tx, claimId: number): Promise<{ programme: Programme; payable: number; adjustment: LineAdjustment | null }[]> {
  const { rows } = await tx.query<{ programme: Programme; payable: number; adjustment: LineAdjustment | null }>(
    `SELECT programme, coalesce(adjusted_fen, amount_fen) AS payable,
            CASE WHEN adjusted_fen IS NOT NULL THEN jsonb_build_object('fen', adjusted_fen, 'reason', adjustment_reason, 'by', adjusted_by) END AS adjustment
       FROM benefit_lines WHERE claim_id = $1`,
    [claimId],
  );
  return rows;
}

/** The id of each line of a claim, by programme. */
export async function lineIdsOfClaim(tx: Tx, claimId: number): Promise<Map<Programme, number>> {
  const { rows } = await tx.query<{ id: number; programme: Programme }>(`SELECT id, programme FROM benefit_lines WHERE claim_id = $1`, [claimId]);
  return new Map(rows.map((r) => [r.programme, r.id]));
}

/** Takes a claim out of its member-year totals: its amounts per programme, its out-of-pocket and its count. */
export async function releaseFromTotals(tx: Tx, memberId: number, planYear: number, released: PlanYearTotals): Promise<void> {
  await tx.query(
    `UPDATE member_year_totals SET inpatient_fen = greatest(0, inpatient_fen - $3), critical_fen = greatest(0, critical_fen - $4),
            major_disease_fen = greatest(0, major_disease_fen - $5), out_of_pocket_fen = greatest(0, out_of_pocket_fen - $6),
            provincial_subsidy_fen = greatest(0, provincial_subsidy_fen - $7), claims = greatest(0, claims - 1), updated_at = now()
      WHERE member_id = $1 AND plan_year = $2`,
    [memberId, planYear, released.INPATIENT, released.CRITICAL, released.MAJOR_DISEASE, released.outOfPocket, released.PROVINCIAL_SUBSIDY ?? 0],
  );
}

/** The claim and all its lines become REJECTED, with the reviewer and the reason. */
export async function rejectClaim(tx: Tx, claimId: number, decidedBy: string, reason: string): Promise<void> {
  await tx.query(`UPDATE benefit_lines SET status = 'REJECTED' WHERE claim_id = $1`, [claimId]);
  await releaseDiseaseGroupGrants(tx, claimId);
  await tx.query(
    `UPDATE claims SET status = 'REJECTED', decided_by = $2, decided_at = now(), decision_reason = $3, updated_at = now() WHERE id = $1`,
    [claimId, decidedBy, reason],
  );
}

/** The claim a benefit line belongs to; null when there is no such line. */
export async function claimOfLine(tx: Tx, lineId: number): Promise<number | null> {
  const { rows: [line] } = await tx.query<{ claimId: number }>(`SELECT claim_id AS "claimId" FROM benefit_lines WHERE id = $1`, [lineId]);
  return line?.claimId ?? null;
}

export async function lockLine(tx: Tx, lineId: number): Promise<{ programme: Programme; amountFen: number; payable: number }> {
  const { rows: [line] } = await tx.query<{ programme: Programme; amountFen: number; payable: number }>(
    `SELECT programme, amount_fen AS "amountFen", coalesce(adjusted_fen, amount_fen) AS payable FROM benefit_lines WHERE id = $1 FOR UPDATE`,
    [lineId],
  );
  return line!;
}

/**
 * A reviewer's adjustment of a line to `amountFen` (lower by `loweredFen` than it paid): the line
 * keeps its computed amount beside it, the member-year total of its programme drops by the
 * difference, the claim's total is summed again; a first-diagnosis line cut to 0 releases its groups.
 */
export async function adjustLine(
  tx: Tx,
  line: { id: number; claimId: number; programme: Programme; memberId: number; planYear: number },
  amountFen: number,
  loweredFen: number,
  reason: string,
  adjustedBy: string,
): Promise<void> {
  const column = TOTAL_COLUMNS[line.programme];
  await tx.query(
    `UPDATE member_year_totals SET ${column} = greatest(0, ${column} - $3), updated_at = now() WHERE member_id = $1 AND plan_year = $2`,
    [line.memberId, line.planYear, loweredFen],
  );
  await tx.query(
    `UPDATE benefit_lines SET adjusted_fen = $2, adjustment_reason = $3, adjusted_by = $4, adjusted_at = now() WHERE id = $1`,
    [line.id, amountFen, reason, adjustedBy],
  );
  await tx.query(
    `UPDATE claims SET total_fen = (SELECT coalesce(sum(coalesce(adjusted_fen, amount_fen)), 0) FROM benefit_lines WHERE claim_id = $1),
            updated_at = now() WHERE id = $1`,
    [line.claimId],
  );
  // A first-diagnosis lump sum cut to 0 pays nothing: as a line the caps cut to 0 (the rules), it
  // leaves the disease group open for the stay that confirms it.
  if (line.programme === 'MAJOR_DISEASE' && amountFen === 0) await releaseDiseaseGroupGrants(tx, line.claimId);
}

// ---- re-decision ----

/** A claim as re-decision reads it, locked: what it was decided on and what it pays. */
export interface RedecidedClaim {
  id: number;
  settlementId: number;
  memberId: number;
  planYear: number;
  status: ClaimStatus;
  reasonCodes: string[];
  totalFen: number;
  outOfPocketFen: number;
  /** The enrolment facts it was decided on. */
  facts: Partial<EnrolmentFacts>;
  /** The platform reversed (冲销) its settlement: a claim refused then stays refused. */
  reversed: boolean;
}

/** Who and which member-year a claim belongs to, unlocked (the member-year row is locked before the claim). */
export async function claimKey(db: Queryable, claimId: number): Promise<{ settlementId: number; memberId: number; unitId: number; planYear: number } | null> {
  const { rows } = await db.query<{ settlementId: number; memberId: number; unitId: number; planYear: number }>(
    `SELECT settlement_id AS "settlementId", member_id AS "memberId", unit_id AS "unitId", plan_year AS "planYear" FROM claims WHERE id = $1`,
    [claimId],
  );
  return rows[0] ?? null;
}

const REDECIDED_CLAIM_COLUMNS = `id, settlement_id AS "settlementId", member_id AS "memberId", plan_year AS "planYear", status,
  reason_codes AS "reasonCodes", total_fen AS "totalFen", out_of_pocket_fen AS "outOfPocketFen", facts,
  EXISTS (SELECT 1 FROM claim_reversals r WHERE r.claim_id = claims.id) AS reversed`;

/**
 * The claim as a re-decision reads it, null when there is none; `forUpdate`: locked until the
 * transaction ends (a re-decision), else read unlocked (what upholding would figure: redecide.ts `upholdFigures`).
 */
export async function claimForRedecision(db: Queryable, claimId: number, { forUpdate = false } = {}): Promise<RedecidedClaim | null> {
  const { rows } = await db.query<RedecidedClaim>(`SELECT ${REDECIDED_CLAIM_COLUMNS} FROM claims WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [claimId]);
  return rows[0] ?? null;
}

/** A claim still waiting for a reviewer, decided after another of its member-year (`waitingClaimsAfter`), with its rule set. */
export type WaitingClaim = RedecidedClaim & { ruleSetId: string; ruleSetVersion: number };

/**
 * The figured_seq of the claim whose id is `$1`: its place in the order its member-year's claims were
 * figured against the year (migration 0062). Not its id: a claim decided again keeps its id but is
 * figured after every claim the year counts then, and takes its place there.
 */
const FIGURED_SEQ_OF_CLAIM = `(SELECT f.figured_seq FROM claims f WHERE f.id = $1)`;

/**
 * The member-year's claims figured after `claimId` that still wait for a reviewer, the settlement not
 * reversed: locked, in the order they were figured (the caller holds the member-year's lock).
 */
export async function waitingClaimsAfter(tx: Tx, claimId: number, memberId: number, planYear: number): Promise<WaitingClaim[]> {
  const { rows } = await tx.query<WaitingClaim>(
    `SELECT ${REDECIDED_CLAIM_COLUMNS}, rule_set_id AS "ruleSetId", rule_set_version AS "ruleSetVersion"
       FROM claims
      WHERE member_id = $2 AND plan_year = $3 AND figured_seq > ${FIGURED_SEQ_OF_CLAIM} AND status = 'PENDING_REVIEW'
        AND NOT EXISTS (SELECT 1 FROM claim_reversals r WHERE r.claim_id = claims.id)
      ORDER BY figured_seq FOR UPDATE`,
    [claimId, memberId, planYear],
  );
  return rows;
}

/**
 * What the member-year's claims figured before `claimId` (waiting or approved) hold: their payable
 * lines and their out-of-pocket, the running totals that claim was figured after.
 */
export async function heldBefore(tx: Tx, claimId: number, memberId: number, planYear: number): Promise<{ lines: { programme: Programme; payable: number }[]; outOfPocketFen: number }> {
  const { rows } = await tx.query<{ lines: { programme: Programme; payable: number }[]; outOfPocketFen: number }>(
    `WITH earlier AS (SELECT id, out_of_pocket_fen FROM claims
                       WHERE member_id = $2 AND plan_year = $3 AND figured_seq < ${FIGURED_SEQ_OF_CLAIM} AND status IN ('PENDING_REVIEW', 'APPROVED'))
     SELECT coalesce((SELECT sum(out_of_pocket_fen) FROM earlier), 0)::bigint AS "outOfPocketFen",
            coalesce((SELECT jsonb_agg(jsonb_build_object('programme', l.programme, 'payable', coalesce(l.adjusted_fen, l.amount_fen)))
                        FROM benefit_lines l JOIN earlier e ON e.id = l.claim_id), '[]') AS lines`,
    [claimId, memberId, planYear],
  );
  return rows[0]!;
}

/** The lines of a claim as they were (kept in its re-decision history). */
export async function linesOfClaimForHistory(tx: Tx, claimId: number): Promise<{ programme: Programme; amountFen: number; adjustedFen: number | null; status: LineStatus }[]> {
  const { rows } = await tx.query<{ programme: Programme; amountFen: number; adjustedFen: number | null; status: LineStatus }>(
    `SELECT programme, amount_fen AS "amountFen", adjusted_fen AS "adjustedFen", status FROM benefit_lines WHERE claim_id = $1 ORDER BY id`,
    [claimId],
  );
  return rows;
}

/** A history row to write: the row as the API shows it, with the claim's lines as they were. */
export type NewRedecision = Omit<RedecisionRow, 'id' | 'decidedAt'> & { previousLines: unknown[] };

/** The history row of a re-decision; written before the claim changes (the claims trigger checks it). Returns its id. */
export async function insertRedecision(tx: Tx, r: NewRedecision): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO claim_redecisions (claim_id, cause, previous_status, previous_reason_codes, previous_total_fen, previous_lines,
                                    new_status, new_reason_codes, new_total_fen, rule_set_id, rule_set_version, decided_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
    [r.claimId, r.cause, r.previousStatus, r.previousReasonCodes, r.previousTotalFen, JSON.stringify(r.previousLines),
     r.newStatus, r.newReasonCodes, r.newTotalFen, r.ruleSetId, r.ruleSetVersion, r.decidedBy],
  );
  return rows[0]!.id;
}

/**
 * The claim decided again: its status, figures, reasons and the facts and totals it was decided on.
 * `figuredLast`: figured against the year as it stands, every claim counted, it takes the last place
 * in the year's order (figured_seq); figured again in its place, it keeps it.
 */
export async function updateRedecidedClaim(
  tx: Tx, claimId: number,
  c: Pick<NewClaim, 'status' | 'eligible' | 'totalFen' | 'reasons' | 'reasonCodes' | 'warnings' | 'outOfPocketFen' | 'ruleSetId' | 'ruleSetVersion'
    | 'facts' | 'totalsBefore' | 'decidedBy'> & { decisionReason: string; figuredLast: boolean },
): Promise<void> {
  await tx.query(
    `UPDATE claims SET status = $2, eligible = $3, computed_total_fen = $4, total_fen = $4, reasons = $5, reason_codes = $6, warnings = $7,
            out_of_pocket_fen = $8, rule_set_id = $9, rule_set_version = $10, facts = $11, totals_before = $12,
            decided_by = $13, decided_at = ${decidedNowSql('$2::text')}, decision_reason = $14, updated_at = now(),
            figured_seq = CASE WHEN $15::boolean THEN nextval('claims_figured_seq') ELSE figured_seq END
      WHERE id = $1`,
    [claimId, c.status, c.eligible, c.totalFen, c.reasons, c.reasonCodes, c.warnings, c.outOfPocketFen, c.ruleSetId, c.ruleSetVersion,
     JSON.stringify(c.facts), JSON.stringify(c.totalsBefore), c.decidedBy, c.decisionReason, c.figuredLast],
  );
}

/** Only the facts a claim was decided on (a fact changed but the decision did not). */
export async function updateClaimFacts(tx: Tx, claimId: number, facts: EnrolmentFacts): Promise<void> {
  await tx.query(`UPDATE claims SET facts = $2, updated_at = now() WHERE id = $1`, [claimId, JSON.stringify(facts)]);
}

/**
 * Removes the lines of a refused claim before its new ones are written (UNIQUE (claim_id,
 * programme)); they are kept in the history row. Lines that were paid or are in a payout never
 * belong to a refused claim; the guard keeps it so.
 */
export async function deleteRefusedLines(tx: Tx, claimId: number): Promise<void> {
  await tx.query(
    `DELETE FROM benefit_lines l WHERE l.claim_id = $1 AND l.status IN ('PENDING', 'REJECTED')
        AND NOT EXISTS (SELECT 1 FROM payout_lines pl WHERE pl.benefit_line_id = l.id)`,
    [claimId],
  );
}

/** Adds a re-decided claim's amounts to its member-year totals (row locked by the caller). */
export async function addToTotals(tx: Tx, memberId: number, planYear: number, added: PlanYearTotals & { claims: number }): Promise<void> {
  await tx.query(
    `UPDATE member_year_totals SET inpatient_fen = inpatient_fen + $3, critical_fen = critical_fen + $4,
            major_disease_fen = major_disease_fen + $5, out_of_pocket_fen = out_of_pocket_fen + $6, claims = claims + $7,
            provincial_subsidy_fen = provincial_subsidy_fen + $8, updated_at = now()
      WHERE member_id = $1 AND plan_year = $2`,
    [memberId, planYear, added.INPATIENT, added.CRITICAL, added.MAJOR_DISEASE, added.outOfPocket, added.claims, added.PROVINCIAL_SUBSIDY ?? 0],
  );
}

/** How many times a claim was decided again (tells apart its decisions in notifications). */
export async function redecisionCount(tx: Tx, claimId: number): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM claim_redecisions WHERE claim_id = $1`, [claimId]);
  return rows[0]!.n;
}

/** A refused claim's decided facts beside its enrolment now, with what picks its governing rule set. */
export interface RefusedClaimFacts {
  claimId: number;
  enrolmentId: number;
  planYear: number;
  organisationId: number;
  setlTime: Date;
  facts: Partial<EnrolmentFacts>;
  current: Omit<EnrolmentFacts, 'contributionPaid'>;
}

/**
 * INELIGIBLE claims refused for a fact that can change (`codes`), with the facts they were
 * decided on and the enrolment as it is now; `afterId` and `limit` page them (the sweeper).
 */
export async function refusedClaimsWithFacts(
  db: Queryable, codes: readonly string[], afterId: number, limit: number,
): Promise<RefusedClaimFacts[]> {
  const { rows } = await db.query<RefusedClaimFacts>(
    `SELECT c.id AS "claimId", e.id AS "enrolmentId", e.plan_year AS "planYear", c.facts, s.setl_time AS "setlTime",
            (SELECT u.organisation_id FROM units u WHERE u.id = s.unit_id) AS "organisationId",
            jsonb_build_object('planYear', e.plan_year, 'plan', e.plan, 'specialDisease', e.special_disease,
                               'firstEnrolledOn', to_char(e.first_enrolled_on, 'YYYY-MM-DD'), 'enrolledOn', to_char(e.enrolled_on, 'YYYY-MM-DD'),
                               'specialDiseaseAddedOn', ${ADD_ON_ADDED_SQL}) AS current
       FROM claims c JOIN settlements s ON s.id = c.settlement_id JOIN enrolments e ON e.id = s.enrolment_id
      WHERE c.status = 'INELIGIBLE' AND c.reason_codes && $1::text[] AND c.id > $2 AND s.status = 'MATCHED'
      ORDER BY c.id LIMIT $3`,
    [codes, afterId, limit],
  );
  return rows;
}

/** The re-decisions of each claim, oldest first. */
export async function redecisionsOfClaims(db: Queryable, claimIds: readonly number[]): Promise<RedecisionRow[][]> {
  const { rows } = await db.query<RedecisionRow>(
    `SELECT id, claim_id AS "claimId", cause, previous_status AS "previousStatus", previous_reason_codes AS "previousReasonCodes",
            previous_total_fen AS "previousTotalFen", new_status AS "newStatus", new_reason_codes AS "newReasonCodes",
            new_total_fen AS "newTotalFen", rule_set_id AS "ruleSetId", rule_set_version AS "ruleSetVersion",
            decided_by AS "decidedBy", decided_at AS "decidedAt"
       FROM claim_redecisions WHERE claim_id = ANY($1::bigint[]) ORDER BY id`,
    [claimIds],
  );
  const byClaim = groupBy(rows, (r) => r.claimId);
  return claimIds.map((id) => byClaim.get(id) ?? []);
}

// ---- rule sets ----

/**
 * Rule sets in PostgreSQL. The shipped JSON files (src/benefits/ruleSets/) are the source of truth
 * for the shipped sets and are inserted idempotently (`insertShippedRuleSets`); published versions
 * are added beside them and none is ever changed, so every claim can name the version it used. The
 * database holds it so (migration 0039): a version is never updated or deleted, and one not shipped
 * is inserted only beside the publication proposal another person approved.
 *
 * Which set governs a plan year: the rule set id assigned to the year in plan_year_rule_sets
 * (2025 -> default-2025), at its newest version covering the year; a year without an assignment
 * uses the most recently published set covering it; a year no set covers uses the most recently
 * published set of all, and the engine's warning ("covers plan years ..., not ...") sends the claim
 * to review.
 */
const RULE_SET_COLUMNS = `id AS "ruleSetId", version, plan_years AS "planYears", definition, shipped,
  published_at AS "publishedAt", published_by AS "publishedBy"`;

/**
 * Whether a version of rule set `id` was published outside `organisationId`'s subtree — by the hub's
 * own staff, shipped, or by an organisation not at or below it: then that organisation may not
 * publish the next version (it would change decisions outside its subtree).
 */
export async function ruleSetPublishedOutside(tx: Tx, id: string, organisationId: number): Promise<boolean> {
  const { rows } = await tx.query<{ outside: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM rule_sets rs LEFT JOIN organisations o ON o.id = rs.organisation_id
                     WHERE rs.id = $1 AND (o.id IS NULL OR NOT $2 = ANY(o.path))) AS outside`,
    [id, organisationId],
  );
  return rows[0]!.outside;
}

/** A stored version with the organisation whose staff published it (null: the hub's own staff, or shipped). */
export type PublishedRuleSetRow = RuleSetRow & { organisationId: number | null };

/**
 * Inserts the shipped rule sets that are missing. Returns the versions stored before under the
 * id and version of one of `sets`: the caller holds them against the files (catalogue.ts).
 */
export async function insertShippedRuleSets(db: Queryable, sets: readonly RuleSet[]): Promise<PublishedRuleSetRow[]> {
  // The statement's snapshot holds the versions stored before it, not those it inserts.
  const { rows } = await db.query<PublishedRuleSetRow>(
    `WITH shipped AS (SELECT r.id, r.version, r.definition FROM jsonb_to_recordset($1::jsonb) AS r(id text, version int, definition jsonb)),
          inserted AS (
            INSERT INTO rule_sets (id, version, plan_years, definition, shipped, published_by)
            SELECT s.id, s.version, ARRAY(SELECT jsonb_array_elements_text(s.definition -> 'planYears')::int), s.definition, true, 'shipped'
              FROM shipped s
            ON CONFLICT (id, version) DO NOTHING)
     SELECT ${RULE_SET_COLUMNS}, organisation_id AS "organisationId" FROM rule_sets WHERE (id, version) IN (SELECT id, version FROM shipped)`,
    [JSON.stringify(sets.map((rs) => ({ id: rs.id, version: rs.version, definition: rs })))],
  );
  return rows;
}

export async function listStoredRuleSets(db: Queryable, id?: string | null): Promise<RuleSetRow[]> {
  const { rows } = await db.query<RuleSetRow>(
    `SELECT ${RULE_SET_COLUMNS} FROM rule_sets WHERE ($1::text IS NULL OR id = $1) ORDER BY id, version`,
    [id ?? null],
  );
  return rows;
}

/** The given version, or the newest of `id` when version is null. */
export async function storedRuleSet(db: Queryable, id: string, version?: number | null): Promise<RuleSetRow | null> {
  const { rows } = await db.query<RuleSetRow>(
    `SELECT ${RULE_SET_COLUMNS} FROM rule_sets WHERE id = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1`,
    [id, version ?? null],
  );
  return rows[0] ?? null;
}

/** Stored rule sets by id and version, in one query (the rule sets that decided a page of claims). */
export async function ruleSetVersions(db: Queryable, keys: readonly { id: string; version: number }[]): Promise<(RuleSetRow | null)[]> {
  const { rows } = await db.query<RuleSetRow>(
    `SELECT ${RULE_SET_COLUMNS} FROM rule_sets WHERE (id, version) IN (SELECT * FROM unnest($1::text[], $2::int[]))`,
    [keys.map((k) => k.id), keys.map((k) => k.version)],
  );
  const byKey = new Map(rows.map((r) => [`${r.ruleSetId}:${r.version}`, r]));
  return keys.map((k) => byKey.get(`${k.id}:${k.version}`) ?? null);
}

/** The rule set governing each plan year (see above), by year. */
export async function ruleSetsForYears(db: Queryable, years: readonly number[]): Promise<Map<number, RuleSetRow>> {
  if (!years.length) return new Map();
  const { rows } = await db.query<RuleSetRow & { year: number }>(
    `SELECT y.year, r.* FROM unnest($1::int[]) AS y(year)
     CROSS JOIN LATERAL (
       SELECT ${RULE_SET_COLUMNS} FROM rule_sets rs
        LEFT JOIN plan_year_rule_sets a ON a.plan_year = y.year
        WHERE rs.organisation_id IS NULL -- an organisation's own versions govern only where assigned
        ORDER BY (a.rule_set_id = rs.id AND y.year = ANY(rs.plan_years)) IS TRUE DESC,
                 (y.year = ANY(rs.plan_years)) DESC, rs.published_at DESC, rs.version DESC, rs.id
        LIMIT 1) r`,
    [[...new Set(years)]],
  );
  return new Map(rows.map(({ year, ...row }) => [year, row]));
}

/** One lookup of the rule set governing claims: an organisation's plan year on a day (yyyy-MM-dd). */
export interface AssignmentKey {
  organisationId: number;
  planYear: number;
  on: string;
}

/**
 * The rule set version assigned to each key's organisation or, failing that, to the nearest
 * organisation above it (its path read leaf first), for the plan year, effective on or before the
 * day; among one organisation's assignments the latest effective_from wins. Null where none is.
 */
export async function assignedRuleSets(db: Queryable, keys: readonly AssignmentKey[]): Promise<(RuleSetRow | null)[]> {
  if (!keys.length) return [];
  const { rows } = await db.query<RuleSetRow & { i: number }>(
    `SELECT k.i::int AS i, r.* FROM unnest($1::bigint[], $2::int[], $3::date[]) WITH ORDINALITY AS k(organisation_id, plan_year, on_date, i)
       JOIN organisations o ON o.id = k.organisation_id
      CROSS JOIN LATERAL (
        SELECT ${RULE_SET_COLUMNS} FROM rule_sets
         WHERE (id, version) = (
           SELECT a.rule_set_id, a.rule_set_version FROM organisation_rule_sets a
            WHERE a.organisation_id = ANY(o.path) AND a.plan_year = k.plan_year AND a.effective_from <= k.on_date
            ORDER BY array_position(o.path, a.organisation_id) DESC, a.effective_from DESC, a.id DESC LIMIT 1)) r`,
    [keys.map((k) => k.organisationId), keys.map((k) => k.planYear), keys.map((k) => k.on)],
  );
  const byIndex = new Map(rows.map(({ i, ...row }) => [i, row]));
  return keys.map((_k, i) => byIndex.get(i + 1) ?? null);
}

/** The organisation a unit belongs to, or null when there is no such unit. */
export async function organisationOfUnit(db: Queryable, unitId: number): Promise<number | null> {
  return (await organisationsOfUnits(db, [unitId])).get(unitId) ?? null;
}

/** Each unit's organisation (absent: no such unit). */
export async function organisationsOfUnits(db: Queryable, unitIds: readonly number[]): Promise<Map<number, number>> {
  const { rows } = await db.query<{ unitId: number; organisationId: number }>(
    `SELECT id AS "unitId", organisation_id AS "organisationId" FROM units WHERE id = ANY($1::bigint[])`, [unitIds]);
  return new Map(rows.map((r) => [r.unitId, r.organisationId]));
}

/** Plan years each (id) is assigned to. */
export async function assignedYears(db: Queryable, ids: readonly string[]): Promise<Map<string, number[]>> {
  const { rows } = await db.query<{ id: string; years: number[] }>(
    `SELECT rule_set_id AS id, array_agg(plan_year ORDER BY plan_year) AS years FROM plan_year_rule_sets
      WHERE rule_set_id = ANY($1) GROUP BY rule_set_id`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.years]));
}

/** The next version of rule set `id`, locked until the transaction ends. */
export async function nextVersion(tx: Tx, id: string): Promise<number> {
  // The lock serialises publishers of one id: two publications can never take the same version.
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('rule_sets:' || $1))`, [id]);
  const { rows } = await tx.query<{ v: number }>(`SELECT coalesce(max(version), 0) + 1 AS v FROM rule_sets WHERE id = $1`, [id]);
  return rows[0]!.v;
}

/** A published version; `organisationId`: the organisation whose staff published it (null: the hub's own staff). */
export async function insertRuleSet(tx: Tx, ruleSet: RuleSet, publishedBy: string, organisationId: number | null = null): Promise<RuleSetRow> {
  const { rows } = await tx.query<RuleSetRow>(
    `INSERT INTO rule_sets (id, version, plan_years, definition, published_by, organisation_id) VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING ${RULE_SET_COLUMNS}`,
    [ruleSet.id, ruleSet.version, ruleSet.planYears, JSON.stringify(ruleSet), publishedBy, organisationId],
  );
  return rows[0]!;
}

// ---- replay ----

/**
 * The decided claims of a plan year (INELIGIBLE, PENDING_REVIEW, APPROVED; rejected and cancelled
 * ones count for nothing) with their settlements and what each line pays now, per member in the
 * order they were figured against the year (figured_seq; a claim decided again comes after those
 * it was decided again after).
 */
export async function decidedClaimsOfYear(db: Queryable, planYear: number, organisationId: number | null = null, limit?: number): Promise<ReplayClaimRow[]> {
  const p = new Params();
  const year = p.add(planYear);
  const subtree = organisationId === null ? 'true'
    : `EXISTS (SELECT 1 FROM units u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = c.unit_id AND ${p.add(organisationId)}::bigint = ANY(o.path))`;
  // One more than the limit tells the caller the year is too large.
  const limitSql = limit === undefined ? '' : `LIMIT ${p.add(limit + 1)}`;
  const { rows } = await db.query<ReplayClaimRow>(
    `SELECT c.id AS "claimId", c.settlement_id AS "settlementId", c.member_id AS "memberId", c.status, c.eligible, c.facts,
            jsonb_build_object('unitType', (SELECT u.unit_type FROM units u WHERE u.id = c.unit_id),
                               'memberCategories', (SELECT e.member_categories FROM enrolments e WHERE e.id = c.enrolment_id)) AS current,
            s.med_type AS "medType", s.setl_time AS "setlTime", ${ADMITTED_ON_SQL} AS "admittedOn", s.diagnoses,
            ${AMOUNTS_SQL} AS amounts,
            coalesce((SELECT jsonb_agg(jsonb_build_object('programme', l.programme, 'payable', coalesce(l.adjusted_fen, l.amount_fen),
                                                          'funder', (SELECT f.code FROM funders f WHERE f.id = l.funder_id)))
                        FROM benefit_lines l WHERE l.claim_id = c.id), '[]'::jsonb) AS lines
       FROM claims c JOIN settlements s ON s.id = c.settlement_id
      WHERE c.plan_year = ${year} AND c.status IN ('INELIGIBLE', 'PENDING_REVIEW', 'APPROVED') AND c.rule_set_id IS NOT NULL AND ${subtree}
      ORDER BY c.member_id, c.figured_seq ${limitSql}`,
    p.values,
  );
  return rows;
}

/** The disease groups each member was granted by claims of other plan years than `planYear`, by member. */
export async function diseaseGroupsGrantedOutside(db: Queryable, planYear: number): Promise<Map<number, string[]>> {
  const { rows } = await db.query<{ memberId: number; groups: string[] }>(
    `SELECT g.member_id AS "memberId", array_agg(g.disease_group) AS groups FROM disease_group_grants g
       JOIN claims c ON c.id = g.claim_id WHERE c.plan_year <> $1 GROUP BY g.member_id`,
    [planYear],
  );
  return new Map(rows.map((g) => [g.memberId, g.groups]));
}

// ---- payouts ----

// Payouts change these rows through the two functions below (benefits owns benefit_lines and recoveries).

/**
 * The lines a paid payout covered are PAID. A line whose claim was reversed while the payment was
 * on its way was paid all the same: it becomes a recovery from the member (docs/design.md, Default benefit rules, rule 5).
 */
export async function markPayoutLinesPaid(tx: Tx, payoutIds: readonly number[]): Promise<void> {
  if (payoutIds.length === 0) return;
  await lockClaimsOfPayouts(tx, payoutIds);
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
export async function unpayPayoutLines(tx: Tx, payoutId: number): Promise<void> {
  await lockClaimsOfPayouts(tx, [payoutId]);
  await tx.query(
    `UPDATE recoveries r SET status = 'RECOVERED'
       FROM payout_lines pl WHERE pl.payout_id = $1 AND r.benefit_line_id = pl.benefit_line_id AND r.status = 'OPEN'`,
    [payoutId],
  );
  await tx.query(
    `UPDATE benefit_lines l SET paid_at = NULL,
            status = CASE WHEN c.status = 'CANCELLED' THEN 'CANCELLED' ELSE 'APPROVED' END
       FROM payout_lines pl, claims c
      WHERE pl.payout_id = $1 AND l.id = pl.benefit_line_id AND c.id = l.claim_id AND l.status = 'PAID'`,
    [payoutId],
  );
}

/**
 * Locks (FOR SHARE, in id order) the claims the payouts' lines belong to. A reversal locks its claim
 * before its lines (adjudicate.ts): whoever comes second waits for the other to commit, and then
 * reads the claim as it is, not as it was when its statement began (an UPDATE that waited for a
 * line re-reads the line, never the claim it joined), so a claim reversed while its payout was paid
 * or returned gets, or keeps, the recovery it needs.
 */
async function lockClaimsOfPayouts(tx: Tx, payoutIds: readonly number[]): Promise<void> {
  await tx.query(
    `SELECT c.id FROM claims c
      WHERE c.id IN (SELECT l.claim_id FROM payout_lines pl JOIN benefit_lines l ON l.id = pl.benefit_line_id WHERE pl.payout_id = ANY($1::bigint[]))
      ORDER BY c.id FOR SHARE`,
    [payoutIds],
  );
}

/** Claims by status with their totals (the demo's and operators' overview). */
export async function claimTotalsByStatus(db: Queryable): Promise<{ status: ClaimStatus; claims: number; totalFen: number }[]> {
  const { rows } = await db.query<{ status: ClaimStatus; claims: number; totalFen: number }>(
    `SELECT status, count(*)::int AS claims, coalesce(sum(total_fen), 0)::bigint AS "totalFen" FROM claims GROUP BY status ORDER BY status`,
  );
  return rows;
}

/** The claims of a status with their totals, oldest first, up to `limit` (the demo's and the fault harness's reviewers approve the totals they read). */
export async function claimsWithStatus(db: Queryable, status: ClaimStatus, limit: number | null = null): Promise<{ id: number; totalFen: number }[]> {
  const { rows } = await db.query<{ id: number; totalFen: number }>(`SELECT id, total_fen AS "totalFen" FROM claims WHERE status = $1 ORDER BY id LIMIT $2`, [status, limit]);
  return rows;
}

/** Claims with at least one line paid. */
export async function paidClaimCount(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(DISTINCT claim_id)::int AS n FROM benefit_lines WHERE status = 'PAID'`);
  return rows[0]!.n;
}
