import type pg from 'pg';
import { inTransaction, type Queryable } from '../db/pool.ts';
import type { Actor } from '../audit/audit.ts';
import { contributionFigures } from '../members/store.ts';
import { contributionStatus } from '../members/contributions.ts';
import { AMOUNT_FIELDS } from '../settlements/model.ts';
import { evaluateBenefits, type BenefitResult, type EnrolmentFacts, type PlanYearTotals, type SettlementFacts } from './rules/engine.ts';
import type { Plan, Programme, RuleSet } from './rules/ruleSet.ts';
import { ensureShippedRuleSets, ruleSetOf, ruleSetsForYears } from './ruleSetStore.ts';
import { recordAudits, type AuditRow } from './auditBatch.ts';
import type { ClaimStatus } from './rows.ts';
import { formatChinaTime } from '../kernel/time.ts';

/**
 * The adjudication step: matched settlements in, claims with benefit lines out, in ONE transaction
 * per batch. The member-year totals rows of the batch are locked first (FOR UPDATE, in
 * (member_id, plan_year) order, so concurrent batches cannot deadlock), and only then is it decided
 * which settlements still need a claim: a batch holding a member's row sees every claim committed
 * for that member before, so two settlements of one member can never pass a cap together.
 * Idempotent: a settlement with a claim (a reversal with its claim_reversals row) is skipped.
 */
export interface AdjudicationOptions {
  /** Claims with a total at most this (and no warnings) are APPROVED; others wait in PENDING_REVIEW. */
  autoApproveMaxFen: number;
  actor?: Actor;
}

export interface AdjudicationOutcome {
  settlementId: number;
  claimId: number;
  /** The new claim's status; for a reversal, the status of the claim it cancelled (CANCELLED). */
  status: ClaimStatus;
  reversal: boolean;
  /** Whose claim, under which unit's enrolment (status-change announcements). */
  memberId: number;
  unitId: number;
}

/** A first-diagnosis grant taken meanwhile by a claim of another plan year: the batch is retried. */
export class GrantConflictError extends Error {}

export const ADJUDICATION_ACTOR: Actor = { subject: 'adjudication', role: 'SERVICE' };

export const TOTAL_COLUMNS: Record<Programme, string> = {
  INPATIENT: 'inpatient_fen', CRITICAL: 'critical_fen', MAJOR_DISEASE: 'major_disease_fen',
};

interface PendingSettlement {
  id: number;
  kind: 'SETTLEMENT' | 'REVERSAL';
  reversesId: number | null;
  memberId: number;
  unitId: number;
  enrolmentId: number;
  planYear: number;
  plan: Plan;
  specialDisease: boolean;
  firstEnrolledOn: string;
  medType: string;
  setlTime: Date;
  diagnoses: string[];
  amounts: Record<string, number | null>;
}

interface TotalsState extends PlanYearTotals {
  claims: number;
}

const key = (memberId: number, planYear: number) => `${memberId}:${planYear}`;

const parsedRuleSets = new Map<string, RuleSet>();

export async function adjudicateSettlements(db: pg.Pool, ids: readonly number[], options: AdjudicationOptions): Promise<AdjudicationOutcome[]> {
  if (!ids.length) return [];
  await ensureShippedRuleSets(db);
  return inTransaction(db, (tx) => adjudicateInTransaction(tx, ids, options));
}

export async function adjudicateInTransaction(tx: Queryable, ids: readonly number[], options: AdjudicationOptions): Promise<AdjudicationOutcome[]> {
  const actor = options.actor ?? ADJUDICATION_ACTOR;
  const totals = await lockTotals(tx, ids);
  if (!totals.size) return [];
  const pending = await pendingSettlements(tx, ids);
  if (!pending.length) return [];

  const settlements = pending.filter((s) => s.kind === 'SETTLEMENT');
  const reversals = pending.filter((s) => s.kind === 'REVERSAL');
  const memberIds = [...new Set(settlements.map((s) => s.memberId))];
  const paid = await contributionsPaid(tx, settlements);
  const prior = await priorGroups(tx, memberIds);
  const ruleSets = await ruleSetsByYear(tx, settlements.map((s) => s.planYear));

  // Decide each claim in settlement order, carrying each member-year's running totals along.
  const decided: { s: PendingSettlement; ruleSet: RuleSet; result: BenefitResult; status: ClaimStatus; facts: EnrolmentFacts; before: PlanYearTotals }[] = [];
  for (const s of settlements) {
    const state = totals.get(key(s.memberId, s.planYear))!;
    const ruleSet = ruleSets.get(s.planYear)!;
    const facts: EnrolmentFacts = {
      planYear: s.planYear, plan: s.plan, specialDisease: s.specialDisease, firstEnrolledOn: s.firstEnrolledOn,
      contributionPaid: paid.get(key(s.unitId, s.planYear)) ?? false,
    };
    const before: PlanYearTotals = { INPATIENT: state.INPATIENT, CRITICAL: state.CRITICAL, MAJOR_DISEASE: state.MAJOR_DISEASE, outOfPocket: state.outOfPocket };
    const groups = prior.get(s.memberId) ?? [];
    const result = evaluateBenefits(ruleSet, {
      settlement: settlementFacts(s), enrolment: facts, planYearTotals: before, priorDiseaseGroups: groups,
    });
    const status: ClaimStatus = !result.eligible ? 'INELIGIBLE'
      : result.warnings.length || result.totalFen > options.autoApproveMaxFen ? 'PENDING_REVIEW' : 'APPROVED';
    Object.assign(state, result.planYearTotalsAfter);
    state.claims += 1;
    if (result.diseaseGroupsGranted.length) prior.set(s.memberId, [...groups, ...result.diseaseGroupsGranted]);
    decided.push({ s, ruleSet, result, status, facts, before });
  }

  const audits: AuditRow[] = [];
  const outcomes: AdjudicationOutcome[] = [];
  if (decided.length) {
    const claimIds = await insertClaims(tx, decided.map(({ s, ruleSet, result, status, facts, before }) => ({
      settlement_id: s.id, member_id: s.memberId, unit_id: s.unitId, enrolment_id: s.enrolmentId, plan_year: s.planYear,
      setl_time: s.setlTime.toISOString(), rule_set_id: ruleSet.id, rule_set_version: ruleSet.version, status,
      eligible: result.eligible, psn_part_amt: s.amounts.psn_part_amt ?? 0, total_fen: result.totalFen,
      reasons: result.reasons, reason_codes: result.reasonCodes, warnings: result.warnings, facts, totals_before: before,
      out_of_pocket_fen: result.planYearTotalsAfter.outOfPocket - before.outOfPocket,
      decided_by: status === 'APPROVED' ? actor.subject : null,
    })));
    const lines: Record<string, unknown>[] = [];
    const decisions: [number, number, ClaimStatus, number, string, string[], number][] = [];
    const grants: { member_id: number; disease_group: string; claim_id: number }[] = [];
    decided.forEach(({ s, result, status, ruleSet }, i) => {
      const claimId = claimIds[i]!;
      for (const l of result.lines) {
        lines.push({
          claim_id: claimId, programme: l.programme, basis_fen: l.basisFen, ratio_bp: l.ratioBp, fixed_fen: l.fixedFen,
          before_caps_fen: l.computedFen, caps_hit: l.capsHit, amount_fen: l.amountFen, disease_groups: l.diseaseGroups ?? [],
          explanation: l.explanation, status: status === 'APPROVED' ? 'APPROVED' : 'PENDING',
        });
      }
      for (const group of result.diseaseGroupsGranted) grants.push({ member_id: s.memberId, disease_group: group, claim_id: claimId });
      outcomes.push({ settlementId: s.id, claimId, status, reversal: false, memberId: s.memberId, unitId: s.unitId });
      decisions.push([claimId, s.id, status, result.totalFen, `${ruleSet.id}@${ruleSet.version}`, result.reasonCodes, result.warnings.length]);
    });
    // One audit entry per batch names every claim decided with its facts (target_id lists the claim
    // ids): the audit chain takes one lock and one hash per transaction, not one per claim.
    audits.push({
      actor, action: 'claims.adjudicate', targetType: 'Claim', targetId: decisions.map((d) => d[0]).join(','),
      details: { fields: ['claimId', 'settlementId', 'status', 'totalFen', 'ruleSet', 'reasonCodes', 'warnings'], claims: decisions },
    });
    await insertLines(tx, lines);
    await insertGrants(tx, grants);
  }

  for (const r of reversals) {
    const outcome = await reverseClaim(tx, r, totals);
    outcomes.push(outcome.outcome);
    audits.push({ actor, action: 'claim.reverse', targetType: 'Claim', targetId: String(outcome.outcome.claimId), details: outcome.details });
  }

  await writeTotals(tx, totals);
  await recordAudits(tx, audits);
  return outcomes;
}

/** Ensures and locks the member-year totals of the matched settlements among `ids`, in key order. */
async function lockTotals(tx: Queryable, ids: readonly number[]): Promise<Map<string, TotalsState>> {
  const { rows } = await tx.query<{ memberId: number; planYear: number; i: number; c: number; m: number; o: number; claims: number }>(
    `WITH wanted AS (
       SELECT DISTINCT s.member_id, e.plan_year FROM settlements s JOIN enrolments e ON e.id = s.enrolment_id
        WHERE s.id = ANY($1) AND s.status = 'MATCHED')
     INSERT INTO member_year_totals AS t (member_id, plan_year)
     SELECT member_id, plan_year FROM wanted ORDER BY member_id, plan_year
     ON CONFLICT (member_id, plan_year) DO UPDATE SET updated_at = t.updated_at
     RETURNING t.member_id AS "memberId", t.plan_year AS "planYear", t.inpatient_fen AS i, t.critical_fen AS c,
               t.major_disease_fen AS m, t.out_of_pocket_fen AS o, t.claims`,
    [ids],
  );
  return new Map(rows.map((r) => [key(r.memberId, r.planYear), { INPATIENT: r.i, CRITICAL: r.c, MAJOR_DISEASE: r.m, outOfPocket: r.o, claims: r.claims }]));
}

/** The settlement's amount fields (alias `s`) as one JSON object of fen. */
export const AMOUNTS_SQL = `jsonb_build_object(${AMOUNT_FIELDS.map((f) => `'${f.field}', s.${f.field}`).join(', ')})`;

async function pendingSettlements(tx: Queryable, ids: readonly number[]): Promise<PendingSettlement[]> {
  const { rows } = await tx.query<PendingSettlement>(
    `SELECT s.id, s.kind, s.reverses_id AS "reversesId", s.member_id AS "memberId", s.unit_id AS "unitId",
            s.enrolment_id AS "enrolmentId", e.plan_year AS "planYear", e.plan, e.special_disease AS "specialDisease",
            e.first_enrolled_on AS "firstEnrolledOn", s.med_type AS "medType", s.setl_time AS "setlTime", s.diagnoses,
            ${AMOUNTS_SQL} AS amounts
       FROM settlements s JOIN enrolments e ON e.id = s.enrolment_id
      WHERE s.id = ANY($1) AND s.status = 'MATCHED'
        AND CASE s.kind WHEN 'SETTLEMENT' THEN NOT EXISTS (SELECT 1 FROM claims c WHERE c.settlement_id = s.id)
                        ELSE NOT EXISTS (SELECT 1 FROM claim_reversals r WHERE r.reversal_settlement_id = s.id) END
      ORDER BY s.id`,
    [ids],
  );
  return rows;
}

export function settlementFacts(s: Pick<PendingSettlement, 'id' | 'medType' | 'setlTime' | 'diagnoses' | 'amounts'>): SettlementFacts {
  return {
    setlId: String(s.id), medType: s.medType, setlTime: formatChinaTime(s.setlTime), diagnoses: s.diagnoses,
    amountsFen: s.amounts as SettlementFacts['amountsFen'],
  };
}

/** Whether each unit's contribution for the plan year is paid in full (keyed unitId:planYear). */
async function contributionsPaid(tx: Queryable, settlements: PendingSettlement[]): Promise<Map<string, boolean>> {
  const keys = [...new Map(settlements.map((s) => [key(s.unitId, s.planYear), { unitId: s.unitId, planYear: s.planYear }])).values()];
  if (!keys.length) return new Map();
  const figures = await contributionFigures(tx, keys);
  return new Map(keys.map((k, i) => [key(k.unitId, k.planYear), contributionStatus(figures[i]!.owedFen, figures[i]!.paidFen) === 'PAID']));
}

async function priorGroups(tx: Queryable, memberIds: number[]): Promise<Map<number, string[]>> {
  if (!memberIds.length) return new Map();
  const { rows } = await tx.query<{ memberId: number; groups: string[] }>(
    `SELECT member_id AS "memberId", array_agg(disease_group ORDER BY disease_group) AS groups
       FROM disease_group_grants WHERE member_id = ANY($1) GROUP BY member_id`,
    [memberIds],
  );
  return new Map(rows.map((r) => [r.memberId, r.groups]));
}

async function ruleSetsByYear(tx: Queryable, years: number[]): Promise<Map<number, RuleSet>> {
  const rows = await ruleSetsForYears(tx, years);
  const result = new Map<number, RuleSet>();
  for (const year of new Set(years)) {
    const row = rows.get(year);
    if (!row) throw new Error(`no rule set is stored (plan year ${year})`);
    const cacheKey = `${row.ruleSetId}@${row.version}`;
    let parsed = parsedRuleSets.get(cacheKey);
    if (!parsed) parsedRuleSets.set(cacheKey, (parsed = ruleSetOf(row)));
    result.set(year, parsed);
  }
  return result;
}

async function insertClaims(tx: Queryable, claims: Record<string, unknown>[]): Promise<number[]> {
  const { rows } = await tx.query<{ id: number; settlementId: number }>(
    `INSERT INTO claims (settlement_id, member_id, unit_id, enrolment_id, plan_year, setl_time, rule_set_id, rule_set_version,
                         status, eligible, psn_part_amt, computed_total_fen, total_fen, reasons, reason_codes, warnings, facts,
                         totals_before, out_of_pocket_fen, decided_by, decided_at)
     SELECT settlement_id, member_id, unit_id, enrolment_id, plan_year, setl_time, rule_set_id, rule_set_version,
            status, eligible, psn_part_amt, total_fen, total_fen, reasons, reason_codes, warnings, facts,
            totals_before, out_of_pocket_fen, decided_by, CASE WHEN decided_by IS NULL THEN NULL ELSE now() END
       FROM jsonb_to_recordset($1::jsonb) AS r(settlement_id bigint, member_id bigint, unit_id bigint, enrolment_id bigint,
            plan_year int, setl_time timestamptz, rule_set_id text, rule_set_version int, status text, eligible boolean,
            psn_part_amt bigint, total_fen bigint, reasons text[], reason_codes text[], warnings text[], facts jsonb,
            totals_before jsonb, out_of_pocket_fen bigint, decided_by text)
     ON CONFLICT (settlement_id) DO NOTHING
     RETURNING id, settlement_id AS "settlementId"`,
    [JSON.stringify(claims)],
  );
  // Under the member-year lock no other claim for these settlements can appear; if one did, roll back.
  if (rows.length !== claims.length) throw new Error('a claim for one of these settlements was stored concurrently; retrying the batch');
  const bySettlement = new Map(rows.map((r) => [r.settlementId, r.id]));
  return claims.map((c) => bySettlement.get(c.settlement_id as number)!);
}

async function insertLines(tx: Queryable, lines: Record<string, unknown>[]): Promise<void> {
  if (!lines.length) return;
  await tx.query(
    `INSERT INTO benefit_lines (claim_id, programme, basis_fen, ratio_bp, fixed_fen, before_caps_fen, caps_hit, amount_fen,
                                disease_groups, explanation, status)
     SELECT claim_id, programme, basis_fen, ratio_bp, fixed_fen, before_caps_fen, caps_hit, amount_fen, disease_groups, explanation, status
       FROM jsonb_to_recordset($1::jsonb) AS r(claim_id bigint, programme text, basis_fen bigint, ratio_bp int, fixed_fen bigint,
            before_caps_fen bigint, caps_hit text[], amount_fen bigint, disease_groups text[], explanation text, status text)`,
    [JSON.stringify(lines)],
  );
}

async function insertGrants(tx: Queryable, grants: { member_id: number; disease_group: string; claim_id: number }[]): Promise<void> {
  if (!grants.length) return;
  const { rowCount } = await tx.query(
    `INSERT INTO disease_group_grants (member_id, disease_group, claim_id)
     SELECT member_id, disease_group, claim_id FROM jsonb_to_recordset($1::jsonb) AS r(member_id bigint, disease_group text, claim_id bigint)
     ON CONFLICT (member_id, disease_group) DO NOTHING`,
    [JSON.stringify(grants)],
  );
  // Grants are per member across plan years; a claim of another year (another lock) took it first.
  if (rowCount !== grants.length) throw new GrantConflictError('a first-diagnosis grant was taken concurrently by another plan year; retrying the batch');
}

async function writeTotals(tx: Queryable, totals: Map<string, TotalsState>): Promise<void> {
  const rows = [...totals].map(([k, t]) => {
    const [memberId, planYear] = k.split(':').map(Number);
    return { member_id: memberId, plan_year: planYear, i: t.INPATIENT, c: t.CRITICAL, m: t.MAJOR_DISEASE, o: t.outOfPocket, claims: t.claims };
  });
  await tx.query(
    `UPDATE member_year_totals t SET inpatient_fen = r.i, critical_fen = r.c, major_disease_fen = r.m, out_of_pocket_fen = r.o,
            claims = r.claims, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS r(member_id bigint, plan_year int, i bigint, c bigint, m bigint, o bigint, claims int)
      WHERE t.member_id = r.member_id AND t.plan_year = r.plan_year`,
    [JSON.stringify(rows)],
  );
}

/**
 * A reversal cancels the claim of the settlement it reverses: unpaid lines are CANCELLED, a line
 * already PAID becomes a recovery; the claim's amounts and out-of-pocket leave the member-year
 * totals and its first-diagnosis grants are released (the settlement is void). A settlement reversed
 * before it was adjudicated gets a CANCELLED claim without lines (its own job then finds it done).
 */
async function reverseClaim(tx: Queryable, r: PendingSettlement, totals: Map<string, TotalsState>) {
  const { rows: [claim] } = await tx.query<{ id: number; status: ClaimStatus; outOfPocketFen: number; memberId: number; planYear: number }>(
    `SELECT id, status, out_of_pocket_fen AS "outOfPocketFen", member_id AS "memberId", plan_year AS "planYear"
       FROM claims WHERE settlement_id = $1 FOR UPDATE`,
    [r.reversesId],
  );
  const base = { reversalSettlementId: r.id, reversedSettlementId: r.reversesId };
  let claimId: number;
  let outcome: 'CANCELLED' | 'ALREADY_CANCELLED' | 'CANCELLED_BEFORE_ADJUDICATION';
  let cancelledFen = 0;
  let recoveryFen = 0;
  if (!claim) {
    const { rows } = await tx.query<{ id: number }>(
      `INSERT INTO claims (settlement_id, member_id, unit_id, enrolment_id, plan_year, setl_time, status, eligible, psn_part_amt,
                           computed_total_fen, total_fen, decided_by, decided_at, decision_reason)
       SELECT o.id, $2, $3, $4, $5, o.setl_time, 'CANCELLED', false, o.psn_part_amt, 0, 0, 'reversal', now(),
              'reversed by settlement ' || $6 || ' before adjudication'
         FROM settlements o WHERE o.id = $1
       RETURNING id`,
      [r.reversesId, r.memberId, r.unitId, r.enrolmentId, r.planYear, r.id],
    );
    claimId = rows[0]!.id;
    outcome = 'CANCELLED_BEFORE_ADJUDICATION';
  } else if (claim.status === 'CANCELLED' || claim.status === 'REJECTED') {
    claimId = claim.id;
    outcome = 'ALREADY_CANCELLED';
  } else {
    claimId = claim.id;
    outcome = 'CANCELLED';
    const { rows: lines } = await tx.query<{ id: number; programme: Programme; payable: number; status: string }>(
      `SELECT id, programme, coalesce(adjusted_fen, amount_fen) AS payable, status FROM benefit_lines WHERE claim_id = $1 ORDER BY id FOR UPDATE`,
      [claim.id],
    );
    const state = totals.get(key(claim.memberId, claim.planYear));
    if (!state) throw new Error(`member-year totals of claim ${claim.id} are not locked`);
    for (const line of lines) {
      state[line.programme] = Math.max(0, state[line.programme] - line.payable);
      if (line.status === 'PAID') recoveryFen += line.payable;
      else cancelledFen += line.payable;
    }
    state.outOfPocket = Math.max(0, state.outOfPocket - claim.outOfPocketFen);
    state.claims = Math.max(0, state.claims - 1);
    await tx.query(
      `INSERT INTO recoveries (benefit_line_id, claim_id, member_id, reversal_settlement_id, amount_fen)
       SELECT l.id, l.claim_id, $2, $3, coalesce(l.adjusted_fen, l.amount_fen) FROM benefit_lines l
        WHERE l.claim_id = $1 AND l.status = 'PAID' AND coalesce(l.adjusted_fen, l.amount_fen) > 0
       ON CONFLICT (benefit_line_id) DO NOTHING`,
      [claim.id, claim.memberId, r.id],
    );
    await tx.query(`UPDATE benefit_lines SET status = 'CANCELLED' WHERE claim_id = $1 AND status <> 'PAID'`, [claim.id]);
    await tx.query(`DELETE FROM disease_group_grants WHERE claim_id = $1`, [claim.id]);
    await tx.query(
      `UPDATE claims SET status = 'CANCELLED', decided_by = 'reversal', decided_at = now(),
              decision_reason = 'reversed by settlement ' || $2, updated_at = now() WHERE id = $1`,
      [claim.id, r.id],
    );
  }
  await tx.query(
    `INSERT INTO claim_reversals (reversal_settlement_id, claim_id, outcome, cancelled_fen, recovery_fen) VALUES ($1, $2, $3, $4, $5)`,
    [r.id, claimId, outcome, cancelledFen, recoveryFen],
  );
  return {
    outcome: { settlementId: r.id, claimId, status: 'CANCELLED' as ClaimStatus, reversal: true, memberId: r.memberId, unitId: r.unitId },
    details: { ...base, outcome, cancelledFen, recoveryFen },
  };
}

/** MATCHED settlements without a claim, and MATCHED reversals not yet applied, in id order (the sweeper). */
export async function unadjudicatedSettlementIds(db: Queryable, afterId: number, limit: number): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT s.id FROM settlements s
      WHERE s.status = 'MATCHED' AND s.id > $1
        AND CASE s.kind WHEN 'SETTLEMENT' THEN NOT EXISTS (SELECT 1 FROM claims c WHERE c.settlement_id = s.id)
                        ELSE NOT EXISTS (SELECT 1 FROM claim_reversals r WHERE r.reversal_settlement_id = s.id) END
      ORDER BY s.id LIMIT $2`,
    [afterId, limit],
  );
  return rows.map((r) => r.id);
}
