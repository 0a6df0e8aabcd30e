import type { Queue } from 'bullmq';
import type pg from 'pg';
import type { Config } from '../../config.ts';
import { schedulePulls } from '../queue.ts';
import * as store from '../store.ts';

/**
 * The registered sources: those configuration names, and a pull schedule for every enabled source
 * that is polled (the workers start and sweep them; `hub settlements source` registers others).
 */

/** The sources configuration names (INSURANCE_PLATFORM_URL, SETTLEMENT_DROP_DIR), registered or updated. */
export async function registerConfiguredSources(db: pg.Pool, cfg: Config): Promise<void> {
  const schedule = { pageSize: cfg.SETTLEMENT_PAGE_SIZE, pollSeconds: cfg.SETTLEMENT_PULL_SECONDS };
  if (cfg.INSURANCE_PLATFORM_URL) await store.upsertSource(db, { name: 'platform', kind: 'PLATFORM', endpoint: cfg.INSURANCE_PLATFORM_URL, ...schedule });
  if (cfg.SETTLEMENT_DROP_DIR) await store.upsertSource(db, { name: 'drop', kind: 'DROP', endpoint: cfg.SETTLEMENT_DROP_DIR, ...schedule });
}

/** One scheduler per enabled, polled source; schedulers of other sources are removed. Returns how many were (re)created. */
export async function scheduleSources(db: pg.Pool, queue: Queue): Promise<number> {
  const polled = (await store.listSources(db)).flatMap((s) => (s.enabled && s.kind !== 'FILE' && s.pollSeconds ? [{ name: s.name, pollSeconds: s.pollSeconds }] : []));
  return schedulePulls(queue, polled);
}
