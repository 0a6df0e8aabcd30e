import { createHash } from 'node:crypto';
import path from 'node:path';
import { writeDevCertificates } from '../../certs/devCa.ts';
import type { Runtime } from '../../src/runtime.ts';
import { simulatorCertificates } from '../../src/banks/simulator/certificates.ts';
import { startBankSimulator, type BankSimulator } from '../../src/banks/simulator/server.ts';
import { DEV_SEAL_P12_PASSPHRASE, parseSealSettings } from '../../src/seals/settings.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import { configuredPayoutServices, payoutSettings, type PayoutServices } from '../../src/payouts/settings.ts';
import { log } from '../../src/log.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { openBatchCount } from '../../src/payouts/store/batches.ts';
import { payoutTotalsByStatus } from '../../src/payouts/store/payouts.ts';
import { fenToCnyGrouped } from '../../src/kernel/money.ts';
import type { Queues } from '../../src/queues.ts';
import { enqueuePayoutBatch } from '../../src/payouts/queue.ts';
import { DEMO_WAIT_MS, pollUntil } from './wait.ts';

/**
 * For `hub demo`: development certificates (made once, under CERTS_DIR), the bank simulator as a
 * real HTTP server, and the payout services the workers use with it. After adjudication
 * `payDemoClaims` plays the two people of a payout run: a clerk creates the batches, FINANCE
 * approves and submits them; the workers seal, send and read the bank's answers.
 */

export interface BankDemo {
  simulator: BankSimulator;
  payouts: PayoutServices;
  close(): Promise<void>;
}

const DEMO_CLERK = { subject: 'demo-clerk', role: 'ADMIN' };
const DEMO_FINANCE = { subject: 'demo-finance', role: 'FINANCE' };

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
  return { simulator, payouts: { ...payouts, pollMs: 200 }, close: () => simulator.close() };
}

/** Pays every approved claim through the simulator; resolves with one line for the demo's output. */
export async function payDemoClaims(runtime: Runtime, queues: Queues): Promise<string> {
  const settings = payoutSettings(runtime.config);
  const planned = await planPayouts(runtime.db, settings);
  const batchIds: number[] = [];
  for (;;) {
    const batch = await createBatch(runtime.db, DEMO_CLERK, settings, settings.batchMax);
    if (!batch) break;
    await approveBatch(runtime.db, DEMO_FINANCE, batch.id);
    await requestSubmission(runtime.db, DEMO_FINANCE, batch.id);
    await enqueuePayoutBatch(queues.payouts, batch.id);
    batchIds.push(batch.id);
  }
  await pollUntil(async () => (await openBatchCount(runtime.db, batchIds) > 0 ? null : true),
    () => `payout batches did not finish within ${DEMO_WAIT_MS / 1000} s`);
  const totals = await payoutTotalsByStatus(runtime.db);
  const byStatus = totals.map((r) => `${r.status} ${r.payouts} (${fenToCnyGrouped(r.totalFen)} CNY)`).join(', ') || 'none';
  return `payouts: ${planned.created} from approved claims, ${batchIds.length} batch(es) sealed and sent to the bank simulator; ${byStatus}; ` +
    `files in ${runtime.config.PAYOUT_OUT_DIR}/`;
}
