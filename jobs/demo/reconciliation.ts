import type { BankAdapter } from '../../src/banks/adapter.ts';
import type { LedgerCredit } from '../../src/banks/simulator/books.ts';
import { contributionReference } from '../../src/members/model.ts';
import { contributionFigures } from '../../src/members/store.ts';
import type { Runtime } from '../../src/runtime.ts';
import { fetchFromBank } from '../../src/reconciliation/fetch.ts';
import { proofLine } from '../../src/reconciliation/matching/proof.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { ingestOptions, reconciliationSettings } from '../../src/reconciliation/settings.ts';
import * as reads from '../../src/reconciliation/store/reads.ts';
import { knownAccounts } from '../../src/reconciliation/store/runs.ts';
import { chinaToday } from '../../src/kernel/time.ts';

/**
 * For `hub demo`, after payouts are paid: units transfer what they still owe to the bank
 * simulator quoting their reference, then the day's statements and notifications are fetched
 * through the bank adapter and every account reconciled. With `faults`, the simulator then sends
 * one settled payout back (退票) and books a transfer nobody announced, and a second round shows
 * them as RETURN_AFTER_SETTLEMENT and UNKNOWN_CREDIT. Counts are read from the tables, so a
 * worker reconciling at the same time changes nothing in what is reported.
 */

export interface DemoReconciliation {
  /** Statement entries accounted for (matched, or resolved by a person). */
  reconciled: number;
  /** Open exceptions. */
  exceptions: number;
  /** One line per account and day: the daily proof. */
  proofLines: string[];
  /** One line for the demo's output. */
  summary: string;
}

export async function reconcileDemo(runtime: Pick<Runtime, 'db' | 'config' | 'keys'>, bank: { url: string; adapter: BankAdapter }, options: { faults?: boolean } = {}): Promise<DemoReconciliation> {
  const today = chinaToday();
  const settings = reconciliationSettings(runtime.config, bank.adapter);
  const payments = await payOutstandingContributions(runtime, bank.url);
  let refused = 0;
  const round = async () => {
    const accounts = await knownAccounts(runtime.db, settings.accounts);
    const fetched = await fetchFromBank(runtime.db, bank.adapter, accounts, today, 0, ingestOptions(settings));
    refused += fetched.documents.filter((d) => d.status === 'REJECTED').length;
    for (const account of accounts) await reconcileAccount(runtime.db, account, { startedBy: 'demo', keys: runtime.keys, debitDays: settings.debitDays, holidays: settings.holidays });
    return accounts;
  };
  let accounts = await round();
  if (options.faults) {
    await injectFaults(bank.url, settings.accounts[0]!);
    accounts = await round();
  }

  const counts = await reads.reconciledCounts(runtime.db);
  const proofLines: string[] = [];
  for (const account of accounts) for (const proof of await reads.proofsOf(runtime.db, account, today, today)) proofLines.push(proofLine(proof));
  const kinds = (await reads.openExceptionKinds(runtime.db)).map((r) => `${r.kind} ${r.n}`);
  const summary = `reconciliation: ${payments} unit contribution transfer(s) to the bank; ${counts.reconciled} statement entries accounted for; ` +
    `${counts.exceptions} open exception(s)${kinds.length ? ` (${kinds.join(', ')})` : ''}` +
    `${refused ? `; ${refused} bank document(s) refused (hub statements documents --rejected)` : ''}`;
  return { ...counts, proofLines, summary };
}

/** Every unit's outstanding contribution for the years it is enrolled in, transferred with its reference. */
async function payOutstandingContributions(runtime: Pick<Runtime, 'db' | 'config'>, bankUrl: string): Promise<number> {
  const keys = await reads.enrolledUnitYears(runtime.db);
  const figures = await contributionFigures(runtime.db, keys);
  let transfers = 0;
  for (const [i, key] of keys.entries()) {
    const outstanding = figures[i]!.owedFen - figures[i]!.paidFen;
    if (outstanding <= 0) continue;
    await admin(bankUrl, '/admin/credits', {
      payerName: `${key.name}工会`, payerAccount: `3505016462070${String(key.unitId).padStart(7, '0')}`, amountFen: outstanding,
      reference: `${key.planYear}年度职工医疗互助金 ${contributionReference(key.creditCode, key.planYear)}`, account: runtime.config.PAYOUT_ACCOUNT,
    });
    transfers += 1;
  }
  return transfers;
}

async function injectFaults(bankUrl: string, account: string): Promise<void> {
  const ledger = (await (await fetch(`${bankUrl}/ledger`)).json()) as { credits: LedgerCredit[] };
  const credited = ledger.credits.find((c) => !c.returned);
  if (credited) await admin(bankUrl, '/admin/returns', { endToEndId: credited.endToEndId, reason: 'AC04', additionalInfo: '收款账户已销户' });
  await admin(bankUrl, '/admin/credits', { payerName: '不明来款', payerAccount: '6222021408000000015', amountFen: 12_345, reference: '往来款', account });
}

async function admin(bankUrl: string, route: string, body: unknown): Promise<void> {
  const response = await fetch(`${bankUrl}${route}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  if (!response.ok) throw new Error(`bank simulator ${route}: HTTP ${response.status} ${await response.text()}`);
}
