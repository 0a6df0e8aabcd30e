import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import type { RosterCheckThreadData } from './rosterCheckThread.ts';
import { checkRosterRows, type CheckedRosterRow, type RosterRows } from './rosterChecks.ts';
import type { RosterContext } from './rosterRow.ts';

/**
 * Threads that check a roster's rows (rosterChecks.ts) beside the import's own, which reads the
 * CSV, judges eligibility and stages the rows: per row, the checks and the encryption are most of
 * what the import does in Node. Threads start with the first batch sent, so a file smaller than
 * one batch never starts one; batches go round the threads and each thread answers in order.
 * Personal data and the keys stay in this process (a thread shares its memory limits and its fate).
 */
export interface RosterCheckers {
  /** Checks a batch of rows on a thread, or here when there are none. */
  check(batch: RosterRows): Promise<CheckedRosterRow[]>;
  /** Stops the threads (after the last batch was answered, or on failure). */
  close(): Promise<void>;
}

/**
 * One thread per core, at most four. Not one fewer: the import's own thread waits for batches half
 * the time and PostgreSQL's COPY into the staging table is light, so on two cores two threads
 * staged 650,000 rows in 25 s where one took 28-31 s (bench/README.md).
 */
export function defaultCheckThreads(): number {
  return Math.min(4, availableParallelism());
}

/**
 * A thread's young generation (V8's default is 16 MB): a row allocates a few KB that die at once,
 * and with the default a fifth of the thread's time went to collecting them (64 MB: 7.5 s against
 * 9.0 s to stage 200,000 rows again on two cores).
 */
const YOUNG_GENERATION_MB = 64;

interface CheckThread {
  worker: Worker;
  ready: Promise<void>;
  /** Batches sent, oldest first. */
  waiting: { resolve: (rows: CheckedRosterRow[]) => void; reject: (error: Error) => void }[];
}

export function rosterCheckers(threads: number, ctx: RosterContext, keys: PersonalDataKeys): RosterCheckers {
  if (threads <= 0) {
    return { check: async (batch) => checkRosterRows(batch, ctx, keys), close: async () => undefined };
  }
  const started: CheckThread[] = [];
  let sent = 0;
  let failure: Error | null = null;
  const workerData: RosterCheckThreadData = { ctx, keys };

  const start = (): CheckThread => {
    const worker = new Worker(new URL('./rosterCheckThread.mjs', import.meta.url), {
      workerData, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    const waiting: CheckThread['waiting'] = [];
    let onReady!: () => void;
    let onFailure!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => { onReady = resolve; onFailure = reject; });
    ready.catch(() => undefined); // awaited by check()
    const fail = (error: Error) => {
      failure ??= error;
      onFailure(error);
      for (const batch of waiting.splice(0)) batch.reject(error);
    };
    worker.on('message', (message: 'ready' | CheckedRosterRow[]) => {
      if (message === 'ready') return onReady();
      // A Buffer crosses threads as a plain Uint8Array.
      for (const row of message) if (row.problems === null) row.member.idNumberHash = Buffer.from(row.member.idNumberHash.buffer, row.member.idNumberHash.byteOffset, row.member.idNumberHash.byteLength);
      waiting.shift()?.resolve(message);
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`a roster check thread stopped (exit code ${code})`)));
    return { worker, ready, waiting };
  };

  return {
    async check(batch) {
      if (failure) throw failure;
      if (started.length < threads) started.push(start());
      const thread = started[sent++ % started.length]!;
      await thread.ready;
      if (failure) throw failure;
      return new Promise<CheckedRosterRow[]>((resolve, reject) => {
        thread.waiting.push({ resolve, reject });
        thread.worker.postMessage(batch);
      });
    },
    async close() {
      await Promise.all(started.map((thread) => thread.worker.terminate()));
    },
  };
}
