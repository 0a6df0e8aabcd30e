import { EventEmitter, on } from 'node:events';
import type { Redis } from 'ioredis';

/**
 * Status changes of claims and payouts, for GraphQL subscriptions. Whoever changes a status
 * publishes it on Redis pub/sub after the transaction commits; every gateway instance listens and
 * hands each change to its subscribers. Best effort by design: PostgreSQL holds the truth, so a
 * change lost while Redis is away is seen by the client's next query, never lost as data.
 */
export interface StatusChange {
  kind: 'CLAIM' | 'PAYOUT';
  id: number;
  memberId: number;
  unitId: number;
  status: string;
  at: string;
}

export const statusChannel = (prefix: string) => `${prefix}:status-changes`;

export async function publishStatusChanges(redis: Redis, prefix: string, changes: StatusChange[]): Promise<void> {
  if (!changes.length) return;
  const pipeline = redis.pipeline();
  for (const change of changes) pipeline.publish(statusChannel(prefix), JSON.stringify(change));
  await pipeline.exec();
}

/** A gateway's single Redis subscription, fanned out to its GraphQL subscriptions. */
export interface StatusFeed {
  /** Changes of `kind` from now on; `return()` ends the subscription at once. */
  changes(kind: StatusChange['kind']): AsyncIterableIterator<StatusChange>;
  close(): Promise<void>;
}

export function createStatusFeed(redis: Redis, prefix: string): StatusFeed {
  // A connection in subscriber mode can do nothing else: it gets its own.
  const subscriber = redis.duplicate();
  // Connection trouble shows in /readyz and the main connection's errors; ioredis reconnects and resubscribes.
  subscriber.on('error', () => undefined);
  const emitter = new EventEmitter().setMaxListeners(0);
  subscriber.on('message', (_channel: string, message: string) => {
    const change = JSON.parse(message) as StatusChange;
    emitter.emit(change.kind, change);
  });
  // Not awaited: a gateway starts (and answers /readyz) while Redis is away; ioredis subscribes once it connects.
  subscriber.subscribe(statusChannel(prefix)).catch(() => undefined);
  return {
    changes: (kind) => filterMap(on(emitter, kind) as AsyncIterator<[StatusChange]>, ([change]) => change),
    async close() {
      subscriber.disconnect();
    },
  };
}

/**
 * Maps an async iterator, dropping what `map` turns into null. Written out rather than as an async
 * generator so that `return()` stops it at once: a generator waiting for the next event would only
 * notice the end when that event came.
 */
export function filterMap<T, U>(source: AsyncIterator<T>, map: (value: T) => Promise<U | null> | U | null): AsyncIterableIterator<U> {
  const iterator: AsyncIterableIterator<U> = {
    async next() {
      for (;;) {
        const item = await source.next();
        if (item.done) return { done: true, value: undefined };
        const mapped = await map(item.value);
        if (mapped !== null) return { done: false, value: mapped };
      }
    },
    async return() {
      await source.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
