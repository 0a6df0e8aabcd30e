import { parentPort, workerData } from 'node:worker_threads';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import { checkRosterRecords } from './rosterChecks.ts';
import type { RosterContext, RosterRecord } from './rosterRow.ts';

/**
 * One roster check thread (rosterCheckers.ts): batches of records in, their checked rows out, in
 * the order they came. The keys and the import's context arrive once, with the thread.
 */
export interface RosterCheckThreadData {
  ctx: RosterContext;
  keys: PersonalDataKeys;
}

export interface RosterCheckRequest {
  records: RosterRecord[];
  firstRowNumber: number;
}

const port = parentPort!;
const { ctx, keys } = workerData as RosterCheckThreadData;
port.on('message', ({ records, firstRowNumber }: RosterCheckRequest) => port.postMessage(checkRosterRecords(records, firstRowNumber, ctx, keys)));
port.postMessage('ready');
