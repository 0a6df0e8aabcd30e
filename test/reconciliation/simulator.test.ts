import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contributionFigures } from '../../src/members/store.ts';
import { contributionReference } from '../../src/members/model.ts';
import { addBusinessDays } from '../../src/reconciliation/matching/calendar.ts';
import { fetchFromBank, fetchNotifications } from '../../src/reconciliation/fetch.ts';
import { receiveDocument } from '../../src/reconciliation/ingest.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { seedEnrolment, seedMember } from '../benefits/seed.ts';
import { middleman, staleFirstDocument, startBank, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, payoutsOf, submissionContext, keys } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { exceptionsOf, HUB, owingUnit, tableCounts } from './support.ts';
import { chinaToday } from '../../src/kernel/time.ts';

/**
 * The bank simulator's own documents (camt.054 notifications and the day's camt.053, sealed and
 * fetched over HTTP through the bank adapter) reconciled against payouts the payout pipeline sent
 * it and contributions units transferred to it.
 */
const pki = testFilePki();
let db: TestDatabase;

// Each test is a bank of its own (its ledger, feed cursor and statements): a database of its own too.
beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await db.drop();
});

const PAYER = '35050164620700000123';

describe('a day at the bank simulator', () => {
  it('settles every payout, pays the units\' contributions and proves the day; fetching and reconciling again change nothing', async () => {
    await approvedClaims(db.pool, 3);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');

      // One unit pays 2025 in two transfers; another pays two plan years in one.
      const unit = await owingUnit(db.pool, 3, 2025);
      const both = await owingUnit(db.pool, 2, 2024);
      for (let i = 0; i < 2; i += 1) await seedEnrolment(db.pool, await seedMember(db.pool, both.id), both.id, { year: 2025 });
      const credit = (amountFen: number, reference: string) =>
        bank.admin('/admin/credits', { payerName: '泉州某公司工会', payerAccount: PAYER, amountFen, reference, account: UNION_ACCOUNT });
      await credit(10_000, `2025年度职工医疗互助金 ${unit.reference}`);
      await credit(20_000, unit.reference);
      await credit(40_000, `${both.reference} ${contributionReference(both.creditCode, 2025)}`);

      const today = chinaToday();
      const fetched = await fetchFromBank(db.pool, bank.adapter, [UNION_ACCOUNT], today, 0, HUB);
      expect(fetched.documents.map((d) => [d.kind, d.status])).toEqual([
        ['camt.054', 'ACCEPTED'], ['camt.054', 'ACCEPTED'], ['camt.054', 'ACCEPTED'], ['camt.054', 'ACCEPTED'], ['camt.053', 'ACCEPTED'],
      ]);
      expect(fetched.documents.at(-1)).toMatchObject({ entries: 6, entriesNew: 0 }); // the notifications brought them first
      expect(fetched.accounts).toEqual([UNION_ACCOUNT]);

      const result = await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
      expect(result).toMatchObject({ entries: 6, matched: 6, exceptions: 0, settled: 3, missingDebits: 0 });
      expect(await exceptionsOf(db.pool)).toEqual([]);
      expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['SETTLED', 'SETTLED', 'SETTLED']);
      expect((await db.pool.query('SELECT status FROM payout_batches WHERE id = $1', [batch.id])).rows[0]).toEqual({ status: 'SETTLED' });
      expect(await contributionFigures(db.pool, [{ unitId: unit.id, planYear: 2025 }, { unitId: both.id, planYear: 2024 }, { unitId: both.id, planYear: 2025 }]))
        .toMatchObject([{ enrolled: 3, owedFen: 30_000, paidFen: 30_000 }, { enrolled: 2, owedFen: 20_000, paidFen: 20_000 }, { enrolled: 2, owedFen: 20_000, paidFen: 20_000 }]);

      expect(result.proofs).toHaveLength(1);
      expect(result.proofs[0]).toMatchObject({ account: UNION_ACCOUNT, date: today, entries: 6, balanced: true, differenceFen: 0, proven: true });

      // Again: the bank's same documents (fetched anew, re-imported by hand) and another run change nothing.
      const before = await tableCounts(db.pool);
      await fetchFromBank(db.pool, bank.adapter, [UNION_ACCOUNT], today, 0, HUB);
      const statementXml = (await db.pool.query<{ xml: string }>(`SELECT xml FROM bank_documents WHERE kind = 'camt.053'`)).rows[0]!.xml;
      expect(await receiveDocument(db.pool, { xml: statementXml, source: 'FILE', receivedBy: 'test' }, HUB)).toMatchObject({ status: 'ACCEPTED', duplicate: true });
      expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ entries: 0, matched: 0, exceptions: 0, settled: 0 });
      // Nothing changes but the audit log's record of the import.
      expect(await tableCounts(db.pool)).toEqual({ ...before, audit_log: before.audit_log! + 1 });
    } finally {
      ctx.remove();
    }
  });

  it('shows the simulator\'s faults as their exceptions: a return after settlement, an unknown credit, a debit overdue after T+2', async () => {
    await approvedClaims(db.pool, 2);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const today = chinaToday();
      const { rows: attempts } = await db.pool.query<{ id: number; e2e: string; payoutId: number }>(
        'SELECT id, end_to_end_id AS e2e, payout_id AS "payoutId" FROM payout_attempts WHERE batch_id = $1 ORDER BY id', [batch.id],
      );

      // Before any statement, as seen three business days later: both debits are overdue.
      const late = addBusinessDays(today, 3, new Set());
      expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: late })).toMatchObject({ missingDebits: 2 });
      expect((await exceptionsOf(db.pool)).map((e) => [e.kind, e.status, e.attemptId])).toEqual([['MISSING_DEBIT', 'OPEN', attempts[0]!.id], ['MISSING_DEBIT', 'OPEN', attempts[1]!.id]]);

      await fetchFromBank(db.pool, bank.adapter, [UNION_ACCOUNT], today, 0, HUB);
      expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: late })).toMatchObject({ matched: 2, settled: 2, cleared: 2, missingDebits: 0 });

      // The payee's bank sends one back (退票) after it was settled; a transfer nobody announced arrives.
      expect((await bank.admin('/admin/returns', { endToEndId: attempts[1]!.e2e, reason: 'AC04', additionalInfo: '收款账户已销户' })).status).toBe(200);
      await bank.admin('/admin/credits', { payerName: '某某', payerAccount: '6222021408000000015', amountFen: 12_345, reference: '还款', account: UNION_ACCOUNT });
      await fetchFromBank(db.pool, bank.adapter, [UNION_ACCOUNT], today, 0, HUB);
      const run = await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: late });
      expect(run).toMatchObject({ entries: 2, matched: 1, exceptions: 2, returned: 1 });
      expect((await exceptionsOf(db.pool)).filter((e) => e.status === 'OPEN').map((e) => [e.kind, e.amountFen])).toEqual([
        ['UNKNOWN_CREDIT', 12_345], ['RETURN_AFTER_SETTLEMENT', (await payoutsOf(db.pool)).find((p) => p.id === attempts[1]!.payoutId)!.amountFen],
      ]);
      const payout = (await payoutsOf(db.pool)).find((p) => p.id === attempts[1]!.payoutId)!;
      expect(payout).toMatchObject({ status: 'FAILED', statusReason: expect.stringContaining('AC04') });
      // The unknown credit keeps the day from being proven, by exactly its amount.
      expect(run.proofs.at(-1)).toMatchObject({ balanced: true, proven: false, differenceFen: 12_345, unrecognizedEntries: 1 });
    } finally {
      ctx.remove();
    }
  });

  it('keeps a notification whose seal is refused (made past the signing window) for a second person, and reads the feed on past it', async () => {
    const bank = await startBank(pki);
    await bank.admin('/admin/credits', { payerName: '泉州某公司工会', payerAccount: PAYER, amountFen: 10_000, reference: '会费', account: UNION_ACCOUNT });
    await bank.admin('/admin/credits', { payerName: '泉州某公司工会', payerAccount: PAYER, amountFen: 20_000, reference: '会费', account: UNION_ACCOUNT });
    const stale = await middleman(pki, bank.simulator.url, staleFirstDocument(pki, '/notifications'));
    try {
      const fetched = await fetchNotifications(db.pool, stale.adapter, HUB);
      expect(fetched.documents.map((d) => [d.kind, d.status])).toEqual([['camt.054', 'ACCEPTED'], ['camt.054', 'AWAITING_CONFIRMATION']]);
      const { rows } = await db.pool.query<{ status: string; sealedBy: string | null; sealProblem: string }>(
        `SELECT status, sealed_by AS "sealedBy", seal_problem AS "sealProblem" FROM bank_documents ORDER BY id`,
      );
      expect(rows).toEqual([
        { status: 'ACCEPTED', sealedBy: expect.any(String), sealProblem: null },
        { status: 'AWAITING_CONFIRMATION', sealedBy: null, sealProblem: expect.stringMatching(/signing time .* more than 72 hours before receipt/) },
      ]);
      // The cursor moved past both: nothing new the next time.
      expect((await fetchNotifications(db.pool, stale.adapter, HUB)).documents).toEqual([]);
    } finally {
      await stale.close();
    }
  });
});
