import { readFileSync } from 'node:fs';
import type pg from 'pg';
import type { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { approveRuleSetProposal, proposeRuleSet, proposeRuleSetAssignment } from '../../src/benefits/ruleSetProposals.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import type { Db } from '../../src/kernel/transaction.ts';
import type { SampleUnit } from '../../src/demo/sampleData.ts';
import { registerSampleUnits } from '../../src/members/unitTerms.ts';

/** Sample units with their terms confirmed by a second ADMIN, as a unit needs before its members are enrolled. */
export const registerUnits = (db: Db, units: readonly SampleUnit[]): Promise<void> =>
  registerSampleUnits(db, units, { subject: 'test-admin', role: 'ADMIN' }, { subject: 'test-admin-2', role: 'ADMIN' });

/** An organisation of the union's tree, written directly. */
export async function seedOrganisation(db: pg.Pool, code: string, level: string, parentId: number | null): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ($1, $1, $2, $3, 'test') RETURNING id`, [code, level, parentId],
  );
  return rows[0]!.id;
}

/** A 2026 stay Jinjiang's rules pay CRITICAL 72,000.00 for, in a NON_PUBLIC unit only. */
export const JINJIANG_CRITICAL_STAY = { psn: '136,700.00', ownpay: '52,700.00', funds: '106,500.00', diagnoses: ['I34.0'], setlTime: '2026-06-01 10:00:00' };

/**
 * The tree FJ (province) › QZ (city) › JJ (county), with `otherCities` under FJ beside QZ, FJ's
 * funder, and Jinjiang's 2026 rules (CRITICAL for NON_PUBLIC units only) published and assigned to
 * JJ by two ADMINs: what a unit's terms decide, for the attacks on them.
 */
export async function jinjiangRules(db: pg.Pool, cache: RuleSetCache, otherCities: readonly string[] = []): Promise<void> {
  const [adminA, adminB] = [{ subject: 'admin-a', role: 'ADMIN' }, { subject: 'admin-b', role: 'ADMIN' }];
  const fj = await seedOrganisation(db, 'FJ', 'PROVINCE', null);
  const qz = await seedOrganisation(db, 'QZ', 'CITY', fj);
  for (const city of otherCities) await seedOrganisation(db, city, 'CITY', fj);
  const jj = await seedOrganisation(db, 'JJ', 'COUNTY', qz);
  await db.query(
    `INSERT INTO funders (code, name, organisation_id, account, account_name, agent, created_by)
     VALUES ('FJ', '福建省总工会', $1, '6222000000000001', '福建省总工会', '102100099996', 'test')`, [fj],
  );
  const definition = JSON.parse(readFileSync(new URL('../../src/benefits/ruleSets/examples/jinjiang-2026.json', import.meta.url), 'utf8'));
  const rules = await approveRuleSetProposal(db, cache, adminB, UNSCOPED, {
    proposalId: (await proposeRuleSet(db, cache, adminA, UNSCOPED, { definition, note: 'test' })).id,
  });
  await approveRuleSetProposal(db, cache, adminB, UNSCOPED, {
    proposalId: (await proposeRuleSetAssignment(db, cache, adminA, UNSCOPED, {
      organisationId: jj, planYear: 2026, ruleSetId: 'jinjiang-2026', version: rules.ruleSetVersion!, effectiveFrom: '2026-01-01',
    })).id,
  });
}
