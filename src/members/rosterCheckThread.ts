import { parentPort, workerData } from 'node:worker_threads';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import { checkRosterRows, type RosterRows } from './rosterChecks.ts';
import type { RosterContext } from './rosterRow.ts';

/**
 * One roster check thread (rosterCheckers.ts): batches of rows in, their checked rows out, in
 * the order they came. The keys and the import's context arrive once, with the thread.
 */
export interface RosterCheckThreadData {
  ctx: RosterContext;
  keys: PersonalDataKeys;
}

const port = parentPort!;
const { ctx, keys } = workerData as RosterCheckThreadData;
port.on('message', (batch: RosterRows) => port.postMessage(checkRosterRows(batch, ctx, keys)));
port.postMessage('ready');
