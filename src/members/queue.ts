import type { Queue } from 'bullmq';

/** Roster import jobs: one per uploaded roster, carrying its id only (never personal data). */
export type RosterImportJobName = 'import';

export interface RosterImportJob {
  importId: number;
}

export const rosterImportJobId = (importId: number) => `roster-import-${importId}`;

export function enqueueRosterImport(queue: Queue, importId: number): Promise<unknown> {
  return queue.add('import' satisfies RosterImportJobName, { importId } satisfies RosterImportJob, { jobId: rosterImportJobId(importId) });
}
