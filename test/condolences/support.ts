import type pg from 'pg';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { validateRuleSet, type CondolenceRules } from '../../src/benefits/rules/ruleSet.ts';
import { insertShippedRuleSets } from '../../src/benefits/store.ts';
import type { Scope } from '../../src/kernel/scope.ts';
import { seedEnrolment, seedMember, seedUnit } from '../benefits/seed.ts';
import { openAccount } from '../banks/simulator/support.ts';
import { setBankCard } from '../payouts/support.ts';

/** The plan year of these tests: the shipped default rule set covers it, a condolence section is added. */
export const YEAR = 2025;
export const CAPS = { perCaseCapFen: 500_000, annualCapFenPerWorker: 800_000 };

/**
 * Plan year YEAR governed by the default rules plus a condolence section (stored as a rule set of
 * its own and assigned to the year, as the rule sets' tests do). Returns the section as stored.
 */
export async function governWithCondolence(
  db: pg.Pool, section: Partial<CondolenceRules> & Pick<CondolenceRules, 'perCaseCapFen' | 'annualCapFenPerWorker'>, id = 'condolence-test',
): Promise<CondolenceRules> {
  const base = loadRuleSet('default-2025');
  const checked = validateRuleSet({ ...base, id, description: 'default rules with condolence payments (test)', condolence: section });
  if (!checked.ok) throw new Error(`test setup: ${JSON.stringify(checked.errors)}`);
  await insertShippedRuleSets(db, [checked.ruleSet]);
  await db.query(`UPDATE plan_year_rule_sets SET rule_set_id = $2 WHERE plan_year = $1`, [YEAR, id]);
  return checked.ruleSet.condolence!;
}

export interface Worker {
  unitId: number;
  creditCode: string;
  memberId: number;
  /** The unit operator's scope. */
  unitScope: Scope;
}

/** A worker on a new unit's roster, not enrolled (unless asked), with a bank card on record (unless `card` is null). */
export async function worker(db: pg.Pool, options: { enrolled?: boolean; card?: string | null } = {}): Promise<Worker> {
  const unit = await seedUnit(db);
  const memberId = await seedMember(db, unit.id);
  if (options.enrolled) await seedEnrolment(db, memberId, unit.id, { year: YEAR });
  const card = options.card === undefined ? openAccount() : options.card;
  if (card) await setBankCard(db, memberId, card);
  return { unitId: unit.id, creditCode: unit.creditCode, memberId, unitScope: { unitId: unit.id, memberId: null, organisationId: null } };
}

export const operator = (w: Worker) => ({ subject: `op-${w.unitId}`, role: 'UNIT_OPERATOR' });
export const reviewer = { subject: 'reviewer-chen', role: 'REVIEWER' };
export const secondReviewer = { subject: 'reviewer-lin', role: 'REVIEWER' };

export const application = (w: Worker, amountFen: number, over: Partial<{ reason: 'SERIOUS_ILLNESS' | 'DEATH' | 'HARDSHIP' | 'ACCIDENT'; occurredOn: string }> = {}) => ({
  memberId: w.memberId, planYear: YEAR, reason: over.reason ?? 'SERIOUS_ILLNESS' as const, amountFen,
  description: '职工患重病住院，家庭困难，申请慰问', occurredOn: over.occurredOn ?? `${YEAR}-06-01`,
});
