import { describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { settings } from '../payouts/support.ts';
import { application, CAPS, governWithCondolence, worker } from './support.ts';

/**
 * The API of condolence payments: applied for and approved through the mutations, then read from
 * every side: the queue, the worker (Member.condolences), and the payout that pays it, which has a
 * condolence and no claim.
 */
const started = lazyTestGateway();

describe('condolences through the API', () => {
  it('links a condolence, its worker and its payout both ways; the payout has no claim', async () => {
    const { db, gw } = await started();
    await governWithCondolence(db.pool, CAPS);
    const w = await worker(db.pool);
    const memberId = toGlobalId('Member', w.memberId);
    const apply = await gw.query({ role: 'UNIT_OPERATOR', unit: w.creditCode, sub: 'op-1' },
      `mutation($input: ApplyForCondolenceInput!) { applyForCondolence(input: $input) { condolence { id status funder { code } ruleSet payout { id } } userErrors { message } } }`,
      { input: { ...application(w, 66_600, { reason: 'DEATH' }), memberId } });
    expect(apply.data.applyForCondolence).toMatchObject({ userErrors: [], condolence: { status: 'PENDING', funder: { code: 'UNION' }, ruleSet: 'condolence-test v1', payout: null } });
    const id = apply.data.applyForCondolence.condolence.id as string;
    const approve = await gw.query({ role: 'REVIEWER', sub: 'reviewer-1' },
      `mutation($input: ApproveCondolenceInput!) { approveCondolence(input: $input) { condolence { status approvedFen decider { subject } } userErrors { message } } }`,
      { input: { condolenceId: id, note: '核实属实' } });
    expect(approve.data.approveCondolence).toEqual({ userErrors: [], condolence: { status: 'APPROVED', approvedFen: 66_600, decider: { subject: 'reviewer-1' } } });
    await planPayouts(db.pool, settings);

    const read = await gw.query({ role: 'ADMIN' }, `query($m: ID!) {
      condolences(filter: { status: APPROVED }) { totalCount edges { node { id } } }
      member(id: $m) { condolences { id reason payout { amountFen claim { id } condolence { id } funder { code } } } }
    }`, { m: memberId });
    expect(read.errors).toBeUndefined();
    expect(read.data.condolences).toEqual({ totalCount: 1, edges: [{ node: { id } }] });
    expect(read.data.member.condolences).toEqual([{ id, reason: 'DEATH', payout: { amountFen: 66_600, claim: null, condolence: { id }, funder: { code: 'UNION' } } }]);

    // The worker sees its own condolence and the notification of the approval.
    const own = await gw.query({ role: 'MEMBER', member: memberId, sub: 'member-1' },
      `query { condolences { edges { node { id status } } } }`);
    expect(own.data.condolences.edges).toEqual([{ node: { id, status: 'APPROVED' } }]);
  });
});
