import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chinaToday } from '../../src/kernel/time.ts';
import { paidByBank } from '../../src/payouts/store/payouts.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { approvedBatch, approvedClaims, oneLineReport, payoutsOf, resetPayouts, submissionContext, ScriptedBank, keys } from '../payouts/support.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The bank's statement shows the debit of our payment (its EndToEndId, its amount) paid to another
 * card than the attempt carries, the card FINANCE approved: a redirected payment (a bank-side or
 * channel insider). It settled the payout, raised nothing and proved the day, though the amount +
 * name rule refuses the same card (attack 46). Now it is an exception naming the attempt: the payout
 * stays PAID, counted as paid by the bank (no blind retry), the day unproven till a person decides.
 * A return (退票) from another card does not make the payout FAILED either. Another card with the
 * member's first and last four digits (the same mask) passed as the member's: the whole card is now
 * compared through the keyed hash the attempt keeps (0053).
 */
const pki = testFilePki();
let db: TestDatabase;
const bank = new ScriptedBank();
const STRANGER = '6217000010099998885';

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });
beforeEach(async () => {
  await resetPayouts(db.pool);
  await db.pool.query('TRUNCATE reconciliation_matches, reconciliation_exceptions, statement_entry_states, statement_entries, bank_statements, bank_documents, daily_proofs RESTART IDENTITY CASCADE');
});

interface Attempt { id: number; e2e: string; amountFen: number; name: string; status: string; card: string }

/** One member's payout, sent and credited by the bank (ACSC): its attempt, with the member's card. */
async function creditedPayment(): Promise<Attempt> {
  const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
  try {
    const [claim] = await approvedClaims(db.pool, 1);
    const batch = await approvedBatch(db.pool);
    const { rows: [a] } = await db.pool.query<Omit<Attempt, 'card'> & { pmtInfId: string }>(
      `SELECT a.id, a.end_to_end_id AS e2e, a.amount_fen AS "amountFen", a.creditor_name AS name, a.status, b.pmt_inf_id AS "pmtInfId"
         FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.batch_id = $1`, [batch.id],
    );
    bank.current = oneLineReport(batch.msgId, a!.pmtInfId, { e2e: a!.e2e, status: 'ACSC' });
    expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'ACCEPTED', waiting: false });
    return { ...a!, card: claim!.card };
  } finally {
    ctx.remove();
  }
}

const attemptStatus = async (id: number) => (await db.pool.query<{ status: string }>('SELECT status FROM payout_attempts WHERE id = $1', [id])).rows[0]!.status;
const matches = async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM reconciliation_matches')).rows[0]!.n;
const reasonOf = async (attemptId: number) => (await db.pool.query<{ reason: string }>(
  `SELECT evidence->>'reason' AS reason FROM reconciliation_exceptions WHERE payout_attempt_id = $1`, [attemptId],
)).rows[0]!.reason;

/** Our payment's debit, as the bank books it, to `card`. */
const debitTo = (a: Attempt, card: string, date: string) => bookedEntry('DBIT', a.amountFen, date, {
  details: [{ endToEndId: a.e2e, amountFen: a.amountFen, creditor: { name: a.name, account: card }, remittanceInfo: [] }],
});

describe('a debit of our EndToEndId to a card the attempt does not carry', () => {
  it('is an exception naming the attempt: the payout is not SETTLED but counts as paid by the bank, the day unproven', async () => {
    const attempt = await creditedPayment();
    const [payout] = await payoutsOf(db.pool);
    expect(payout!.status).toBe('PAID');

    const today = chinaToday();
    expect(await importConfirmed(db.pool, handStatement(today, 10_000_000, [debitTo(attempt, STRANGER, today)], UNION_ACCOUNT))).toMatchObject({ status: 'ACCEPTED' });
    const run = await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });

    expect(run).toMatchObject({ matched: 0, exceptions: 1, settled: 0 });
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', status: 'OPEN', attemptId: attempt.id, amountFen: attempt.amountFen }]);
    expect(await reasonOf(attempt.id)).toContain('the bank paid card 6217 **** **** 8885');
    expect(await matches()).toBe(0);
    expect((await payoutsOf(db.pool))[0]!.status).toBe('PAID');
    expect(await paidByBank(db.pool, [payout!.id])).toEqual([true]);
    expect(run.proofs.map((p) => p.proven)).toEqual([false]);
  });

  it('control: the debit to the attempt\'s own card settles the payout and proves the day', async () => {
    const attempt = await creditedPayment();
    const today = chinaToday();
    await importConfirmed(db.pool, handStatement(today, 10_000_000, [debitTo(attempt, attempt.card, today)], UNION_ACCOUNT));
    const run = await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });

    expect(run).toMatchObject({ matched: 1, exceptions: 0, settled: 1 });
    expect(await exceptionsOf(db.pool)).toEqual([]);
    expect((await payoutsOf(db.pool))[0]!.status).toBe('SETTLED');
    expect(run.proofs.map((p) => p.proven)).toEqual([true]);
  });
});

/** Another card with the member's card's first and last four digits: the same mask, `6222 **** **** 1234`. */
const twinOf = (card: string) => `${card.slice(0, 4)}${card.slice(4, -4).split('').map((d) => String((Number(d) + 1) % 10)).join('')}${card.slice(-4)}`;

describe('a debit to another card with the same first and last four digits', () => {
  it('is an exception naming the attempt, by its EndToEndId: the whole card is compared through its keyed hash', async () => {
    const attempt = await creditedPayment();
    const twin = twinOf(attempt.card);
    const today = chinaToday();
    await importConfirmed(db.pool, handStatement(today, 10_000_000, [debitTo(attempt, twin, today)], UNION_ACCOUNT));
    const run = await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });

    expect(run).toMatchObject({ matched: 0, exceptions: 1, settled: 0 });
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', status: 'OPEN', attemptId: attempt.id }]);
    expect(await reasonOf(attempt.id)).toContain('(another card with the same first and last four digits)');
    expect((await payoutsOf(db.pool))[0]!.status).toBe('PAID');
  });

  it('is not the member\'s payment by amount and name either (no reference on the statement)', async () => {
    const attempt = await creditedPayment();
    const today = chinaToday();
    const unnamed = bookedEntry('DBIT', attempt.amountFen, today, {
      details: [{ amountFen: attempt.amountFen, creditor: { name: attempt.name, account: twinOf(attempt.card) }, remittanceInfo: [] }],
    });
    await importConfirmed(db.pool, handStatement(today, 10_000_000, [unnamed], UNION_ACCOUNT));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 0, exceptions: 1, settled: 0 });
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: null }]);
    expect((await payoutsOf(db.pool))[0]!.status).toBe('PAID');
  });
});

describe('a return (退票) of our EndToEndId from a card the attempt does not carry', () => {
  it('is an exception naming the attempt: the payout is not made FAILED, so not retried', async () => {
    const attempt = await creditedPayment();
    const today = chinaToday();
    const back = bookedEntry('CRDT', attempt.amountFen, today, {
      bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'RRTN' } },
      details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, creditor: { name: attempt.name, account: STRANGER }, returnInfo: { reasonCode: 'AC04' }, remittanceInfo: [] }],
    });
    await importConfirmed(db.pool, handStatement(today, 10_000_000, [back], UNION_ACCOUNT));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 0, exceptions: 1, returned: 0 });

    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNKNOWN_CREDIT', status: 'OPEN', attemptId: attempt.id }]);
    expect(await reasonOf(attempt.id)).toContain('a return (退票) from card 6217 **** **** 8885');
    expect(await attemptStatus(attempt.id)).toBe('PAID');
    expect((await payoutsOf(db.pool))[0]!.status).toBe('PAID');
  });
});
