import { describe, expect, it } from 'vitest';
import { parsePain002 } from '../../../src/banks/iso20022/pain002.ts';
import { SEAL_HEADER } from '../../../src/banks/adapter.ts';
import { simulatorCertificates } from '../../../src/banks/simulator/certificates.ts';
import { sealDocument } from '../../../src/seals/cms/seal.ts';
import { expectSchemaValid } from '../iso20022/xmllint.ts';
import { openAccount, pain001, payout, sealedBatch, startBank, testFilePki } from './support.ts';

const pki = testFilePki();

/** Posts a file as the adapter would, but with any seal (or none) and any MsgId. */
async function post(url: string, msgId: string, xml: string, seal?: Buffer) {
  const response = await fetch(`${url}/batches/${encodeURIComponent(msgId)}`, {
    method: 'POST',
    body: xml,
    headers: { 'content-type': 'application/xml', ...(seal && { [SEAL_HEADER]: seal.toString('base64') }) },
  });
  return { status: response.status, body: (await response.json()) as { accepted: boolean; code?: string; reason?: string } };
}

describe('bank simulator: payment files', () => {
  it('accepts a sealed pain.001, credits each payee once and answers a pain.002 ACSC with its references', async () => {
    const { adapter, ledger } = await startBank(pki);
    const payouts = [payout('MAH-P-000000001-1', 1_680_000), payout('MAH-P-000000002-1', 720_050), payout('MAH-P-000000003-1', 600_000)];
    const ack = await adapter.submitBatch(sealedBatch(pki, 'MAH-20250603-0001', payouts));

    expect(ack).toMatchObject({ accepted: true, msgId: 'MAH-20250603-0001' });
    expect(ack.bankReference).toMatch(/^SIMB\d{16}$/);
    const credits = await ledger();
    expect(credits.map((c) => [c.endToEndId, c.msgId, c.account, c.amountFen])).toEqual(
      payouts.map((p) => [p.endToEndId, 'MAH-20250603-0001', p.account, p.amountFen]),
    );
    expect(credits.every((c) => /^\d{4}-\d{2}-\d{2}T/.test(c.creditedAt))).toBe(true);

    const status = await adapter.paymentStatus('MAH-20250603-0001');
    expect(status).not.toBeNull();
    expectSchemaValid('pain.002.001.03', [status!.xml]);
    expect(status!.parsed).toMatchObject({ originalMsgId: 'MAH-20250603-0001', originalNbOfTxs: 3, originalCtrlSumFen: 3_000_050, groupStatus: 'ACSC' });
    expect(status!.parsed.transactions.map((t) => [t.originalEndToEndId, t.status, t.accountServicerRef])).toEqual(
      credits.map((c) => [c.endToEndId, 'ACSC', c.bankReference]),
    );
    expect(status!.sealedBy).toContain('Bank Simulator Seal (DEV)');
  });

  it('refuses an unsealed file, a tampered one and one sealed by someone else, and records nothing', async () => {
    const { simulator, adapter, ledger } = await startBank(pki);
    const batch = sealedBatch(pki, 'MAH-20250603-0002', [payout('MAH-P-000000011-1', 100_000)]);

    const unsealed = await post(simulator.url, batch.msgId, batch.xml);
    expect(unsealed).toMatchObject({ status: 400, body: { accepted: false, code: 'DS0A' } });
    expect(unsealed.body.reason).toMatch(/not sealed/);

    const tampered = await adapter.submitBatch({ ...batch, xml: batch.xml.replace('<InstdAmt Ccy="CNY">1000.00', '<InstdAmt Ccy="CNY">9000.00') });
    expect(tampered).toMatchObject({ accepted: false, code: 'DS0B' });
    expect(tampered.reason).toMatch(/message digest differs/);

    // A valid seal from the same CA, but the bank's own certificate, not its customer's.
    const bankSealed = await post(simulator.url, batch.msgId, batch.xml, sealDocument(Buffer.from(batch.xml), simulatorCertificates(pki.certsDir).bankSeal));
    expect(bankSealed).toMatchObject({ status: 403, body: { accepted: false, code: 'DS0B' } });
    expect(bankSealed.body.reason).toMatch(/not by the expected certificate/);

    expect(await ledger()).toEqual([]);
    expect(await adapter.paymentStatus(batch.msgId)).toBeNull();
    // The genuine file is still taken afterwards: nothing was recorded under its MsgId.
    expect(await adapter.submitBatch(batch)).toMatchObject({ accepted: true });
    expect(await ledger()).toHaveLength(1);
  });

  it('answers the same file again with the first acknowledgement and credits nothing again', async () => {
    const { adapter, ledger } = await startBank(pki);
    const batch = sealedBatch(pki, 'MAH-20250603-0003', [payout('MAH-P-000000021-1', 50_000), payout('MAH-P-000000022-1', 60_000)]);
    const first = await adapter.submitBatch(batch);
    // Sealed again (another signing time): the same file all the same.
    const again = await adapter.submitBatch({ ...batch, seal: sealDocument(Buffer.from(batch.xml), pki.union, new Date(Date.now() - 60_000)) });
    expect(again).toEqual(first);
    expect((await ledger()).map((c) => c.endToEndId)).toEqual(['MAH-P-000000021-1', 'MAH-P-000000022-1']);

    // The same MsgId for other content is refused, and the first file stands.
    const other = sealedBatch(pki, 'MAH-20250603-0003', [payout('MAH-P-000000023-1', 70_000)]);
    expect(await adapter.submitBatch(other)).toMatchObject({ accepted: false, code: 'DU01' });
    expect(await ledger()).toHaveLength(2);
  });

  it('never credits an EndToEndId twice, even in another file: the pain.002 rejects it with AM05', async () => {
    const { adapter, ledger } = await startBank(pki);
    const once = payout('MAH-P-000000031-1', 88_800);
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250603-0004', [once]));
    const ack = await adapter.submitBatch(sealedBatch(pki, 'MAH-20250603-0005', [once, payout('MAH-P-000000032-1', 10_000)]));
    expect(ack.accepted).toBe(true);

    const credits = await ledger();
    expect(credits.filter((c) => c.endToEndId === once.endToEndId)).toHaveLength(1);
    expect(credits.map((c) => [c.endToEndId, c.msgId])).toEqual([[once.endToEndId, 'MAH-20250603-0004'], ['MAH-P-000000032-1', 'MAH-20250603-0005']]);
    const report = (await adapter.paymentStatus('MAH-20250603-0005'))!.parsed;
    expect(report.groupStatus).toBe('PART');
    expect(report.transactions[0]).toMatchObject({ originalEndToEndId: once.endToEndId, status: 'RJCT', reasonCode: 'AM05' });
    expect(report.transactions[0]!.additionalInfo).toMatch(/already received in MsgId MAH-20250603-0004 and credited/);
    expect(report.transactions[1]).toMatchObject({ status: 'ACSC' });
  });

  it('rejects closed (AC04) and wrong (AC01) payee accounts by rule or as set, in a partial acceptance', async () => {
    const { adapter, ledger, admin } = await startBank(pki);
    const setClosed = openAccount();
    expect((await admin('/admin/accounts', { account: setClosed, status: 'CLOSED' })).status).toBe(200);
    const payouts = [
      payout('MAH-P-000000041-1', 10_000),
      payout('MAH-P-000000042-1', 20_000, '6222021408000000004'),
      payout('MAH-P-000000043-1', 30_000, '6222021408000000001'),
      payout('MAH-P-000000044-1', 40_000, setClosed),
    ];
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250603-0006', payouts));
    const status = await adapter.paymentStatus('MAH-20250603-0006');

    // What the payout job reads: parsePain002 of the bank's own bytes.
    const parsed = parsePain002(status!.xml);
    expect(parsed.groupStatus).toBe('PART');
    expect(parsed.paymentInfoStatuses[0]!.status).toBe('PART');
    expect(parsed.transactions.map((t) => [t.originalEndToEndId, t.status, t.reasonCode])).toEqual([
      ['MAH-P-000000041-1', 'ACSC', undefined],
      ['MAH-P-000000042-1', 'RJCT', 'AC04'],
      ['MAH-P-000000043-1', 'RJCT', 'AC01'],
      ['MAH-P-000000044-1', 'RJCT', 'AC04'],
    ]);
    expect((await ledger()).map((c) => c.endToEndId)).toEqual(['MAH-P-000000041-1']);

    // A rejected EndToEndId is spent too: a new attempt needs a new one.
    await admin('/admin/accounts', { account: '6222021408000000004', status: 'OPEN' });
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250603-0007', [payouts[1]!]));
    expect((await adapter.paymentStatus('MAH-20250603-0007'))!.parsed.transactions[0]).toMatchObject({ status: 'RJCT', reasonCode: 'AM05' });
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250603-0008', [{ ...payouts[1]!, endToEndId: 'MAH-P-000000042-2' }]));
    expect((await ledger()).map((c) => c.endToEndId)).toEqual(['MAH-P-000000041-1', 'MAH-P-000000042-2']);
  });

  it('refuses a file whose CtrlSum does not add up, on the record: 422 and a pain.002 RJCT AM10', async () => {
    const { adapter, ledger } = await startBank(pki);
    const xml = pain001('MAH-20250603-0009', [payout('MAH-P-000000051-1', 10_000), payout('MAH-P-000000052-1', 20_000)])
      .replace('<CtrlSum>300.00</CtrlSum>', '<CtrlSum>310.00</CtrlSum>');
    const ack = await adapter.submitBatch({ msgId: 'MAH-20250603-0009', xml, seal: sealDocument(Buffer.from(xml), pki.union) });
    expect(ack).toMatchObject({ accepted: false, code: 'AM10' });
    expect(ack.reason).toMatch(/CtrlSum: is 310.00 but the transactions sum to 300.00/);
    expect(await ledger()).toEqual([]);
    const report = (await adapter.paymentStatus('MAH-20250603-0009'))!.parsed;
    expect(report).toMatchObject({ groupStatus: 'RJCT', groupReason: { reasonCode: 'AM10' }, transactions: [] });
  });

  it('refuses a file that is not under the MsgId it is sent as', async () => {
    const { simulator, ledger } = await startBank(pki);
    const batch = sealedBatch(pki, 'MAH-20250603-0010', [payout('MAH-P-000000061-1', 10_000)]);
    const answer = await post(simulator.url, 'MAH-20250603-9999', batch.xml, batch.seal);
    expect(answer).toMatchObject({ status: 400, body: { accepted: false, code: 'FF01' } });
    expect(await ledger()).toEqual([]);
  });

  it('keeps its books in a JSON file: a restarted bank still never credits twice', async () => {
    const stateFile = `${pki.dir}/books-${process.pid}.json`;
    const first = await startBank(pki, { stateFile });
    const batch = sealedBatch(pki, 'MAH-20250603-0011', [payout('MAH-P-000000071-1', 10_000)]);
    const ack = await first.adapter.submitBatch(batch);
    await first.simulator.close();

    const second = await startBank(pki, { stateFile });
    expect(await second.adapter.submitBatch(batch)).toEqual(ack);
    await second.adapter.submitBatch(sealedBatch(pki, 'MAH-20250603-0012', [payout('MAH-P-000000071-1', 10_000)]));
    expect((await second.ledger()).map((c) => c.endToEndId)).toEqual(['MAH-P-000000071-1']);
    expect((await second.adapter.paymentStatus('MAH-20250603-0011'))!.parsed.groupStatus).toBe('ACSC');
  });
});

