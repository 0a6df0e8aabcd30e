import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { batchFileName, removeBatchFiles } from '../../src/payouts/files.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { approvePaymentPolicy, proposePaymentPolicy, releaseUnderPolicies, type PolicyProposal } from '../../src/payouts/policies.ts';
import { sealBatch } from '../../src/payouts/sealing.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { startBank, stopAll, testFilePki } from '../banks/simulator/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway } from '../support/gateway.ts';
import { approvedBatch, approvedClaims, finance, settings, submissionContext } from '../payouts/support.ts';

/**
 * A batch cancelled after sealing left its pain.001 (every creditor's card in clear) and its seal in
 * PAYOUT_OUT_DIR under a MsgId the bank never receives, for anyone or anything reading that folder
 * to find. Once the cancellation commits (a policy's revocation, or the worker's own at the
 * hand-over) the batch's files are removed; a sealed batch that is not cancelled keeps its files.
 */
const pki = testFilePki();
const FINANCE_ZHAO = { role: 'FINANCE' as const, sub: 'finance-zhao' };
let db: TestDatabase;

beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await stopAll();
  await db.drop();
});

/** A policy in force over the union's funder, proposed by one FINANCE person and approved by another. */
async function activePolicy(limits: Partial<PolicyProposal> = {}): Promise<number> {
  const funderId = (await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`)).rows[0]!.id;
  const now = Date.now();
  const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
    funderId, maxPayoutFen: 10_000_000, dailySumFen: 100_000_000, dailyCount: 1,
    accountUnchangedDays: settings.coolingOffDays, validFrom: new Date(now - 60_000), validUntil: new Date(now + 86_400_000), reason: '即时办 for small claims',
    ...limits,
  });
  await approvePaymentPolicy(db.pool, { subject: FINANCE_ZHAO.sub, role: 'FINANCE' }, UNSCOPED, policy.id);
  return policy.id;
}

/** Which of a batch's two files (`<MsgId>.xml`, `.xml.p7s`) are in the folder. */
const filesOf = (outDir: string, msgId: string) => [batchFileName(msgId), `${batchFileName(msgId)}.p7s`].filter((name) => existsSync(path.join(outDir, name)));

/** One batch released under a policy (one payout) and one ordinary batch (the other), both sealed, neither sent. */
async function twoSealedBatches(ctx: ReturnType<typeof submissionContext>, limits: Partial<PolicyProposal> = {}) {
  await approvedClaims(db.pool, 2);
  await planPayouts(db.pool, settings);
  const policyId = await activePolicy(limits);
  const [released] = await releaseUnderPolicies(db.pool, settings);
  const kept = await approvedBatch(db.pool);
  for (const batchId of [released!.id, kept.id]) await sealBatch(db.pool, ctx.sealing, settings, batchId);
  const both = [released!.msgId, kept.msgId].map((msgId) => filesOf(ctx.outDir, msgId));
  expect(both).toEqual([[batchFileName(released!.msgId), `${batchFileName(released!.msgId)}.p7s`], [batchFileName(kept.msgId), `${batchFileName(kept.msgId)}.p7s`]]);
  return { policyId, released: released!, kept };
}

describe('a batch cancelled after sealing', () => {
  it('revoked through the API: its sealed files leave PAYOUT_OUT_DIR once the revocation commits; a sealed batch not cancelled keeps them', async () => {
    const ctx = submissionContext(db.pool, pki, await startBank(pki));
    const gw = await startTestGateway(db, { PAYOUT_OUT_DIR: ctx.outDir });
    try {
      const { policyId, released, kept } = await twoSealedBatches(ctx);
      const answer = await gw.query(FINANCE_ZHAO, 'mutation($input: RevokePaymentPolicyInput!) { revokePaymentPolicy(input: $input) { cancelledBatchCount userErrors { message } } }', {
        input: { policyId: toGlobalId('PaymentPolicy', policyId), reason: 'bank reported fraud attempts' },
      });
      expect(answer.data?.revokePaymentPolicy, JSON.stringify(answer)).toEqual({ cancelledBatchCount: 1, userErrors: [] });
      expect(filesOf(ctx.outDir, released.msgId)).toEqual([]);
      expect(filesOf(ctx.outDir, kept.msgId)).toHaveLength(2);
    } finally {
      await gw.close();
      ctx.remove();
    }
  });

  it('cancelled by the worker at the hand-over (its policy ended): its files are gone; the other sealed batch keeps its files', async () => {
    const ctx = submissionContext(db.pool, pki, await startBank(pki));
    try {
      // Valid a few seconds: long enough to release and seal on a loaded machine, then waited out.
      const validUntil = Date.now() + 6_000;
      const { released, kept } = await twoSealedBatches(ctx, { validFrom: new Date(validUntil - 60_000), validUntil: new Date(validUntil) });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, validUntil + 100 - Date.now())));
      expect(await advanceBatch(ctx, released.id)).toEqual({ status: 'CANCELLED', waiting: false });
      expect(filesOf(ctx.outDir, released.msgId)).toEqual([]);
      expect(filesOf(ctx.outDir, kept.msgId)).toHaveLength(2);
    } finally {
      ctx.remove();
    }
  });

  it('is best effort once committed: a file that cannot be removed is logged with its MsgId, the others still go, nothing throws', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'hub-payouts-'));
    try {
      // A directory where the seal should be: rmSync without recursive refuses it.
      writeFileSync(path.join(outDir, batchFileName('MSG-1')), '<Document/>');
      mkdirSync(path.join(outDir, `${batchFileName('MSG-1')}.p7s`));
      const warnings: unknown[] = [];
      removeBatchFiles(outDir, ['MSG-1', 'MSG-NEVER-WRITTEN'], { warn: (details: unknown) => warnings.push(details) } as never);
      expect(filesOf(outDir, 'MSG-1')).toEqual([`${batchFileName('MSG-1')}.p7s`]);
      expect(warnings).toEqual([expect.objectContaining({ msgId: 'MSG-1', file: path.join(outDir, `${batchFileName('MSG-1')}.p7s`) })]);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
