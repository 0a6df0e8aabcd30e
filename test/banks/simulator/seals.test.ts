import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BankProtocolError, BankSealError } from '../../../src/banks/adapter.ts';
import { sealDocument } from '../../../src/seals/cms/seal.ts';
import { chinaToday, middleman, payout, sealedBatch, staleFirstDocument, startBank, testFilePki, UNION_ACCOUNT } from './support.ts';

const pki = testFilePki();

describe('bank simulator: seals on the answers', () => {
  it('seals every answer with the bank certificate, verifiable by OpenSSL', async () => {
    const { adapter } = await startBank(pki);
    const batch = sealedBatch(pki, 'MAH-20250606-0001', [payout('MAH-P-000000301-1', 12_300)]);
    await adapter.submitBatch(batch);
    const status = (await adapter.paymentStatus(batch.msgId))!;
    const statement = (await adapter.statement(UNION_ACCOUNT, chinaToday()))!;
    expect(status.sealedBy).toBe(statement.sealedBy);
    expect(status.sealedBy).toMatch(/CN=Bank Simulator Seal \(DEV\)/);

    for (const [name, document] of [['status', status], ['statement', statement]] as const) {
      writeFileSync(path.join(pki.dir, `${name}.xml`), document.xml);
      writeFileSync(path.join(pki.dir, `${name}.xml.p7s`), document.seal);
      const run = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', `${name}.xml.p7s`, '-content', `${name}.xml`,
        '-CAfile', pki.files.ca, '-purpose', 'any', '-out', '/dev/null'], { cwd: pki.dir, encoding: 'utf8' });
      expect(run.stderr).toMatch(/Verification successful/);
      expect(run.status).toBe(0);
    }
  });

  it('refuses a changed answer, one re-sealed by another certificate of the same CA, and an unsealed one', async () => {
    const { simulator, adapter, ledger } = await startBank(pki);
    const batch = sealedBatch(pki, 'MAH-20250606-0002', [payout('MAH-P-000000311-1', 45_600)]);
    await adapter.submitBatch(batch);
    const rejected = (body: Buffer) => Buffer.from(body.toString('utf8').replaceAll('ACSC', 'RJCT'));

    const changed = await middleman(pki, simulator.url, (a) => ({ ...a, body: rejected(a.body) }));
    const resealed = await middleman(pki, simulator.url, (a) => ({ ...a, body: rejected(a.body), seal: sealDocument(rejected(a.body), pki.union) }));
    const unsealed = await middleman(pki, simulator.url, (a) => ({ ...a, seal: Buffer.alloc(0) }));
    try {
      await expect(changed.adapter.paymentStatus(batch.msgId)).rejects.toThrow(/not the bank's: the content does not match the seal/);
      await expect(resealed.adapter.paymentStatus(batch.msgId)).rejects.toThrow(/sealed by ".*Union Seal \(DEV\)", not by the expected certificate/);
      await expect(unsealed.adapter.paymentStatus(batch.msgId)).rejects.toBeInstanceOf(BankSealError);
      // A forged refusal of a file is not the bank's evidence: it throws (outcome unknown) instead of resolving { accepted: false }.
      const forgedRefusal = await middleman(pki, simulator.url, (a) => ({ ...a, status: 403, body: Buffer.from(JSON.stringify({ accepted: false, msgId: 'MAH-20250606-0003', reason: 'forged' })) }));
      try {
        await expect(forgedRefusal.adapter.submitBatch(sealedBatch(pki, 'MAH-20250606-0003', [payout('MAH-P-000000312-1', 1_000)])))
          .rejects.toBeInstanceOf(BankSealError);
      } finally {
        await forgedRefusal.close();
      }
      // ... while the bank did take that file.
      expect((await ledger()).map((c) => c.endToEndId)).toEqual(['MAH-P-000000311-1', 'MAH-P-000000312-1']);
    } finally {
      await Promise.all([changed.close(), resealed.close(), unsealed.close()]);
    }
  });

  it('refuses a genuine answer replayed for another question', async () => {
    const { simulator, adapter } = await startBank(pki);
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250606-0004', [payout('MAH-P-000000321-1', 1_000)]));
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250606-0005', [payout('MAH-P-000000322-1', 2_000, '6222021408000000004')]));
    // Every status query answered with the (sealed, genuine) report of 0004.
    let replay: { body: Buffer; seal: Buffer } | undefined;
    const replaying = await middleman(pki, simulator.url, (a) => {
      if (a.route.includes('MAH-20250606-0004')) replay = { body: a.body, seal: a.seal };
      return replay && a.route.endsWith('/status') ? { ...a, ...replay } : a;
    });
    try {
      expect((await replaying.adapter.paymentStatus('MAH-20250606-0004'))!.parsed.groupStatus).toBe('ACSC');
      const error = await replaying.adapter.paymentStatus('MAH-20250606-0005').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BankProtocolError);
      expect((error as Error).message).toMatch(/answers MsgId MAH-20250606-0004, not MAH-20250606-0005/);
    } finally {
      await replaying.close();
    }
  });
});

describe('a feed page listing a document whose seal is refused', () => {
  it('sets that document aside with the reason and keeps the others, instead of failing the page (the feed would stop there for good)', async () => {
    const { simulator, adapter } = await startBank(pki);
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250606-0011', [payout('MAH-P-000000411-1', 1_000)]));
    await adapter.submitBatch(sealedBatch(pki, 'MAH-20250606-0012', [payout('MAH-P-000000412-1', 2_000, '6222021408000000004')]));
    // The bank lists the first report with a seal made four days ago (past the signing window), the page itself sealed now.
    const stale = await middleman(pki, simulator.url, staleFirstDocument(pki, '/status-reports'));
    try {
      const page = await stale.adapter.statusReports(null);
      expect(page.documents.map((d) => d.parsed.originalMsgId)).toEqual(['MAH-20250606-0012']);
      expect(page.refused).toEqual([expect.objectContaining({ position: 1, reason: expect.stringMatching(/pain\.002 1 of the list: its seal is refused: signing time .* more than 72 hours before receipt/) })]);
      expect(page.nextCursor).toBe((await adapter.statusReports(null)).nextCursor);
    } finally {
      await stale.close();
    }
  });
});
