import { describe, expect, it } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { seedUnit } from '../benefits/seed.ts';
import { CONFIRM_UNIT_MOVE, fujianTree, MOVE_UNIT, placeUnit } from '../organisations/support.ts';

/**
 * A unit's move to another organisation takes two ADMINs, and the second confirms the move they
 * checked: the unit's waiting move named only by the unit let its proposer withdraw the move the
 * confirmer read (QZ → JJ) and propose another (QZ → XM: other staff, other rules, other funds) in
 * its place, and the confirmer's click moved the unit where no second person had looked.
 */
const started = lazyTestGateway();

const PROPOSER = { role: 'ADMIN', org: 'FJ', sub: 'fj-admin-a' } as const;
const CONFIRMER = { role: 'ADMIN', org: 'FJ', sub: 'fj-admin-b' } as const;
const PENDING = `query($id: ID!) { unit(id: $id) { organisation { code } pendingMove { proposedAt to { code } } } }`;
const WITHDRAW = `mutation($input: WithdrawUnitMoveInput!) { withdrawUnitMove(input: $input) { userErrors { field code message } } }`;

describe('confirming a unit move', () => {
  it('confirms only the move the confirmer checked: one withdrawn and proposed again elsewhere meanwhile is CONFLICT on input.proposedAt, the unit stays', async () => {
    const { db, gw } = await started();
    const tree = await fujianTree(gw);
    const { id } = await seedUnit(db.pool);
    await placeUnit(db.pool, id, 'QZ');
    const unit = toGlobalId('Unit', id);

    const first = await gw.query(PROPOSER, MOVE_UNIT, { input: { unitId: unit, organisationId: tree.JJ, reason: 'the firm moved to Jinjiang' } });
    expect(first.data.moveUnit.userErrors).toEqual([]);
    // The confirmer reads the waiting move: QZ → JJ.
    const read = (await gw.query(CONFIRMER, PENDING, { id: unit })).data.unit;
    expect(read).toMatchObject({ organisation: { code: 'QZ' }, pendingMove: { to: { code: 'JJ' } } });
    const checked = read.pendingMove.proposedAt;

    // The proposer swaps it for a move to XM before the confirmer clicks.
    expect((await gw.query(PROPOSER, WITHDRAW, { input: { unitId: unit, reason: 'proposed again' } })).data.withdrawUnitMove.userErrors).toEqual([]);
    const second = await gw.query(PROPOSER, MOVE_UNIT, { input: { unitId: unit, organisationId: tree.XM, reason: 'the firm moved to Xiamen' } });
    expect(second.data.moveUnit.userErrors).toEqual([]);

    const stale = await gw.query(CONFIRMER, CONFIRM_UNIT_MOVE, { unitId: unit, proposedAt: checked });
    expect(stale.data.confirmUnitMove).toEqual({
      move: null, userErrors: [expect.objectContaining({ field: 'input.proposedAt', code: 'CONFLICT' })],
    });
    const after = (await gw.query(CONFIRMER, PENDING, { id: unit })).data.unit;
    expect(after).toMatchObject({ organisation: { code: 'QZ' }, pendingMove: { to: { code: 'XM' } } });
    const confirmations = await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'unit.move.confirm' AND target_id = $1`, [String(id)]);
    expect(confirmations.rows[0].n).toBe(0);

    // Checked again, the move to XM is confirmed.
    const confirmed = await gw.query(CONFIRMER, CONFIRM_UNIT_MOVE, { unitId: unit, proposedAt: after.pendingMove.proposedAt });
    expect(confirmed.data.confirmUnitMove).toEqual({
      move: { confirmed: true, confirmedBy: { subject: 'fj-admin-b' }, unit: { organisation: { code: 'XM' } } }, userErrors: [],
    });
  });
});
