import type { Queryable } from '../kernel/transaction.ts';
import { lookAtRosterChanges } from './store.ts';

/**
 * The roster's epoch as this process sees it: a number that changes whenever a transaction that
 * changed units, members or enrolments has committed since the previous look (table
 * roster_changes, filled by triggers). Answers cached under an epoch are therefore never older
 * than the request that reads them: a change committed before a request arrived is seen by the
 * look that request waits for.
 */
export interface RosterEpoch {
  /** The epoch after a look taken after this call began. */
  current(): Promise<number>;
}

export function createRosterEpoch(db: Queryable): RosterEpoch {
  let epoch = 0;
  let snapshot: string | null = null;
  const look = async () => {
    const { snapshot: taken, changed } = await lookAtRosterChanges(db, snapshot);
    // Looks never overlap (`freshLook` runs one at a time), so each compares with the one before.
    if (changed) epoch += 1;
    snapshot = taken;
    return epoch;
  };
  return { current: freshLook(look) };
}

/**
 * One look at a time, shared by every caller that arrives while none is running. A caller that
 * arrives while a look is under way waits for the next one: the running look may have taken its
 * snapshot before that caller's request was sent, so its answer could predate a change the caller
 * already knows about.
 */
export function freshLook<T>(look: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  let next: Promise<T> | null = null;
  const start = () => {
    running = look().finally(() => {
      running = null;
    });
    return running;
  };
  return () => {
    if (next) return next;
    if (!running) return start();
    next = running.then(noop, noop).then(() => {
      next = null;
      return start();
    });
    return next;
  };
}

const noop = () => undefined;
