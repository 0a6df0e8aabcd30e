import { describe, expect, it } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { application, CAPS, governWithCondolence, worker, type Worker } from '../condolences/support.ts';

/**
 * One case paid beyond its cap: the unit's operator applies for the same case (the same worker,
 * reason and day) twice, each application under the per-case cap and the two together under the
 * annual cap; two approvals (each by a reviewer who did not apply) paid the case twice its cap.
 */
const started = lazyTestGateway();

const APPLY = `mutation($input: ApplyForCondolenceInput!) { applyForCondolence(input: $input) { condolence { id status } userErrors { field code message } } }`;
const APPROVE = `mutation($input: ApproveCondolenceInput!) { approveCondolence(input: $input) { condolence { id status approvedFen } userErrors { field code message } } }`;

const operatorOf = (w: Worker) => ({ role: 'UNIT_OPERATOR' as const, unit: w.creditCode, sub: `op-${w.unitId}` });
const input = (w: Worker, amountFen: number, over: Parameters<typeof application>[2] = {}) => ({
  ...application(w, amountFen, over), memberId: toGlobalId('Member', w.memberId),
});

let governed: Promise<unknown> | undefined;
async function setup() {
  const { db, gw } = await started();
  governed ??= governWithCondolence(db.pool, CAPS);
  await governed;
  return { db, gw };
}

const approvedForCase = async (db: Awaited<ReturnType<typeof setup>>['db'], w: Worker, reason: string, occurredOn: string) => Number((await db.pool.query(
  `SELECT coalesce(sum(approved_fen), 0) AS total FROM condolences WHERE member_id = $1 AND reason = $2 AND occurred_on = $3 AND status = 'APPROVED'`,
  [w.memberId, reason, occurredOn],
)).rows[0].total);

describe('one case applied for twice', () => {
  // Each share is under the per-case cap; two of them pass it, and stay within the annual cap.
  const share = Math.floor(CAPS.perCaseCapFen * 0.8);

  it('the second approval of the same case is refused where it would pass the per-case cap; what is left of the cap is still paid', async () => {
    expect(share * 2).toBeGreaterThan(CAPS.perCaseCapFen);
    expect(share * 2).toBeLessThanOrEqual(CAPS.annualCapFenPerWorker);
    const { db, gw } = await setup();
    const w = await worker(db.pool);
    const sameCase = { reason: 'SERIOUS_ILLNESS' as const, occurredOn: application(w, 1).occurredOn };
    const apply = async (amountFen: number) => (await gw.query(operatorOf(w), APPLY, { input: input(w, amountFen, sameCase) })).data.applyForCondolence;
    const first = await apply(share);
    const second = await apply(share);
    expect([first.userErrors, second.userErrors]).toEqual([[], []]);

    const approve = (id: string, sub: string) => gw.query({ role: 'REVIEWER', sub }, APPROVE, { input: { condolenceId: id, note: '情况属实' } });
    expect((await approve(first.condolence.id, 'reviewer-xu')).data.approveCondolence.condolence).toMatchObject({ status: 'APPROVED', approvedFen: share });
    const again = (await approve(second.condolence.id, 'reviewer-lu')).data.approveCondolence;
    expect(again).toEqual({ condolence: null, userErrors: [expect.objectContaining({ field: 'input.amountFen', code: 'CONFLICT', message: expect.stringContaining('per-case cap') })] });
    expect(await approvedForCase(db, w, sameCase.reason, sameCase.occurredOn)).toBe(share);

    // Applying again for the case: refused above what is left of its cap, taken within it.
    const left = CAPS.perCaseCapFen - share;
    expect((await apply(left + 1)).userErrors).toEqual([expect.objectContaining({ field: 'input.amountFen', code: 'CONFLICT' })]);
    const topUp = await apply(left);
    expect(topUp.userErrors).toEqual([]);
    expect((await approve(topUp.condolence.id, 'reviewer-xu')).data.approveCondolence.condolence).toMatchObject({ status: 'APPROVED', approvedFen: left });
    expect(await approvedForCase(db, w, sameCase.reason, sameCase.occurredOn)).toBe(CAPS.perCaseCapFen);
  });

  it('another case of the same worker (another day or reason) has a cap of its own, within the annual cap', async () => {
    const { db, gw } = await setup();
    const w = await worker(db.pool);
    const cases = [{ reason: 'SERIOUS_ILLNESS' as const, occurredOn: application(w, 1).occurredOn }, { reason: 'ACCIDENT' as const, occurredOn: application(w, 1).occurredOn }];
    for (const [i, c] of cases.entries()) {
      const applied = (await gw.query(operatorOf(w), APPLY, { input: input(w, share, c) })).data.applyForCondolence;
      expect(applied.userErrors).toEqual([]);
      const approved = await gw.query({ role: 'REVIEWER', sub: `reviewer-${i}` }, APPROVE, { input: { condolenceId: applied.condolence.id, note: '情况属实' } });
      expect(approved.data.approveCondolence.condolence).toMatchObject({ status: 'APPROVED', approvedFen: share });
    }
  });
});
