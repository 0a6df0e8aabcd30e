import { describe, expect, it } from 'vitest';
import { statementBalanceProblem } from '../../../src/banks/iso20022/camt.ts';
import { signedFen } from '../../../src/banks/iso20022/camtEntry.ts';
import { expectSchemaValid } from '../iso20022/xmllint.ts';
import { chinaToday, payout, sealedBatch, startBank, testFilePki, UNION_ACCOUNT, UNION_BANK } from './support.ts';

const pki = testFilePki();

const UNIT = { payerName: '泉州市A&B服装有限公司工会委员会', payerAccount: '35050164620700000123', payerAgent: '105397000011' };

function yesterday(): string {
  return new Date(Date.parse(`${chinaToday()}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

describe('bank simulator: statements and notifications', () => {
  it('writes a day\'s camt.053 that validates, balances, and shows payout debits, a return and a unit\'s contribution', async () => {
    const { adapter, admin, ledger } = await startBank(pki);
    const today = chinaToday();
    expect((await admin('/admin/accounts', { account: UNION_ACCOUNT, initialFen: 1_000_000_000 })).status).toBe(200);
    expect((await admin('/admin/credits', { ...UNIT, amountFen: 96_000, reference: 'MAH-C-2024-000123', date: yesterday() })).status).toBe(200);

    const payouts = [payout('MAH-P-000000201-1', 1_680_000), payout('MAH-P-000000202-1', 300_000), payout('MAH-P-000000203-1', 5_000, '6222021408000000004')];
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250605-0001', payouts));
    const returned = await admin('/admin/returns', { endToEndId: 'MAH-P-000000202-1', reason: 'AC04', additionalInfo: '收款人账户已销户' });
    expect(returned).toMatchObject({ status: 200, body: { endToEndId: 'MAH-P-000000202-1', returned: { reasonCode: 'AC04' } } });
    const contribution = await admin('/admin/credits', { ...UNIT, amountFen: 480_000, reference: '2025年度职工医疗互助金 缴款编号MAH-C-2025-000123' });
    expect(contribution).toMatchObject({ status: 200, body: { account: UNION_ACCOUNT, date: today } });

    const document = await adapter.statement(UNION_ACCOUNT, today);
    expect(document).not.toBeNull();
    expectSchemaValid('camt.053.001.02', [document!.xml]);
    const statement = document!.parsed.statements[0]!;
    expect(statementBalanceProblem(statement)).toBeNull();
    expect(statement.account).toMatchObject({ id: UNION_ACCOUNT, ownerName: '泉州市总工会', servicer: UNION_BANK });

    // opening + credits - debits = closing, by hand.
    const balance = (type: string) => signedFen(statement.balances.find((b) => b.type === type)!);
    const credits = statement.entries.filter((e) => e.creditDebit === 'CRDT').reduce((sum, e) => sum + e.amountFen, 0);
    const debits = statement.entries.filter((e) => e.creditDebit === 'DBIT').reduce((sum, e) => sum + e.amountFen, 0);
    expect(balance('OPBD')).toBe(1_000_000_000 + 96_000);
    expect(credits).toBe(300_000 + 480_000);
    expect(debits).toBe(1_680_000 + 300_000);
    expect(balance('OPBD') + credits - debits).toBe(balance('CLBD'));

    // One debit per credited payout (not the AC04 one), with its EndToEndId and the bank's reference.
    const ledgerNow = await ledger();
    const debitEntries = statement.entries.filter((e) => e.creditDebit === 'DBIT');
    expect(debitEntries.map((e) => [e.details[0]!.endToEndId, e.accountServicerRef, e.details[0]!.msgId])).toEqual(
      ledgerNow.map((c) => [c.endToEndId, c.bankReference, 'MAH-20250605-0001']),
    );
    expect(debitEntries[0]!.bankTransactionCode.domain).toEqual({ code: 'PMNT', family: 'ICDT', subFamily: 'DMCT' });

    const returnEntry = statement.entries.find((e) => e.bankTransactionCode.domain?.subFamily === 'RRTN')!;
    expect(returnEntry).toMatchObject({ creditDebit: 'CRDT', amountFen: 300_000, additionalInfo: '退票' });
    expect(returnEntry.details[0]).toMatchObject({ endToEndId: 'MAH-P-000000202-1', returnInfo: { reasonCode: 'AC04', additionalInfo: '收款人账户已销户' } });
    expect(returnEntry.accountServicerRef).toBe(ledgerNow[1]!.returned!.bankReference);

    const unitEntry = statement.entries.find((e) => e.bankTransactionCode.domain?.family === 'RCDT')!;
    expect(unitEntry).toMatchObject({ creditDebit: 'CRDT', amountFen: 480_000, accountServicerRef: (contribution.body as { bankReference: string }).bankReference });
    expect(unitEntry.details[0]).toMatchObject({
      debtor: { name: UNIT.payerName, account: UNIT.payerAccount, agent: UNIT.payerAgent },
      remittanceInfo: ['2025年度职工医疗互助金 缴款编号MAH-C-2025-000123'],
    });

    // Yesterday closes where today opens.
    const previous = (await adapter.statement(UNION_ACCOUNT, yesterday()))!.parsed.statements[0]!;
    expectSchemaValid('camt.053.001.02', [(await adapter.statement(UNION_ACCOUNT, yesterday()))!.xml]);
    expect(previous.entries).toHaveLength(1);
    expect(signedFen(previous.balances.find((b) => b.type === 'CLBD')!)).toBe(balance('OPBD'));
  });

  it('has no statement for an account it does not keep or a day to come', async () => {
    const { adapter } = await startBank(pki);
    expect(await adapter.statement('6222021408000000099', chinaToday())).toBeNull();
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250605-0002', [payout('MAH-P-000000211-1', 1_000)]));
    expect(await adapter.statement(UNION_ACCOUNT, '2999-01-01')).toBeNull();
    expect(await adapter.statement(UNION_ACCOUNT, chinaToday())).not.toBeNull();
  });

  it('notifies every booking in camt.054, page by page with a cursor', async () => {
    const { adapter, admin } = await startBank(pki);
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250605-0003', [payout('MAH-P-000000221-1', 11_100), payout('MAH-P-000000222-1', 22_200)]));
    const first = await adapter.notifications(null);
    expect(first.documents).toHaveLength(1);
    const payoutNotice = first.documents[0]!.parsed.notifications[0]!;
    expect(payoutNotice.account.id).toBe(UNION_ACCOUNT);
    expect(payoutNotice.entries.map((e) => [e.creditDebit, e.amountFen, e.details[0]!.endToEndId])).toEqual([
      ['DBIT', 11_100, 'MAH-P-000000221-1'],
      ['DBIT', 22_200, 'MAH-P-000000222-1'],
    ]);

    await admin('/admin/returns', { endToEndId: 'MAH-P-000000222-1', reason: 'AC01' });
    await admin('/admin/credits', { ...UNIT, amountFen: 4_800, reference: 'MAH-C-2025-000124' });
    const next = await adapter.notifications(first.nextCursor);
    expect(next.documents.map((d) => d.parsed.notifications[0]!.entries[0]!.bankTransactionCode.domain?.subFamily)).toEqual(['RRTN', 'DMCT']);
    expect(next.documents[0]!.parsed.notifications[0]!.entries[0]!.details[0]!.returnInfo).toEqual({ reasonCode: 'AC01' });
    expectSchemaValid('camt.054.001.02', [...first.documents, ...next.documents].map((d) => d.xml));
    expect((await adapter.notifications(next.nextCursor)).documents).toEqual([]);
  });

  it('refuses returns it cannot make and credits it cannot book', async () => {
    const { adapter, admin } = await startBank(pki);
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250605-0004', [payout('MAH-P-000000231-1', 1_000)]));
    expect(await admin('/admin/returns', { endToEndId: 'MAH-P-999999999-1' })).toMatchObject({ status: 404 });
    expect((await admin('/admin/returns', { endToEndId: 'MAH-P-000000231-1' })).status).toBe(200);
    expect(await admin('/admin/returns', { endToEndId: 'MAH-P-000000231-1' })).toMatchObject({ status: 409 });
    expect(await admin('/admin/credits', { ...UNIT, amountFen: 0, reference: 'x' })).toMatchObject({ status: 400 });
    expect(await admin('/admin/credits', { ...UNIT, amountFen: 100, reference: 'x', date: '2999-01-01' })).toMatchObject({ status: 400 });
    expect(await admin('/admin/credits', { ...UNIT, payerName: '名'.repeat(141), amountFen: 100, reference: 'x' })).toMatchObject({ status: 400 });
    // Nothing of the refused credits was booked.
    const statement = (await adapter.statement(UNION_ACCOUNT, chinaToday()))!.parsed.statements[0]!;
    expect(statement.entries.map((e) => e.bankTransactionCode.domain?.subFamily)).toEqual(['DMCT', 'RRTN']);
  });
});
