import { readFileSync } from 'node:fs';
import type pg from 'pg';
import type { Actor } from '../../src/audit/audit.ts';
import type { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { approveRuleSetProposal, proposeRuleSet, proposeRuleSetAssignment } from '../../src/benefits/ruleSetProposals.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';

/**
 * The scene of the targeted-group four-eyes tests: Fujian (province, with its fund) over Quanzhou
 * (city), and Quanzhou's 2026 rules, published and assigned by two ADMINs: Jinjiang's 2026 example
 * with CRITICAL paid only to members of the HARDSHIP group (困难职工). The organisations' ids.
 */
export async function quanzhouHardshipRules(db: pg.Pool, cache: RuleSetCache): Promise<{ fj: number; qz: number }> {
  const organisation = async (code: string, level: string, parentId: number | null) => (await db.query<{ id: number }>(
    `INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ($1, $1, $2, $3, 'test') RETURNING id`, [code, level, parentId],
  )).rows[0]!.id;
  const fj = await organisation('FJ', 'PROVINCE', null);
  const qz = await organisation('QZ', 'CITY', fj);
  await db.query(
    `INSERT INTO funders (code, name, organisation_id, account, account_name, agent, created_by)
     VALUES ('FJ', '福建省总工会', $1, '6222000000000001', '福建省总工会', '102100099996', 'test')`, [fj],
  );
  const adminA: Actor = { subject: 'admin-a', role: 'ADMIN' };
  const adminB: Actor = { subject: 'admin-b', role: 'ADMIN' };
  const base = JSON.parse(readFileSync(new URL('../../src/benefits/ruleSets/examples/jinjiang-2026.json', import.meta.url), 'utf8'));
  const hardship = { ...base, id: 'qz-hardship-2026', programmes: { ...base.programmes, CRITICAL: { ...base.programmes.CRITICAL, when: { memberCategories: ['HARDSHIP'] } } } };
  const published = await approveRuleSetProposal(db, cache, adminB, UNSCOPED, {
    proposalId: (await proposeRuleSet(db, cache, adminA, UNSCOPED, { definition: hardship, note: 'test' })).id,
  });
  await approveRuleSetProposal(db, cache, adminB, UNSCOPED, {
    proposalId: (await proposeRuleSetAssignment(db, cache, adminA, UNSCOPED, {
      organisationId: qz, planYear: 2026, ruleSetId: 'qz-hardship-2026', version: published.ruleSetVersion!, effectiveFrom: '2026-01-01',
    })).id,
  });
  return { fj, qz };
}
