import { createHash } from 'node:crypto';
import path from 'node:path';
import { writeDevCertificates } from '../../certs/devCa.ts';
import type { Runtime } from '../../src/runtime.ts';
import { simulatorCertificates } from '../../src/banks/simulator/certificates.ts';
import { startBankSimulator, type BankSimulator } from '../../src/banks/simulator/server.ts';
import { DEV_SEAL_P12_PASSPHRASE, parseSealSettings } from '../../src/seals/settings.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import { approvePaymentPolicy, proposePaymentPolicy, releaseUnderPolicies } from '../../src/payouts/policies.ts';
import { funderByCode } from '../../src/payouts/store/funders.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { paymentWaiting } from '../../src/figures/waiting.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { configuredPayoutServices, payoutSettings, type PayoutServices } from '../../src/payouts/settings.ts';
import { log } from '../../src/log.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { openBatchCount, releaseCounts } from '../../src/payouts/store/batches.ts';
import { payoutTotalsByStatus } from '../../src/payouts/store/payouts.ts';
import { fenToCnyGrouped } from '../../src/kernel/money.ts';
import type { Queues } from '../../src/queues.ts';
import { enqueuePayoutBatch } from '../../src/payouts/queue.ts';
import { DEMO_WAIT_MS, pollUntil } from './wait.ts';

/**
 * For `hub demo`: development certificates (made once, under CERTS_DIR), the bank simulator as a
 * real HTTP server, and the payout services the workers use with it. Once the sample's
 * settlements are decided two FINANCE people put a standing payment policy in force (即时办),
 * under which the workers pay the claims the rules approved at once. `payDemoClaims` then plays the
 * two people of a payout run for the rest: a clerk creates the batches, FINANCE approves and
 * submits them; the workers seal, send and read the bank's answers.
 */

export interface BankDemo {
  simulator: BankSimulator;
  payouts: PayoutServices;
  close(): Promise<void>;
}

const DEMO_CLERK = { subject: 'demo-clerk', role: 'ADMIN' };
const DEMO_FINANCE = { subject: 'demo-finance', role: 'FINANCE' };
const DEMO_FINANCE_SECOND = { subject: 'demo-finance-li', role: 'FINANCE' };
/** How often the demo's workers release under the policy (a deployment's PAYOUT_RELEASE_SECONDS, shorter for the demo). */
const DEMO_RELEASE_MS = 2_000;

/**
 * The bank's books outlive a run, one file per database: run again, the bank remembers what it paid
 * and booked (its statements and feeds continue where the hub's cursors stopped).
 */
export function bankBooksFile(databaseUrl: string): string {
  return path.resolve('.data', `bank-sim-${createHash('sha256').update(databaseUrl).digest('hex').slice(0, 12)}.json`);
}

export async function startDemoBank(runtime: Runtime): Promise<BankDemo> {
  const seals = parseSealSettings();
  const certificates = writeDevCertificates(seals.certsDir, { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
  if (certificates.created) console.log(`development certificates written to ${seals.certsDir} (CA, union seal, bank seal, CRL)`);
  const simulator = await startBankSimulator({
    ...simulatorCertificates(seals.certsDir), defaultAccount: runtime.config.PAYOUT_ACCOUNT, stateFile: bankBooksFile(runtime.config.DATABASE_URL),
  });
  // The services a worker makes from configuration, pointed at the simulator (so never null), asking it often.
  const payouts = configuredPayoutServices({ ...runtime.config, BANK_URL: simulator.url }, runtime.keys, log)!;
  return { simulator, payouts: { ...payouts, pollMs: 200, releaseEveryMs: DEMO_RELEASE_MS }, close: () => simulator.close() };
}

/**
 * 即时办: one FINANCE person proposes a standing payment policy for the union's payouts, another
 * approves it; from then on the workers pay claims approved by the rules, up to 5,000 CNY each, to
 * cards unchanged for the cooling-off period, without a per-batch approval. One line for the output.
 */
export async function setUpStandingPolicy(runtime: Runtime): Promise<string> {
  const settings = payoutSettings(runtime.config);
  const union = (await funderByCode(runtime.db, 'UNION'))!;
  const now = Date.now();
  const proposed = await proposePaymentPolicy(runtime.db, DEMO_FINANCE, UNSCOPED, settings, {
    funderId: union.id, maxPayoutFen: 500_000, dailySumFen: 100_000_000, dailyCount: 2_000, accountUnchangedDays: settings.coolingOffDays,
    validFrom: new Date(now), validUntil: new Date(now + 30 * 86_400_000), reason: '即时办: claims approved by the rules paid within minutes',
  });
  const policy = await approvePaymentPolicy(runtime.db, DEMO_FINANCE_SECOND, UNSCOPED, proposed.id);
  return `即时办: standing payment policy ${policy.id} proposed by ${policy.proposedBy}, approved by ${policy.approvedBy}: claims approved by the rules, ` +
    `at most ${fenToCnyGrouped(policy.maxPayoutFen)} CNY each, ${fenToCnyGrouped(policy.dailySumFen)} CNY and ${policy.dailyCount} payouts a day from the union's account, ` +
    `to cards unchanged for ${policy.accountUnchangedDays} days, released as they are decided and every ${DEMO_RELEASE_MS / 1000} s until ${policy.validUntil.toISOString().slice(0, 10)}`;
}

/** Pays every approved claim through the simulator; resolves with one line for the demo's output. */
export async function payDemoClaims(runtime: Runtime, queues: Queues): Promise<string> {
  const settings = payoutSettings(runtime.config);
  await planPayouts(runtime.db, settings);
  // What the policy lets out goes at once, as the workers' release would; the rest to the people.
  const released = await releaseUnderPolicies(runtime.db, settings);
  for (const batch of released) await enqueuePayoutBatch(queues.payouts, batch.id);
  for (;;) {
    const batch = await createBatch(runtime.db, DEMO_CLERK, settings, settings.batchMax);
    if (!batch) break;
    await approveBatch(runtime.db, DEMO_FINANCE, batch.id);
    await requestSubmission(runtime.db, DEMO_FINANCE, batch.id);
    await enqueuePayoutBatch(queues.payouts, batch.id);
  }
  const releases = await releaseCounts(runtime.db);
  await pollUntil(async () => (await openBatchCount(runtime.db, releases.batchIds) > 0 ? null : true),
    () => `payout batches did not finish within ${DEMO_WAIT_MS / 1000} s`);
  const totals = await payoutTotalsByStatus(runtime.db);
  const byStatus = totals.map((r) => `${r.status} ${r.payouts} (${fenToCnyGrouped(r.totalFen)} CNY)`).join(', ') || 'none';
  return `payouts: ${totals.reduce((n, r) => n + r.payouts, 0)} from approved claims, ${releases.batchIds.length} batch(es) sealed and sent to the bank simulator ` +
    `(${releases.byPolicy.batches} released by the standing policy with ${releases.byPolicy.payouts} payouts, ${releases.byApproval.batches} created by a clerk and approved by FINANCE ` +
    `with ${releases.byApproval.payouts}); ${byStatus}; files in ${runtime.config.PAYOUT_OUT_DIR}/`;
}

/**
 * The members' wait, measured: from the settlement's receipt to the bank's credit, for the claims
 * the rules approved (paid under the standing policy) and for every paid claim (reviewed ones waited
 * for a reviewer and a person's batch). The sample's feed arrives at once, before the policy is in
 * force, so these include the wait for the feed to be decided; `bench/instant.ts` measures the wait
 * with the policy in force and a steady feed. One line for the output.
 */
export async function memberWaitLine(runtime: Runtime): Promise<string> {
  const to = chinaToday();
  const from = addDays(to, -1);
  const credited = async (approvedByRulesOnly: boolean) =>
    (await paymentWaiting(runtime.db, UNSCOPED, { from, to, approvedByRulesOnly })).overall.stages.find((s) => s.stage === 'RECEIVED_TO_CREDITED')!;
  const [byRules, all] = [await credited(true), await credited(false)];
  const seconds = (value: number | null) => (value === null ? '–' : `${value.toFixed(1)} s`);
  return `the members' wait from the settlement's receipt to the bank's credit (the whole sample received at once): claims approved by the rules (即时办) ${byRules.count}, ` +
    `median ${seconds(byRules.p50Seconds)}, 95th percentile ${seconds(byRules.p95Seconds)}; every paid claim ${all.count}, median ${seconds(all.p50Seconds)}, ` +
    `95th percentile ${seconds(all.p95Seconds)} (paymentWaiting)`;
}
