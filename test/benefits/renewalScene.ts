import type pg from 'pg';
import { adjudicateSettlements, type AdjudicationOptions } from '../../src/benefits/adjudicate.ts';
import { insertShippedRuleSets } from '../../src/benefits/store.ts';
import { validateRuleSet } from '../../src/benefits/rules/ruleSet.ts';
import { claimOf, seedSettlement, type MemberSetup, type SettlementSpec } from './seed.ts';

/**
 * The scene of the renewal tests (late renewals, a first add-on on a renewal): one rule set for last
 * year and this one, and members whose last year's enrolment is written as that year's roster left it.
 */

/** `rules` (validated, else the test stops with the rule set's errors) shipped and governing `year` − 1 and `year`. */
export async function rulesForYearAndLast(db: pg.Pool, rules: { id: string; [field: string]: unknown }, year: number): Promise<void> {
  const checked = validateRuleSet(rules);
  if (!checked.ok) throw new Error(checked.errors.map((e) => `${e.field}: ${e.reason}`).join('; '));
  await insertShippedRuleSets(db, [checked.ruleSet]);
  for (const y of [year - 1, year]) {
    await db.query(`INSERT INTO plan_year_rule_sets (plan_year, rule_set_id, assigned_by) VALUES ($1, $2, 'test') ON CONFLICT DO NOTHING`, [y, rules.id]);
  }
}

/** The member's enrolment of `year` − 1, from 5 January of that year (a chain of its own), with or without the add-on. */
export async function enrolledLastYear(db: pg.Pool, memberId: number, unitId: number, year: number, specialDisease = false): Promise<void> {
  await db.query(
    `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
     VALUES ($1, $2, $3, 'PUBLIC', $4, $5, $5)`,
    [memberId, unitId, year - 1, specialDisease, `${year - 1}-01-05`],
  );
}

/** What the rules decide for a stay of the member's enrolment: its claim's status, reason codes and total. */
export async function decideStay(db: pg.Pool, m: MemberSetup, stay: SettlementSpec, options: AdjudicationOptions) {
  const settlementId = await seedSettlement(db, m, stay);
  await adjudicateSettlements(db, [settlementId], options);
  const claim = (await claimOf(db, settlementId))!;
  return { status: claim.status, reasonCodes: claim.reasonCodes, totalFen: claim.totalFen };
}
