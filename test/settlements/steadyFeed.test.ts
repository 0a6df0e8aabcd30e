import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { pullPage } from '../../src/settlements/ingest.ts';
import { itemAppearsAt, itemsAppeared, simulatedItems, type FeedSchedule } from '../../src/settlements/simulator/generate.ts';
import { startInsuranceSimulator, type InsuranceSimulator } from '../../src/settlements/simulator/server.ts';
import { platformSource } from '../../src/settlements/sources/platform.ts';
import * as store from '../../src/settlements/store.ts';
import { keys, registerPlatformSource, sampleRegistry, simData } from './support.ts';

const data = simData(sampleRegistry(20), 30);
const setlIds = [...simulatedItems(data)].map((i) => String(i.item.setlinfo.setl_id));
const feed: FeedSchedule = { perSecond: 3, startedAt: new Date('2025-06-30T01:00:00.000Z') };
/** The simulator's clock, moved by the tests. */
let now = new Date(feed.startedAt.getTime() - 1000);

let db: TestDatabase;
let simulator: InsuranceSimulator;
let adapter: ReturnType<typeof platformSource>;

/** Pulls until the feed says there is no more for now; the platform ids it received (stored or rejected), sorted. */
async function pullAvailable(): Promise<string[]> {
  const before = new Set(await receivedIds());
  for (let more = true; more;) {
    more = (await pullPage(db.pool, keys, (await store.sourceByName(db.pool, 'steady'))!, adapter, 'test')).hasMore;
  }
  return (await receivedIds()).filter((id) => !before.has(id));
}

async function receivedIds(): Promise<string[]> {
  const { rows } = await db.pool.query<{ setlId: string }>(
    `SELECT setl_id AS "setlId" FROM settlements UNION ALL SELECT setl_id FROM settlement_rejections ORDER BY 1`,
  );
  return rows.map((r) => r.setlId);
}

const sorted = (ids: string[]) => [...ids].sort();

/** The feed's ids of the items that have appeared by `now`, from the schedule itself. */
const appearedBy = (at: Date) => setlIds.filter((_, i) => itemAppearsAt(feed, i) <= at);

beforeAll(async () => {
  db = await freshDatabase();
  simulator = await startInsuranceSimulator({ ...data, infno: '9901', feed, clock: () => now });
  adapter = platformSource({ url: simulator.url, client: { code: 'MAH350500001', name: 'test', area: '350500' }, infno: '9901' });
  // Pages smaller than what appears between the pulls: the pull goes on while the feed has more.
  await registerPlatformSource(db.pool, 'steady', simulator.url, 4);
});
afterAll(async () => {
  await simulator.close();
  await db.drop();
});

describe('a steady feed', () => {
  it('counts as appeared exactly the items whose time has come, at any rate', () => {
    for (const perSecond of [1, 3, 7, 1000]) {
      const schedule = { perSecond, startedAt: feed.startedAt };
      for (let ms = -5; ms < 2500; ms += 1) {
        const at = new Date(feed.startedAt.getTime() + ms);
        const expected = Array.from({ length: 50 }, (_, i) => itemAppearsAt(schedule, i)).filter((t) => t <= at).length;
        expect(itemsAppeared(schedule, 50, at), `${perSecond}/s at ${ms} ms`).toBe(expected);
      }
    }
  });

  it('serves nothing before the first item appears', async () => {
    expect(await pullAvailable()).toEqual([]);
    expect((await store.sourceByName(db.pool, 'steady'))!.cursor).toBe('0');
    const answer = await fetch(new URL('/sim/appeared', simulator.url));
    expect(await answer.json()).toEqual({ appeared: [] });
  });

  it('serves only the items that have appeared, and the later ones when they appear, in feed order', async () => {
    now = new Date(feed.startedAt.getTime() + 2_500);
    const first = appearedBy(now);
    expect(first.length).toBeGreaterThan(4); // more than one page
    expect(first.length).toBeLessThan(setlIds.length);
    expect(await pullAvailable()).toEqual(sorted(first));
    expect((await store.sourceByName(db.pool, 'steady'))!.cursor).toBe(String(first.length));
    // Nothing new until time moves on.
    expect(await pullAvailable()).toEqual([]);

    now = new Date(feed.startedAt.getTime() + 6_000);
    const second = appearedBy(now).slice(first.length);
    expect(second.length).toBeGreaterThan(0);
    expect(first.length + second.length).toBeLessThan(setlIds.length);
    expect(await pullAvailable()).toEqual(sorted(second));

    now = new Date(feed.startedAt.getTime() + 60_000);
    expect(await pullAvailable()).toEqual(sorted(setlIds.slice(first.length + second.length)));
    expect(await receivedIds()).toEqual(sorted(setlIds));
    expect((await store.sourceByName(db.pool, 'steady'))!.cursor).toBe(String(setlIds.length));
    // In feed order: every page asked from where the one before it ended.
    const cursors = simulator.requested().map((c) => (c === null ? 0 : Number(c)));
    expect(cursors).toEqual([...cursors].sort((x, y) => x - y));
  });

  it('says when each item appeared', async () => {
    now = new Date(feed.startedAt.getTime() + 4_000);
    const answer = (await (await fetch(new URL('/sim/appeared', simulator.url))).json()) as { appeared: { setlId: string; appearedAt: string }[] };
    expect(answer.appeared).toEqual(appearedBy(now).map((setlId, i) => ({ setlId, appearedAt: itemAppearsAt(feed, i).toISOString() })));
  });
});
