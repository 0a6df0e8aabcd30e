import { InvalidArgumentError, Option, type Command } from 'commander';
import { jsonOption } from '../cliOutput.ts';
import { EXCEPTION_KINDS } from './model.ts';
import { isIsoDate } from '../kernel/time.ts';

/**
 * `hub statements ...`: bank statements and reconciliation for clerks. The work lives in
 * cliActions.ts, loaded only when a command runs. Exit codes: 0 done, 1 done with something to
 * look at (a rejected document, open exceptions, a day not proven), 2 nothing could be done (bad
 * options, files or settings), 3 PostgreSQL, Redis or the bank unavailable (cliErrors.ts).
 */
export function registerStatementCommands(program: Command): void {
  const statements = program.command('statements').description('bank statements (camt.053/054) and reconciliation (对账)');

  statements
    .command('import <files...>')
    .description('import camt.053 / camt.054 files (checked against the XSDs) and reconcile their accounts; a file without the bank\'s seal beside it (<file>.p7s) waits for a second person to confirm it')
    .option('--no-reconcile', 'only store the entries')
    .addOption(jsonOption())
    .action(async (files: string[], options: { reconcile: boolean }) => {
      const { importCommand } = await import('./cliActions.ts');
      process.exitCode = await importCommand(files, options.reconcile);
    });

  statements
    .command('fetch')
    .description('fetch statements and notifications from the bank channel (BANK_URL) and reconcile')
    .option('--date <date>', 'last day to fetch (default: today, China time)', date)
    .option('--days <n>', 'days back before it (default: RECONCILIATION_LOOKBACK_DAYS)', count)
    .addOption(jsonOption())
    .action(async (options: { date?: string; days?: number }) => {
      const { fetchCommand } = await import('./cliActions.ts');
      process.exitCode = await fetchCommand(options);
    });

  statements
    .command('reconcile')
    .description('match pending entries, check overdue debits and prove the days (safe to repeat)')
    .option('--account <account>', 'one account (default: all known accounts)')
    .option('--as-of <date>', 'the day the T+2 rule looks from (default: today)', date)
    .addOption(jsonOption())
    .action(async (options: { account?: string; asOf?: string }) => {
      const { reconcileCommand } = await import('./cliActions.ts');
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
      const { proofCommand } = await import('./cliActions.ts');
      process.exitCode = await proofCommand(options);
    });

  statements
    .command('exceptions')
    .description('list open exceptions, oldest first (resolve them in the API: matchReconciliationException, writeOffReconciliationException)')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(EXCEPTION_KINDS))
    .option('--limit <n>', 'at most this many', count, 50)
    .addOption(jsonOption())
    .action(async (options: { kind?: string; limit: number }) => {
      const { exceptionsCommand } = await import('./cliActions.ts');
      process.exitCode = await exceptionsCommand(options);
    });

  statements
    .command('documents')
    .description('list received documents, newest first, with why a rejected one was refused')
    .option('--rejected', 'only rejected ones')
    .option('--limit <n>', 'at most this many', count, 20)
    .addOption(jsonOption())
    .action(async (options: { rejected?: boolean; limit: number }) => {
      const { documentsCommand } = await import('./cliActions.ts');
      process.exitCode = await documentsCommand(options);
    });

  statements
    .command('retry <documentId>')
    .description('process a rejected document again (e.g. after its payouts were registered)')
    .addOption(jsonOption())
    .action(async (documentId: string) => {
      const { retryCommand } = await import('./cliActions.ts');
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
