import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commitOnceWaitedOn } from '../support/db.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { ensureShippedRuleSets, listRuleSets, loadRuleSet } from '../../src/benefits/catalogue.ts';
import { validateRuleSet, type RuleSet } from '../../src/benefits/rules/ruleSet.ts';
import { insertRuleSet, nextVersion, ruleSetsForYears } from '../../src/benefits/store.ts';
import { decideProposal, insertProposal } from '../../src/benefits/store/ruleSetProposals.ts';
import type { Tx } from '../../src/kernel/transaction.ts';

/**
 * Rule-set proposals as an attacker tries them: the wrong role, the proposer approving their own
 * proposal (through the API, the deprecated publishRuleSet and straight in the database), a version
 * published or rewritten straight in the database, an organisation's ADMIN reaching outside their
 * subtree or taking a shipped rule set's id ahead of the hub, forged IDs, a decision replayed.
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

  it('the database refuses a version published without an approved proposal, a version changed or removed, and a decided proposal changed', async () => {
    const { db, gw } = await started();
    await ensureShippedRuleSets(db.pool);
    const next = (await db.pool.query<{ v: number }>(`SELECT max(version) + 1 AS v FROM rule_sets WHERE id = 'default-2025'`)).rows[0]!.v;
    const rules = { ...loadRuleSet('default-2025'), version: next, description: 'one ADMIN\'s own 2025' };
    await expect(db.pool.query(`INSERT INTO rule_sets (id, version, plan_years, definition, published_by) VALUES ('default-2025', $1, '{2025}', $2, 'mallory')`,
      [next, JSON.stringify(rules)])).rejects.toThrow(/rule set default-2025 v\d+: a version is published only by a proposal another ADMIN approved/);
    await expect(db.pool.query(`UPDATE rule_sets SET definition = $1 WHERE id = 'default-2025' AND version = 1`, [JSON.stringify({ ...rules, version: 1 })]))
      .rejects.toThrow(/never changed or removed/);
    await expect(db.pool.query(`DELETE FROM rule_sets WHERE id = 'default-2025'`)).rejects.toThrow(/never changed or removed/);
    expect((await ruleSetsForYears(db.pool, [2025])).get(2025)).toMatchObject({ ruleSetId: 'default-2025', version: 1 });

    const { version: _first, ...definition } = example('jinjiang-2026');
    const proposed = (await gw.query({ role: 'ADMIN', sub: 'alice' }, PROPOSE, { input: { definition: { ...definition, id: 'db-guard-2026' } } })).data.proposeRuleSet;
    expect((await gw.query({ role: 'ADMIN', sub: 'bob' }, APPROVE, { id: proposed.proposal.id })).data.approveRuleSetProposal.userErrors).toEqual([]);
    const { id } = (await db.pool.query<{ id: number }>(`SELECT id FROM rule_set_proposals WHERE rule_set_id = 'db-guard-2026'`)).rows[0]!;
    for (const change of [`definition = definition || '{"description": "other rules"}'`, `decided_by = 'carol'`, `status = 'REJECTED', decision_note = 'x'`]) {
      await expect(db.pool.query(`UPDATE rule_set_proposals SET ${change} WHERE id = $1`, [id]), change).rejects.toThrow(/a decided proposal never changes/);
    }
    await expect(db.pool.query(`DELETE FROM rule_set_proposals WHERE id = $1`, [id])).rejects.toThrow(/a decided proposal never changes/);
    await expect(db.pool.query(
      `INSERT INTO rule_set_proposals (kind, status, rule_set_id, definition, proposed_by, decided_by, decided_at) VALUES ('PUBLICATION', 'APPROVED', 'default-2025', '{}', 'mallory', 'bob', now())`,
    )).rejects.toThrow(/made PROPOSED/);
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

/** A rule set as a later release would ship it, checked as the files are. */
function shippedLater(definition: Record<string, unknown>): RuleSet {
  const checked = validateRuleSet(definition);
  if (!checked.ok) throw new Error(`test setup: ${JSON.stringify(checked.errors)}`);
  return checked.ruleSet;
}

describe('shipped rule sets', () => {
  it('a county takes no id a shipped file names; its version under one a later release ships stops the release loading, naming it', async () => {
    const { gw, db } = await started();
    await tree();
    const county = { role: 'ADMIN' as const, org: 'JJ-RS', sub: 'jj-admin' };
    const countyOther = { role: 'ADMIN' as const, org: 'JJ-RS', sub: 'jj-admin-2' };
    const { version: _first, ...definition } = example('jinjiang-2026');
    const shipped = await gw.query(county, PROPOSE, { input: { definition: { ...definition, id: 'jinjiang-example' } } });
    expect(shipped.data.proposeRuleSet).toEqual({ proposal: null, userErrors: [{ field: 'input.definition.id', code: 'INVALID' }] });
    // Two of JJ's ADMINs publish default-2026 before the hub ships it.
    const own = (await gw.query(county, PROPOSE, { input: { definition: { ...definition, id: 'default-2026' } } })).data.proposeRuleSet;
    expect(own.userErrors).toEqual([]);
    expect((await gw.query(countyOther, APPROVE, { id: own.proposal.id })).data.approveRuleSetProposal.userErrors).toEqual([]);
    // A later release ships default-2026 v1 for the year's fallback: JJ's version is not taken for it, nor passed over.
    const release = [...listRuleSets(), shippedLater({ ...loadRuleSet('default-2025'), id: 'default-2026', planYears: [2026] })];
    await expect(ensureShippedRuleSets(db.pool, release)).rejects.toThrow(/default-2026 v1/);
    const { rows } = await db.pool.query(
      `SELECT o.code AS organisation, rs.shipped FROM rule_sets rs LEFT JOIN organisations o ON o.id = rs.organisation_id WHERE rs.id = 'default-2026'`);
    expect(rows).toEqual([{ organisation: 'JJ-RS', shipped: false }]);
  });

  it('a version the hub published under the id and version a later release ships loads only when it holds the same rules (however described)', async () => {
    const { gw, db } = await started();
    const { version: _first, ...definition } = example('jinjiang-2026');
    const hubs = { ...definition, id: 'hub-rs-2026' };
    const proposed = (await gw.query({ role: 'ADMIN', sub: 'alice' }, PROPOSE, { input: { definition: hubs } })).data.proposeRuleSet;
    expect((await gw.query({ role: 'ADMIN', sub: 'bob' }, APPROVE, { id: proposed.proposal.id })).data.approveRuleSetProposal.proposal)
      .toEqual({ status: 'APPROVED', ruleSetVersion: 1 });
    const other = shippedLater({ ...loadRuleSet('default-2025'), id: 'hub-rs-2026', planYears: [2026] });
    await expect(ensureShippedRuleSets(db.pool, [...listRuleSets(), other])).rejects.toThrow(/hub-rs-2026 v1/);
    const reworded = shippedLater({ ...hubs, version: 1, description: 'the same rules, described again' });
    await expect(ensureShippedRuleSets(db.pool, [...listRuleSets(), reworded])).resolves.toBeUndefined();
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
    // The hub publishes the same id meanwhile (two of its ADMINs, as approveRuleSetProposal does), holding
    // the lock that orders its publishers until it commits.
    const { work: approving } = await commitOnceWaitedOn(
      db.pool,
      async (held) => {
        const hub = held as Tx;
        const hubs = { ...definition, id: 'jj-rs-race', planYears: [2025] };
        const ruleSet = { ...hubs, version: await nextVersion(hub, hubs.id) };
        const proposal = await insertProposal(hub, {
          kind: 'PUBLICATION', ruleSetId: hubs.id, ruleSetVersion: null, definition: hubs, organisationId: null, planYear: null, effectiveFrom: null,
          note: '', proposedBy: 'hub-admin',
        });
        await insertRuleSet(hub, ruleSet, 'hub-admin');
        await decideProposal(hub, proposal.id, { status: 'APPROVED', decidedBy: 'hub-admin-2', note: null, ruleSetVersion: ruleSet.version });
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
