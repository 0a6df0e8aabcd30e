import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { approveClaims } from '../../src/benefits/review.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { REASON_MAX } from '../../src/kernel/errors.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember, seedSettlement, totalOfClaim, type MemberSetup } from '../benefits/seed.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/** Bulk review (`approveClaims`) keeps every rule of one approval: roles, four eyes, scope, limits. */

let db: TestDatabase;
let gw: TestGateway;
let member: MemberSetup;
/** Claims PENDING_REVIEW (24,000 CNY each). */
let claims: number[];

const APPROVE_CLAIMS = `mutation($input: ApproveClaimsInput!) {
  approveClaims(input: $input) { results { claimId claim { status decidedBy } userErrors { field code message } } userErrors { field code } }
}`;
const APPROVE = `mutation($input: ApproveClaimInput!) { approveClaim(input: $input) { claim { status } userErrors { field code message } } }`;
const ADJUST = `mutation($i: AdjustClaimLineInput!) { adjustClaimLine(input: $i) { userErrors { message } } }`;

/** The totals of `ids` as a reviewer reads them now, for `checkedTotalsFen`. */
const totalsOf = (ids: readonly number[]) => Promise.all(ids.map((id) => totalOfClaim(db.pool, id)));
const statuses = async () => (await db.pool.query<{ status: string }>(`SELECT status FROM claims WHERE id = ANY($1) ORDER BY id`, [claims])).rows.map((r) => r.status);

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0', GRAPHQL_MAX_NODES: '150' });
  member = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  const settlements = [];
  for (const day of ['01', '02', '03', '04']) settlements.push(await seedSettlement(db.pool, member, { psn: '40,000.00', setlTime: `2025-04-${day} 10:00:00` }));
  await adjudicateSettlements(db.pool, settlements, { autoApproveMaxFen: fen('10,000.00') });
  claims = await Promise.all(settlements.map(async (s) => (await claimOf(db.pool, s))!.id));
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('bulk review', () => {
  it('is refused to UNIT_OPERATOR, FINANCE and the others as a top-level FORBIDDEN, approving nothing', async () => {
    const claimIds = claims.map((id) => toGlobalId('Claim', id));
    for (const who of [{ role: 'UNIT_OPERATOR', unit: member.creditCode }, { role: 'FINANCE' }, { role: 'AUDITOR' }, { role: 'SERVICE' }] as const) {
      const res = await gw.query(who, APPROVE_CLAIMS, { input: { claimIds, checkedTotalsFen: await totalsOf(claims) } });
      expect(res.errors?.[0]?.extensions?.code, who.role).toBe('FORBIDDEN');
      expect(res.data, who.role).toBeNull();
    }
    expect(await statuses()).toEqual(['PENDING_REVIEW', 'PENDING_REVIEW', 'PENDING_REVIEW', 'PENDING_REVIEW']);
  });

  it('refuses more than 100 IDs, and counts them toward GRAPHQL_MAX_NODES, before approving anything', async () => {
    const many = Array.from({ length: 101 }, (_, i) => toGlobalId('Claim', claims[i % claims.length]!));
    const read = await totalsOf(claims);
    const checkedTotalsFen = many.map((_, i) => read[i % claims.length]!);
    const tooMany = await gw.query({ role: 'REVIEWER' }, APPROVE_CLAIMS, { input: { claimIds: many, checkedTotalsFen } });
    expect(tooMany.errors?.[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_NODES' }, message: expect.stringContaining('approveClaims(input.claimIds) lists 101 IDs') });
    // Two fields of 100 IDs ask for 200 objects: over this gateway's 150.
    const twice = await gw.query({ role: 'REVIEWER' }, `mutation($input: ApproveClaimsInput!) { a: approveClaims(input: $input) { userErrors { code } } b: approveClaims(input: $input) { userErrors { code } } }`,
      { input: { claimIds: many.slice(0, 100), checkedTotalsFen: checkedTotalsFen.slice(0, 100) } });
    expect(twice.errors?.[0]).toMatchObject({ extensions: { limit: 'GRAPHQL_MAX_NODES' }, message: expect.stringContaining('asks for up to 200 objects') });
    expect(await statuses()).toEqual(['PENDING_REVIEW', 'PENDING_REVIEW', 'PENDING_REVIEW', 'PENDING_REVIEW']);
  });

  it('never lets a reviewer approve a claim they adjusted (four eyes); the others are approved', async () => {
    const adjusted = toGlobalId('Claim', claims[0]!);
    const claim = await gw.query({ role: 'REVIEWER' }, `query($id: ID!) { claim(id: $id) { lines { id programme } } }`, { id: adjusted });
    const line = claim.data.claim.lines.find((l: { programme: string }) => l.programme === 'INPATIENT');
    const adjust = await gw.query({ role: 'REVIEWER', sub: 'rev-maker' }, ADJUST, { i: { lineId: line.id, amountFen: fen('20,000.00'), reason: 'items not covered by the programme' } });
    expect(adjust.data.adjustClaimLine.userErrors).toEqual([]);

    const other = toGlobalId('Claim', claims[1]!);
    const res = await gw.query({ role: 'REVIEWER', sub: 'rev-maker' }, APPROVE_CLAIMS, { input: { claimIds: [adjusted, other], checkedTotalsFen: await totalsOf(claims.slice(0, 2)) } });
    expect(res.data.approveClaims.results).toEqual([
      { claimId: adjusted, claim: null, userErrors: [{ field: 'input.claimIds[0]', code: 'CONFLICT', message: expect.stringContaining('rev-maker adjusted this claim and cannot also approve it') }] },
      { claimId: other, claim: { status: 'APPROVED', decidedBy: 'rev-maker' }, userErrors: [] },
    ]);
    expect((await statuses()).slice(0, 2)).toEqual(['PENDING_REVIEW', 'APPROVED']);
    const { rows } = await db.pool.query(`SELECT target_id AS "targetId" FROM audit_log WHERE action = 'claim.approve' AND actor = 'rev-maker'`);
    expect(rows).toEqual([{ targetId: String(claims[1]) }]);
  });

  it('answers a claim out of the caller\'s scope exactly as a missing one: NOT_FOUND, nothing decided', async () => {
    const reviewer = { subject: 'rev-scoped', role: 'REVIEWER' } as const;
    const otherUnit = member.unitId + 1_000;
    const refusals = await approveClaims(db.pool, reviewer, { unitId: otherUnit, memberId: null, organisationId: null }, [
      { id: claims[2]!, field: 'input.claimIds[0]', checkedTotalFen: await totalOfClaim(db.pool, claims[2]!), totalField: 'input.checkedTotalsFen[0]' },
      { id: 999_999, field: 'input.claimIds[1]', checkedTotalFen: 0, totalField: 'input.checkedTotalsFen[1]' },
    ], null);
    expect(refusals.map((r) => r && { code: r.code, message: r.message })).toEqual([
      { code: 'NOT_FOUND', message: 'claim not found' }, { code: 'NOT_FOUND', message: 'claim not found' },
    ]);
    expect((await statuses())[2]).toBe('PENDING_REVIEW');

    // Through the API: an ID of another type is bad input for the whole list, whether or not that object exists.
    const res = await gw.query({ role: 'REVIEWER' }, APPROVE_CLAIMS, {
      input: { claimIds: [toGlobalId('Claim', claims[2]!), toGlobalId('Member', member.memberId)], checkedTotalsFen: [await totalOfClaim(db.pool, claims[2]!), 0] },
    });
    expect(res.data.approveClaims).toEqual({ results: null, userErrors: [{ field: 'input.claimIds[1]', code: 'INVALID' }] });
    expect((await statuses())[2]).toBe('PENDING_REVIEW');
  });

  it('bounds the note kept with each decision as every person\'s reason (REASON_MAX): one over it is refused on input.note before any claim is approved, one or many', async () => {
    const pending = [claims[2]!, claims[3]!].map((id) => toGlobalId('Claim', id));
    const read = await totalsOf([claims[2]!, claims[3]!]);
    const over = 'x'.repeat(REASON_MAX + 1);
    const many = await gw.query({ role: 'REVIEWER', sub: 'rev-note' }, APPROVE_CLAIMS, { input: { claimIds: pending, checkedTotalsFen: read, note: over } });
    expect(many.data.approveClaims).toEqual({ results: null, userErrors: [{ field: 'input.note', code: 'INVALID' }] });
    const one = await gw.query({ role: 'REVIEWER', sub: 'rev-note' }, APPROVE, { input: { claimId: pending[0], checkedTotalFen: read[0], note: over } });
    expect(one.data.approveClaim).toEqual({ claim: null, userErrors: [{ field: 'input.note', code: 'INVALID', message: expect.stringContaining(`at most ${REASON_MAX} characters`) }] });
    expect((await statuses()).slice(2)).toEqual(['PENDING_REVIEW', 'PENDING_REVIEW']);
    const audited = async () => (await db.pool.query<{ n: number }>(
      `SELECT length(reason) AS n FROM audit_log WHERE action = 'claim.approve' AND actor = 'rev-note'`)).rows.map((r) => r.n);
    expect(await audited()).toEqual([]);

    // REASON_MAX characters are kept whole, with the decision and in the audit.
    const res = await gw.query({ role: 'REVIEWER', sub: 'rev-note' }, APPROVE_CLAIMS, { input: { claimIds: [pending[1]], checkedTotalsFen: [read[1]], note: 'y'.repeat(REASON_MAX) } });
    expect(res.data.approveClaims.results[0]).toMatchObject({ claim: { status: 'APPROVED' }, userErrors: [] });
    const { rows: [kept] } = await db.pool.query<{ n: number }>(`SELECT length(decision_reason) AS n FROM claims WHERE id = $1`, [claims[3]]);
    expect(kept!.n).toBe(REASON_MAX);
    expect(await audited()).toEqual([REASON_MAX]);
  });
});
