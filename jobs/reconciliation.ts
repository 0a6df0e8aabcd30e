import { Worker, type Job, type Queue } from 'bullmq';
import { fetchFromBank } from '../src/reconciliation/fetch.ts';
import { processDocument } from '../src/reconciliation/ingest.ts';
import { reconcileAccount } from '../src/reconciliation/run.ts';
import { ingestOptions, type ReconciliationSettings } from '../src/reconciliation/settings.ts';
import { receivedDocumentIds } from '../src/reconciliation/store/documents.ts';
import { accountsDue, accountsWithPendingEntries, knownAccounts } from '../src/reconciliation/store/runs.ts';
import { documentJobId, enqueueDocument, enqueueReconciliation, reconcileJobId, type ReconciliationJob, type ReconciliationJobName } from '../src/reconciliation/queue.ts';
import { clearStaleJobIds, QUEUE_NAMES } from '../src/queues.ts';
import type { WorkerServices } from './services.ts';
import { enqueueDueRedecisions } from '../src/benefits/redecide.ts';
import { RuleSetCache } from '../src/benefits/catalogue.ts';
import { chinaToday } from '../src/kernel/time.ts';
import { publishJobProgress } from '../src/events/statusEvents.ts';
import { every as atMostEvery, PROGRESS_INTERVAL_MS } from '../src/progress.ts';

/** The reconciliation worker (its jobs: src/reconciliation/queue.ts). */
type ReconciliationServices = Pick<WorkerServices, 'db' | 'keys' | 'connection' | 'prefix' | 'log' | 'queues' | 'reconciliation'> & Partial<Pick<WorkerServices, 'claimsWaited'>>;

const FETCH_SCHEDULER = 'fetch-statements';

/** Without new entries, an account is still reconciled this often (overdue debits are found by time). */
const CHECK_EVERY_MINUTES = 60;

/**
 * Re-adds documents left RECEIVED, accounts with entries not matched yet or otherwise due, and the
 * fetch schedule when Redis lost it.
 */
export async function sweep({ db, queues, reconciliation: settings }: ReconciliationServices): Promise<number> {
  const queue = queues.reconciliation;
  const documents = await receivedDocumentIds(db);
  const accounts = [...new Set([...await accountsWithPendingEntries(db), ...await accountsDue(db, await knownAccounts(db, settings.accounts), CHECK_EVERY_MINUTES)])];
  await clearStaleJobIds(queue, [...documents.map(documentJobId), ...accounts.map(reconcileJobId)]);
  for (const id of documents) await enqueueDocument(queue, id);
  await enqueueReconciliation(queue, accounts);
  await scheduleFetch(queue, settings);
  return documents.length + accounts.length;
}

/** The fetch schedule, when a bank channel is configured; upserted only when missing or changed (an upsert runs it at once). */
async function scheduleFetch(queue: Queue, settings: ReconciliationSettings): Promise<void> {
  if (!settings.adapter) return;
  const every = settings.fetchEverySeconds * 1000;
  const existing = (await queue.getJobSchedulers()).find((s) => s.key === FETCH_SCHEDULER);
  if (existing?.every === every) return;
  await queue.upsertJobScheduler(FETCH_SCHEDULER, { every }, { name: 'fetch', opts: { removeOnComplete: true, removeOnFail: 100 } });
}

export async function start({ db, keys, connection, prefix, log, queues, reconciliation: settings, claimsWaited }: ReconciliationServices): Promise<Worker[]> {
  const queue = queues.reconciliation;
  const ruleSets = new RuleSetCache();
  const ingest = ingestOptions(settings);
  const worker = new Worker<ReconciliationJob>(
    QUEUE_NAMES.reconciliation,
    async (job: Job<ReconciliationJob>) => {
      const name = job.name as ReconciliationJobName;
      if (name === 'fetch') {
        const accounts = await knownAccounts(db, settings.accounts);
        const fetched = await fetchFromBank(db, settings.adapter!, accounts, chinaToday(), settings.lookbackDays, ingest);
        await enqueueReconciliation(queue, [...new Set([...fetched.accounts, ...await accountsDue(db, accounts, CHECK_EVERY_MINUTES)])]);
        return { documents: fetched.documents.length, rejected: fetched.documents.filter((d) => d.status === 'REJECTED').length };
      }
      if (name === 'document') {
        const outcome = await processDocument(db, (job.data as { documentId: number }).documentId, ingest);
        await enqueueReconciliation(queue, outcome.accounts);
        return { status: outcome.status, entries: outcome.entries, newEntries: outcome.entriesNew };
      }
      const { account } = job.data as { account: string };
      // Subscribers (reconciliationRunProgress) hear the run at most every PROGRESS_INTERVAL_MS, and at its end.
      const due = atMostEvery(PROGRESS_INTERVAL_MS);
      let runId: number | null = null;
      const announce = (done: number, final: boolean) => (runId === null ? Promise.resolve() : publishJobProgress(connection, prefix, {
        kind: 'RECONCILIATION_RUN', id: runId, done, total: final ? done : null, final,
      }).catch((error: unknown) => log.warn({ err: error, runId }, 'reconciliation progress not announced')));
      let result;
      try {
        result = await reconcileAccount(db, account, {
          startedBy: 'schedule', keys, debitDays: settings.debitDays, holidays: settings.holidays,
          onSettled: claimsWaited && ((payoutIds) => claimsWaited(payoutIds, 'SETTLED')),
          onProgress: async ({ runId: id, ...counts }) => {
            runId = id;
            await job.updateProgress(counts);
            if (due()) await announce(counts.entries, false);
          },
        });
      } catch (error) {
        await announce(0, true);
        throw error;
      }
      await announce(result.entries, true);
      // Contributions read from the statement may cover enrolments whose claims were refused unpaid.
      if (result.matched) await enqueueDueRedecisions(db, queues.claimAdjudication, ruleSets);
      log.info({ account, entries: result.entries, matched: result.matched, exceptions: result.exceptions }, 'account reconciled');
      return { entries: result.entries, matched: result.matched, exceptions: result.exceptions, settled: result.settled };
    },
    // One job at a time: runs of one account serialize on its lock anyway, and a statement is big.
    { connection, prefix, concurrency: 1, lockDuration: 60_000 },
  );
  await scheduleFetch(queue, settings);
  return [worker];
}
