import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { validateRuleSet } from '../../src/benefits/rules/ruleSet.ts';
import { insertShippedRuleSets } from '../../src/benefits/store.ts';
import type { CondolenceReason } from '../../src/condolences/model.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { application, CAPS, governWithCondolence, worker, type Worker } from '../condolences/support.ts';

/**
 * A condolence paid for a reason its rules no longer pay: the unit's operator applies for a worker's
 * serious illness under the rule set governing the year; a new version of that rule set (the same
 * id, as two ADMINs publish one; stored directly here) stops paying serious illness. A reviewer then
 * approved the waiting application and it was paid: the approval checked the caps and the fund of
 * the version governing now, not the reasons it pays.
 */
const started = lazyTestGateway();

const RULE_SET = 'condolence-reasons-test';
const APPLY = `mutation($input: ApplyForCondolenceInput!) { applyForCondolence(input: $input) { condolence { id status } userErrors { field code message } } }`;
const APPROVE = `mutation($input: ApproveCondolenceInput!) { approveCondolence(input: $input) { condolence { id status approvedFen } userErrors { field code message } } }`;

const operatorOf = (w: Worker) => ({ role: 'UNIT_OPERATOR' as const, unit: w.creditCode, sub: `op-${w.unitId}` });

/** The next version of the rule set governing the year (governWithCondolence stored the first), paying condolences only for `reasons`. */
async function publishNextVersion(db: pg.Pool, reasons: CondolenceReason[]) {
  const base = loadRuleSet('default-2025');
  const version = base.version + 1;
  const checked = validateRuleSet({ ...base, id: RULE_SET, version, description: `v${version}`, condolence: { ...CAPS, reasons } });
  if (!checked.ok) throw new Error(`test setup: ${JSON.stringify(checked.errors)}`);
  await insertShippedRuleSets(db, [checked.ruleSet]);
}

describe('an approval under a version of the rule set that no longer pays the reason', () => {
  it('is refused naming the reason, and nothing is approved; a reason the version still pays is approved', async () => {
    const { db, gw } = await started();
    await governWithCondolence(db.pool, CAPS, RULE_SET);
    const w = await worker(db.pool);
    const apply = async (reason: CondolenceReason) => (await gw.query(operatorOf(w), APPLY, {
      input: { ...application(w, 100_000, { reason }), memberId: toGlobalId('Member', w.memberId) },
    })).data.applyForCondolence;
    const illness = await apply('SERIOUS_ILLNESS');
    const accident = await apply('ACCIDENT');
    expect([illness.userErrors, accident.userErrors]).toEqual([[], []]);

    await publishNextVersion(db.pool, ['DEATH', 'ACCIDENT']);

    const approve = (id: string) => gw.query({ role: 'REVIEWER', sub: 'reviewer-xu' }, APPROVE, { input: { condolenceId: id, note: '情况属实' } });
    const refused = (await approve(illness.condolence.id)).data.approveCondolence;
    expect(refused).toEqual({
      condolence: null,
      userErrors: [expect.objectContaining({ field: 'input.condolenceId', code: 'CONFLICT', message: expect.stringContaining('SERIOUS_ILLNESS') })],
    });
    const { rows: [row] } = await db.pool.query(`SELECT status, approved_fen FROM condolences WHERE member_id = $1 AND reason = 'SERIOUS_ILLNESS'`, [w.memberId]);
    expect(row).toEqual({ status: 'PENDING', approved_fen: null });

    expect((await approve(accident.condolence.id)).data.approveCondolence.condolence).toMatchObject({ status: 'APPROVED', approvedFen: 100_000 });
  });
});
