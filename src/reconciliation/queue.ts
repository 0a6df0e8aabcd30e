import type { Queue } from 'bullmq';

/**
 * Reconciliation jobs on the `reconciliation` queue:
 *   fetch               (scheduled) statements and notifications from the bank, then reconcile every account
 *   bank-document-<id>  process a stored document the API or a dead worker left RECEIVED
 *   reconcile-<account> match an account's pending entries, check overdue debits, prove its days
 * Payloads carry our own account numbers and document ids only.
 */
export type ReconciliationJobName = 'fetch' | 'document' | 'reconcile';

export type ReconciliationJob = { account: string } | { documentId: number } | Record<string, never>;

export const reconcileJobId = (account: string) => `reconcile-${account}`;
export const documentJobId = (documentId: number) => `bank-document-${documentId}`;

export async function enqueueReconciliation(queue: Queue, accounts: readonly string[]): Promise<void> {
  for (const account of accounts) await queue.add('reconcile' satisfies ReconciliationJobName, { account }, { jobId: reconcileJobId(account) });
}

export async function enqueueDocument(queue: Queue, documentId: number): Promise<void> {
  await queue.add('document' satisfies ReconciliationJobName, { documentId }, { jobId: documentJobId(documentId) });
}
