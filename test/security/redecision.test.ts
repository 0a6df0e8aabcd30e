import { describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecideClaim, redecideInScope, REDECISION_ACTOR } from '../../src/benefits/redecide.ts';
import { rejectClaim } from '../../src/benefits/review.ts';
import * as benefitsStore from '../../src/benefits/store.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { commitOnceWaitedOn } from '../support/db.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, payContribution, seedEnrolledMember, seedSettlement, totalsOf } from '../benefits/seed.ts';

/**
 * Re-decision as an attacker tries it: another unit's or member's claim, the wrong role, a rejected
 * claim asked again to get round the reviewer, a forged id, the same request replayed.
 */
const started = lazyTestGateway();
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };
const REDECIDE = `mutation($id: ID!) { redecideClaim(input: { claimId: $id }) { changed claim { status totalFen } userErrors { field code message } } }`;

/** A claim of a unit that has not paid: INELIGIBLE, CONTRIBUTION_UNPAID. */
async function refusedClaim(psn = '10,000.00') {
  const { db } = await started();
  const member = await seedEnrolledMember(db.pool, { paid: false });
  const settlementId = await seedSettlement(db.pool, member, { psn });
  await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
  const claim = (await claimOf(db.pool, settlementId))!;
  expect(claim.status).toBe('INELIGIBLE');
  return { member, settlementId, claimId: claim.id, claimGid: toGlobalId('Claim', claim.id) };
}

describe('who may ask for a re-decision', () => {
  it('a unit operator of another unit gets NOT_FOUND, as for no claim; the claim is not touched', async () => {
    const { db, gw } = await started();
    const a = await refusedClaim();
    const b = await refusedClaim();
    await payContribution(db.pool, a.member.unitId);
    const answer = await gw.query({ role: 'UNIT_OPERATOR', unit: b.member.creditCode }, REDECIDE, { id: a.claimGid });
    expect(answer.data.redecideClaim).toEqual({ changed: null, claim: null, userErrors: [expect.objectContaining({ field: 'input.claimId', code: 'NOT_FOUND' })] });
    expect((await claimOf(db.pool, a.settlementId))!.status).toBe('INELIGIBLE');
    // The unit's own operator may.
    const own = await gw.query({ role: 'UNIT_OPERATOR', unit: a.member.creditCode }, REDECIDE, { id: a.claimGid });
    expect(own.data.redecideClaim).toMatchObject({ changed: true, claim: { status: 'APPROVED', totalFen: fen('6,000.00') }, userErrors: [] });
  });

  it('members (even for their own claim) and roles that do not decide claims are FORBIDDEN', async () => {
    const { db, gw } = await started();
    const a = await refusedClaim();
    await payContribution(db.pool, a.member.unitId);
    for (const who of [{ role: 'MEMBER' as const, member: toGlobalId('Member', a.member.memberId) }, { role: 'FINANCE' as const }, { role: 'AUDITOR' as const }]) {
      const answer = await gw.query(who, REDECIDE, { id: a.claimGid });
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect((await claimOf(db.pool, a.settlementId))!.status).toBe('INELIGIBLE');
    expect((await db.pool.query(`SELECT 1 FROM claim_redecisions WHERE claim_id = $1`, [a.claimId])).rowCount).toBe(0);
  });

  it('a rejected claim is not decided again on request: the reviewer\'s rejection stands (appeals only)', async () => {
    const { db, gw } = await started();
    const member = await seedEnrolledMember(db.pool);
    const settlementId = await seedSettlement(db.pool, member, { psn: '40,000.00' });
    await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
    const { id } = (await claimOf(db.pool, settlementId))!;
    await rejectClaim(db.pool, { subject: 'rev', role: 'REVIEWER' }, { unitId: null, memberId: null, organisationId: null }, id, 'receipts missing');
    const answer = await gw.query({ role: 'ADMIN' }, REDECIDE, { id: toGlobalId('Claim', id) });
    expect(answer.data.redecideClaim.userErrors).toEqual([expect.objectContaining({ field: 'input.claimId', code: 'CONFLICT' })]);
    expect((await claimOf(db.pool, settlementId))!.status).toBe('REJECTED');
  });

  it('a forged id (another type\'s, garbage, oversized) is refused as bad input', async () => {
    const { gw } = await started();
    for (const id of [toGlobalId('BenefitLine', 1), 'not-an-id', 'x'.repeat(5000)]) {
      const answer = await gw.query({ role: 'ADMIN' }, REDECIDE, { id });
      expect(answer.data.redecideClaim).toEqual({ changed: null, claim: null, userErrors: [expect.objectContaining({ field: 'input.claimId', code: 'INVALID' })] });
    }
  });
});

describe('replay', () => {
  it('asking twice decides once: no second set of lines, totals counted once', async () => {
    const { db, gw } = await started();
    const a = await refusedClaim();
    await payContribution(db.pool, a.member.unitId);
    const [first, second] = await Promise.all([gw.query({ role: 'ADMIN' }, REDECIDE, { id: a.claimGid }), gw.query({ role: 'REVIEWER' }, REDECIDE, { id: a.claimGid })]);
    const answers = [first.data.redecideClaim, second.data.redecideClaim];
    // One of the two decided it; the other found it APPROVED already.
    expect(answers.filter((x) => x.changed)).toHaveLength(1);
    expect(answers.filter((x) => x.userErrors.some((e: { code: string }) => e.code === 'CONFLICT'))).toHaveLength(1);
    const again = await gw.query({ role: 'ADMIN' }, REDECIDE, { id: a.claimGid });
    expect(again.data.redecideClaim.userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT' })]);
    expect((await db.pool.query(`SELECT 1 FROM benefit_lines WHERE claim_id = $1 AND programme = 'INPATIENT'`, [a.claimId])).rowCount).toBe(1);
    expect(await totalsOf(db.pool, a.member.memberId)).toMatchObject({ INPATIENT: fen('6,000.00'), claims: 1 });
    expect((await db.pool.query(`SELECT 1 FROM claim_redecisions WHERE claim_id = $1`, [a.claimId])).rowCount).toBe(1);
    expect((await db.pool.query(`SELECT 1 FROM notifications WHERE kind = 'CLAIM_REDECIDED' AND subject_id = $1`, [a.claimId])).rowCount).toBe(1);
  });
});

describe('a correction racing a reviewer', () => {
  it('a claim re-decided and rejected while a correction waits for its lock stays REJECTED: the status is read under the lock', async () => {
    const { db } = await started();
    const a = await refusedClaim('40,000.00');
    await payContribution(db.pool, a.member.unitId);
    const ruleSets = new RuleSetCache();
    // Another transaction re-decides the claim (now paid for: PENDING_REVIEW) and a reviewer rejects it;
    // the correction asked meanwhile reads the claim still INELIGIBLE, then waits for its lock.
    const { work: correction } = await commitOnceWaitedOn(
      db.pool,
      async (held) => {
        const tx = held as unknown as Tx;
        const redecided = await redecideClaim(tx, a.claimId, { actor: REDECISION_ACTOR, cause: 'CONTRIBUTION_PAID', ruleSets, ...OPTIONS });
        expect(redecided).toMatchObject({ before: 'INELIGIBLE', after: 'PENDING_REVIEW' });
        await benefitsStore.rejectClaim(tx, a.claimId, 'rev', 'receipts missing');
      },
      () => redecideInScope(db.pool, { subject: 'ops', role: 'ADMIN' }, UNSCOPED, a.claimId, ruleSets),
    );
    await expect(correction).rejects.toMatchObject({ code: 'CONFLICT', field: 'input.claimId' });
    expect((await claimOf(db.pool, a.settlementId))!.status).toBe('REJECTED');
    // One re-decision: the one before the rejection, none after it.
    expect((await db.pool.query(`SELECT 1 FROM claim_redecisions WHERE claim_id = $1`, [a.claimId])).rowCount).toBe(1);
  });
});

describe('a correction racing a member\'s move', () => {
  it('a member ADMIN moves to another unit is out of the old unit\'s reach once the move commits: the claim is not decided again', async () => {
    const { db, gw } = await started();
    const a = await refusedClaim();
    const b = await refusedClaim();
    await payContribution(db.pool, a.member.unitId);
    // ADMIN's move of A's member to unit B commits while unit A's operator's correction waits: for the
    // member, or (read before the move without a lock) for the member's year, which a batch adjudicating
    // another of the member's stays holds in the same transaction here.
    const { work: correcting } = await commitOnceWaitedOn(
      db.pool,
      async (moving) => {
        await moving.query('UPDATE members SET unit_id = $2 WHERE id = $1', [a.member.memberId, b.member.unitId]);
        await moving.query('SELECT 1 FROM member_year_totals WHERE member_id = $1 FOR UPDATE', [a.member.memberId]);
      },
      () => gw.query({ role: 'UNIT_OPERATOR', unit: a.member.creditCode }, REDECIDE, { id: a.claimGid }),
    );
    const { data } = await correcting;
    expect(data.redecideClaim).toEqual({ changed: null, claim: null, userErrors: [expect.objectContaining({ field: 'input.claimId', code: 'NOT_FOUND' })] });
    expect((await claimOf(db.pool, a.settlementId))!.status).toBe('INELIGIBLE');
    expect((await db.pool.query(`SELECT 1 FROM claim_redecisions WHERE claim_id = $1`, [a.claimId])).rowCount).toBe(0);
  });
});
