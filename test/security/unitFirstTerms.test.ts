import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { insertRunningRosterImport } from '../../src/members/store.ts';
import { UNIT_TERMS_WAITING } from '../../src/members/eligibility.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers } from '../../src/demo/sampleData.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { JINJIANG_CRITICAL_STAY, jinjiangRules } from '../support/units.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, payContribution, seedMember, seedSettlement, seedUnit } from '../benefits/seed.ts';

/**
 * Attack 141: a unit's first terms set by one ADMIN. A change of a unit's terms takes two ADMINs
 * (attack 102: a unit made NON_PUBLIC has Jinjiang's rules pay its member CRITICAL, 72,000.00 CNY from
 * the union's fund), but `createUnit` gave a new unit its terms at once: one county ADMIN registered a
 * NON_PUBLIC unit, enrolled its members (or moved members into it) and their claims were paid under
 * terms no second person checked. A new unit's terms now wait for another ADMIN, as a change does;
 * until then none of its members is enrolled, whoever asks, and the database refuses it too.
 */

let db: TestDatabase;
let gw: TestGateway;
const cache = new RuleSetCache();
const OPTIONS = { autoApproveMaxFen: fen('1,000,000.00'), ruleSets: cache };
const CASE = JINJIANG_CRITICAL_STAY;

const COUNTY_ADMIN = { role: 'ADMIN', org: 'JJ', sub: 'jj-admin-solo' } as const;
const CITY_ADMIN = { role: 'ADMIN', org: 'QZ', sub: 'qz-admin' } as const;

const TERMS = `termsConfirmed unitType planType smallMicro pendingTermsChange { unitType planType smallMicro reason proposedAt proposedBy { subject } }`;
const CREATE = `mutation($input: CreateUnitInput!) { createUnit(input: $input) { unit { id pendingTermsChange { proposedAt } } userErrors { field code message } } }`;
const CONFIRM = `mutation($input: ConfirmUnitTermsChangeInput!) { confirmUnitTermsChange(input: $input) {
  change { confirmed confirmedBy { subject } } unit { ${TERMS} } userErrors { field code message } } }`;
const ENROL = `mutation($input: EnrolMemberInput!) { enrolMember(input: $input) { enrolment { id planYear } userErrors { field code message } } }`;
const MOVE = `mutation($input: MoveMemberInput!) { moveMember(input: $input) { member { id } userErrors { field code message } } }`;
const CREATE_MEMBER = `mutation($input: CreateMemberInput!) { createMember(input: $input) { member { id } userErrors { field code message } } }`;
/** A 2026 enrolment from 1 January, so a June stay is past the 90 days' wait: back-dated, as an ADMIN may. */
const FROM_JANUARY = { planYear: 2026, plan: 'PRIVATE', specialDisease: true, enrolledOn: '2026-01-01', override: { rules: ['BACKDATED'], reason: '年初已入会，补录' } };

/** A worker of the unit with credit code `unitCreditCode`, another each time (sample ID numbers repeat across seeds, not within one). */
let workers = 0;
const worker = (unitCreditCode: string) => [...sampleMembers((workers += 1), [{ creditCode: unitCreditCode, name: 'u', planType: 'PRIVATE' }], 141)].at(-1)!;
const creditCode = () => withCreditCodeCheck(`91350500${(randomBytes(8).readBigUInt64BE() % 10n ** 9n).toString().padStart(9, '0')}`);

/** The county ADMIN alone registers a NON_PUBLIC unit of Jinjiang, and a member in it. */
async function nonPublicUnit(): Promise<{ unit: string; unitId: number; creditCode: string; member: string; memberId: number; proposedAt: string }> {
  const code = creditCode();
  const created = await gw.query(COUNTY_ADMIN, CREATE, { input: { creditCode: code, name: `民营单位 ${code}`, planType: 'PRIVATE', unitType: 'NON_PUBLIC' } });
  expect(created.data?.createUnit.userErrors, JSON.stringify(created)).toEqual([]);
  const { unit } = created.data!.createUnit;
  // Registering a member decides nothing: it is allowed.
  const sample = worker(code);
  const registered = await gw.query(COUNTY_ADMIN, CREATE_MEMBER, { input: { unitId: unit.id, name: sample.name, idNumber: sample.idNumber } });
  expect(registered.data?.createMember.userErrors, JSON.stringify(registered)).toEqual([]);
  const member = registered.data!.createMember.member.id;
  return {
    unit: unit.id, unitId: localId('id', unit.id, 'Unit'), creditCode: code, member, memberId: localId('id', member, 'Member'),
    proposedAt: unit.pendingTermsChange?.proposedAt,
  };
}

const enrolmentsOf = async (memberId: number) => (await db.pool.query(`SELECT id FROM enrolments WHERE member_id = $1`, [memberId])).rowCount;

beforeAll(async () => {
  db = await freshDatabase();
  await jinjiangRules(db.pool, cache);
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('a unit\'s first terms are not one ADMIN\'s to set', () => {
  it('one ADMIN creates a NON_PUBLIC unit: its member is enrolled by no one (CONFLICT), its terms shown waiting', async () => {
    const u = await nonPublicUnit();
    const byCreator = await gw.query(COUNTY_ADMIN, ENROL, { input: { memberId: u.member, ...FROM_JANUARY } });
    const operator = { role: 'UNIT_OPERATOR', unit: u.creditCode, sub: 'operator-new' } as const;
    const byOperator = await gw.query(operator, ENROL, { input: { memberId: u.member, planYear: 2026 } });
    const report = { byCreator: byCreator.data?.enrolMember ?? byCreator.errors, byOperator: byOperator.data?.enrolMember ?? byOperator.errors, enrolments: await enrolmentsOf(u.memberId) };
    const refused = { enrolment: null, userErrors: [{ field: 'input.memberId', code: 'CONFLICT', message: `input.memberId: ${UNIT_TERMS_WAITING}` }] };
    expect(report, JSON.stringify(report)).toEqual({ byCreator: refused, byOperator: refused, enrolments: 0 });

    // The unit shows its terms as proposed by its creator, waiting.
    const seen = await gw.query(CITY_ADMIN, `query($id: ID!) { unit(id: $id) { ${TERMS} } }`, { id: u.unit });
    expect(seen.data.unit).toMatchObject({
      termsConfirmed: false, unitType: 'NON_PUBLIC',
      pendingTermsChange: { unitType: 'NON_PUBLIC', planType: 'PRIVATE', smallMicro: false, proposedBy: { subject: 'jj-admin-solo' } },
    });
  });

  it('a roster\'s rows enrolling its members are refused on plan_year', async () => {
    const u = await nonPublicUnit();
    const importId = await insertRunningRosterImport(db.pool, { fileName: 'new-unit.csv', defaultUnitId: null, createdBy: 'jj-admin-solo' });
    const result = await importRoster(db.pool, gw.keys, ROSTER_HEADER + rosterLine(worker(u.creditCode), 2026, false), { importId, today: '2026-03-02' });
    expect({ enrolmentsCreated: result.enrolmentsCreated, errors: result.errors }, JSON.stringify(result)).toEqual({
      enrolmentsCreated: 0, errors: [{ row: 2, field: 'plan_year', reason: UNIT_TERMS_WAITING }],
    });
    const { rowCount } = await db.pool.query(`SELECT 1 FROM enrolments e JOIN units u ON u.id = e.unit_id WHERE u.credit_code = $1`, [u.creditCode]);
    expect(rowCount).toBe(0);
  });

  it('an ADMIN cannot move a member into it (CONFLICT on input.unitId)', async () => {
    const u = await nonPublicUnit();
    const elsewhere = await seedUnit(db.pool, 'PRIVATE');
    const memberId = await seedMember(db.pool, elsewhere.id);
    const moved = await gw.query({ role: 'ADMIN' }, MOVE, { input: { memberId: toGlobalId('Member', memberId), unitId: u.unit, reason: '调入新单位' } });
    expect(moved.data?.moveMember ?? moved.errors, JSON.stringify(moved)).toEqual({
      member: null, userErrors: [{ field: 'input.unitId', code: 'CONFLICT', message: `input.unitId: ${UNIT_TERMS_WAITING}` }],
    });
    expect((await db.pool.query(`SELECT unit_id FROM members WHERE id = $1`, [memberId])).rows[0].unit_id).toBe(elsewhere.id);
  });

  it('the database refuses an enrolment in it, and its terms confirmed by hand', async () => {
    const u = await nonPublicUnit();
    await expect(db.pool.query(
      `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
       VALUES ($1, $2, 2026, 'PRIVATE', true, '2026-01-01', '2026-01-01')`, [u.memberId, u.unitId],
    )).rejects.toMatchObject({ code: '23514', constraint: 'enrolments_unit_terms_confirmed' });
    await expect(db.pool.query(`UPDATE units SET terms_confirmed = true WHERE id = $1`, [u.unitId]))
      .rejects.toMatchObject({ code: '23514', constraint: 'units_terms_four_eyes' });
    // Nor by a confirmation of its first terms naming one of them only (what the second ADMIN checks is all three).
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE unit_terms_changes SET status = 'WITHDRAWN', withdrawn_by = 'jj-admin-solo', withdrawal_reason = '重新提出' WHERE unit_id = $1`, [u.unitId]);
      await client.query(`INSERT INTO unit_terms_changes (unit_id, unit_type, reason, proposed_by) VALUES ($1, 'NON_PUBLIC', '仅单位性质', 'jj-admin-solo')`, [u.unitId]);
      await client.query(`UPDATE unit_terms_changes SET status = 'CONFIRMED', confirmed_by = 'someone-else' WHERE unit_id = $1 AND status = 'PROPOSED'`, [u.unitId]);
      await expect(client.query(`UPDATE units SET terms_confirmed = true WHERE id = $1`, [u.unitId])).rejects.toMatchObject({ constraint: 'units_terms_four_eyes' });
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('its creator cannot confirm them (FORBIDDEN); another ADMIN does, and the member is enrolled and paid under them', async () => {
    const u = await nonPublicUnit();
    const own = await gw.query(COUNTY_ADMIN, CONFIRM, { input: { unitId: u.unit, proposedAt: u.proposedAt } });
    expect(own.errors?.[0]?.extensions?.code, JSON.stringify(own)).toBe('FORBIDDEN');
    expect(await enrolmentsOf(u.memberId)).toBe(0);

    const confirmed = await gw.query(CITY_ADMIN, CONFIRM, { input: { unitId: u.unit, proposedAt: u.proposedAt } });
    expect(confirmed.data?.confirmUnitTermsChange, JSON.stringify(confirmed)).toMatchObject({
      change: { confirmed: true, confirmedBy: { subject: 'qz-admin' } },
      unit: { termsConfirmed: true, unitType: 'NON_PUBLIC', pendingTermsChange: null },
      userErrors: [],
    });
    const enrolled = await gw.query(COUNTY_ADMIN, ENROL, { input: { memberId: u.member, ...FROM_JANUARY } });
    expect(enrolled.data?.enrolMember.userErrors, JSON.stringify(enrolled)).toEqual([]);
    await payContribution(db.pool, u.unitId, 2026);
    const enrolmentId = localId('id', enrolled.data!.enrolMember.enrolment.id, 'Enrolment');
    const id = await seedSettlement(db.pool, { unitId: u.unitId, creditCode: u.creditCode, memberId: u.memberId, enrolmentId }, CASE);
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    expect((await claimOf(db.pool, id))!.amounts.CRITICAL).toBe(fen('72,000.00'));
    const { rows } = await db.pool.query(`SELECT action, actor FROM audit_log WHERE target_type = 'Unit' AND target_id = $1 ORDER BY seq`, [String(u.unitId)]);
    expect(rows).toEqual([{ action: 'unit.create', actor: 'jj-admin-solo' }, { action: 'unit.terms.confirm', actor: 'qz-admin' }]);
  });

  it('terms given wrong are withdrawn and proposed again whole, for another ADMIN to confirm', async () => {
    const u = await nonPublicUnit();
    const withdrawn = await gw.query(COUNTY_ADMIN, `mutation($input: WithdrawUnitTermsChangeInput!) { withdrawUnitTermsChange(input: $input) { unit { ${TERMS} } userErrors { field code message } } }`,
      { input: { unitId: u.unit, reason: '单位性质录入错误' } });
    expect(withdrawn.data?.withdrawUnitTermsChange, JSON.stringify(withdrawn)).toMatchObject({ unit: { termsConfirmed: false, pendingTermsChange: null }, userErrors: [] });
    // Only the type given: the proposal names all three, as the unit has the others.
    const proposed = await gw.query(COUNTY_ADMIN, `mutation($input: UpdateUnitInput!) { updateUnit(input: $input) { unit { ${TERMS} } userErrors { field code message } } }`,
      { input: { unitId: u.unit, unitType: 'STATE_OWNED', reason: '工商登记为国有企业' } });
    expect(proposed.data?.updateUnit, JSON.stringify(proposed)).toMatchObject({
      unit: { termsConfirmed: false, unitType: 'NON_PUBLIC', pendingTermsChange: { unitType: 'STATE_OWNED', planType: 'PRIVATE', smallMicro: false } }, userErrors: [],
    });
    const confirmed = await gw.query(CITY_ADMIN, CONFIRM, { input: { unitId: u.unit, proposedAt: proposed.data!.updateUnit.unit.pendingTermsChange.proposedAt } });
    expect(confirmed.data?.confirmUnitTermsChange.unit, JSON.stringify(confirmed)).toMatchObject({ termsConfirmed: true, unitType: 'STATE_OWNED' });
  });
});
