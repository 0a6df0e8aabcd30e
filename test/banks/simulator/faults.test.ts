import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { BankTimeoutError } from '../../../src/banks/adapter.ts';
import { HttpBankAdapter } from '../../../src/banks/httpAdapter.ts';
import { payout, sealedBatch, startBank, testFilePki } from './support.ts';

const pki = testFilePki();

describe('bank simulator: faults, and the adapter under them', () => {
  it('a submission that times out after the bank accepted: BankTimeoutError, yet credited once; the status query proves it', async () => {
    const { simulator, adapter, ledger } = await startBank(pki, { timeoutMs: 400 });
    simulator.setFaults({ timeoutNext: 1 });
    const batch = sealedBatch(pki, 'MAH-20250604-0001', [payout('MAH-P-000000101-1', 1_680_000), payout('MAH-P-000000102-1', 20_000)]);

    // The adapter gives up at its own timeout (the error's type says so); it is not timed here.
    await expect(adapter.submitBatch(batch)).rejects.toBeInstanceOf(BankTimeoutError);
    expect((await ledger()).map((c) => c.endToEndId)).toEqual(['MAH-P-000000101-1', 'MAH-P-000000102-1']);

    // The payout job's path: the attempt is UNKNOWN, asked again by the same key.
    const status = await adapter.paymentStatus(batch.msgId);
    expect(status!.parsed.groupStatus).toBe('ACSC');
    expect(status!.parsed.transactions.map((t) => t.status)).toEqual(['ACSC', 'ACSC']);
    // Sending the same file again (a job that only knows "unknown") changes nothing.
    expect(await adapter.submitBatch(batch)).toMatchObject({ accepted: true, msgId: batch.msgId });
    expect(await ledger()).toHaveLength(2);
    expect(simulator.faults().timeoutNext).toBe(0);
  });

  it('a connection reset after acceptance is a timeout too, never a rejection', async () => {
    const { simulator, adapter, ledger } = await startBank(pki);
    simulator.setFaults({ dropAfterAccept: 1 });
    const batch = sealedBatch(pki, 'MAH-20250604-0002', [payout('MAH-P-000000111-1', 30_000)]);
    const error = await adapter.submitBatch(batch).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BankTimeoutError);
    expect((error as Error).message).toMatch(/outcome is unknown/);
    expect(await ledger()).toHaveLength(1);
    expect((await adapter.paymentStatus(batch.msgId))!.parsed.groupStatus).toBe('ACSC');
  });

  it('a file cut off before the bank read it: unknown to the bank, sent again under the same MsgId, credited once', async () => {
    const { simulator, adapter, ledger } = await startBank(pki);
    simulator.setFaults({ dropBeforeAccept: 1 });
    const batch = sealedBatch(pki, 'MAH-20250604-0003', [payout('MAH-P-000000121-1', 40_000)]);
    await expect(adapter.submitBatch(batch)).rejects.toBeInstanceOf(BankTimeoutError);
    expect(await ledger()).toEqual([]);
    expect(await adapter.paymentStatus(batch.msgId)).toBeNull();
    expect(await adapter.submitBatch(batch)).toMatchObject({ accepted: true });
    expect((await ledger()).map((c) => c.endToEndId)).toEqual(['MAH-P-000000121-1']);
  });

  it('a slow bank: answers later than the client waits still executed; a query that hangs times out once', async () => {
    const { simulator, adapter, ledger } = await startBank(pki, { timeoutMs: 300 });
    simulator.setFaults({ delayMs: 800 });
    const batch = sealedBatch(pki, 'MAH-20250604-0004', [payout('MAH-P-000000131-1', 50_000)]);
    await expect(adapter.submitBatch(batch)).rejects.toBeInstanceOf(BankTimeoutError);
    expect(await ledger()).toHaveLength(1);

    simulator.setFaults({ delayMs: 0, queryTimeoutNext: 1 });
    await expect(adapter.paymentStatus(batch.msgId)).rejects.toBeInstanceOf(BankTimeoutError);
    expect((await adapter.paymentStatus(batch.msgId))!.parsed.groupStatus).toBe('ACSC');
  });

  it('no bank listening, or a server error: BankTimeoutError', async () => {
    const { simulator, adapter } = await startBank(pki);
    await simulator.close();
    await expect(adapter.paymentStatus('MAH-20250604-0005')).rejects.toBeInstanceOf(BankTimeoutError);

    const broken = http.createServer((_req, res) => res.writeHead(503).end('maintenance'));
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(broken.address() as { port: number }).port}`;
      const toBroken = new HttpBankAdapter({ url, bank: pki.bank, timeoutMs: 2_000 });
      await expect(toBroken.submitBatch(sealedBatch(pki, 'MAH-20250604-0006', [payout('MAH-P-000000141-1', 1)]))).rejects.toThrow(/HTTP 503; the outcome is unknown/);
    } finally {
      broken.closeAllConnections();
      await new Promise((resolve) => broken.close(resolve));
    }
  });

  it('answer twice: the report is issued twice, each copy with its own MsgId and the same statuses', async () => {
    const { simulator, adapter } = await startBank(pki);
    simulator.setFaults({ answerTwice: true });
    const batch = sealedBatch(pki, 'MAH-20250604-0007', [payout('MAH-P-000000151-1', 10_000), payout('MAH-P-000000152-1', 10_000, '6222021408000000004')]);
    await adapter.submitBatch(batch);

    const feed = await adapter.statusReports(null);
    expect(feed.documents).toHaveLength(2);
    const [a, b] = feed.documents.map((d) => d.parsed);
    expect(a!.msgId).not.toBe(b!.msgId);
    expect(b!.transactions).toEqual(a!.transactions);
    expect(b!.groupStatus).toBe('PART');
    expect(await adapter.statusReports(feed.nextCursor)).toEqual({ documents: [], refused: [], nextCursor: feed.nextCursor });

    const first = await adapter.paymentStatus(batch.msgId);
    const second = await adapter.paymentStatus(batch.msgId);
    expect(second!.xml).toBe(first!.xml);
    expect(second!.seal.equals(first!.seal)).toBe(true);
  });

  it('out of order: a stale interim report (ACTC, PDNG) arrives after the final one', async () => {
    const { simulator, adapter } = await startBank(pki);
    simulator.setFaults({ outOfOrder: true });
    const batch = sealedBatch(pki, 'MAH-20250604-0008', [payout('MAH-P-000000161-1', 10_000)]);
    await adapter.submitBatch(batch);

    const [final, interim] = (await adapter.statusReports(null)).documents.map((d) => d.parsed);
    expect(final).toMatchObject({ groupStatus: 'ACSC', transactions: [{ status: 'ACSC' }] });
    expect(interim).toMatchObject({ groupStatus: 'ACTC', transactions: [{ originalEndToEndId: 'MAH-P-000000161-1', status: 'PDNG' }] });
    expect(Date.parse(interim!.createdAt)).toBeLessThan(Date.parse(final!.createdAt));

    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await adapter.paymentStatus(batch.msgId))!.parsed.transactions[0]!.status);
    expect(answers).toEqual(['ACSC', 'PDNG', 'ACSC']);
  });

  it('fault switches are read back, checked and cleared over HTTP', async () => {
    const { simulator, admin } = await startBank(pki);
    expect(await admin('/admin/faults', { timeoutNext: 2, answerTwice: true })).toMatchObject({ status: 200, body: { timeoutNext: 2, answerTwice: true, delayMs: 0 } });
    expect(await admin('/admin/faults', { delayMs: -1 })).toMatchObject({ status: 400, body: { error: 'delayMs must be a whole number, 0 or more' } });
    const cleared = await fetch(`${simulator.url}/admin/faults`, { method: 'DELETE' });
    expect(await cleared.json()).toMatchObject({ timeoutNext: 0, answerTwice: false });
  });
});
