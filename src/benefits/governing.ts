import type { Queryable } from '../kernel/transaction.ts';
import { formatChinaTime } from '../kernel/time.ts';
import type { RuleSet } from './rules/ruleSet.ts';
import { RuleSetCache } from './catalogue.ts';
import * as store from './store.ts';

/**
 * Which rule set decides a claim (docs/design.md, benefit rules per organisation): the version
 * assigned to the nearest organisation on the unit's organisation path (its own first, then upwards)
 * for the claim's plan year, effective on or before the settlement date; without any such
 * assignment, the plan year's rule set as before organisations had their own (plan_year_rule_sets,
 * else the newest published set covering the year).
 */
export type GoverningKey = store.AssignmentKey;

const keyOf = (k: GoverningKey) => `${k.organisationId}:${k.planYear}:${k.on}`;

/** The settlement's own date as the member lives it (China time), the day an assignment must be effective by. */
export const settledOn = (setlTime: Date): string => formatChinaTime(setlTime).slice(0, 10);

/**
 * The governing rule set of each key, looked up once per distinct organisation, year and day (one
 * batch of claims shares them); `lookup(key)` reads the answer.
 */
export async function governingRuleSets(db: Queryable, cache: RuleSetCache, keys: readonly GoverningKey[]): Promise<(key: GoverningKey) => RuleSet> {
  const distinct = [...new Map(keys.map((k) => [keyOf(k), k])).values()];
  const assigned = await store.assignedRuleSets(db, distinct);
  const byYear = await store.ruleSetsForYears(db, distinct.filter((_k, i) => !assigned[i]).map((k) => k.planYear));
  const governing = new Map<string, RuleSet>();
  distinct.forEach((k, i) => {
    const row = assigned[i] ?? byYear.get(k.planYear);
    if (!row) throw new Error(`no rule set is stored (plan year ${k.planYear})`);
    governing.set(keyOf(k), cache.ruleSetOf(row));
  });
  return (key) => {
    const found = governing.get(keyOf(key));
    if (!found) throw new Error(`governing rule set of ${keyOf(key)} was not looked up`);
    return found;
  };
}

/**
 * The rule set governing a claim of a member of `unitId` in `planYear` settled `on` (yyyy-MM-dd);
 * null when there is no such unit. Without `cache` (a process's RuleSetCache), the shipped rule sets
 * are stored first; with one, the caller has done so.
 */
export async function governingRuleSet(
  db: Queryable, query: { unitId: number; planYear: number; on: string }, cache?: RuleSetCache,
): Promise<RuleSet | null> {
  if (!cache) {
    cache = new RuleSetCache();
    await cache.ensureShipped(db);
  }
  const organisationId = await store.organisationOfUnit(db, query.unitId);
  if (organisationId === null) return null;
  const key = { organisationId, planYear: query.planYear, on: query.on };
  return (await governingRuleSets(db, cache, [key]))(key);
}
