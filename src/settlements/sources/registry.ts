import { isDeepStrictEqual } from 'node:util';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { recordAudit, type Actor } from '../../audit/audit.ts';
import type { Config } from '../../config.ts';
import { inTransaction } from '../../db/pool.ts';
import type { SettlementSourceRow } from '../model.ts';
import { schedulePulls } from '../queue.ts';
import * as store from '../store.ts';

/**
 * The registered sources: those configuration names, and a pull schedule for every enabled source
 * that is polled (the workers start and sweep them; `hub settlements source` registers others).
 */

/**
 * Configuration, as the actor of the sources it names: a changed INSURANCE_PLATFORM_URL changes
 * where claims come from, audited under it (a token cannot name it: gateway/auth.ts SERVICE_SUBJECTS).
 */
const CONFIGURATION_ACTOR: Actor = { subject: 'configuration', role: 'SERVICE' };

/**
 * The sources configuration names (INSURANCE_PLATFORM_URL, SETTLEMENT_DROP_DIR), registered or
 * changed through the audited path when the workers start (audited only when something changed:
 * workers restart often).
 */
export async function registerConfiguredSources(db: pg.Pool, cfg: Config): Promise<void> {
  const schedule = { pageSize: cfg.SETTLEMENT_PAGE_SIZE, pollSeconds: cfg.SETTLEMENT_PULL_SECONDS };
  if (cfg.INSURANCE_PLATFORM_URL) await registerSource(db, CONFIGURATION_ACTOR, { name: 'platform', kind: 'PLATFORM', endpoint: cfg.INSURANCE_PLATFORM_URL, ...schedule });
  if (cfg.SETTLEMENT_DROP_DIR) await registerSource(db, CONFIGURATION_ACTOR, { name: 'drop', kind: 'DROP', endpoint: cfg.SETTLEMENT_DROP_DIR, ...schedule });
}

/**
 * Registers or changes a pulled source (`hub settlements source`, or configuration at the workers'
 * start), audited as settlements.source with what it was and what it is: where a source reads from
 * decides which settlements come in, hence which claims are paid. A registration that changes
 * nothing is not recorded. The source is locked while it changes.
 */
export async function registerSource(db: pg.Pool, actor: Actor, write: store.SourceWrite): Promise<SettlementSourceRow> {
  return inTransaction(db, async (tx) => {
    await store.lockSourceName(tx, write.name);
    const before = await store.sourceByName(tx, write.name, { forUpdate: true });
    const after = await store.upsertSource(tx, write);
    if (before && isDeepStrictEqual(setting(before), setting(after))) return after;
    await recordAudit(tx, actor, {
      action: 'settlements.source', targetType: 'SettlementSource', targetId: after.name,
      details: { before: before && setting(before), after: setting(after) },
    });
    return after;
  });
}

/** What a source's registration sets (and the cursor a new endpoint resets). */
const setting = (s: SettlementSourceRow) =>
  ({ kind: s.kind, endpoint: s.endpoint, pageSize: s.pageSize, pollSeconds: s.pollSeconds, enabled: s.enabled, cursor: s.cursor });

/** One scheduler per enabled, polled source; schedulers of other sources are removed. Returns how many were (re)created. */
export async function scheduleSources(db: pg.Pool, queue: Queue): Promise<number> {
  const polled = (await store.listSources(db)).flatMap((s) => (s.enabled && s.kind !== 'FILE' && s.pollSeconds ? [{ name: s.name, pollSeconds: s.pollSeconds }] : []));
  return schedulePulls(queue, polled);
}
