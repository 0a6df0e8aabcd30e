import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecisionJobId } from '../../src/benefits/queue.ts';
import { redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { parseGlobalId, toGlobalId } from '../../src/gateway/globalId.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { contributionReference } from '../../src/members/model.ts';
import { insertBankContributionPayments, lockContributionPayments } from '../../src/members/store.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember } from '../benefits/seed.ts';
import { keys } from '../payouts/support.ts';
import { bookedEntry, confirmProposal, handStatement, importConfirmed, contributionRefusedClaim, manualPayments } from '../reconciliation/support.ts';
import { commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * Attack 139: one FINANCE person matches an unmatched bank credit under FOUR_EYES_ABOVE_FEN by
 * hand to a unit's plan year (matchReconciliationException with contributions). The money is the
 * bank's, but that person chooses the unit, and so which members it covers: the claims refused for
 * the unpaid contribution were decided again and paid. Such a match now waits for a second person
 * whatever its amount, as a manual payment does (attack 137); one covering no one new does not.
 */
let db: TestDatabase;
let gw: TestGateway;
const FINANCE_A = { role: 'FINANCE' as const, sub: 'finance-a' };
const FINANCE_B = { role: 'FINANCE' as const, sub: 'finance-b' };
/** FINANCE_A outside the API, as the services take a person. */
const ACTOR_A = { subject: FINANCE_A.sub, role: FINANCE_A.role };
const ABOVE = 100_000;
const ruleSets = new RuleSetCache();
const OPTIONS = { autoApproveMaxFen: fen('10,000.00'), ruleSets };
const MATCH = `mutation($input: MatchReconciliationExceptionInput!) {
  matchReconciliationException(input: $input) { exception { status resolvedBy pendingProposal { id kind proposedBy } } userErrors { field message } } }`;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { FOUR_EYES_ABOVE_FEN: String(ABOVE) });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const { payment, record, paidFen, proposedBecause } = manualPayments(() => db.pool, ABOVE);

/** A credit from a payer the hub does not know, quoting no unit's reference: the matcher cannot place it. */
const unplaced = (day: string, amountFen: number) => bookedEntry('CRDT', amountFen, day, { details: [{ debtor: { name: '某单位', account: '35050164620700000999' }, remittanceInfo: ['会费'] }] });

/** The day's credits reconciled: the id of the open exception the last one raises. */
async function exceptionOnLast(day: string, credits: ReturnType<typeof bookedEntry>[]): Promise<string> {
  expect(await importConfirmed(db.pool, handStatement(day, 100_000_000, credits))).toMatchObject({ status: 'ACCEPTED' });
  await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: day });
  const { rows: [x] } = await db.pool.query<{ id: number }>(
    `SELECT x.id FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
      WHERE x.status = 'OPEN' AND e.account_servicer_ref = $1`, [credits.at(-1)!.accountServicerRef],
  );
  return toGlobalId('ReconciliationException', x!.id);
}

/** FINANCE_A's match of the exception to units' 2025 contributions: the payload. */
async function matching(exceptionId: string, contributions: { unitId: number; amountFen: number }[]) {
  const { data, errors } = await gw.query(FINANCE_A, MATCH, {
    input: { exceptionId, contributions: contributions.map((c) => ({ unitId: toGlobalId('Unit', c.unitId), planYear: 2025, amountFen: c.amountFen })) },
  });
  expect(errors).toBeUndefined();
  return data.matchReconciliationException;
}

async function match(exceptionId: string, contributions: { unitId: number; amountFen: number }[]) {
  const { exception, userErrors } = await matching(exceptionId, contributions);
  expect(userErrors).toEqual([]);
  return exception;
}

describe('a bank credit under FOUR_EYES_ABOVE_FEN matched by hand to a unit\'s contribution', () => {
  it('waits for a second person when it pays a one-member unit\'s year: the refused claim stays refused until another FINANCE person confirms', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    const refused = await contributionRefusedClaim(db.pool, m, OPTIONS);
    const exceptionId = await exceptionOnLast('2025-06-02', [unplaced('2025-06-02', 10_000)]);

    const matched = await match(exceptionId, [{ unitId: m.unitId, amountFen: 10_000 }]);
    expect(matched).toMatchObject({ status: 'OPEN', pendingProposal: { kind: 'EXCEPTION_MATCH', proposedBy: 'finance-a' } });
    const proposalId = parseGlobalId(matched.pendingProposal.id)!.id;
    expect(await paidFen(m.unitId)).toBe(0);
    expect(await redecideIfFactsChanged(db.pool, refused.id, OPTIONS)).toBeNull();
    expect(await claimOf(db.pool, refused.settlementId)).toMatchObject({ status: 'INELIGIBLE' });
    expect(await proposedBecause(proposalId)).toBe(
      `this 100.00 would make unit ${m.unitId}'s payments for 2025 cover 1 enrolment they do not cover yet (unpaid 100.00 of 100.00): their claims would be paid`);

    // The proposer cannot confirm; a second person does, and the confirmation queues the claim to be decided again.
    await expect(decideProposal(db.pool, ACTOR_A, proposalId, true, null)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await confirmProposal(gw, FINANCE_B, matched.pendingProposal.id)).proposal).toMatchObject({ status: 'CONFIRMED' });
    expect(await paidFen(m.unitId)).toBe(10_000);
    expect(await gw.queues.claimAdjudication.getJob(redecisionJobId(refused.id))).toBeDefined();
    expect(await redecideIfFactsChanged(db.pool, refused.id, OPTIONS)).toMatchObject({ after: 'APPROVED' });
  });

  it('judges what it adds to everything paid so far: beside a clerk\'s payment of the transfer it links, the rest that pays the year waits', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    const credit = unplaced('2025-06-03', 10_000);
    // A clerk recorded 60.00 of it from the bank's advice (covering no one, so at once); the bank booked 100.00.
    expect(await record(ACTOR_A, { ...payment(m.unitId, 6_000, credit.accountServicerRef!), paidOn: '2025-06-03' })).toBeNull();
    const exceptionId = await exceptionOnLast('2025-06-03', [credit]);

    const matched = await match(exceptionId, [{ unitId: m.unitId, amountFen: 6_000 }, { unitId: m.unitId, amountFen: 4_000 }]);
    expect(matched).toMatchObject({ status: 'OPEN', pendingProposal: { kind: 'EXCEPTION_MATCH' } });
    expect(await proposedBecause(parseGlobalId(matched.pendingProposal.id)!.id)).toBe(
      `this 40.00 would make unit ${m.unitId}'s payments for 2025 cover 1 enrolment they do not cover yet (unpaid 40.00 of 100.00): their claims would be paid`);
    expect(await paidFen(m.unitId)).toBe(6_000);
  });

  it('refuses, naming the field, the same unit\'s year given twice afresh (two payments of one credit, each covering no one)', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    const exceptionId = await exceptionOnLast('2025-06-05', [unplaced('2025-06-05', 10_000)]);
    expect(await matching(exceptionId, [{ unitId: m.unitId, amountFen: 5_000 }, { unitId: m.unitId, amountFen: 5_000 }])).toEqual({
      exception: null, userErrors: [{ field: 'input.contributions[1]', message: `input.contributions[1]: unit ${m.unitId}'s 2025 is given twice: give it once, with the sum` }],
    });
    expect(await paidFen(m.unitId)).toBe(0);
  });

  it('is judged after a payment reconciliation is recording for the same year on another account: the match that completes it waits', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    const exceptionId = await exceptionOnLast('2025-06-06', [unplaced('2025-06-06', 4_000)]);
    // A chunk of another account's run holds the shared lock while it records a BANK payment of 60.00 for the year, as loadBook and writeOutcome do.
    const { work } = await commitOnceWaitedOn(db.pool, async (held) => {
      await lockContributionPayments(held as unknown as Tx, 'shared');
      await insertBankContributionPayments(held as unknown as Tx, [{ unitId: m.unitId, planYear: 2025, amountFen: 6_000, reference: 'OTHER-ACCOUNT-1', paidOn: '2025-06-06' }], 'reconciliation');
    }, () => match(exceptionId, [{ unitId: m.unitId, amountFen: 4_000 }]));
    expect(await work).toMatchObject({ status: 'OPEN', pendingProposal: { kind: 'EXCEPTION_MATCH' } });
    expect(await paidFen(m.unitId)).toBe(6_000);
  });

  it('takes effect at once when it covers no one new: the unit\'s year paid already by the bank', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    const paying = bookedEntry('CRDT', 10_000, '2025-06-04', { details: [{ remittanceInfo: [contributionReference(m.creditCode, 2025)] }] });
    const exceptionId = await exceptionOnLast('2025-06-04', [paying, unplaced('2025-06-04', 5_000)]);
    expect(await paidFen(m.unitId)).toBe(10_000);

    expect(await match(exceptionId, [{ unitId: m.unitId, amountFen: 5_000 }])).toEqual({ status: 'RESOLVED', resolvedBy: 'finance-a', pendingProposal: null });
    expect(await paidFen(m.unitId)).toBe(15_000);
  });
});
