import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { recordManualPayment } from '../../src/reconciliation/manualPayments.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { contributionFigures, contributionPayments } from '../../src/members/store.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { PROVINCE_ACCOUNT } from '../payouts/fundersSupport.ts';
import { bookedEntry, handStatement, importConfirmed, owingUnit } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { keys } from '../payouts/support.ts';

/**
 * Taking a unit's contribution back (matchReconciliationException with reversedContributionPayments)
 * un-pays the unit's year and uncovers its members: only a reversal (冲正) of a credit may do it,
 * for exactly its amount, once per payment, on the account the payment was credited to, and only
 * hub staff who resolve exceptions. A plain debit (a payout's, say) cannot be used to erase a
 * unit's payment, nor one reversal to erase two.
 */
let db: TestDatabase;
let gw: TestGateway;
const FINANCE = { subject: 'finance-zhou', role: 'FINANCE' };
const AT_ONCE = Number.MAX_SAFE_INTEGER;
let day = 10;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

const nextDay = () => `2025-05-${String((day += 1)).padStart(2, '0')}`;

/** The hub's two accounts here, as RECONCILIATION_ACCOUNTS would name them: a statement of any other is refused. */
const OURS = { accounts: [UNION_ACCOUNT, PROVINCE_ACCOUNT] };

/** One entry on `account` on a new day, reconciled: the exception it raised (the newest), if any. */
async function booked(entry: ReturnType<typeof bookedEntry>, account = UNION_ACCOUNT): Promise<number | undefined> {
  expect(await importConfirmed(db.pool, handStatement(entry.bookingDate!, 100_000_000, [entry], account), OURS)).toMatchObject({ status: 'ACCEPTED' });
  await reconcileAccount(db.pool, account, { keys, startedBy: 'test' });
  const { rows: [x] } = await db.pool.query<{ id: number }>(`SELECT id FROM reconciliation_exceptions WHERE entry_id = (SELECT max(id) FROM statement_entries) AND status = 'OPEN'`);
  return x?.id;
}

/** A unit whose 2025 a credit paid on UNION_ACCOUNT: the unit and its payment's id. */
async function paidUnit(): Promise<{ unit: Awaited<ReturnType<typeof owingUnit>>; paymentId: number; reference: string }> {
  const unit = await owingUnit(db.pool, 2);
  await booked(bookedEntry('CRDT', unit.owedFen, nextDay(), { details: [{ debtor: { name: '某公司工会', account: '35050164620700000123' }, remittanceInfo: [unit.reference] }] }));
  const payment = (await contributionPayments(db.pool, [{ unitId: unit.id, planYear: 2025 }]))[0]![0];
  return { unit, paymentId: payment!.id, reference: payment!.reference };
}

const reversal = (amountFen: number, over: Partial<ReturnType<typeof bookedEntry>> = {}) =>
  bookedEntry('DBIT', amountFen, nextDay(), { reversal: true, details: [{ amountFen, remittanceInfo: ['冲正'] }], ...over });
const paidFen = async (unitId: number) => (await contributionFigures(db.pool, [{ unitId, planYear: 2025 }]))[0]!.paidFen;

describe('a unit\'s payment taken back by something that is not its reversal', () => {
  it('is refused for a plain debit, an amount that differs, a payment named twice or not a payment, two kinds of target at once: nothing is reversed', async () => {
    const { unit, paymentId } = await paidUnit();
    const plain = (await booked(bookedEntry('DBIT', unit.owedFen, nextDay(), { details: [{ amountFen: unit.owedFen, remittanceInfo: ['转账'] }] })))!;
    await expect(matchException(db.pool, FINANCE, plain, { reversedContributionPayments: [paymentId] }, AT_ONCE))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.reversedContributionPayments', reason: expect.stringContaining('only a reversal (冲正) of a credit') });

    const half = (await booked(reversal(unit.owedFen / 2)))!;
    await expect(matchException(db.pool, FINANCE, half, { reversedContributionPayments: [paymentId] }, AT_ONCE))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.reversedContributionPayments', reason: expect.stringContaining('add up to') });
    const whole = (await booked(reversal(unit.owedFen)))!;
    await expect(matchException(db.pool, FINANCE, whole, { reversedContributionPayments: [paymentId, paymentId] }, AT_ONCE))
      .rejects.toMatchObject({ field: 'input.reversedContributionPayments[1]', reason: 'is given twice' });
    await expect(matchException(db.pool, FINANCE, whole, { reversedContributionPayments: [paymentId + 1000] }, AT_ONCE))
      .rejects.toMatchObject({ field: 'input.reversedContributionPayments[0]', reason: 'is not a contribution payment' });
    await expect(matchException(db.pool, FINANCE, whole, { reversedContributionPayments: [paymentId], endToEndIds: ['E2E-ANY'] }, AT_ONCE))
      .rejects.toMatchObject({ field: 'input' });

    expect(await paidFen(unit.id)).toBe(unit.owedFen);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM contribution_reversals')).rows).toEqual([{ n: 0 }]);
  });
});

describe('one payment taken back twice, or by a reversal on another account', () => {
  it('is refused: a payment is reversed once, by a reversal on the account its credit was booked on', async () => {
    const { unit, paymentId } = await paidUnit();
    const first = (await booked(reversal(unit.owedFen)))!;
    await matchException(db.pool, FINANCE, first, { reversedContributionPayments: [paymentId] }, AT_ONCE);
    const again = (await booked(reversal(unit.owedFen)))!;
    await expect(matchException(db.pool, FINANCE, again, { reversedContributionPayments: [paymentId] }, AT_ONCE))
      .rejects.toMatchObject({ code: 'CONFLICT', field: 'input.reversedContributionPayments[0]', message: expect.stringContaining('is reversed already') });

    const other = await paidUnit();
    const elsewhere = (await booked(reversal(other.unit.owedFen), PROVINCE_ACCOUNT))!;
    await expect(matchException(db.pool, FINANCE, elsewhere, { reversedContributionPayments: [other.paymentId] }, AT_ONCE))
      .rejects.toMatchObject({ field: 'input.reversedContributionPayments[0]', reason: `the payment ${other.reference} was credited on account ${UNION_ACCOUNT}, not on ${PROVINCE_ACCOUNT}` });
    expect(await paidFen(other.unit.id)).toBe(other.unit.owedFen);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM contribution_reversals')).rows).toEqual([{ n: 1 }]);
    // The record of a reversal is never changed or removed.
    await expect(db.pool.query('DELETE FROM contribution_reversals')).rejects.toThrow(/append-only/);
  });
});

describe('a payment recorded by hand whose credit is on no statement yet', () => {
  it('is not taken back by a reversal, on any account: its credit, reconciled later, would be counted afresh', async () => {
    const unit = await owingUnit(db.pool, 2);
    // Paying the year covers its members: a second person confirms it (attack 137).
    const proposal = await recordManualPayment(db.pool, FINANCE, UNSCOPED, { unitId: unit.id, planYear: 2025, amountFen: unit.owedFen, reference: 'BANKADVICE0001', paidOn: nextDay() }, AT_ONCE);
    await decideProposal(db.pool, { subject: 'finance-qian', role: 'FINANCE' }, proposal!, true, 'checked the bank advice');
    const manual = (await contributionPayments(db.pool, [{ unitId: unit.id, planYear: 2025 }]))[0]![0]!;
    for (const account of [UNION_ACCOUNT, PROVINCE_ACCOUNT]) {
      const x = (await booked(reversal(unit.owedFen), account))!;
      await expect(matchException(db.pool, FINANCE, x, { reversedContributionPayments: [manual.id] }, AT_ONCE)).rejects.toMatchObject({
        field: 'input.reversedContributionPayments[0]', reason: 'the payment BANKADVICE0001 is on no statement yet: reconcile its credit first',
      });
    }
    expect(await paidFen(unit.id)).toBe(unit.owedFen);
  });
});

describe('reversedContributionPayments through the API', () => {
  const MATCH = `mutation($input: MatchReconciliationExceptionInput!) { matchReconciliationException(input: $input) { exception { status } userErrors { field code } } }`;

  it('is refused to anyone but the hub\'s ADMIN and FINANCE, and takes only contribution payments\' IDs', async () => {
    const { unit, paymentId } = await paidUnit();
    const exceptionId = (await booked(reversal(unit.owedFen)))!;
    const input = { exceptionId: toGlobalId('ReconciliationException', exceptionId), reversedContributionPayments: [toGlobalId('ContributionPayment', paymentId)] };
    for (const who of [
      { role: 'UNIT_OPERATOR' as const, unit: unit.creditCode }, { role: 'REVIEWER' as const }, { role: 'AUDITOR' as const }, { role: 'FINANCE' as const, sub: 'union-finance', org: 'UNION' },
    ]) {
      const refused = await gw.query(who, MATCH, { input });
      expect(refused.errors?.[0]?.extensions?.code, JSON.stringify(who)).toBe('FORBIDDEN');
    }
    const unitId = await gw.query({ role: 'FINANCE', sub: 'finance-chen' }, MATCH, { input: { ...input, reversedContributionPayments: [toGlobalId('Unit', unit.id)] } });
    expect(unitId.data.matchReconciliationException.userErrors).toEqual([{ field: 'input.reversedContributionPayments[0]', code: 'INVALID' }]);
    expect(await paidFen(unit.id)).toBe(unit.owedFen);

    const taken = await gw.query({ role: 'FINANCE', sub: 'finance-chen' }, MATCH, { input });
    expect(taken.data.matchReconciliationException).toMatchObject({ exception: { status: 'RESOLVED' }, userErrors: [] });
    expect(await paidFen(unit.id)).toBe(0);
    const read = await gw.query({ role: 'ADMIN' }, `query($id: ID!) { node(id: $id) { ... on ContributionPayment { reversedOn } } }`, { id: toGlobalId('ContributionPayment', paymentId) });
    expect(read.data.node.reversedOn).toBe(`2025-05-${String(day).padStart(2, '0')}`);
  });
});
