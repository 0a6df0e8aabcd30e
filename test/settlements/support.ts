import type pg from 'pg';
import { parseConfig } from '../../src/config.ts';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers, sampleUnits, type SampleMember, type SampleUnit } from '../../src/demo/sampleData.ts';
import { simulatedItem, type SimItem, type SimulatorData } from '../../src/settlements/simulator/generate.ts';
import { upsertSource } from '../../src/settlements/store.ts';
import { registerUnits } from '../support/units.ts';

/** What the settlement tests share: sample members enrolled by plan year, and expectations from the simulator's truth. */

export const TODAY = '2025-06-30';
/** The development key, as the test gateway and in-process workers use it. */
export const keys = personalDataKeys(parseConfig({ NODE_ENV: 'test' }).PII_KEY);

export interface Registry {
  units: SampleUnit[];
  members: SampleMember[];
  /** Plan years each member (by index) is enrolled for. */
  years: (memberIndex: number) => number[];
}

/** Members enrolled for 2025; every fourth one not for 2024 (their 2024 settlements find no enrolment). */
export function sampleRegistry(count: number, seed = 2): Registry {
  const units = sampleUnits(3, seed);
  return { units, members: [...sampleMembers(count, units, seed)], years: (i) => (i % 4 === 0 ? [2025] : [2024, 2025]) };
}

export async function registerMembers(db: pg.Pool, registry: Registry): Promise<void> {
  const { units, members, years } = registry;
  await registerUnits(db, units);
  for (const year of [2024, 2025]) {
    const lines = members.filter((_, i) => years(i).includes(year)).map((m) => rosterLine(m, year, false));
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('test.csv', '\\x', 'test') RETURNING id`,
    );
    await importRoster(db, keys, ROSTER_HEADER + lines.join(''), { importId: rows[0]!.id, today: `${year}-01-05` });
  }
}

export function simData(registry: Registry, count: number, seed = 11): SimulatorData {
  return { seed, count, members: registry.members.map((m) => ({ idNumber: m.idNumber, name: m.name })), today: TODAY };
}

export interface Expected {
  setlId: string;
  status: 'MATCHED' | 'UNMATCHED';
  reason: 'NO_MEMBER' | 'NO_ENROLMENT' | null;
}

/**
 * What the hub must decide for a valid item, from the simulator's truth and the enrolments above:
 * the plan year is the year written in setl_time (China time), a reversal's that of its original.
 */
export function expectedOutcome(data: SimulatorData, registry: Registry, item: SimItem): Expected {
  const setlId = String(item.item.setlinfo.setl_id);
  if (item.truth.kind === 'INVALID') throw new Error('an invalid item has no outcome');
  if (item.truth.memberIndex === null) return { setlId, status: 'UNMATCHED', reason: 'NO_MEMBER' };
  const dated = item.truth.kind === 'REVERSAL' ? simulatedItem(data, item.truth.reversesIndex) : item;
  const year = Number(String(dated.item.setlinfo.setl_time).slice(0, 4));
  return registry.years(item.truth.memberIndex).includes(year)
    ? { setlId, status: 'MATCHED', reason: null }
    : { setlId, status: 'UNMATCHED', reason: 'NO_ENROLMENT' };
}

export async function registerPlatformSource(db: pg.Pool, name: string, url: string, pageSize: number, pollSeconds: number | null = null) {
  return upsertSource(db, { name, kind: 'PLATFORM', endpoint: url, pageSize, pollSeconds });
}

export async function statusOf(db: pg.Pool): Promise<Map<string, { status: string; reason: string | null; count: number }>> {
  const { rows } = await db.query<{ setl_id: string; status: string; unmatched_reason: string | null; n: number }>(
    `SELECT setl_id, min(status) AS status, min(unmatched_reason) AS unmatched_reason, count(*)::int AS n FROM settlements GROUP BY setl_id`,
  );
  return new Map(rows.map((r) => [r.setl_id, { status: r.status, reason: r.unmatched_reason, count: r.n }]));
}
