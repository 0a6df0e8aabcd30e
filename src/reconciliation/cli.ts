import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { jsonOption, result, say } from '../cliOutput.ts';
import { config } from '../config.ts';
import { fenToCny } from '../kernel/money.ts';
import { firstRows } from '../kernel/page.ts';
import { addDays, chinaToday, isIsoDate } from '../kernel/time.ts';
import { progressBar } from '../progress.ts';
import type { Runtime } from '../runtime.ts';
import type { DocumentOutcome } from './ingest.ts';
import { proofLine } from './matching/proof.ts';
import { EXCEPTION_KINDS, type ExceptionKind } from './matching/types.ts';
import type { DailyProofRow } from './model.ts';
import type { ReconcileResult } from './run.ts';
import type { ReconciliationSettings } from './settings.ts';
import { documentExists } from './store/documents.ts';
import * as reads from './store/reads.ts';
import { knownAccounts } from './store/runs.ts';

/**
 * `hub statements ...`: bank statements and reconciliation for clerks. They reconcile inline: the
 * counts printed are final. With --json each prints one document: what it received and what
 * reconciling found. Exit codes: 0 done, 1 done with something to look at (a rejected document,
 * open exceptions, a day not proven), 2 nothing could be done (bad options, files or settings),
 * 3 PostgreSQL, Redis or the bank unavailable (cliErrors.ts).
 */
export function registerStatementCommands(program: Command): void {
  const statements = program.command('statements').description('bank statements (camt.053/054) and reconciliation (对账)');

  statements
    .command('import <files...>')
    .description('import camt.053 / camt.054 files (checked against the XSDs) and reconcile their accounts; a file without the bank\'s seal beside it (<file>.p7s) waits for a second person to confirm it')
    .option('--no-reconcile', 'only store the entries')
    .addOption(jsonOption())
    .action(async (files: string[], options: { reconcile: boolean }) => {
      process.exitCode = await importCommand(files, options.reconcile);
    });

  statements
    .command('fetch')
    .description('fetch statements and notifications from the bank channel (BANK_URL) and reconcile')
    .option('--date <date>', 'last day to fetch (default: today, China time)', date)
    .option('--days <n>', 'days back before it (default: RECONCILIATION_LOOKBACK_DAYS)', count)
    .addOption(jsonOption())
    .action(async (options: { date?: string; days?: number }) => {
      process.exitCode = await fetchCommand(options);
    });

  statements
    .command('reconcile')
    .description('match pending entries, check overdue debits and prove the days (safe to repeat)')
    .option('--account <account>', 'one account (default: all known accounts)')
    .option('--as-of <date>', 'the day the T+2 rule looks from (default: today)', date)
    .addOption(jsonOption())
    .action(async (options: { account?: string; asOf?: string }) => {
      process.exitCode = await reconcileCommand(options);
    });

  statements
    .command('proof')
    .description('print the daily proof per account and day')
    .option('--account <account>', 'one account (default: all known accounts)')
    .option('--from <date>', 'first day (default: 7 days before --to)', date)
    .option('--to <date>', 'last day (default: today)', date)
    .addOption(jsonOption())
    .action(async (options: { account?: string; from?: string; to?: string }) => {
      process.exitCode = await proofCommand(options);
    });

  statements
    .command('exceptions')
    .description('list open exceptions, oldest first (resolve them in the API: matchReconciliationException, writeOffReconciliationException)')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(EXCEPTION_KINDS))
    .option('--limit <n>', 'at most this many', count, 50)
    .addOption(jsonOption())
    .action(async (options: { kind?: string; limit: number }) => {
      process.exitCode = await exceptionsCommand(options);
    });

  statements
    .command('documents')
    .description('list received documents, newest first, with why a rejected one was refused')
    .option('--rejected', 'only rejected ones')
    .option('--limit <n>', 'at most this many', count, 20)
    .addOption(jsonOption())
    .action(async (options: { rejected?: boolean; limit: number }) => {
      process.exitCode = await documentsCommand(options);
    });

  statements
    .command('retry <documentId>')
    .description('process a rejected document again (e.g. after its payouts were registered)')
    .addOption(jsonOption())
    .action(async (documentId: string) => {
      process.exitCode = await retryCommand(count(documentId));
    });
}

function date(value: string): string {
  if (!isIsoDate(value)) throw new InvalidArgumentError('must be a date yyyy-MM-dd');
  return value;
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number, 0 or more');
  return n;
}

// The work of a command (database and Redis clients, the XML reader and XSDs, the seal libraries)
// is imported when a command runs, not when `hub` starts: every other command would wait for it.
async function withRuntime(work: (runtime: Runtime, settings: ReconciliationSettings) => Promise<number>, adapter = false): Promise<number> {
  const [{ openRuntime }, { reconciliationSettings }] = await Promise.all([import('../runtime.ts'), import('./settings.ts')]);
  const runtime = await openRuntime(config());
  try {
    return await work(runtime, reconciliationSettings(runtime.config, adapter ? undefined : null));
  } finally {
    await runtime.close();
  }
}

function printDocument(name: string, d: DocumentOutcome): void {
  if (d.status === 'REJECTED') {
    console.error(`${name}: REJECTED (document ${d.documentId}; fix and import again, or \`hub statements retry ${d.documentId}\`):`);
    for (const p of d.problems) console.error(`  ${p.field}: ${p.reason}`);
  } else if (d.status === 'AWAITING_CONFIRMATION') {
    say(`${name}: ${d.kind} ${d.msgId}: ${d.entries} booked entries, not sealed by the bank: nothing stored until a second person ` +
      `confirms document ${d.documentId} (confirmBankDocument in the API)`);
  } else {
    say(`${name}: ${d.duplicate ? 'already imported, nothing changed' : `${d.kind} ${d.msgId}: ${d.entries} booked entries, ${d.entriesNew} new`} (document ${d.documentId})`);
  }
}

/** Reconciles `accounts`; `attention` when a day is unproven or exceptions are open (exit 1). */
async function reconcileAll(runtime: Runtime, settings: ReconciliationSettings, accounts: readonly string[], startedBy: string, asOf?: string): Promise<{ attention: boolean; accounts: ReconcileResult[]; openExceptions: number }> {
  const { reconcileAccount } = await import('./run.ts');
  let attention = 0;
  const reconciled: ReconcileResult[] = [];
  for (const account of accounts) {
    let bar: ReturnType<typeof progressBar> | null = null;
    const pending = await reads.pendingEntryCount(runtime.db, account);
    if (pending > 0) bar = progressBar(`reconcile ${account}`, pending);
    const result = await reconcileAccount(runtime.db, account, {
      startedBy, keys: runtime.keys, debitDays: settings.debitDays, holidays: settings.holidays, ...(asOf ? { asOf } : {}),
      onProgress: (p) => bar?.update(p.entries),
    });
    bar?.done();
    reconciled.push(result);
    say(`${account}: ${result.entries} entries, ${result.matched} matched, ${result.exceptions} new exceptions ` +
      `(${result.missingDebits} missing debits), ${result.settled} payouts settled, ${result.returned} returned, ${result.cleared} exceptions cleared`);
    for (const proof of result.proofs) say(`  ${proofLine(proof)}`);
    if (result.exceptions > 0 || result.proofs.some((p) => !p.proven)) attention += 1;
  }
  // Open ones: the exceptions filter's default.
  const open = (await reads.exceptionTotals(runtime.db, {})).count;
  say(`open exceptions: ${open}${open ? ' (hub statements exceptions)' : ''}`);
  return { attention: attention > 0 || open > 0, accounts: reconciled, openExceptions: open };
}

function importCommand(files: string[], reconcile: boolean): Promise<number> {
  for (const file of files) {
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) {
      console.error(`${file}: no such file`);
      return Promise.resolve(2);
    }
  }
  return withRuntime(async (runtime, settings) => {
    const [{ handedInSeal, receiveDocument }, { configuredBankSeal }, { XsdUnavailableError }, { ingestOptions }] =
      await Promise.all([import('./ingest.ts'), import('../banks/settings.ts'), import('./xsd.ts'), import('./settings.ts')]);
    const accounts = new Set<string>();
    let rejected = 0;
    let waiting = 0;
    const documents: (DocumentOutcome & { file: string })[] = [];
    for (const file of files) {
      let outcome: DocumentOutcome;
      const xml = readFileSync(file, 'utf8');
      // The bank's detached seal, when it came with the file, lies beside it as <file>.p7s.
      const seal = handedInSeal(xml, existsSync(`${file}.p7s`) ? readFileSync(`${file}.p7s`) : null, () => configuredBankSeal(runtime.config));
      try {
        outcome = await receiveDocument(runtime.db, { xml, source: 'FILE', fileName: basename(file), receivedBy: 'cli', role: 'CLI', ...seal }, ingestOptions(settings));
      } catch (error) {
        if (!(error instanceof XsdUnavailableError)) throw error;
        console.error(`${basename(file)}: cannot be checked: ${error.message}; stored as document ${error.documentId}, processed by the workers or \`hub statements retry ${error.documentId}\``);
        return 2;
      }
      printDocument(basename(file), outcome);
      documents.push({ file, ...outcome });
      if (outcome.status === 'REJECTED') rejected += 1;
      if (outcome.status === 'AWAITING_CONFIRMATION') waiting += 1;
      for (const account of outcome.accounts) accounts.add(account);
    }
    const reconciled = reconcile && accounts.size > 0 ? await reconcileAll(runtime, settings, [...accounts].sort(), 'cli') : null;
    result({ documents, reconciled });
    if (rejected === files.length) return 2;
    return rejected > 0 || waiting > 0 || reconciled?.attention ? 1 : 0;
  });
}

function fetchCommand(options: { date?: string; days?: number }): Promise<number> {
  return withRuntime(async (runtime, settings) => {
    if (!settings.adapter) {
      console.error('BANK_URL is not set: no bank channel to fetch from (for the simulator: hub sim bank, BANK_URL=http://127.0.0.1:4800)');
      return 2;
    }
    const accounts = await knownAccounts(runtime.db, settings.accounts);
    const [{ fetchFromBank }, { ingestOptions }] = await Promise.all([import('./fetch.ts'), import('./settings.ts')]);
    const fetched = await fetchFromBank(runtime.db, settings.adapter, accounts, options.date ?? chinaToday(), options.days ?? settings.lookbackDays, ingestOptions(settings));
    for (const d of fetched.documents) printDocument(`${d.kind ?? 'document'} ${d.msgId ?? d.documentId}`, d);
    if (fetched.documents.length === 0) say('nothing new from the bank');
    const reconciled = await reconcileAll(runtime, settings, accounts, 'cli');
    result({ documents: fetched.documents, reconciled });
    return fetched.documents.some((d) => d.status === 'REJECTED') || reconciled.attention ? 1 : 0;
  }, true);
}

function reconcileCommand(options: { account?: string; asOf?: string }): Promise<number> {
  return withRuntime(async (runtime, settings) => {
    const accounts = options.account ? [options.account] : await knownAccounts(runtime.db, settings.accounts);
    const reconciled = await reconcileAll(runtime, settings, accounts, 'cli', options.asOf);
    result(reconciled);
    return reconciled.attention ? 1 : 0;
  });
}

function proofCommand(options: { account?: string; from?: string; to?: string }): Promise<number> {
  return withRuntime(async (runtime, settings) => {
    const to = options.to ?? chinaToday();
    const from = options.from ?? addDays(to, -7);
    const accounts = options.account ? [options.account] : await knownAccounts(runtime.db, settings.accounts);
    let unproven = 0;
    const all: DailyProofRow[] = [];
    for (const account of accounts) {
      const proofs = await reads.proofsOf(runtime.db, account, from, to);
      if (proofs.length === 0) say(`${account}: no statement from ${from} to ${to}`);
      for (const proof of proofs) {
        say(proofLine(proof));
        if (!proof.proven) unproven += 1;
      }
      all.push(...proofs);
    }
    result({ from, to, accounts, proofs: all });
    return unproven > 0 ? 1 : 0;
  });
}

function exceptionsCommand(options: { kind?: string; limit: number }): Promise<number> {
  return withRuntime(async (runtime) => {
    const filter = { kind: (options.kind as ExceptionKind | undefined) ?? null };
    const rows = await reads.listExceptions(runtime.db, filter, firstRows(options.limit));
    const totals = await reads.exceptionTotals(runtime.db, filter);
    for (const x of rows) {
      say(`#${x.id} ${x.kind} ${x.account} ${x.occurredOn} ${fenToCny(x.amountFen)}${x.endToEndId ? ` ${x.endToEndId}` : ''}: ${String(x.evidence.reason ?? '')}`);
    }
    say(`${totals.count} open exceptions, ${fenToCny(totals.amountFen)} in total${totals.count > rows.length ? ` (first ${rows.length} shown)` : ''}`);
    result({ exceptions: rows, count: totals.count, amountFen: totals.amountFen });
    return totals.count > 0 ? 1 : 0;
  });
}

function documentsCommand(options: { rejected?: boolean; limit: number }): Promise<number> {
  return withRuntime(async (runtime) => {
    const rows = await reads.listDocuments(runtime.db, { status: options.rejected ? 'REJECTED' : null }, firstRows(options.limit));
    for (const d of rows) {
      const what = [d.kind ?? '?', d.msgId, d.source, d.fileName].filter((part) => part !== null).join(' ');
      say(`#${d.id} ${what} ${d.status}: ${d.entries} entries, ${d.newEntries} new`);
      for (const p of d.problems) say(`  ${p.field}: ${p.reason}`);
    }
    result(rows);
    return 0;
  });
}

function retryCommand(documentId: number): Promise<number> {
  return withRuntime(async (runtime, settings) => {
    if (!await documentExists(runtime.db, documentId)) {
      console.error(`no document ${documentId} (hub statements documents)`);
      return 2;
    }
    const [{ processDocument }, { ingestOptions }] = await Promise.all([import('./ingest.ts'), import('./settings.ts')]);
    const outcome = await processDocument(runtime.db, documentId, ingestOptions(settings));
    printDocument(`document ${documentId}`, outcome);
    const reconciled = outcome.status === 'REJECTED' ? null : await reconcileAll(runtime, settings, outcome.accounts, 'cli');
    result({ document: outcome, reconciled });
    return outcome.status === 'REJECTED' || reconciled?.attention ? 1 : 0;
  });
}
