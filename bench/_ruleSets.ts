import { listRuleSets, RuleSetCache } from '../src/benefits/catalogue.ts';
import { approveRuleSetProposal, proposeRuleSet } from '../src/benefits/ruleSetProposals.ts';
import { UNSCOPED } from '../src/kernel/scope.ts';
import type { Db } from '../src/kernel/transaction.ts';

/**
 * The union publishes this year's rules as its ADMINs do, one proposing and another approving: the
 * default rule set again, covering last year and this one (a year no rule set covers sends every
 * claim to review). The database takes a version only beside its approved proposal.
 */
export async function publishYearRules(db: Db, year: number): Promise<void> {
  const cache = new RuleSetCache();
  const { version: _next, ...rules } = listRuleSets().find((r) => r.id === 'default-2025')!;
  const proposal = await proposeRuleSet(db, cache, { subject: 'bench-admin-1', role: 'ADMIN' }, UNSCOPED, { definition: { ...rules, planYears: [year - 1, year] } });
  await approveRuleSetProposal(db, cache, { subject: 'bench-admin-2', role: 'ADMIN' }, UNSCOPED, { proposalId: proposal.id });
}
