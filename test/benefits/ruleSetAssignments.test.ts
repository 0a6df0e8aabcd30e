import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { governingRuleSet } from '../../src/benefits/governing.ts';
import {
  approveRuleSetProposal, proposalWhatIf, proposeRuleSet, proposeRuleSetAssignment, rejectRuleSetProposal,
} from '../../src/benefits/ruleSetProposals.ts';
import { evaluateBenefits, ZERO_TOTALS, type PlanYearTotals } from '../../src/benefits/rules/engine.ts';
import { validateRuleSet, type RuleSet } from '../../src/benefits/rules/ruleSet.ts';
import { UNSCOPED, type Scope } from '../../src/kernel/scope.ts';
import type { Actor } from '../../src/audit/audit.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { enrolment, fen, settlement } from './support.ts';
import { claimOf, payContribution, seedEnrolment, seedMember, seedSettlement, seedUnit, type MemberSetup } from './seed.ts';

/**
 * Rule sets per organisation and plan year, through the four-eyes path and adjudication: Fujian
 * (province) → Quanzhou (city) → Jinjiang (county) in plan year 2026, Quanzhou and Jinjiang each with
 * their own rule set (the example files), a provincial subsidy paid by the province's funder.
 */
let db: TestDatabase;
const cache = new RuleSetCache();
const adminA: Actor = { subject: 'admin-a', role: 'ADMIN' };
const adminB: Actor = { subject: 'admin-b', role: 'ADMIN' };
const example = (name: string) => JSON.parse(readFileSync(new URL(`../../src/benefits/ruleSets/examples/${name}.json`, import.meta.url), 'utf8'));
const parsed = (json: unknown): RuleSet => {
  const checked = validateRuleSet(json);
  if (!checked.ok) throw new Error('example rule set is invalid');
  return checked.ruleSet;
};
const OPTIONS = { autoApproveMaxFen: fen('1,000,000.00'), ruleSets: cache };
/** The published Jinjiang case (docs/design.md). */
const CASE = { psn: '136,700.00', ownpay: '52,700.00', funds: '106,500.00', diagnoses: ['I34.0'] };
const org: Record<'FJ' | 'QZ' | 'JJ', number> = { FJ: 0, QZ: 0, JJ: 0 };

async function organisation(code: string, level: string, parentId: number | null): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ($1, $1, $2, $3, 'test') RETURNING id`, [code, level, parentId],
  );
  return rows[0]!.id;
}

async function member(organisationId: number, unitType: string, year = 2026, plan: 'PUBLIC' | 'PRIVATE' = 'PRIVATE'): Promise<MemberSetup> {
  const unit = await seedUnit(db.pool, plan, organisationId);
  // A unit's type changes only with a terms change a second person confirmed, in that transaction (four eyes, migration 0058).
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO unit_terms_changes (unit_id, unit_type, reason, proposed_by) VALUES ($1, $2, 'test set-up', 'test-proposer')`, [unit.id, unitType]);
    await client.query(`UPDATE unit_terms_changes SET status = 'CONFIRMED', confirmed_by = 'test-confirmer' WHERE unit_id = $1 AND status = 'PROPOSED'`, [unit.id]);
    await client.query(`UPDATE units SET unit_type = $2 WHERE id = $1`, [unit.id, unitType]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
  const memberId = await seedMember(db.pool, unit.id);
  const enrolmentId = await seedEnrolment(db.pool, memberId, unit.id, { year, plan, specialDisease: true });
  await payContribution(db.pool, unit.id, year);
  return { unitId: unit.id, creditCode: unit.creditCode, memberId, enrolmentId };
}

/** The organisation's own ADMINs' scope: a rule set naming the province's fund is published by an organisation below it, not hub-wide. */
const staffOf = (organisationId: number): Scope => ({ unitId: null, memberId: null, organisationId });

/** Published by the organisation's ADMINs: proposed by admin-a, approved by admin-b. */
async function published(organisationId: number, definition: Record<string, unknown>) {
  const proposal = await proposeRuleSet(db.pool, cache, adminA, staffOf(organisationId), { definition, note: 'test' });
  return approveRuleSetProposal(db.pool, cache, adminB, staffOf(organisationId), { proposalId: proposal.id });
}

async function assigned(organisationId: number, ruleSetId: string, version: number, effectiveFrom: string) {
  const proposal = await proposeRuleSetAssignment(db.pool, cache, adminA, UNSCOPED, { organisationId, planYear: 2026, ruleSetId, version, effectiveFrom });
  return approveRuleSetProposal(db.pool, cache, adminB, UNSCOPED, { proposalId: proposal.id });
}

async function linesOf(settlementId: number) {
  const { rows } = await db.pool.query<{ programme: string; funder: string; amountFen: number }>(
    `SELECT l.programme, f.code AS funder, l.amount_fen AS "amountFen" FROM benefit_lines l JOIN claims c ON c.id = l.claim_id
       JOIN funders f ON f.id = l.funder_id WHERE c.settlement_id = $1 ORDER BY l.id`, [settlementId],
  );
  return rows;
}

beforeAll(async () => {
  db = await freshDatabase();
  org.FJ = await organisation('FJ', 'PROVINCE', null);
  org.QZ = await organisation('QZ', 'CITY', org.FJ);
  org.JJ = await organisation('JJ', 'COUNTY', org.QZ);
  await db.pool.query(
    `INSERT INTO funders (code, name, organisation_id, account, account_name, agent, created_by)
     VALUES ('FJ', '福建省总工会', $1, '6222000000000001', '福建省总工会', '102100099996', 'test')`, [org.FJ],
  );
  const qz = await published(org.QZ, example('quanzhou-2026'));
  const jj = await published(org.JJ, example('jinjiang-2026'));
  await assigned(org.QZ, 'quanzhou-2026', qz.ruleSetVersion!, '2026-01-01');
  await assigned(org.JJ, 'jinjiang-2026', jj.ruleSetVersion!, '2026-01-01');
});

afterAll(() => db.drop());

describe('rule sets side by side in plan year 2026', () => {
  it('decides a Jinjiang member of a non-public firm by Jinjiang\'s rules: 16,800 / 72,000 / 10,000', async () => {
    const m = await member(org.JJ, 'NON_PUBLIC');
    const id = await seedSettlement(db.pool, m, { ...CASE, setlTime: '2026-06-01 10:00:00' });
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    const claim = (await claimOf(db.pool, id))!;
    expect(claim.ruleSetId).toBe('jinjiang-2026');
    expect(claim.amounts).toEqual({ INPATIENT: fen('16,800.00'), CRITICAL: fen('72,000.00'), MAJOR_DISEASE: fen('10,000.00') });
    expect((await linesOf(id)).map((l) => l.funder)).toEqual(['UNION', 'UNION', 'UNION']);
  });

  it('gives the same stay of a Jinjiang member of a public institution no CRITICAL line, and says why', async () => {
    const m = await member(org.JJ, 'PUBLIC_INSTITUTION');
    const id = await seedSettlement(db.pool, m, { ...CASE, setlTime: '2026-06-01 10:00:00' });
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    const claim = (await claimOf(db.pool, id))!;
    expect(claim.ruleSetId).toBe('jinjiang-2026');
    expect(claim.status).toBe('APPROVED');
    expect(claim.amounts).toEqual({ INPATIENT: fen('16,800.00'), MAJOR_DISEASE: fen('10,000.00') });
    expect(claim.reasonCodes).toEqual(['PROGRAMME_CONDITION_NOT_MET']);
    expect(claim.reasons[0]).toContain('NON_PUBLIC');
  });

  it('decides a Quanzhou member by Quanzhou\'s rules, the provincial subsidy line paid by FJ', async () => {
    const m = await member(org.QZ, 'NON_PUBLIC', 2026, 'PUBLIC');
    const id = await seedSettlement(db.pool, m, { ...CASE, setlTime: '2026-06-01 10:00:00' });
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    const claim = (await claimOf(db.pool, id))!;
    expect(claim.ruleSetId).toBe('quanzhou-2026');
    const expected = evaluateBenefits(parsed(example('quanzhou-2026')), {
      settlement: settlement({ ...CASE, setlTime: '2026-06-01 10:00:00' }),
      enrolment: enrolment({ planYear: 2026, plan: 'PUBLIC', specialDisease: true, unitType: 'NON_PUBLIC', memberCategories: [] }),
      planYearTotals: ZERO_TOTALS, priorDiseaseGroups: [],
    });
    const lines = await linesOf(id);
    expect(lines).toEqual(expected.lines.map((l) => ({ programme: l.programme, funder: l.funder, amountFen: l.amountFen })));
    const provincial = lines.find((l) => l.programme === 'PROVINCIAL_SUBSIDY');
    expect(provincial).toMatchObject({ funder: 'FJ' });
    expect(provincial!.amountFen).toBeGreaterThan(0);
    const { rows } = await db.pool.query(`SELECT provincial_subsidy_fen AS p FROM member_year_totals WHERE member_id = $1 AND plan_year = 2026`, [m.memberId]);
    expect(Number(rows[0].p)).toBe(provincial!.amountFen);
  });

  it('respects effective_from: a later assignment governs settlements from its date only', async () => {
    const m = await member(org.JJ, 'NON_PUBLIC');
    const qz = (await db.pool.query(`SELECT max(version) AS v FROM rule_sets WHERE id = 'quanzhou-2026'`)).rows[0].v as number;
    await assigned(org.JJ, 'quanzhou-2026', qz, '2026-09-01');
    const on = (date: string) => governingRuleSet(db.pool, { unitId: m.unitId, planYear: 2026, on: date }, cache);
    expect((await on('2026-08-31'))!.id).toBe('jinjiang-2026');
    expect((await on('2026-09-01'))!.id).toBe('quanzhou-2026');
    const before = await seedSettlement(db.pool, m, { psn: '1,000.00', setlTime: '2026-08-31 23:00:00' });
    const after = await seedSettlement(db.pool, m, { psn: '1,000.00', setlTime: '2026-09-01 09:00:00' });
    await adjudicateSettlements(db.pool, [before, after], OPTIONS);
    expect((await claimOf(db.pool, before))!.ruleSetId).toBe('jinjiang-2026');
    expect((await claimOf(db.pool, after))!.ruleSetId).toBe('quanzhou-2026');
    // A Quanzhou unit keeps Quanzhou's set; the county's later assignment does not reach upwards.
    const q = await member(org.QZ, 'NON_PUBLIC');
    expect((await governingRuleSet(db.pool, { unitId: q.unitId, planYear: 2026, on: '2026-10-01' }, cache))!.id).toBe('quanzhou-2026');
  });
});

describe('four eyes', () => {
  it('a proposer cannot approve or reject their own proposal (service)', async () => {
    const proposal = await proposeRuleSetAssignment(db.pool, cache, adminA, UNSCOPED, {
      organisationId: org.FJ, planYear: 2026, ruleSetId: 'quanzhou-2026', version: 1, effectiveFrom: '2026-01-01',
    });
    await expect(approveRuleSetProposal(db.pool, cache, adminA, UNSCOPED, { proposalId: proposal.id })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(rejectRuleSetProposal(db.pool, adminA, UNSCOPED, { proposalId: proposal.id, reason: 'my own mistake' })).rejects.toMatchObject({ code: 'CONFLICT' });
    const { rows } = await db.pool.query(`SELECT status FROM rule_set_proposals WHERE id = $1`, [proposal.id]);
    expect(rows[0].status).toBe('PROPOSED');
  });

  it('the database refuses a decision or an assignment by its proposer', async () => {
    const proposal = await proposeRuleSetAssignment(db.pool, cache, adminA, UNSCOPED, {
      organisationId: org.FJ, planYear: 2026, ruleSetId: 'quanzhou-2026', version: 1, effectiveFrom: '2026-01-01',
    });
    await expect(db.pool.query(
      `UPDATE rule_set_proposals SET status = 'APPROVED', decided_by = proposed_by, decided_at = now() WHERE id = $1`, [proposal.id],
    )).rejects.toThrow(/rule_set_proposals_four_eyes/);
    await expect(db.pool.query(
      `INSERT INTO organisation_rule_sets (organisation_id, plan_year, rule_set_id, rule_set_version, effective_from, assigned_by, approved_by, proposal_id)
       VALUES ($1, 2026, 'quanzhou-2026', 1, '2026-01-01', 'admin-a', 'admin-a', $2)`, [org.FJ, proposal.id],
    )).rejects.toThrow(/organisation_rule_sets_four_eyes/);
    await expect(db.pool.query(`UPDATE organisation_rule_sets SET effective_from = '2026-02-01'`)).rejects.toThrow(/history/);
  });

  it('refuses a rule set naming a funder without a funders row, on the funder field', async () => {
    const definition = { ...example('quanzhou-2026'), id: 'nowhere-2026' };
    definition.programmes.PROVINCIAL_SUBSIDY.funder = 'ZJ';
    await expect(proposeRuleSet(db.pool, cache, adminA, staffOf(org.QZ), { definition })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT', field: 'input.definition.programmes.PROVINCIAL_SUBSIDY.funder',
    });
  });
});

describe('what-if', () => {
  it('replays the subtree\'s decided claims of the year before under the proposed rule set, against what was decided', async () => {
    // 2025 claims (default-2025 governs 2025): two of one Jinjiang member, one of a Quanzhou member outside the subtree.
    const j = await member(org.JJ, 'NON_PUBLIC', 2025);
    const q = await member(org.QZ, 'NON_PUBLIC', 2025);
    const stays = [
      { psn: '60,000.00', ownpay: '5,000.00', setlTime: '2025-03-01 10:00:00' },
      { ...CASE, setlTime: '2025-05-01 10:00:00' },
    ];
    const ids: number[] = [];
    for (const stay of stays) ids.push(await seedSettlement(db.pool, j, stay));
    const outside = await seedSettlement(db.pool, q, stays[0]);
    await adjudicateSettlements(db.pool, [...ids, outside], OPTIONS);

    const version = (await db.pool.query(`SELECT max(version) AS v FROM rule_sets WHERE id = 'jinjiang-2026'`)).rows[0].v as number;
    const proposal = await proposeRuleSetAssignment(db.pool, cache, adminA, UNSCOPED, {
      organisationId: org.JJ, planYear: 2026, ruleSetId: 'jinjiang-2026', version, effectiveFrom: '2026-01-01',
    });
    const before = (await db.pool.query(`SELECT count(*)::int AS n FROM audit_log`)).rows[0].n;
    const report = await proposalWhatIf(db.pool, cache, proposal, { first: 1 });

    // Expected from the data: what the subtree's 2025 claims pay now, and the engine over the same stays.
    const { rows } = await db.pool.query<{ n: number; paid: string }>(
      `SELECT count(DISTINCT c.id)::int AS n, coalesce(sum(coalesce(l.adjusted_fen, l.amount_fen)), 0) AS paid
         FROM claims c JOIN units u ON u.id = c.unit_id JOIN organisations o ON o.id = u.organisation_id
         LEFT JOIN benefit_lines l ON l.claim_id = c.id WHERE c.plan_year = 2025 AND $1::bigint = ANY(o.path)`, [org.JJ],
    );
    const jinjiang = parsed({ ...example('jinjiang-2026'), version });
    let totals: PlanYearTotals = { ...ZERO_TOTALS };
    let prior: string[] = [];
    let after = 0;
    for (const stay of stays) {
      const result = evaluateBenefits(jinjiang, {
        settlement: settlement(stay), planYearTotals: totals, priorDiseaseGroups: prior,
        enrolment: enrolment({ planYear: 2025, plan: 'PRIVATE', specialDisease: true, unitType: 'NON_PUBLIC', memberCategories: [] }),
      });
      totals = result.planYearTotalsAfter;
      prior = [...prior, ...result.diseaseGroupsGranted];
      after += result.totalFen;
    }
    expect(report.planYear).toBe(2025);
    expect(report.claims).toBe(rows[0]!.n);
    expect(report.totals.before.total).toBe(Number(rows[0]!.paid));
    expect(report.totals.after.total).toBe(after);
    expect(report.totals.after.total).not.toBe(report.totals.before.total);
    expect(report.changed).toBe(2);
    expect(report.differences).toHaveLength(1); // `first` bounds the list, not the counts
    expect(report.funders).toEqual([{ funder: 'UNION', before: Number(rows[0]!.paid), after }]);
    // Reads only.
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM audit_log`)).rows[0].n).toBe(before);
  });
});
