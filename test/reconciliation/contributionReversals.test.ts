import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { contributionFigures, contributionPayments } from '../../src/members/store.ts';
import { enrolmentCoverageFigures } from '../../src/members/store/coverage.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed, owingUnit } from './support.ts';
import { keys } from '../payouts/support.ts';

/**
 * A bank reversal (冲正) of a unit's transfer: the contribution the credit paid is taken back. A
 * person matches the reversal (an UNMATCHED_DEBIT: no rule matches a reversal by itself) to the
 * payments it undoes; they stay on record, reversed, and no longer count as paid: the unit owes the
 * year again and its members are covered only as far as what remains paid.
 */
let db: TestDatabase;
const FINANCE = { subject: 'finance-zhou', role: 'FINANCE' };
const OTHER_FINANCE = { subject: 'finance-li', role: 'FINANCE' };
const AT_ONCE = Number.MAX_SAFE_INTEGER;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(() => db.drop());

/** A unit whose year a credit paid (matched by its reference on `paidOn`): the unit, the payment's id and the enrolments' ids. */
async function paidUnit(members: number, paidOn: string): Promise<{ unit: Awaited<ReturnType<typeof owingUnit>>; paymentId: number; enrolmentIds: number[] }> {
  const unit = await owingUnit(db.pool, members);
  const credit = bookedEntry('CRDT', unit.owedFen, paidOn, { details: [{ debtor: { name: '某公司工会', account: '35050164620700000123' }, remittanceInfo: [unit.reference] }] });
  await importConfirmed(db.pool, handStatement(paidOn, 100_000_000, [credit]));
  expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 1, exceptions: 0 });
  const payment = (await contributionPayments(db.pool, [{ unitId: unit.id, planYear: 2025 }]))[0]![0];
  const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM enrolments WHERE unit_id = $1 ORDER BY id', [unit.id]);
  return { unit, paymentId: payment!.id, enrolmentIds: rows.map((r) => r.id) };
}

/** The bank takes `amountFen` back on `day` by a reversal (a debit with RvslInd): the exception it raises. */
async function reversalOf(amountFen: number, day: string, reversal = true): Promise<number> {
  const before = (await exceptionsOf(db.pool)).length;
  const entry = bookedEntry('DBIT', amountFen, day, { reversal, details: [{ amountFen, remittanceInfo: ['冲正'] }] });
  await importConfirmed(db.pool, handStatement(day, 100_000_000, [entry]));
  expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ exceptions: 1 });
  const { rows } = await db.pool.query<{ id: number; kind: string; reason: string }>(
    `SELECT id, kind, evidence->>'reason' AS reason FROM reconciliation_exceptions ORDER BY id OFFSET $1`, [before],
  );
  expect(rows).toHaveLength(1);
  expect(rows[0]!.kind).toBe('UNMATCHED_DEBIT');
  return rows[0]!.id;
}

describe('a reversal (冲正) of a unit\'s transfer', () => {
  it('takes back the payment it names: the unit owes the year again, its members are uncovered, the payment stays on record, reversed, audited', async () => {
    const { unit, paymentId, enrolmentIds } = await paidUnit(3, '2025-03-03');
    expect(await contributionFigures(db.pool, [{ unitId: unit.id, planYear: 2025 }])).toMatchObject([{ enrolled: 3, owedFen: unit.owedFen, paidFen: unit.owedFen }]);
    expect((await enrolmentCoverageFigures(db.pool, enrolmentIds)).map((f) => f!.paidFen)).toEqual([unit.owedFen, unit.owedFen, unit.owedFen]);

    const exceptionId = await reversalOf(unit.owedFen, '2025-03-05');
    const { rows: [raised] } = await db.pool.query(`SELECT evidence->>'reason' AS reason FROM reconciliation_exceptions WHERE id = $1`, [exceptionId]);
    expect(raised.reason).toContain('match it to the contribution payments it reverses');
    expect(await matchException(db.pool, FINANCE, exceptionId, { reversedContributionPayments: [paymentId], note: '银行冲正: 单位撤回转账' }, AT_ONCE)).toBeNull();

    expect(await contributionFigures(db.pool, [{ unitId: unit.id, planYear: 2025 }])).toMatchObject([{ enrolled: 3, owedFen: unit.owedFen, paidFen: 0 }]);
    expect((await enrolmentCoverageFigures(db.pool, enrolmentIds)).map((f) => f!.paidFen)).toEqual([0, 0, 0]);
    const payment = (await contributionPayments(db.pool, [{ unitId: unit.id, planYear: 2025 }]))[0]![0];
    expect(payment).toMatchObject({ id: paymentId, amountFen: unit.owedFen, source: 'BANK', reversedOn: '2025-03-05' });
    expect((await exceptionsOf(db.pool)).find((x) => x.amountFen === unit.owedFen && x.kind === 'UNMATCHED_DEBIT')).toMatchObject({ status: 'RESOLVED', resolution: 'MATCHED' });
    const { rows: [audit] } = await db.pool.query(`SELECT actor, details FROM audit_log WHERE action = 'reconciliation.exception.match' AND target_id = $1`, [String(exceptionId)]);
    expect(audit).toMatchObject({ actor: FINANCE.subject, details: { reversedContributionPayments: [{ id: paymentId, unitId: unit.id, planYear: 2025, amountFen: unit.owedFen }] } });
    // The day is proven: the reversal is recognized, not left over.
    const { rows: [proof] } = await db.pool.query(
      `SELECT unrecognized_entries AS unrecognized, recognized_debits_fen AS "recognizedFen" FROM daily_proofs WHERE account = $1 AND statement_date = '2025-03-05'`, [UNION_ACCOUNT],
    );
    expect(proof).toEqual({ unrecognized: 0, recognizedFen: unit.owedFen });
  });

  it('above the four-eyes threshold is a proposal: nothing is reversed until a second person confirms it', async () => {
    const { unit, paymentId } = await paidUnit(2, '2025-04-01');
    const exceptionId = await reversalOf(unit.owedFen, '2025-04-02');
    const proposalId = await matchException(db.pool, FINANCE, exceptionId, { reversedContributionPayments: [paymentId] }, 1);
    expect(proposalId).not.toBeNull();
    expect(await contributionFigures(db.pool, [{ unitId: unit.id, planYear: 2025 }])).toMatchObject([{ paidFen: unit.owedFen }]);
    await decideProposal(db.pool, OTHER_FINANCE, proposalId!, true, 'checked with the bank');
    expect(await contributionFigures(db.pool, [{ unitId: unit.id, planYear: 2025 }])).toMatchObject([{ paidFen: 0 }]);
  });
});
