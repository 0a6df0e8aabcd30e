import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commitOnceWaitedOn } from '../support/db.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { ruleSetsForYears } from '../../src/benefits/store.ts';

/**
 * Rule-set proposals as an attacker tries them: the wrong role, the proposer approving their own
 * proposal (through the API, the deprecated publishRuleSet and straight in the database), an
 * organisation's ADMIN reaching outside their subtree, forged IDs, a decision replayed.
 */
const started = lazyTestGateway();
const example = (name: string) => JSON.parse(readFileSync(new URL(`../../src/benefits/ruleSets/examples/${name}.json`, import.meta.url), 'utf8'));

const PROPOSE = `mutation($input: ProposeRuleSetInput!) { proposeRuleSet(input: $input) { proposal { id status } userErrors { field code } } }`;
const ASSIGN = `mutation($input: ProposeRuleSetAssignmentInput!) { proposeRuleSetAssignment(input: $input) { proposal { id status } userErrors { field code } } }`;
const APPROVE = `mutation($id: ID!) { approveRuleSetProposal(input: { proposalId: $id }) { proposal { status ruleSetVersion } userErrors { field code } } }`;
const REJECT = `mutation($id: ID!) { rejectRuleSetProposal(input: { proposalId: $id, reason: "not this year" }) { proposal { status } userErrors { field code } } }`;
const LIST = `{ ruleSetProposals(first: 100) { totalCount edges { node { id } } } }`;
const NODE = `query($id: ID!) { node(id: $id) { id } }`;

/** Fujian → Quanzhou → Jinjiang (codes of this file), and the id of each. */
async function tree() {
  const { db } = await started();
  const { rows } = await db.pool.query<{ code: string; id: number }>(
    `WITH fj AS (INSERT INTO organisations (code, name, level, created_by) VALUES ('FJ-RS', '福建省总工会', 'PROVINCE', 'test')
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id),
          qz AS (INSERT INTO organisations (code, name, level, parent_id, created_by) SELECT 'QZ-RS', '泉州市总工会', 'CITY', id, 'test' FROM fj
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id),
          jj AS (INSERT INTO organisations (code, name, level, parent_id, created_by) SELECT 'JJ-RS', '晋江市总工会', 'COUNTY', id, 'test' FROM qz
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id)
     SELECT 'FJ' AS code, id FROM fj UNION ALL SELECT 'QZ', id FROM qz UNION ALL SELECT 'JJ', id FROM jj`,
  );
  const id = Object.fromEntries(rows.map((r) => [r.code, r.id])) as Record<'FJ' | 'QZ' | 'JJ', number>;
  return { id, gid: (code: 'FJ' | 'QZ' | 'JJ') => toGlobalId('Organisation', id[code]) };
}

const assignment = (organisationId: string) => ({ input: { organisationId, planYear: 2025, ruleSetId: 'default-2025', version: 1, effectiveFrom: '2025-01-01' } });

describe('roles', () => {
  it('only ADMIN proposes, decides and lists proposals (FORBIDDEN), and nothing is written', async () => {
    const { db, gw } = await started();
    const { gid } = await tree();
    for (const role of ['REVIEWER', 'FINANCE', 'AUDITOR', 'SERVICE'] as const) {
      for (const [query, variables] of [[PROPOSE, { input: { definition: example('jinjiang-2026') } }], [ASSIGN, assignment(gid('JJ'))], [LIST, {}]] as const) {
        const answer = await gw.query({ role }, query, variables);
        expect(answer.errors?.[0]?.extensions?.code, `${role} ${query.slice(0, 30)}`).toBe('FORBIDDEN');
      }
    }
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM rule_set_proposals`);
    expect(rows[0].n).toBe(0);
  });
});

describe('four eyes', () => {
  it('the proposer cannot approve or reject; another ADMIN can, once', async () => {
    const { db, gw } = await started();
    const { gid } = await tree();
    const proposed = await gw.query({ role: 'ADMIN', sub: 'alice' }, ASSIGN, assignment(gid('JJ')));
    const id = proposed.data.proposeRuleSetAssignment.proposal.id;
    for (const query of [APPROVE, REJECT]) {
      const own = await gw.query({ role: 'ADMIN', sub: 'alice' }, query, { id });
      expect(Object.values(own.data)[0]).toMatchObject({ proposal: null, userErrors: [{ field: 'input.proposalId', code: 'CONFLICT' }] });
    }
    const approved = await gw.query({ role: 'ADMIN', sub: 'bob' }, APPROVE, { id });
    expect(approved.data.approveRuleSetProposal).toMatchObject({ proposal: { status: 'APPROVED' }, userErrors: [] });
    const again = await gw.query({ role: 'ADMIN', sub: 'carol' }, REJECT, { id });
    expect(again.data.rejectRuleSetProposal.userErrors).toEqual([{ field: 'input.proposalId', code: 'CONFLICT' }]);
    const { rows } = await db.pool.query(`SELECT assigned_by, approved_by FROM organisation_rule_sets`);
    expect(rows).toEqual([{ assigned_by: 'alice', approved_by: 'bob' }]);
  });

  it('publishRuleSet no longer publishes alone: it proposes, and the proposer cannot approve it', async () => {
    const { db, gw } = await started();
    const count = async () => (await db.pool.query(`SELECT count(*)::int AS n FROM rule_sets WHERE id = 'jinjiang-2026'`)).rows[0].n;
    const answer = await gw.query({ role: 'ADMIN', sub: 'alice' }, `mutation($d: JSON!) { publishRuleSet(input: { definition: $d }) { ruleSet { version } proposal { id status } } }`,
      { d: example('jinjiang-2026') });
    expect(answer.data.publishRuleSet).toMatchObject({ ruleSet: null, proposal: { status: 'PROPOSED' } });
    expect(await count()).toBe(0);
    const own = await gw.query({ role: 'ADMIN', sub: 'alice' }, APPROVE, { id: answer.data.publishRuleSet.proposal.id });
    expect(own.data.approveRuleSetProposal.userErrors).toEqual([{ field: 'input.proposalId', code: 'CONFLICT' }]);
    expect(await count()).toBe(0);
    const other = await gw.query({ role: 'ADMIN', sub: 'bob' }, APPROVE, { id: answer.data.publishRuleSet.proposal.id });
    expect(other.data.approveRuleSetProposal.proposal).toEqual({ status: 'APPROVED', ruleSetVersion: 1 });
    expect(await count()).toBe(1);
  });

  it('the database refuses a proposal decided by its proposer, whoever writes it', async () => {
    const { db, gw } = await started();
    const { gid } = await tree();
    const proposed = await gw.query({ role: 'ADMIN', sub: 'alice' }, ASSIGN, assignment(gid('QZ')));
    expect(proposed.data.proposeRuleSetAssignment.userErrors).toEqual([]);
    await expect(db.pool.query(`UPDATE rule_set_proposals SET status = 'REJECTED', decided_by = proposed_by, decided_at = now(), decision_note = 'x'
                                 WHERE status = 'PROPOSED'`)).rejects.toThrow(/rule_set_proposals_four_eyes/);
  });
});

describe('organisation scope', () => {
  it('a county ADMIN cannot propose for, see or decide the city\'s proposals; the city ADMIN decides the county\'s', async () => {
    const { gw } = await started();
    const { gid } = await tree();
    const county = { role: 'ADMIN' as const, org: 'JJ-RS', sub: 'jj-admin' };
    const city = { role: 'ADMIN' as const, org: 'QZ-RS', sub: 'qz-admin' };
    const outside = await gw.query(county, ASSIGN, assignment(gid('QZ')));
    expect(outside.data.proposeRuleSetAssignment.userErrors).toEqual([{ field: 'input.organisationId', code: 'NOT_FOUND' }]);

    const cityProposal = (await gw.query({ role: 'ADMIN', sub: 'qz-other' }, ASSIGN, assignment(gid('QZ')))).data.proposeRuleSetAssignment.proposal.id;
    expect((await gw.query(county, NODE, { id: cityProposal })).data.node).toBeNull();
    const listed = (await gw.query(county, LIST)).data.ruleSetProposals.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(listed).not.toContain(cityProposal);
    for (const query of [APPROVE, REJECT]) {
      const answer = await gw.query(county, query, { id: cityProposal });
      expect(Object.values(answer.data)[0]).toMatchObject({ proposal: null, userErrors: [{ field: 'input.proposalId', code: 'NOT_FOUND' }] });
    }
    // A hub-wide publication is not the county's either.
    const hubWide = (await gw.query({ role: 'ADMIN', sub: 'hub-admin' }, PROPOSE, { input: { definition: { ...example('jinjiang-2026'), id: 'hub-wide-2026' } } }))
      .data.proposeRuleSet.proposal.id;
    expect((await gw.query(county, APPROVE, { id: hubWide })).data.approveRuleSetProposal.userErrors).toEqual([{ field: 'input.proposalId', code: 'NOT_FOUND' }]);

    const countyProposal = (await gw.query(county, ASSIGN, assignment(gid('JJ')))).data.proposeRuleSetAssignment;
    expect(countyProposal.userErrors).toEqual([]);
    const decided = await gw.query(city, APPROVE, { id: countyProposal.proposal.id });
    expect(decided.data.approveRuleSetProposal).toMatchObject({ proposal: { status: 'APPROVED' }, userErrors: [] });
  });
});

describe('an organisation\'s own rule sets', () => {
  it('govern only where assigned: never the plan year\'s hub-wide fallback, and no version of the hub\'s rule sets', async () => {
    const { gw, db } = await started();
    await tree();
    const county = { role: 'ADMIN' as const, org: 'JJ-RS', sub: 'jj-admin' };
    const countyOther = { role: 'ADMIN' as const, org: 'JJ-RS', sub: 'jj-admin-2' };
    const { version: _first, ...definition } = example('jinjiang-2026');
    // The next version of the hub's default-2025 would change every organisation's 2025 claims.
    const hubs = await gw.query(county, PROPOSE, { input: { definition: { ...definition, id: 'default-2025', planYears: [2025] } } });
    expect(hubs.data.proposeRuleSet).toEqual({ proposal: null, userErrors: [{ field: 'input.definition.id', code: 'INVALID' }] });
    // Its own rule set covering 2025, published by two of its ADMINs, is not the hub's 2025.
    const own = (await gw.query(county, PROPOSE, { input: { definition: { ...example('jinjiang-2026'), id: 'jj-rs-own', planYears: [2025] } } })).data.proposeRuleSet;
    expect(own.userErrors).toEqual([]);
    expect((await gw.query(countyOther, APPROVE, { id: own.proposal.id })).data.approveRuleSetProposal.userErrors).toEqual([]);
    const { rows } = await db.pool.query<{ id: string; organisation: string | null }>(
      `SELECT rs.id, o.code AS organisation FROM rule_sets rs LEFT JOIN organisations o ON o.id = rs.organisation_id WHERE rs.id = 'jj-rs-own'`);
    expect(rows).toEqual([{ id: 'jj-rs-own', organisation: 'JJ-RS' }]);
    expect((await ruleSetsForYears(db.pool, [2025])).get(2025)!.ruleSetId).toBe('default-2025');
    // Its next version is the county's to publish.
    const next = await gw.query(county, PROPOSE, { input: { definition: { ...definition, id: 'jj-rs-own', planYears: [2025] } } });
    expect(next.data.proposeRuleSet.userErrors, JSON.stringify(next)).toEqual([]);
  });
});

describe('publications racing on one id', () => {
  it('a county\'s version is refused at approval when the hub published the id while the approval waited', async () => {
    const { gw, db } = await started();
    await tree();
    const county = { role: 'ADMIN' as const, org: 'JJ-RS', sub: 'jj-admin' };
    const countyOther = { role: 'ADMIN' as const, org: 'JJ-RS', sub: 'jj-admin-2' };
    const { version: _first, ...definition } = example('jinjiang-2026');
    const proposed = (await gw.query(county, PROPOSE, { input: { definition: { ...definition, id: 'jj-rs-race', planYears: [2025] } } })).data.proposeRuleSet;
    expect(proposed.userErrors).toEqual([]);
    // The hub publishes the same id meanwhile, holding the lock that orders its publishers until it commits.
    const { work: approving } = await commitOnceWaitedOn(
      db.pool,
      async (hub) => {
        await hub.query(`SELECT pg_advisory_xact_lock(hashtext('rule_sets:jj-rs-race'))`);
        await hub.query(
          `INSERT INTO rule_sets (id, version, plan_years, definition, published_by) VALUES ('jj-rs-race', 1, '{2025}', $1, 'hub-admin')`,
          [JSON.stringify({ ...definition, id: 'jj-rs-race', version: 1, planYears: [2025] })],
        );
      },
      () => gw.query(countyOther, APPROVE, { id: proposed.proposal.id }),
    );
    expect((await approving).data.approveRuleSetProposal).toEqual({ proposal: null, userErrors: [{ field: 'id', code: 'INVALID' }] });
    const { rows } = await db.pool.query(`SELECT version, organisation_id AS "organisationId" FROM rule_sets WHERE id = 'jj-rs-race' ORDER BY version`);
    expect(rows).toEqual([{ version: 1, organisationId: null }]);
  });
});

describe('forged input', () => {
  it('refuses IDs of another type, unknown versions, years the rule set does not cover and bad dates, naming the field', async () => {
    const { gw } = await started();
    const { gid } = await tree();
    const admin = { role: 'ADMIN' as const, sub: 'alice' };
    const cases: [Record<string, unknown>, string][] = [
      [{ organisationId: toGlobalId('Claim', 1) }, 'input.organisationId'],
      [{ organisationId: toGlobalId('Organisation', 999_999) }, 'input.organisationId'],
      [{ version: 99 }, 'input.version'],
      [{ planYear: 2031 }, 'input.planYear'],
      [{ note: 'x'.repeat(2001) }, 'input.note'],
    ];
    for (const [change, field] of cases) {
      const answer = await gw.query(admin, ASSIGN, { input: { ...assignment(gid('JJ')).input, ...change } });
      expect(answer.data.proposeRuleSetAssignment.userErrors.map((e: { field: string }) => e.field), field).toEqual([field]);
    }
    const badDate = await gw.query(admin, ASSIGN, { input: { ...assignment(gid('JJ')).input, effectiveFrom: '2025-02-30' } });
    expect(badDate.errors?.[0] ?? badDate.data.proposeRuleSetAssignment.userErrors[0]).toBeTruthy();
    const forged = await gw.query({ role: 'ADMIN', sub: 'bob' }, APPROVE, { id: toGlobalId('Claim', 1) });
    expect(forged.data.approveRuleSetProposal.userErrors).toEqual([{ field: 'input.proposalId', code: 'INVALID' }]);
    const unknownFunder = { ...example('quanzhou-2026'), id: 'evil-2026' };
    unknownFunder.programmes.PROVINCIAL_SUBSIDY.funder = 'NOBODY';
    const refused = await gw.query(admin, PROPOSE, { input: { definition: unknownFunder } });
    expect(refused.data.proposeRuleSet.userErrors).toEqual([{ field: 'input.definition.programmes.PROVINCIAL_SUBSIDY.funder', code: 'INVALID' }]);
  });
});

describe('what-if', () => {
  it('is read by ADMINs in scope only, bounded, and changes nothing', async () => {
    const { db, gw } = await started();
    const { gid } = await tree();
    const id = (await gw.query({ role: 'ADMIN', sub: 'alice' }, ASSIGN, assignment(gid('JJ')))).data.proposeRuleSetAssignment.proposal.id;
    const WHAT_IF = `query($id: ID!, $first: Int) { node(id: $id) { ... on RuleSetProposal { whatIf(first: $first) { planYear claimsReplayed programmes { programme beforeFen afterFen } } } } }`;
    const answer = await gw.query({ role: 'ADMIN', sub: 'bob' }, WHAT_IF, { id });
    expect(answer.data.node.whatIf).toMatchObject({ planYear: 2024, claimsReplayed: 0 });
    expect(answer.data.node.whatIf.programmes.map((p: { programme: string }) => p.programme)).toEqual(['INPATIENT', 'CRITICAL', 'MAJOR_DISEASE', 'PROVINCIAL_SUBSIDY']);
    const tooMany = await gw.query({ role: 'ADMIN', sub: 'bob' }, WHAT_IF, { id, first: 101 });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    expect((await gw.query({ role: 'REVIEWER' }, WHAT_IF, { id })).data.node).toBeNull();
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM organisation_rule_sets WHERE proposal_id = $1`, [Number(Buffer.from(id, 'base64url').toString().split(':')[1])]);
    expect(rows[0].n).toBe(0);
  });
});
