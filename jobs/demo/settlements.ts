import type { Runtime } from '../../src/runtime.ts';
import type { SampleMember } from '../../src/demo/sampleData.ts';
import { scheduleSources } from '../../src/settlements/sources/registry.ts';
import { startInsuranceSimulator } from '../../src/settlements/simulator/server.ts';
import * as store from '../../src/settlements/store.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import type { Queues } from '../../src/queues.ts';
import { enqueueSettlementPull } from '../../src/settlements/queue.ts';
import type { SourceCounts } from '../../src/settlements/model.ts';
import { pollUntil } from './wait.ts';

/**
 * For `hub demo`: the platform simulator settles for the sample members, is registered as the
 * scheduled source `simulator`, and the running workers pull, store and match its whole feed.
 */
const SOURCE = 'simulator';
const SEED = 2025;
const WAIT_MS = 180_000;

export interface SettlementDemo {
  /** One line for the demo's output. */
  summary: string;
  /** Stops the simulator and its schedule (a later `hub work` must not poll a closed port). */
  close(): Promise<void>;
}

export async function ingestDemoSettlements(runtime: Runtime, queues: Queues, members: readonly SampleMember[]): Promise<SettlementDemo> {
  const count = Math.max(100, Math.round(members.length * 0.4));
  const simulator = await startInsuranceSimulator({
    seed: SEED, count, members: members.map((m) => ({ idNumber: m.idNumber, name: m.name })), today: chinaToday(),
    infno: runtime.config.INSURANCE_FEED_INFNO,
  });
  const source = { name: SOURCE, kind: 'PLATFORM' as const, endpoint: simulator.url, pageSize: 250 };
  const close = async () => {
    await store.upsertSource(runtime.db, { ...source, pollSeconds: null });
    await scheduleSources(runtime.db, queues.settlementPull);
    await simulator.close();
  };
  try {
    const registered = await store.upsertSource(runtime.db, { ...source, pollSeconds: 30 });
    await scheduleSources(runtime.db, queues.settlementPull);
    await enqueueSettlementPull(queues.settlementPull, SOURCE, registered.cursor);
    let seen: { counts?: SourceCounts; lastError?: string | null } = {}; // what the last look found, for the error
    const counts = await pollUntil(async () => {
      const [counts] = await store.sourceCounts(runtime.db, [SOURCE]);
      const now = await store.sourceByName(runtime.db, SOURCE);
      seen = { counts, lastError: now?.lastError };
      // Done when the cursor is at the feed's end and nothing waits for the match step.
      return now?.cursor === String(count) && counts!.received === 0 ? counts! : null;
    }, () => `the settlement pipeline did not finish in ${WAIT_MS / 1000} s: ${JSON.stringify(seen.counts)}, last error: ${seen.lastError ?? 'none'}`, WAIT_MS);
    return {
      summary: `settlements from the platform simulator: ${counts.total} stored (${counts.matched} matched, ` +
        `${counts.unmatched} unmatched), ${counts.openRejections} rejected by validation`,
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
