import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { approveRuleSetProposal, proposeRuleSet } from '../../src/benefits/ruleSetProposals.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import type { Actor } from '../../src/audit/audit.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { payContribution, seedEnrolment, seedMember, seedSettlement, seedUnit } from '../benefits/seed.ts';
import { setBankCard, settings } from '../payouts/support.ts';
import { openAccount } from '../banks/simulator/support.ts';

/**
 * AUDIT: a rule set decides whose money pays each line (`programmes.<P>.funder`), but a rule set an
 * organisation's ADMINs publish or assign may name any funder that exists — one of an organisation
 * beside them included. Fujian (FJ) has two cities: Quanzhou (QZ, with its county Jinjiang JJ) and
 * Xiamen (XM, with its own fund and account). Jinjiang's two ADMINs — who may neither see Xiamen's
 * funder nor decide anything of Xiamen — publish and assign a rule set whose CRITICAL line is paid by
 * Xiamen's fund: their members' 72,000.00 critical-illness lines become Xiamen's payouts, batched
 * by Xiamen's FINANCE and paid from Xiamen's account (showing Xiamen's staff Jinjiang's members).
 *
 * Expected: a rule set governing an organisation names only funders on its path (its own, its
 * ancestors') or the hub's UNION; another's is refused naming the field, at proposal and approval,
 * and an assignment of such a version to an organisation outside the funder's reach is refused.
 */

let db: TestDatabase;
let gw: TestGateway;
const cache = new RuleSetCache();
const example = (name: string) => JSON.parse(readFileSync(new URL(`../../src/benefits/ruleSets/examples/${name}.json`, import.meta.url), 'utf8'));
const XM_ACCOUNT = '6222000000000777';
const CASE = { psn: '136,700.00', ownpay: '52,700.00', funds: '106,500.00', diagnoses: ['I34.0'], setlTime: '2026-06-01 10:00:00' };

const JJ_A = { role: 'ADMIN', org: 'JJ', sub: 'jj-admin-a' } as const;
const JJ_B = { role: 'ADMIN', org: 'JJ', sub: 'jj-admin-b' } as const;
const XM_FINANCE = { role: 'FINANCE', org: 'XM', sub: 'xm-finance' } as const;
const PROPOSE = `mutation($input: ProposeRuleSetInput!) { proposeRuleSet(input: $input) { proposal { id ruleSetId } userErrors { field code message } } }`;
const ASSIGN = `mutation($input: ProposeRuleSetAssignmentInput!) { proposeRuleSetAssignment(input: $input) { proposal { id } userErrors { field code message } } }`;
const APPROVE = `mutation($id: ID!) { approveRuleSetProposal(input: { proposalId: $id }) { proposal { status ruleSetVersion } userErrors { field code message } } }`;

const ids: Record<string, number> = {};

async function organisation(code: string, level: string, parentId: number | null): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ($1, $1, $2, $3, 'test') RETURNING id`, [code, level, parentId],
  );
  return rows[0]!.id;
}

/** Jinjiang's 2026 rules with the CRITICAL line paid by `funder`'s fund. */
function criticalPaidBy(id: string, funder: string) {
  const base = example('jinjiang-2026');
  const { version: _v, ...rest } = base;
  return { ...rest, id, programmes: { ...base.programmes, CRITICAL: { ...base.programmes.CRITICAL, funder } } };
}

/** Jinjiang's 2026 rules with the CRITICAL line paid by Xiamen's fund. */
const jinjiangPaidByXiamen = (id: string) => criticalPaidBy(id, 'XM');

async function funder(code: string, organisationId: number, account: string): Promise<void> {
  await db.pool.query(
    `INSERT INTO funders (code, name, organisation_id, account, account_name, agent, created_by)
     VALUES ($1, $1, $2, $3, $1, '102100099996', 'test')`, [code, organisationId, account],
  );
}

beforeAll(async () => {
  db = await freshDatabase();
  ids.FJ = await organisation('FJ', 'PROVINCE', null);
  ids.QZ = await organisation('QZ', 'CITY', ids.FJ);
  ids.JJ = await organisation('JJ', 'COUNTY', ids.QZ);
  ids.XM = await organisation('XM', 'CITY', ids.FJ);
  await db.pool.query(
    `INSERT INTO funders (code, name, organisation_id, account, account_name, agent, created_by)
     VALUES ('XM', '厦门市总工会职工医疗互助资金', $1, $2, '厦门市总工会', '102100099996', 'test')`, [ids.XM, XM_ACCOUNT],
  );
  // The province's fund (above Jinjiang) and Jinjiang's own (below Quanzhou).
  await funder('FJ', ids.FJ, '6222000000000701');
  await funder('JJ-FUND', ids.JJ, '6222000000000702');
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('AUDIT: a county\'s rule set paying from a sibling city\'s fund', () => {
  it('Jinjiang\'s ADMINs cannot see Xiamen\'s funder (control: it is outside their organisation)', async () => {
    const funders = await gw.query({ ...JJ_A, role: 'ADMIN' }, `{ funders { code } }`);
    expect(funders.data.funders.map((f: { code: string }) => f.code)).not.toContain('XM');
  });

  it('refuses a county ADMIN\'s proposal naming the fund of an organisation beside it', async () => {
    const proposed = await gw.query(JJ_A, PROPOSE, { input: { definition: jinjiangPaidByXiamen('jj-xm-2026'), note: 'JJ 2026' } });
    expect(proposed.data.proposeRuleSet).toMatchObject({
      proposal: null, userErrors: [{ field: 'input.definition.programmes.CRITICAL.funder', code: 'INVALID' }],
    });
  });

  it('refuses a county\'s assignment of another organisation\'s rule set paid from that organisation\'s fund', async () => {
    // Xiamen's own rules, paid from Xiamen's fund, published by the hub's two ADMINs for Xiamen (legitimate there).
    const hubA: Actor = { subject: 'hub-a', role: 'ADMIN' };
    const hubB: Actor = { subject: 'hub-b', role: 'ADMIN' };
    const xmScope = { unitId: null, memberId: null, organisationId: ids.XM! };
    const published = await approveRuleSetProposal(db.pool, cache, hubB, xmScope, {
      proposalId: (await proposeRuleSet(db.pool, cache, hubA, xmScope, { definition: jinjiangPaidByXiamen('xm-own-2026'), note: 'XM 2026' })).id,
    });
    expect(published.status).toBe('APPROVED');
    const assigned = await gw.query(JJ_A, ASSIGN, { input: {
      organisationId: toGlobalId('Organisation', ids.JJ!), planYear: 2026, ruleSetId: 'xm-own-2026', version: published.ruleSetVersion, effectiveFrom: '2026-01-01',
    } });
    expect(assigned.data.proposeRuleSetAssignment.proposal).toBeNull();
    expect(assigned.data.proposeRuleSetAssignment.userErrors).toHaveLength(1);
  });

  it('pays no Jinjiang member from Xiamen\'s account on Jinjiang\'s ADMINs\' word', async () => {
    // Jinjiang's two ADMINs publish and assign rules naming Xiamen's fund (each step by the other one: four eyes kept).
    const proposed = await gw.query(JJ_A, PROPOSE, { input: { definition: jinjiangPaidByXiamen('jj-xm-flow-2026'), note: 'JJ 2026' } });
    const publication = proposed.data.proposeRuleSet.proposal?.id;
    if (publication) {
      const approved = await gw.query(JJ_B, APPROVE, { id: publication });
      const version = approved.data.approveRuleSetProposal.proposal?.ruleSetVersion;
      const assignment = (await gw.query(JJ_A, ASSIGN, { input: {
        organisationId: toGlobalId('Organisation', ids.JJ!), planYear: 2026, ruleSetId: 'jj-xm-flow-2026', version, effectiveFrom: '2026-01-01',
      } })).data.proposeRuleSetAssignment.proposal?.id;
      if (assignment) await gw.query(JJ_B, APPROVE, { id: assignment });
    }

    // A Jinjiang member of a non-public firm, enrolled and paid for; the published stay, approved by the rules.
    const unit = await seedUnit(db.pool, 'PRIVATE', ids.JJ);
    const memberId = await seedMember(db.pool, unit.id);
    await setBankCard(db.pool, memberId, openAccount());
    const enrolmentId = await seedEnrolment(db.pool, memberId, unit.id, { year: 2026, plan: 'PRIVATE', specialDisease: true });
    await payContribution(db.pool, unit.id, 2026);
    const settlementId = await seedSettlement(db.pool, { unitId: unit.id, creditCode: unit.creditCode, memberId, enrolmentId }, CASE);
    await adjudicateSettlements(db.pool, [settlementId], { autoApproveMaxFen: Number.MAX_SAFE_INTEGER, ruleSets: cache });
    await planPayouts(db.pool, settings);

    // Xiamen's FINANCE makes a batch of its fund's payouts: Jinjiang's member is in it, paid from Xiamen's account.
    const batch = await gw.query(XM_FINANCE, `mutation { createPayoutBatch(input: {}) { batch { debtorAccount totalFen } userErrors { field code } } }`);
    const paidFromXiamen = (await db.pool.query<{ fen: number; account: string }>(
      `SELECT p.amount_fen::int AS fen, b.debtor_account AS account FROM payouts p JOIN funders f ON f.id = p.funder_id
         LEFT JOIN payout_attempts a ON a.payout_id = p.id LEFT JOIN payout_batches b ON b.id = a.batch_id
        WHERE p.member_id = $1 AND f.code = 'XM'`, [memberId],
    )).rows;
    expect({ paidFromXiamen, batch: batch.data?.createPayoutBatch?.batch ?? null }).toEqual({ paidFromXiamen: [], batch: null });
  });
});

describe('whose fund a rule set may name: the governed organisation\'s, one above it, or UNION', () => {
  const QZ_A = { role: 'ADMIN', org: 'QZ', sub: 'qz-admin-a' } as const;
  const HUB_A = { role: 'ADMIN', sub: 'hub-admin-a' } as const;
  const INVALID_CRITICAL = [{ field: 'input.definition.programmes.CRITICAL.funder', code: 'INVALID', message: expect.any(String) }];
  const invalidOn = (field: string) => [{ field, code: 'INVALID', message: expect.any(String) }];

  it('control: a county names the province\'s fund above it (the provincial subsidy) and its own, and publishes them', async () => {
    for (const [id, code] of [['jj-fj-2026', 'FJ'], ['jj-own-fund-2026', 'JJ-FUND']] as const) {
      const proposed = await gw.query(JJ_A, PROPOSE, { input: { definition: criticalPaidBy(id, code) } });
      expect(proposed.data.proposeRuleSet.userErrors, code).toEqual([]);
      const approved = await gw.query(JJ_B, APPROVE, { id: proposed.data.proposeRuleSet.proposal.id });
      expect(approved.data.approveRuleSetProposal, code).toMatchObject({ proposal: { status: 'APPROVED' }, userErrors: [] });
    }
  });

  it('refuses a city naming its county\'s fund (money of an organisation below it), and says why', async () => {
    const proposed = await gw.query(QZ_A, PROPOSE, { input: { definition: criticalPaidBy('qz-jj-fund-2026', 'JJ-FUND') } });
    expect(proposed.data.proposeRuleSet).toEqual({ proposal: null, userErrors: [
      { ...INVALID_CRITICAL[0], message: expect.stringContaining('names funder JJ-FUND, which is neither UNION nor a funder of QZ or of an organisation above it') },
    ] });
  });

  it('refuses a condolence funder beside the organisation, naming condolence.funder', async () => {
    const base = example('quanzhou-2026');
    const { version: _v, ...definition } = { ...base, id: 'jj-condolence-xm-2026', condolence: { ...base.condolence, funder: 'XM' } };
    const proposed = await gw.query(JJ_A, PROPOSE, { input: { definition } });
    expect(proposed.data.proposeRuleSet).toEqual({ proposal: null, userErrors: invalidOn('input.definition.condolence.funder') });
  });

  it('refuses a hub-wide rule set naming any fund but UNION: it may become the plan year\'s fallback for every organisation', async () => {
    const proposed = await gw.query(HUB_A, PROPOSE, { input: { definition: criticalPaidBy('hub-fj-2026', 'FJ') } });
    expect(proposed.data.proposeRuleSet).toEqual({ proposal: null, userErrors: INVALID_CRITICAL });
    const union = await gw.query(HUB_A, PROPOSE, { input: { definition: criticalPaidBy('hub-union-2026', 'UNION') } });
    expect(union.data.proposeRuleSet.userErrors).toEqual([]);
  });

  it('refuses assigning a version naming the county\'s fund to the city above it; to the county it is proposed', async () => {
    const version = (await db.pool.query<{ v: number }>(`SELECT max(version) AS v FROM rule_sets WHERE id = 'jj-own-fund-2026'`)).rows[0]!.v;
    const input = (organisation: number) => ({ input: {
      organisationId: toGlobalId('Organisation', organisation), planYear: 2026, ruleSetId: 'jj-own-fund-2026', version, effectiveFrom: '2026-01-01',
    } });
    const toCity = await gw.query(HUB_A, ASSIGN, input(ids.QZ!));
    expect(toCity.data.proposeRuleSetAssignment).toEqual({ proposal: null, userErrors: invalidOn('input.version') });
    const toCounty = await gw.query(HUB_A, ASSIGN, input(ids.JJ!));
    expect(toCounty.data.proposeRuleSetAssignment.userErrors).toEqual([]);
  });

  it('checks again at approval: a funder registered anew under its code for another organisation meanwhile', async () => {
    await funder('MOVING', ids.JJ!, '6222000000000703');
    const published = await gw.query(JJ_A, PROPOSE, { input: { definition: criticalPaidBy('jj-moving-2026', 'MOVING') } });
    const version = (await gw.query(JJ_B, APPROVE, { id: published.data.proposeRuleSet.proposal.id })).data.approveRuleSetProposal.proposal.ruleSetVersion;
    const publication = (await gw.query(JJ_A, PROPOSE, { input: { definition: criticalPaidBy('jj-moving-next-2026', 'MOVING') } })).data.proposeRuleSet.proposal.id;
    const assignment = (await gw.query(JJ_A, ASSIGN, { input: {
      organisationId: toGlobalId('Organisation', ids.JJ!), planYear: 2026, ruleSetId: 'jj-moving-2026', version, effectiveFrom: '2026-01-01',
    } })).data.proposeRuleSetAssignment.proposal.id;
    // Unused, so removable: the code registered again, now Xiamen's fund.
    await db.pool.query(`DELETE FROM funders WHERE code = 'MOVING'`);
    await funder('MOVING', ids.XM!, '6222000000000704');
    for (const id of [publication, assignment]) {
      const approved = await gw.query(JJ_B, APPROVE, { id });
      expect(approved.data.approveRuleSetProposal).toEqual({ proposal: null, userErrors: invalidOn('programmes.CRITICAL.funder') });
    }
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM organisation_rule_sets WHERE rule_set_id = 'jj-moving-2026'`);
    expect(rows[0].n).toBe(0);
  });
});
