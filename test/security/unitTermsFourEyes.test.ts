import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { JINJIANG_CRITICAL_STAY, jinjiangRules } from '../support/units.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, payContribution, seedEnrolment, seedMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';

/**
 * A unit's terms (plan type, unit type, small-firm mark) decide which programmes of the approved rule
 * sets pay its members, stays before a change included (Audit C: one county ADMIN made a public
 * institution NON_PUBLIC with `updateUnit`, and Jinjiang's rules paid its member CRITICAL, 72,000.00
 * CNY from the UNION fund). As for rule sets and unit moves, a change takes two ADMINs: one proposes,
 * another in scope confirms the change they checked; the database refuses any other change.
 */

let db: TestDatabase;
let gw: TestGateway;
const cache = new RuleSetCache();
const OPTIONS = { autoApproveMaxFen: fen('1,000,000.00'), ruleSets: cache };
const CASE = JINJIANG_CRITICAL_STAY;
const WITHOUT_CRITICAL = { INPATIENT: fen('16,800.00'), MAJOR_DISEASE: fen('10,000.00') };

const COUNTY_ADMIN = { role: 'ADMIN', org: 'JJ', sub: 'jj-admin-solo' } as const;
const CITY_ADMIN = { role: 'ADMIN', org: 'QZ', sub: 'qz-admin' } as const;
const OTHER_CITY_ADMIN = { role: 'ADMIN', org: 'XM', sub: 'xm-admin' } as const;

const UNIT = `unit { unitType planType smallMicro pendingTermsChange { unitType planType smallMicro reason proposedAt proposedBy { subject } } }`;
const UPDATE = `mutation($input: UpdateUnitInput!) { updateUnit(input: $input) { ${UNIT} userErrors { field code message } } }`;
const CONFIRM = `mutation($input: ConfirmUnitTermsChangeInput!) { confirmUnitTermsChange(input: $input) {
  change { confirmed unitType confirmedBy { subject } proposedBy { subject } } ${UNIT} userErrors { field code message } } }`;
const WITHDRAW = `mutation($input: WithdrawUnitTermsChangeInput!) { withdrawUnitTermsChange(input: $input) {
  change { withdrawn withdrawnBy { subject } } ${UNIT} userErrors { field code message } } }`;

/** A member of a new unit of Jinjiang (JJ) with the given type, enrolled and paid up for 2026. */
async function member(unitType = 'PUBLIC_INSTITUTION'): Promise<MemberSetup & { unit: string }> {
  const creditCode = withCreditCodeCheck(`91350500${(randomBytes(8).readBigUInt64BE() % 10n ** 9n).toString().padStart(9, '0')}`);
  // Registered with its type, confirmed (an INSERT may state it: 0076; through the API a second ADMIN confirms a unit's first terms).
  const { rows: [unit] } = await db.pool.query<{ id: number }>(
    `INSERT INTO units (credit_code, name, plan_type, unit_type, organisation_id, terms_confirmed)
     VALUES ($1, $2, 'PRIVATE', $3, (SELECT id FROM organisations WHERE code = 'JJ'), true) RETURNING id`, [creditCode, `单位 ${creditCode}`, unitType],
  );
  const memberId = await seedMember(db.pool, unit!.id);
  const enrolmentId = await seedEnrolment(db.pool, memberId, unit!.id, { year: 2026, plan: 'PRIVATE', specialDisease: true });
  await payContribution(db.pool, unit!.id, 2026);
  return { unitId: unit!.id, creditCode, memberId, enrolmentId, unit: toGlobalId('Unit', unit!.id) };
}

const unitTypeOf = async (unitId: number) => (await db.pool.query(`SELECT unit_type FROM units WHERE id = $1`, [unitId])).rows[0].unit_type;

/** One ADMIN proposes NON_PUBLIC; answers the proposal's proposedAt. */
async function proposeNonPublic(unit: string, who: typeof COUNTY_ADMIN | typeof CITY_ADMIN = COUNTY_ADMIN, unitType = 'NON_PUBLIC'): Promise<string> {
  const res = await gw.query(who, UPDATE, { input: { unitId: unit, unitType, reason: '工商登记为民营企业' } });
  expect(res.data?.updateUnit.userErrors, JSON.stringify(res)).toEqual([]);
  return res.data!.updateUnit.unit.pendingTermsChange.proposedAt;
}

beforeAll(async () => {
  db = await freshDatabase();
  await jinjiangRules(db.pool, cache, ['XM']);
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('a unit\'s type is not one ADMIN\'s to change', () => {
  it('one county ADMIN alone: the unit stays PUBLIC_INSTITUTION and a claim decided after is decided as before', async () => {
    const m = await member();
    const id = await seedSettlement(db.pool, m, CASE);
    // The auditor's call: no second person, no reason (a document the API before four eyes answered too).
    const alone = await gw.query(COUNTY_ADMIN, `mutation($input: UpdateUnitInput!) { updateUnit(input: $input) { unit { unitType } userErrors { field code message } } }`, {
      input: { unitId: m.unit, unitType: 'NON_PUBLIC' },
    });
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    const claim = (await claimOf(db.pool, id))!;
    const report = { updateUnit: alone.data?.updateUnit ?? alone.errors, unitType: await unitTypeOf(m.unitId), critical: claim.amounts.CRITICAL ?? 0 };
    expect(report, JSON.stringify(report)).toMatchObject({ unitType: 'PUBLIC_INSTITUTION', critical: 0 });
    // Refused for want of a reason; the claim is decided as a public institution's member's.
    expect(report.updateUnit).toEqual({ unit: null, userErrors: [expect.objectContaining({ field: 'input.reason', code: 'INVALID' })] });
    expect(claim.ruleSetId).toBe('jinjiang-2026');
    expect(claim.amounts).toEqual(WITHOUT_CRITICAL);

    // With a reason: only proposed, shown as waiting; the unit keeps its type, and a stay decided now is decided as before.
    const proposed = await gw.query(COUNTY_ADMIN, UPDATE, { input: { unitId: m.unit, unitType: 'NON_PUBLIC', reason: '工商登记为民营企业' } });
    expect(proposed.data?.updateUnit, JSON.stringify(proposed)).toMatchObject({
      unit: { unitType: 'PUBLIC_INSTITUTION', pendingTermsChange: { unitType: 'NON_PUBLIC', planType: null, smallMicro: null, reason: '工商登记为民营企业', proposedBy: { subject: 'jj-admin-solo' } } },
      userErrors: [],
    });
    expect(await unitTypeOf(m.unitId)).toBe('PUBLIC_INSTITUTION');
    const later = await seedSettlement(db.pool, m, { ...CASE, setlTime: '2026-07-01 10:00:00' });
    await adjudicateSettlements(db.pool, [later], OPTIONS);
    // (The year's MAJOR_DISEASE allowance went to the first stay.)
    expect((await claimOf(db.pool, later))!.amounts.CRITICAL ?? 0).toBe(0);
  });

  it('the proposer cannot confirm their own change (FORBIDDEN), nor can the database be told they did', async () => {
    const m = await member();
    const proposedAt = await proposeNonPublic(m.unit);
    const own = await gw.query(COUNTY_ADMIN, CONFIRM, { input: { unitId: m.unit, proposedAt } });
    expect(own.errors?.[0]?.extensions?.code, JSON.stringify(own)).toBe('FORBIDDEN');
    expect(await unitTypeOf(m.unitId)).toBe('PUBLIC_INSTITUTION');
    // The row's four eyes, below the API.
    await expect(db.pool.query(`UPDATE unit_terms_changes SET status = 'CONFIRMED', confirmed_by = proposed_by WHERE unit_id = $1`, [m.unitId]))
      .rejects.toMatchObject({ code: '23514', constraint: 'unit_terms_changes_four_eyes' });
    // Still waiting, for another ADMIN.
    const still = await gw.query(CITY_ADMIN, `query($id: ID!) { unit(id: $id) { unitType pendingTermsChange { unitType } } }`, { id: m.unit });
    expect(still.data.unit).toEqual({ unitType: 'PUBLIC_INSTITUTION', pendingTermsChange: { unitType: 'NON_PUBLIC' } });
  });

  it('an ADMIN of another organisation gets NOT_FOUND, and sees no waiting change', async () => {
    const m = await member();
    const proposedAt = await proposeNonPublic(m.unit);
    const confirm = await gw.query(OTHER_CITY_ADMIN, CONFIRM, { input: { unitId: m.unit, proposedAt } });
    expect(confirm.data.confirmUnitTermsChange).toMatchObject({ change: null, unit: null, userErrors: [expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })] });
    const withdraw = await gw.query(OTHER_CITY_ADMIN, WITHDRAW, { input: { unitId: m.unit, reason: '不应变更' } });
    expect(withdraw.data.withdrawUnitTermsChange.userErrors).toEqual([expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })]);
    const propose = await gw.query(OTHER_CITY_ADMIN, UPDATE, { input: { unitId: m.unit, unitType: 'STATE_OWNED', reason: '越权变更' } });
    expect(propose.data.updateUnit.userErrors).toEqual([expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })]);
    const seen = await gw.query(OTHER_CITY_ADMIN, `query($id: ID!) { unit(id: $id) { pendingTermsChange { unitType } } }`, { id: m.unit });
    expect(seen.data.unit).toBeNull();
    expect(await unitTypeOf(m.unitId)).toBe('PUBLIC_INSTITUTION');
  });

  it('the database refuses a direct UPDATE of a unit\'s terms; a rename goes through', async () => {
    const m = await member();
    for (const set of [`unit_type = 'NON_PUBLIC'`, `plan_type = 'PUBLIC'`, `small_micro = true`]) {
      await expect(db.pool.query(`UPDATE units SET ${set} WHERE id = $1`, [m.unitId]), set).rejects.toMatchObject({ code: '23514', constraint: 'units_terms_four_eyes' });
    }
    // Not with a proposal waiting either: only its confirmation, by another person, in the same transaction, to what it proposed.
    await proposeNonPublic(m.unit);
    await expect(db.pool.query(`UPDATE units SET unit_type = 'NON_PUBLIC' WHERE id = $1`, [m.unitId])).rejects.toMatchObject({ constraint: 'units_terms_four_eyes' });
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE unit_terms_changes SET status = 'CONFIRMED', confirmed_by = 'someone-else' WHERE unit_id = $1 AND status = 'PROPOSED'`, [m.unitId]);
      await expect(client.query(`UPDATE units SET unit_type = 'STATE_OWNED' WHERE id = $1`, [m.unitId])).rejects.toMatchObject({ constraint: 'units_terms_four_eyes' });
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    await db.pool.query(`UPDATE units SET name = '改名单位' WHERE id = $1`, [m.unitId]);
    expect((await db.pool.query(`SELECT name, unit_type FROM units WHERE id = $1`, [m.unitId])).rows[0]).toEqual({ name: '改名单位', unit_type: 'PUBLIC_INSTITUTION' });
  });

  it('confirming a change that is not the one checked is CONFLICT (proposedAt)', async () => {
    const m = await member();
    const checked = await proposeNonPublic(m.unit);
    // The checked proposal is withdrawn and another is proposed in its place.
    const withdrawn = await gw.query(COUNTY_ADMIN, WITHDRAW, { input: { unitId: m.unit, reason: '录入错误，重新提出' } });
    expect(withdrawn.data.withdrawUnitTermsChange.userErrors).toEqual([]);
    const other = await proposeNonPublic(m.unit, COUNTY_ADMIN, 'STATE_OWNED');
    expect(other).not.toBe(checked);
    const stale = await gw.query(CITY_ADMIN, CONFIRM, { input: { unitId: m.unit, proposedAt: checked } });
    expect(stale.data.confirmUnitTermsChange.userErrors).toEqual([expect.objectContaining({ field: 'input.proposedAt', code: 'CONFLICT' })]);
    expect(await unitTypeOf(m.unitId)).toBe('PUBLIC_INSTITUTION');
    // None waiting at all: CONFLICT too.
    await gw.query(COUNTY_ADMIN, WITHDRAW, { input: { unitId: m.unit, reason: '暂不变更单位性质' } });
    const none = await gw.query(CITY_ADMIN, CONFIRM, { input: { unitId: m.unit, proposedAt: other } });
    expect(none.data.confirmUnitTermsChange.userErrors).toEqual([expect.objectContaining({ field: 'input.unitId', code: 'CONFLICT' })]);
    expect(await unitTypeOf(m.unitId)).toBe('PUBLIC_INSTITUTION');
  });

  it('control: a second ADMIN in scope confirms, and the change takes effect for claims decided after', async () => {
    const m = await member();
    const proposedAt = await proposeNonPublic(m.unit);
    const confirmed = await gw.query(CITY_ADMIN, CONFIRM, { input: { unitId: m.unit, proposedAt } });
    expect(confirmed.data?.confirmUnitTermsChange, JSON.stringify(confirmed)).toMatchObject({
      change: { confirmed: true, unitType: 'NON_PUBLIC', confirmedBy: { subject: 'qz-admin' }, proposedBy: { subject: 'jj-admin-solo' } },
      unit: { unitType: 'NON_PUBLIC', pendingTermsChange: null },
      userErrors: [],
    });
    expect(await unitTypeOf(m.unitId)).toBe('NON_PUBLIC');
    const id = await seedSettlement(db.pool, m, CASE);
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    expect((await claimOf(db.pool, id))!.amounts.CRITICAL).toBe(fen('72,000.00'));
    const { rows } = await db.pool.query(`SELECT action, actor FROM audit_log WHERE target_type = 'Unit' AND target_id = $1 ORDER BY seq`, [String(m.unitId)]);
    expect(rows).toEqual([{ action: 'unit.terms.propose', actor: 'jj-admin-solo' }, { action: 'unit.terms.confirm', actor: 'qz-admin' }]);
  });
});
