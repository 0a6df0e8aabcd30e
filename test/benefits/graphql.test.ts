import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { fen } from './support.ts';
import { claimOf, seedEnrolledMember, seedSettlement, totalsOf, type MemberSetup } from './seed.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('./fixtures/jinjiang-preview.json', import.meta.url));
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };

let db: TestDatabase;
let gw: TestGateway;
let a: MemberSetup;
let b: MemberSetup;
/** a: small claim (auto-approved), big claim (pending); b: one pending claim. */
let small: number;
let big: number;
let other: number;

const CLAIM = `id status totalFen computedTotalFen memberPaysFen decidedBy decisionReason
  lines { id programme computedFen adjustedFen adjustmentReason amountFen status explanation { zh en } }`;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  a = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  b = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  // small: (10,000 − 2,000) × 60% = 4,800 -> APPROVED (≤ 10,000 threshold).
  small = await seedSettlement(db.pool, a, { psn: '10,000.00', ownpay: '2,000.00', setlTime: '2025-03-01 10:00:00' });
  // big: 40,000 × 60% = 24,000 -> PENDING_REVIEW (above 10,000); R = 40,000 − 24,000 = 16,000.
  big = await seedSettlement(db.pool, a, { psn: '40,000.00', setlTime: '2025-04-01 10:00:00' });
  other = await seedSettlement(db.pool, b, { psn: '40,000.00', setlTime: '2025-04-01 10:00:00' });
  await adjudicateSettlements(db.pool, [small, big, other], OPTIONS);
});

afterAll(async () => {
  await gw.close();
  await db.drop();
});

const claimGid = async (settlementId: number) => toGlobalId('Claim', (await claimOf(db.pool, settlementId))!.id);

describe('claims in GraphQL', () => {
  it('lists claims with filters and explanations', async () => {
    const res = await gw.query({ role: 'ADMIN' }, `query($f: ClaimFilter) { claims(filter: $f) { totalCount edges { node { status totalFen settlement { setlId } lines { programme explanation { zh en } } } } } }`,
      { f: { memberId: toGlobalId('Member', a.memberId) } });
    expect(res.errors).toBeUndefined();
    expect(res.data.claims.totalCount).toBe(2);
    expect(res.data.claims.edges.map((e: any) => e.node.status)).toEqual(['PENDING_REVIEW', 'APPROVED']);
    expect(res.data.claims.edges[1].node.lines[0].explanation.zh).toContain('基数 8,000.00 × 60% = 4,800.00');
    expect(res.data.claims.edges[1].node.lines[0].explanation.en).toContain('basis 8,000.00 × 60% = 4,800.00');
    expect(res.data.claims.edges[1].node.lines[0].explanation.en).not.toMatch(/[\u4e00-\u9fff]/);
    const ranged = await gw.query({ role: 'ADMIN' }, `query($f: ClaimFilter) { claims(filter: $f) { totalCount } }`,
      { f: { minTotalFen: fen('20,000.00'), programme: 'INPATIENT', status: 'PENDING_REVIEW', settledFrom: '2025-04-01', settledTo: '2025-04-01' } });
    expect(ranged.data.claims.totalCount).toBe(2);
    const byUnit = await gw.query({ role: 'ADMIN' }, `query($f: ClaimFilter) { claims(filter: $f) { totalCount } }`, { f: { unitId: toGlobalId('Unit', b.unitId) } });
    expect(byUnit.data.claims.totalCount).toBe(1);
  });

  it('scopes claims: a unit operator and a member see only their own; out of scope is null, as if it did not exist', async () => {
    const op = { role: 'UNIT_OPERATOR' as const, unit: a.creditCode };
    const list = await gw.query(op, `{ claims { totalCount } }`);
    expect(list.data.claims.totalCount).toBe(2);
    const foreign = await gw.query(op, `query($id: ID!) { claim(id: $id) { id totalFen } }`, { id: await claimGid(other) });
    expect(foreign).toEqual({ data: { claim: null } });
    const member = { role: 'MEMBER' as const, member: toGlobalId('Member', b.memberId) };
    const own = await gw.query(member, `{ claims { totalCount edges { node { totalFen } } } }`);
    expect(own.data.claims.totalCount).toBe(1);
    const notOwn = await gw.query(member, `query($id: ID!) { claim(id: $id) { id totalFen } }`, { id: await claimGid(small) });
    expect(notOwn).toEqual({ data: { claim: null } });
  });

  it('member.benefitTotals and settlement.claim', async () => {
    const res = await gw.query({ role: 'ADMIN' }, `query($id: ID!) { node(id: $id) { ... on Member { benefitTotals(year: 2025) { inpatientFen criticalFen outOfPocketFen claims }
      claims { totalCount } } } }`, { id: toGlobalId('Member', a.memberId) });
    // 4,800 + 24,000 INPATIENT; R = (10,000 − 4,800) + (40,000 − 24,000) = 21,200, under 50,000: no CRITICAL.
    expect(res.data.node.benefitTotals).toEqual({ inpatientFen: fen('28,800.00'), criticalFen: 0, outOfPocketFen: fen('21,200.00'), claims: 2 });
    const s = await gw.query({ role: 'ADMIN' }, `query($id: ID!) { settlement(id: $id) { claim { status totalFen } } }`, { id: toGlobalId('Settlement', small) });
    expect(s.data.settlement.claim).toEqual({ status: 'APPROVED', totalFen: fen('4,800.00') });
  });
});

describe('review', () => {
  it('only REVIEWER and ADMIN may decide', async () => {
    for (const role of ['UNIT_OPERATOR', 'FINANCE', 'AUDITOR', 'SERVICE'] as const) {
      const res = await gw.query({ role, unit: role === 'UNIT_OPERATOR' ? a.creditCode : undefined },
        `mutation($id: ID!, $total: Fen!) { approveClaim(input: { claimId: $id, checkedTotalFen: $total }) { claim { id } } }`,
        { id: await claimGid(big), total: (await claimOf(db.pool, big))!.totalFen });
      expect(res.errors?.[0]?.extensions?.code, role).toBe('FORBIDDEN');
    }
  });

  it('adjusts a line downwards with a reason, keeps the computed amount, updates totals, then approves', async () => {
    const claim = (await gw.query({ role: 'REVIEWER' }, `query($id: ID!) { claim(id: $id) { ${CLAIM} } }`, { id: await claimGid(big) })).data.claim;
    const inpatient = claim.lines.find((l: any) => l.programme === 'INPATIENT');
    const ADJUST = `mutation($i: AdjustClaimLineInput!) { adjustClaimLine(input: $i) { claim { ${CLAIM} } userErrors { field code } } }`;
    const tooMuch = await gw.query({ role: 'REVIEWER' }, ADJUST, { i: { lineId: inpatient.id, amountFen: fen('24,000.01'), reason: 'more than computed' } });
    expect(tooMuch.data.adjustClaimLine).toEqual({ claim: null, userErrors: [{ field: 'input.amountFen', code: 'INVALID' }] });
    const noReason = await gw.query({ role: 'REVIEWER' }, ADJUST, { i: { lineId: inpatient.id, amountFen: 0, reason: ' ' } });
    expect(noReason.data.adjustClaimLine.userErrors).toEqual([{ field: 'input.reason', code: 'INVALID' }]);

    const adjusted = await gw.query({ role: 'REVIEWER', sub: 'rev-1' }, ADJUST, { i: { lineId: inpatient.id, amountFen: fen('20,000.00'), reason: 'items not covered by the programme' } });
    expect(adjusted.data.adjustClaimLine.userErrors).toEqual([]);
    const adjustedClaim = adjusted.data.adjustClaimLine.claim;
    const line = adjustedClaim.lines.find((l: any) => l.programme === 'INPATIENT');
    expect(line).toMatchObject({ computedFen: fen('24,000.00'), adjustedFen: fen('20,000.00'), amountFen: fen('20,000.00'), adjustmentReason: 'items not covered by the programme' });
    expect(adjustedClaim).toMatchObject({ status: 'PENDING_REVIEW', computedTotalFen: fen('24,000.00'), totalFen: fen('20,000.00'), memberPaysFen: fen('20,000.00') });
    // 4,800 + 20,000.
    expect((await totalsOf(db.pool, a.memberId)).INPATIENT).toBe(fen('24,800.00'));
    // Raised again it would take back room of the year other claims may have taken since (past the cap): refused.
    const raised = await gw.query({ role: 'REVIEWER', sub: 'rev-1' }, ADJUST, { i: { lineId: inpatient.id, amountFen: fen('24,000.00'), reason: 'lowered by mistake' } });
    expect(raised.data.adjustClaimLine).toEqual({ claim: null, userErrors: [{ field: 'input.amountFen', code: 'INVALID' }] });
    expect((await totalsOf(db.pool, a.memberId)).INPATIENT).toBe(fen('24,800.00'));

    const APPROVE = `mutation($id: ID!, $total: Fen!) { approveClaim(input: { claimId: $id, checkedTotalFen: $total, note: "checked" }) { claim { ${CLAIM} } } }`;
    const approved = await gw.query({ role: 'REVIEWER', sub: 'rev-2' }, APPROVE, { id: await claimGid(big), total: adjustedClaim.totalFen });
    expect(approved.data.approveClaim.claim).toMatchObject({ status: 'APPROVED', decidedBy: 'rev-2', decisionReason: 'checked' });
    expect(approved.data.approveClaim.claim.lines.every((l: any) => l.status === 'APPROVED')).toBe(true);
    const again = await gw.query({ role: 'REVIEWER' }, `mutation($id: ID!, $total: Fen!) { approveClaim(input: { claimId: $id, checkedTotalFen: $total }) { claim { id } userErrors { field code message } } }`,
      { id: await claimGid(big), total: adjustedClaim.totalFen });
    expect(again.data.approveClaim).toEqual({ claim: null, userErrors: [{ field: 'input.claimId', code: 'CONFLICT', message: 'the claim is APPROVED, not PENDING_REVIEW' }] });

    const { rows } = await db.pool.query(`SELECT actor, action, reason FROM audit_log WHERE action IN ('claim.adjust_line', 'claim.approve') ORDER BY seq`);
    expect(rows).toEqual([
      { actor: 'rev-1', action: 'claim.adjust_line', reason: 'items not covered by the programme' },
      { actor: 'rev-2', action: 'claim.approve', reason: 'checked' },
    ]);
  });

  it('rejects with a reason and releases the amounts from the totals', async () => {
    expect((await totalsOf(db.pool, b.memberId))).toMatchObject({ INPATIENT: fen('24,000.00'), outOfPocket: fen('16,000.00'), claims: 1 });
    // A reason is printed on the member's sealed notice: one too long for it is refused, nothing decided.
    const long = await gw.query({ role: 'ADMIN', sub: 'admin-1' }, `mutation($id: ID!, $r: String!) { rejectClaim(input: { claimId: $id, reason: $r }) { claim { id } userErrors { field code message } } }`, { id: await claimGid(other), r: '理'.repeat(2_001) });
    expect(long.data.rejectClaim).toEqual({ claim: null, userErrors: [{ field: 'input.reason', code: 'INVALID', message: 'input.reason: must be at most 2000 characters (2001 given)' }] });
    const res = await gw.query({ role: 'ADMIN', sub: 'admin-1' }, `mutation($id: ID!) { rejectClaim(input: { claimId: $id, reason: "not a covered stay" }) { claim { ${CLAIM} } } }`, { id: await claimGid(other) });
    expect(res.data.rejectClaim.claim).toMatchObject({ status: 'REJECTED', decisionReason: 'not a covered stay', decidedBy: 'admin-1' });
    expect(res.data.rejectClaim.claim.lines.every((l: any) => l.status === 'REJECTED')).toBe(true);
    expect(await totalsOf(db.pool, b.memberId)).toMatchObject({ INPATIENT: 0, outOfPocket: 0, claims: 0 });
    const { rows } = await db.pool.query(`SELECT reason FROM audit_log WHERE action = 'claim.reject'`);
    expect(rows).toEqual([{ reason: 'not a covered stay' }]);
  });
});

describe('rule sets and preview', () => {
  it('benefitPreview returns what the CLI prints for the same input', async () => {
    const input = readFileSync(EXAMPLE, 'utf8');
    const res = await gw.query({ role: 'MEMBER', member: toGlobalId('Member', a.memberId) },
      `query($input: JSON!) { benefitPreview(ruleSetId: "jinjiang-example", input: $input) { ruleSet eligible totalFen memberPaysFen lines { programme amountFen } json } }`, { input: JSON.parse(input) });
    expect(res.errors).toBeUndefined();
    const { stdout } = await promisify(execFile)('node', ['bin/hub.mjs', 'benefits', 'preview', '--rules', 'jinjiang-example', '--input', EXAMPLE], { cwd: ROOT });
    expect(JSON.parse(res.data.benefitPreview.json)).toEqual(JSON.parse(stdout));
    expect(res.data.benefitPreview).toMatchObject({ totalFen: fen('98,800.00'), memberPaysFen: fen('37,900.00') });
    expect(res.data.benefitPreview.lines.map((l: any) => l.amountFen)).toEqual([fen('16,800.00'), fen('72,000.00'), fen('10,000.00')]);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM claims`);
    expect(rows[0].n).toBe(3);
    const bad = await gw.query({ role: 'ADMIN' }, `query($input: JSON!) { benefitPreview(ruleSetId: "jinjiang-example", input: $input) { totalFen } }`,
      { input: { ...JSON.parse(input), plan: 'GOLD' } });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.plan' });
  });

  it('publishRuleSet proposes a version that another ADMIN approves, keeping the old ones; only ADMIN; errors name the field', async () => {
    const v1 = (await gw.query({ role: 'ADMIN' }, `{ ruleSet(ruleSetId: "default-2025") { version definition shipped assignedPlanYears } }`)).data.ruleSet;
    expect(v1).toMatchObject({ version: 1, shipped: true, assignedPlanYears: [2025] });
    const definition = structuredClone(v1.definition);
    definition.version = undefined;
    definition.programmes.INPATIENT.ratioBp.PUBLIC = 7000;
    const denied = await gw.query({ role: 'REVIEWER' }, `mutation($d: JSON!) { publishRuleSet(input: { definition: $d }) { ruleSet { version } } }`, { d: definition });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const invalid = structuredClone(definition);
    invalid.programmes.INPATIENT.ratioBp.PUBLIC = 20000;
    invalid.version = 7;
    const bad = await gw.query({ role: 'ADMIN' }, `mutation($d: JSON!) { publishRuleSet(input: { definition: $d }) { ruleSet { version } userErrors { field code } } }`, { d: invalid });
    // Every problem at once: the version and the ratio.
    expect(bad.data.publishRuleSet).toEqual({ ruleSet: null, userErrors: [
      { field: 'input.definition.version', code: 'INVALID' }, { field: 'input.definition.programmes.INPATIENT.ratioBp.PUBLIC', code: 'INVALID' },
    ] });
    const proposed = await gw.query({ role: 'ADMIN' }, `mutation($d: JSON!) { publishRuleSet(input: { definition: $d }) { ruleSet { version } proposal { id status } } }`, { d: definition });
    expect(proposed.data.publishRuleSet).toMatchObject({ ruleSet: null, proposal: { status: 'PROPOSED' } });
    const approved = await gw.query({ role: 'ADMIN', sub: 'second-admin' }, `mutation($id: ID!) { approveRuleSetProposal(input: { proposalId: $id }) { proposal { ruleSet { ruleSetId version shipped } } userErrors { field } } }`,
      { id: proposed.data.publishRuleSet.proposal.id });
    expect(approved.data.approveRuleSetProposal.proposal.ruleSet).toEqual({ ruleSetId: 'default-2025', version: 2, shipped: false });
    // JSON that is not an object (the old JSON-in-a-string included) is refused on the field.
    const text = await gw.query({ role: 'ADMIN' }, `mutation($d: JSON!) { publishRuleSet(input: { definition: $d }) { ruleSet { version } userErrors { field code } } }`, { d: JSON.stringify(definition) });
    expect(text.data.publishRuleSet).toEqual({ ruleSet: null, userErrors: [{ field: 'input.definition', code: 'INVALID' }] });
    const all = await gw.query({ role: 'AUDITOR' }, `{ ruleSets(ruleSetId: "default-2025") { version } }`);
    expect(all.data.ruleSets).toEqual([{ version: 1 }, { version: 2 }]);
    // Claims decided before keep naming version 1; a new 2025 claim uses version 2 (70%).
    const old = await gw.query({ role: 'ADMIN' }, `query($id: ID!) { claim(id: $id) { ruleSet { version } } }`, { id: await claimGid(small) });
    expect(old.data.claim.ruleSet.version).toBe(1);
    const c = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const id = await seedSettlement(db.pool, c, { psn: '10,000.00' });
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    expect((await claimOf(db.pool, id))!.amounts.INPATIENT).toBe(fen('7,000.00'));
  });
});
