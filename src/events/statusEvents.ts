import { EventEmitter, on } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { invalid } from '../kernel/errors.ts';

/**
 * Status changes of claims and payouts, and progress of long jobs, for GraphQL subscriptions.
 * Whoever changes a status appends it, after the transaction commits, to a Redis stream of its kind
 * (one for claims, one for payouts); the stream's entry id is the event's sequence. Every gateway
 * instance reads the streams from their end and hands each event to its subscribers; a subscriber
 * that names the last sequence it saw (`after`) is first sent what it missed from the stream, then
 * the live events after it, so the seam has neither gap nor duplicate. Best effort by design:
 * PostgreSQL holds the truth, so a change lost while Redis is away is seen by the client's next
 * query, never lost as data.
 */
export interface StatusChange {
  kind: 'CLAIM' | 'PAYOUT';
  id: number;
  memberId: number;
  unitId: number;
  status: string;
  at: string;
}

/** A change as read back from its stream: `sequence` is its entry id there. */
export interface StatusEvent extends StatusChange {
  sequence: string;
}

/**
 * How far a long job has got, announced by its worker at most every PROGRESS_INTERVAL_MS and once
 * when it ends (`final`). `done` and `total` count the job's own units (roster rows, statement entries).
 */
export interface JobProgress {
  kind: 'ROSTER_IMPORT' | 'RECONCILIATION_RUN';
  id: number;
  done: number;
  total: number | null;
  final: boolean;
  at: string;
}

/** Events each status stream keeps, about (Redis trims whole nodes, `MAXLEN ~`); older ones cannot be replayed. */
const STATUS_EVENTS_KEPT = 100_000;
/** Most events one replay sends; a client further behind is told to query again. */
const MAX_REPLAY = 1_000;
/**
 * Most stream entries one replay reads, the caller's or not: every member's events share one stream,
 * so what a replay costs must not grow with what the rest of the hub did since `after`.
 */
const MAX_REPLAY_SCANNED = 10 * MAX_REPLAY;
/** Progress events kept: only live subscribers read them. */
const PROGRESS_EVENTS_KEPT = 1_000;
// Entries read per XRANGE while replaying.
const REPLAY_CHUNK = 1_000;

const KINDS = ['CLAIM', 'PAYOUT', 'PROGRESS'] as const;
type StreamKind = (typeof KINDS)[number];
const statusStream = (prefix: string, kind: StreamKind) => `${prefix}:events:${kind.toLowerCase()}`;

export async function publishStatusChanges(redis: Redis, prefix: string, changes: StatusChange[]): Promise<void> {
  if (!changes.length) return;
  const pipeline = redis.pipeline();
  for (const change of changes) {
    pipeline.xadd(statusStream(prefix, change.kind), 'MAXLEN', '~', STATUS_EVENTS_KEPT, '*', 'event', JSON.stringify(change));
  }
  await pipeline.exec();
}

export async function publishJobProgress(redis: Redis, prefix: string, progress: Omit<JobProgress, 'at'>): Promise<void> {
  await redis.xadd(statusStream(prefix, 'PROGRESS'), 'MAXLEN', '~', PROGRESS_EVENTS_KEPT, '*', 'event', JSON.stringify({ ...progress, at: new Date().toISOString() }));
}

/** A gateway's single reader of the event streams, fanned out to its GraphQL subscriptions. */
export interface StatusFeed {
  /**
   * Changes of `kind` that `accept` lets through: with `after` (one of them still in the stream),
   * first those after it (at most MAX_REPLAY among at most MAX_REPLAY_SCANNED entries, else
   * BAD_USER_INPUT on `after`), then live ones. `return()` ends it at once.
   */
  changes(kind: StatusChange['kind'], options?: { after?: string | null; accept?: (change: StatusChange) => boolean }): Promise<AsyncIterableIterator<StatusEvent>>;
  /** Progress events of one job from now on. */
  progress(kind: JobProgress['kind'], id: number): AsyncIterableIterator<JobProgress>;
  close(): Promise<void>;
}

export function createStatusFeed(redis: Redis, prefix: string): StatusFeed {
  // A blocking XREAD holds its connection: the reader gets its own.
  const reader = redis.duplicate();
  // Connection trouble shows in /readyz and the main connection's errors; ioredis reconnects.
  reader.on('error', () => undefined);
  const emitter = new EventEmitter().setMaxListeners(0);
  const keys = KINDS.map((kind) => statusStream(prefix, kind));
  let closed = false;
  // Where the reader is in each stream; set once, so a reconnect resumes without a gap.
  let positions: string[] | null = null;
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  const read = async () => {
    // Events before the reader starts are for replays, not for live subscribers.
    positions ??= await Promise.all(keys.map(async (key) => (await reader.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'));
    markReady();
    while (!closed) {
      const streams = await reader.xread('BLOCK', 0, 'STREAMS', ...keys, ...positions);
      for (const [key, entries] of streams ?? []) {
        const i = keys.indexOf(key);
        for (const [id, fields] of entries) {
          positions[i] = id;
          emitter.emit(KINDS[i]!, eventOf(id, fields));
        }
      }
    }
  };
  // Not awaited: a gateway starts (and answers /readyz) while Redis is away; the reader retries.
  void (async () => {
    while (!closed) await read().catch(() => (closed ? undefined : sleep(1_000)));
  })();

  const live = <T>(kind: StreamKind) => filterMap(on(emitter, kind) as AsyncIterator<[T]>, ([event]) => event);
  return {
    async changes(kind, { after, accept = () => true } = {}) {
      // Listening starts before the replay is read: what arrives meanwhile waits here, and is
      // dropped up to the replay's last sequence.
      const events = live<StatusEvent>(kind);
      if (after == null) return filterMap(events, (event) => (accept(event) ? event : null));
      try {
        await ready;
        const missed = await missedEvents(redis, statusStream(prefix, kind), after, accept);
        const seam = missed.at(-1)?.sequence ?? after;
        return prepend(missed, filterMap(events, (event) => (accept(event) && compareSequences(event.sequence, seam) > 0 ? event : null)));
      } catch (error) {
        await events.return?.();
        throw error;
      }
    },
    progress: (kind, id) => filterMap(live<JobProgress>('PROGRESS'), (event) => (event.kind === kind && event.id === id ? event : null)),
    async close() {
      closed = true;
      reader.disconnect();
    },
  };
}

/** An event as its stream entry holds it, with the entry's id as its sequence. */
const eventOf = <T>(id: string, fields: string[]): T & { sequence: string } => ({ ...JSON.parse(fields[1]!), sequence: id });

const SEQUENCE = /^(\d{1,20})-(\d{1,20})$/;
// Both parts of a stream id are unsigned 64-bit: Redis refuses a larger one as a command error.
const MAX_SEQUENCE_PART = 2n ** 64n - 1n;

function parseSequence(sequence: string): [bigint, bigint] | null {
  const match = SEQUENCE.exec(sequence);
  const parts: [bigint, bigint] | null = match && [BigInt(match[1]!), BigInt(match[2]!)];
  return parts && parts.every((part) => part <= MAX_SEQUENCE_PART) ? parts : null;
}

function compareSequences(a: string, b: string): number {
  const [x, y] = [parseSequence(a)!, parseSequence(b)!];
  return x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] === y[1] ? 0 : x[1] < y[1] ? -1 : 1;
}

// One refusal, worded the same whatever the reason: which reason applied would tell a caller about
// other members' events (whether any came after the stream's end they probed, how many followed).
const UNUSABLE_AFTER = `cannot be resumed from (not a sequence this subscription sent, no longer kept, or followed by more events than one replay reads: ${MAX_REPLAY} of this subscription's among ${MAX_REPLAY_SCANNED} in all); query again for the current state and subscribe without \`after\``;

/**
 * The events of `key` after `after` that `accept` lets through, read from at most MAX_REPLAY_SCANNED
 * entries. `after` must be an entry `accept` lets through: the sequence of an event this
 * subscription could have sent, not merely one some event has.
 */
async function missedEvents(redis: Redis, key: string, after: string, accept: (change: StatusChange) => boolean): Promise<StatusEvent[]> {
  const unusable = () => invalid('after', UNUSABLE_AFTER);
  if (!parseSequence(after)) throw unusable();
  // Missing when never sent, or trimmed away (what followed it may be gone too); another caller's is as unknown.
  const [entry] = await redis.xrange(key, after, after);
  if (entry?.[0] !== after || !accept(eventOf<StatusChange>(entry[0], entry[1]))) throw unusable();
  const missed: StatusEvent[] = [];
  for (let from = after, scanned = 0; ;) {
    // One entry past the bound tells that more followed than a replay reads.
    const count = Math.min(REPLAY_CHUNK, MAX_REPLAY_SCANNED + 1 - scanned);
    const entries = await redis.xrange(key, `(${from}`, '+', 'COUNT', count);
    scanned += entries.length;
    if (scanned > MAX_REPLAY_SCANNED) throw unusable();
    for (const [id, fields] of entries) {
      const event = eventOf<StatusChange>(id, fields);
      if (!accept(event)) continue;
      if (missed.length === MAX_REPLAY) throw unusable();
      missed.push(event);
    }
    if (entries.length < count) return missed;
    from = entries.at(-1)![0];
  }
}

/** `first`'s values, then `rest`'s; `return()` ends both. */
function prepend<T>(first: T[], rest: AsyncIterableIterator<T>): AsyncIterableIterator<T> {
  const queue = [...first];
  const iterator: AsyncIterableIterator<T> = {
    next: async () => (queue.length ? { done: false, value: queue.shift()! } : rest.next()),
    async return() {
      queue.length = 0;
      return rest.return!();
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
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
