import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { confirmUnitTerms, lazyTestGateway } from '../support/gateway.ts';
import { localId } from '../../src/gateway/globalId.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';

/**
 * `updateUnit`: a rename takes effect at once; a change of the unit's terms (plan type, unit type,
 * small-firm mark) is only proposed, with a reason, and waits for a second ADMIN
 * (`confirmUnitTermsChange`) unless withdrawn (`withdrawUnitTermsChange`). The four eyes themselves:
 * test/security/unitTermsFourEyes.test.ts.
 */
const started = lazyTestGateway({ RATE_LIMIT_POINTS: '0' });
const LIN = { role: 'ADMIN', sub: 'admin-lin' } as const;
const CHEN = { role: 'ADMIN', sub: 'admin-chen' } as const;
const REVIEWER = { role: 'REVIEWER', sub: 'reviewer-wu' } as const;

const UNIT = `unit { id name planType unitType smallMicro pendingTermsChange { planType unitType smallMicro reason confirmed withdrawn proposedAt proposedBy { subject isViewer } } }`;
const UPDATE = `mutation($input: UpdateUnitInput!) { updateUnit(input: $input) { ${UNIT} userErrors { field code message } } }`;
const CONFIRM = `mutation($input: ConfirmUnitTermsChangeInput!) { confirmUnitTermsChange(input: $input) {
  change { confirmed planType unitType smallMicro confirmedBy { subject } } ${UNIT} userErrors { field code message } } }`;
const WITHDRAW = `mutation($input: WithdrawUnitTermsChangeInput!) { withdrawUnitTermsChange(input: $input) {
  change { withdrawn confirmed unitType withdrawnBy { subject } withdrawnAt withdrawalReason } ${UNIT} userErrors { field code message } } }`;

/** A new PRIVATE unit (NON_PUBLIC, not small) of the hub's own union, its terms confirmed; answers its global ID. */
async function newUnit(): Promise<string> {
  const { gw } = await started();
  const creditCode = withCreditCodeCheck(`91350500${(randomBytes(8).readBigUInt64BE() % 10n ** 9n).toString().padStart(9, '0')}`);
  const created = await gw.query(LIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "晋江鞋业", planType: PRIVATE }) { unit { id } userErrors { message } } }`, { c: creditCode });
  expect(created.data?.createUnit.unit, JSON.stringify(created)).not.toBeNull();
  await confirmUnitTerms(gw, created.data.createUnit.unit.id);
  return created.data.createUnit.unit.id;
}

async function auditActions(unit: string): Promise<{ action: string; actor: string; reason: string | null }[]> {
  const { db } = await started();
  // After its registration: its creation and its first terms' confirmation left out.
  const { rows } = await db.pool.query(`SELECT action, actor, reason FROM audit_log WHERE target_type = 'Unit' AND target_id = $1
      AND action <> 'unit.create' AND (details->>'firstTerms') IS DISTINCT FROM 'true' ORDER BY seq`,
    [String(localId('unit', unit, 'Unit'))]);
  return rows;
}

describe('updateUnit', () => {
  it('renames at once, without a reason', async () => {
    const { gw } = await started();
    const unit = await newUnit();
    const renamed = await gw.query(LIN, UPDATE, { input: { unitId: unit, name: ' 晋江鞋业集团 ' } });
    expect(renamed.data.updateUnit).toEqual({
      unit: { id: unit, name: '晋江鞋业集团', planType: 'PRIVATE', unitType: 'NON_PUBLIC', smallMicro: false, pendingTermsChange: null },
      userErrors: [],
    });
    expect(await auditActions(unit)).toEqual([{ action: 'unit.update', actor: 'admin-lin', reason: null }]);
  });

  it('renames at once and only proposes the terms given with it', async () => {
    const { gw } = await started();
    const unit = await newUnit();
    const res = await gw.query(LIN, UPDATE, { input: { unitId: unit, name: '晋江鞋业集团', smallMicro: true, planType: 'PRIVATE', reason: '已认定为小微企业' } });
    expect(res.data.updateUnit).toEqual({
      unit: {
        id: unit, name: '晋江鞋业集团', planType: 'PRIVATE', unitType: 'NON_PUBLIC', smallMicro: false,
        // planType is the unit's already: not proposed.
        pendingTermsChange: {
          planType: null, unitType: null, smallMicro: true, reason: '已认定为小微企业', confirmed: false, withdrawn: false,
          proposedAt: expect.any(String), proposedBy: { subject: 'admin-lin', isViewer: true },
        },
      },
      userErrors: [],
    });
    expect(await auditActions(unit)).toEqual([
      { action: 'unit.update', actor: 'admin-lin', reason: '已认定为小微企业' },
      { action: 'unit.terms.propose', actor: 'admin-lin', reason: '已认定为小微企业' },
    ]);
    // Confirmed by another ADMIN: only what was proposed changes.
    const confirmed = await gw.query(CHEN, CONFIRM, { input: { unitId: unit, proposedAt: res.data.updateUnit.unit.pendingTermsChange.proposedAt } });
    expect(confirmed.data.confirmUnitTermsChange).toMatchObject({
      change: { confirmed: true, planType: null, unitType: null, smallMicro: true, confirmedBy: { subject: 'admin-chen' } },
      unit: { name: '晋江鞋业集团', planType: 'PRIVATE', unitType: 'NON_PUBLIC', smallMicro: true, pendingTermsChange: null },
      userErrors: [],
    });
  });

  it('needs a reason for a change of plan type, unit type or small-firm mark, and then changes nothing', async () => {
    const { gw } = await started();
    const unit = await newUnit();
    for (const terms of [{ planType: 'PUBLIC' }, { unitType: 'STATE_OWNED' }, { smallMicro: false }, { smallMicro: true, name: '新名称' }]) {
      const res = await gw.query(LIN, UPDATE, { input: { unitId: unit, ...terms } });
      expect(res.data.updateUnit, JSON.stringify(terms)).toEqual({ unit: null, userErrors: [expect.objectContaining({ field: 'input.reason', code: 'INVALID' })] });
    }
    const short = await gw.query(LIN, UPDATE, { input: { unitId: unit, unitType: 'STATE_OWNED', reason: ' 改 ' } });
    expect(short.data.updateUnit.userErrors).toEqual([expect.objectContaining({ field: 'input.reason', code: 'INVALID', message: expect.stringContaining('say why') })]);
    const read = await gw.query(LIN, `query($id: ID!) { unit(id: $id) { name planType unitType smallMicro pendingTermsChange { unitType } } }`, { id: unit });
    expect(read.data.unit).toEqual({ name: '晋江鞋业', planType: 'PRIVATE', unitType: 'NON_PUBLIC', smallMicro: false, pendingTermsChange: null });
    expect(await auditActions(unit)).toEqual([]);
  });

  it('proposes nothing when the terms given are the unit\'s already', async () => {
    const { gw } = await started();
    const unit = await newUnit();
    const res = await gw.query(LIN, UPDATE, { input: { unitId: unit, planType: 'PRIVATE', unitType: 'NON_PUBLIC', smallMicro: false, reason: '核对单位信息' } });
    expect(res.data.updateUnit).toMatchObject({ unit: { unitType: 'NON_PUBLIC', pendingTermsChange: null }, userErrors: [] });
    expect(await auditActions(unit)).toEqual([]);
  });

  it('refuses a second proposal while one waits (CONFLICT), whoever proposes it', async () => {
    const { gw } = await started();
    const unit = await newUnit();
    await gw.query(LIN, UPDATE, { input: { unitId: unit, unitType: 'STATE_OWNED', reason: '国有资产划入' } });
    const again = await gw.query(CHEN, UPDATE, { input: { unitId: unit, unitType: 'SOCIAL_ORGANISATION', name: '不会改名', reason: '登记为社会组织' } });
    expect(again.data.updateUnit).toEqual({ unit: null, userErrors: [expect.objectContaining({ field: 'input.unitId', code: 'CONFLICT' })] });
    const read = await gw.query(LIN, `query($id: ID!) { unit(id: $id) { name pendingTermsChange { unitType proposedBy { subject } } } }`, { id: unit });
    expect(read.data.unit).toEqual({ name: '晋江鞋业', pendingTermsChange: { unitType: 'STATE_OWNED', proposedBy: { subject: 'admin-lin' } } });
  });

  it('shows the waiting change to ADMINs only', async () => {
    const { gw } = await started();
    const unit = await newUnit();
    await gw.query(LIN, UPDATE, { input: { unitId: unit, unitType: 'STATE_OWNED', reason: '国有资产划入' } });
    const reviewer = await gw.query(REVIEWER, `query($id: ID!) { unit(id: $id) { unitType pendingTermsChange { unitType } } }`, { id: unit });
    expect(reviewer.data.unit).toEqual({ unitType: 'NON_PUBLIC', pendingTermsChange: null });
  });
});

describe('withdrawUnitTermsChange', () => {
  it('withdraws the waiting change, by its proposer, with a reason: the unit keeps its terms and may be proposed a change again', async () => {
    const { gw } = await started();
    const unit = await newUnit();
    await gw.query(LIN, UPDATE, { input: { unitId: unit, unitType: 'STATE_OWNED', reason: '国有资产划入' } });
    const noReason = await gw.query(LIN, WITHDRAW, { input: { unitId: unit, reason: '' } });
    expect(noReason.data.withdrawUnitTermsChange.userErrors).toEqual([expect.objectContaining({ field: 'input.reason', code: 'INVALID' })]);
    const withdrawn = await gw.query(LIN, WITHDRAW, { input: { unitId: unit, reason: '录入错误，撤回' } });
    expect(withdrawn.data.withdrawUnitTermsChange).toEqual({
      change: { withdrawn: true, confirmed: false, unitType: 'STATE_OWNED', withdrawnBy: { subject: 'admin-lin' }, withdrawnAt: expect.any(String), withdrawalReason: '录入错误，撤回' },
      unit: expect.objectContaining({ unitType: 'NON_PUBLIC', pendingTermsChange: null }),
      userErrors: [],
    });
    // Nothing waits now: neither a withdrawal nor a confirmation finds one.
    const twice = await gw.query(LIN, WITHDRAW, { input: { unitId: unit, reason: '再次撤回' } });
    expect(twice.data.withdrawUnitTermsChange.userErrors).toEqual([expect.objectContaining({ field: 'input.unitId', code: 'CONFLICT' })]);
    const confirm = await gw.query(CHEN, CONFIRM, { input: { unitId: unit, proposedAt: new Date().toISOString() } });
    expect(confirm.data.confirmUnitTermsChange.userErrors).toEqual([expect.objectContaining({ field: 'input.unitId', code: 'CONFLICT' })]);
    // A new proposal may be made.
    const again = await gw.query(LIN, UPDATE, { input: { unitId: unit, unitType: 'SOCIAL_ORGANISATION', reason: '登记为社会组织' } });
    expect(again.data.updateUnit.unit.pendingTermsChange).toMatchObject({ unitType: 'SOCIAL_ORGANISATION' });
    expect((await auditActions(unit)).map((a) => a.action)).toEqual(['unit.terms.propose', 'unit.terms.withdraw', 'unit.terms.propose']);
  });

  it('may be done by another ADMIN; not by other roles', async () => {
    const { gw } = await started();
    const unit = await newUnit();
    await gw.query(LIN, UPDATE, { input: { unitId: unit, planType: 'PUBLIC', reason: '改为机关事业单位' } });
    const reviewer = await gw.query(REVIEWER, WITHDRAW, { input: { unitId: unit, reason: '不同意变更' } });
    expect(reviewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const other = await gw.query(CHEN, WITHDRAW, { input: { unitId: unit, reason: '不同意变更' } });
    expect(other.data.withdrawUnitTermsChange).toMatchObject({ change: { withdrawn: true, withdrawnBy: { subject: 'admin-chen' } }, unit: { planType: 'PRIVATE' }, userErrors: [] });
  });
});
