import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { claimOf, seedEnrolledMember, seedEnrolment, seedMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { waitFor } from '../support/waitFor.ts';
import { log } from '../../src/log.ts';
import { startWorkers, type RunningWorkers } from '../../jobs/worker.ts';
import { publishJobProgress, publishStatusChanges } from '../../src/events/statusEvents.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { rosterImportProcessor } from '../../jobs/members.ts';
import type { Job } from 'bullmq';
import type { RosterImportJob } from '../../src/members/queue.ts';

/**
 * Claim status changes over graphql-ws, announced by the adjudication worker and by reviewers'
 * decisions, with the visibility of queries: a member hears only their own claims, a unit operator
 * only their unit's, other roles what they name; refusals as queries give them.
 */
let db: TestDatabase;
let gw: TestGateway;
let workers: RunningWorkers;
let a: MemberSetup;
let b: MemberSetup;
let colleagueOfA: MemberSetup;
let firstClaimOfA: number;

const SUBSCRIPTION = `subscription($memberId: ID, $unitId: ID, $after: String) {
  claimStatusChanged(memberId: $memberId, unitId: $unitId, after: $after) { status at sequence claim { id status member { id } totalFen lines { status } } }
}`;

interface Change { status: string; at: string; sequence: string; claim: { id: string; status: string; member: { id: string }; lines: { status: string }[] } }

interface Follower {
  changes: Change[];
  errors: { message: string; extensions?: { code?: string } }[];
  /** Set when the server closed the socket (code). */
  closed: Promise<number | null>;
  stop(): void;
}

function follow(token: string | null, variables: Record<string, string> = {}): Follower {
  const client = createClient({
    url: gw.url.replace('http:', 'ws:'), webSocketImpl: WebSocket, retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
  const follower: Follower = { changes: [], errors: [], closed: Promise.resolve(null), stop: () => void client.dispose() };
  follower.closed = new Promise((resolve) => {
    client.subscribe<{ claimStatusChanged: Change }>({ query: SUBSCRIPTION, variables }, {
      next: (result) => {
        if (result.errors) follower.errors.push(...(result.errors as Follower['errors']));
        if (result.data) follower.changes.push(result.data.claimStatusChanged);
      },
      error: (error) => resolve((error as { code?: number }).code ?? -1),
      complete: () => resolve(null),
    });
  });
  return follower;
}

/**
 * Announces the member's first claim again until `follower` hears it: its subscription is then
 * live. Those announcements (of first claims) are left out of what the tests compare (`heard`).
 */
async function live(follower: Follower, m: MemberSetup = a): Promise<void> {
  const claim = firstClaimOf.get(m.memberId)!;
  await waitFor('the subscription to be live', async () => {
    await publishStatusChanges(gw.redis, gw.prefix, [{ kind: 'CLAIM', id: claim, memberId: m.memberId, unitId: m.unitId, status: 'APPROVED', at: new Date().toISOString() }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    return follower.changes.length > 0;
  }, 10_000);
  follower.changes.length = 0;
}
const firstClaimOf = new Map<number, number>();
const heard = (f: Follower) => f.changes.filter((c) => ![...firstClaimOf.values()].map(claimId).includes(c.claim.id));

const claimId = (id: number) => toGlobalId('Claim', id);

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  a = await seedEnrolledMember(db.pool);
  b = await seedEnrolledMember(db.pool);
  const colleague = await seedMember(db.pool, a.unitId);
  colleagueOfA = { ...a, memberId: colleague, enrolmentId: await seedEnrolment(db.pool, colleague, a.unitId) };
  const settlements = await Promise.all([a, b, colleagueOfA].map((m) => seedSettlement(db.pool, m, { psn: '1,000.00' })));
  workers = await startWorkers({ db: db.pool, keys: gw.keys, connection: gw.redis, prefix: gw.prefix, log, payouts: null });
  const claims = await Promise.all(settlements.map((s) => waitFor('adjudication', () => claimOf(db.pool, s))));
  [a, b, colleagueOfA].forEach((m, i) => firstClaimOf.set(m.memberId, claims[i]!.id));
  firstClaimOfA = claims[0]!.id;
});
afterAll(async () => {
  await workers.close();
  await gw.close();
  await db.drop();
});

describe('claimStatusChanged', () => {
  it('tells a member of their own claims as the worker decides them and a reviewer approves them, and nothing of others', async () => {
    const member = follow(await gw.token({ role: 'MEMBER', member: toGlobalId('Member', a.memberId) }));
    const operator = follow(await gw.token({ role: 'UNIT_OPERATOR', unit: a.creditCode }));
    const admin = follow(await gw.token({ role: 'ADMIN' }), { memberId: toGlobalId('Member', b.memberId) });
    try {
      await live(member);
      await live(operator);
      await live(admin, b);
      // Above the automatic-approval threshold (10,000 CNY): the worker leaves it PENDING_REVIEW.
      const big = await seedSettlement(db.pool, a, { psn: '60,000.00' });
      await seedSettlement(db.pool, b, { psn: '2,000.00' });
      await seedSettlement(db.pool, colleagueOfA, { psn: '3,000.00' });
      await workers.sweep();
      const claim = await waitFor('the claim', () => claimOf(db.pool, big));
      await waitFor('the member to hear of it', async () => heard(member).length >= 1 && heard(operator).length >= 2 && heard(admin).length >= 1);

      expect(heard(member)).toEqual([expect.objectContaining({ status: 'PENDING_REVIEW', claim: expect.objectContaining({ id: claimId(claim.id), status: 'PENDING_REVIEW' }) })]);
      expect(heard(operator).map((c) => c.claim.member.id).sort()).toEqual([a.memberId, colleagueOfA.memberId].map((id) => toGlobalId('Member', id)).sort());
      expect(heard(admin)).toEqual([expect.objectContaining({ status: 'APPROVED', claim: expect.objectContaining({ member: { id: toGlobalId('Member', b.memberId) } }) })]);

      const approved = await gw.query({ role: 'REVIEWER' }, 'mutation($id: ID!, $total: Fen!) { approveClaim(input: { claimId: $id, checkedTotalFen: $total }) { claim { status } userErrors { message } } }',
        { id: claimId(claim.id), total: claim.totalFen });
      expect(approved.data.approveClaim.userErrors).toEqual([]);
      await waitFor('the approval to be heard', async () => heard(member).length >= 2);
      // Each event is read fresh: the lines show the approval too.
      expect(heard(member)[0]!.claim.lines.map((l) => l.status)).toEqual(['PENDING', 'PENDING']);
      expect(heard(member)[1]).toMatchObject({ status: 'APPROVED', claim: { status: 'APPROVED', lines: [{ status: 'APPROVED' }, { status: 'APPROVED' }] } });
      expect(member.changes.every((c) => c.claim.member.id === toGlobalId('Member', a.memberId))).toBe(true);
      expect(Date.parse(heard(member)[1]!.at)).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      for (const f of [member, operator, admin]) f.stop();
    }
  });

  it('drops changes the caller may not see even when the announcement names what they follow', async () => {
    const member = follow(await gw.token({ role: 'MEMBER', member: toGlobalId('Member', a.memberId) }));
    try {
      await live(member);
      // A forged announcement: B's claim under A's member id. The claim is re-read in A's scope: not visible.
      await publishStatusChanges(gw.redis, gw.prefix, [{ kind: 'CLAIM', id: firstClaimOf.get(b.memberId)!, memberId: a.memberId, unitId: a.unitId, status: 'APPROVED', at: new Date().toISOString() }]);
      await publishStatusChanges(gw.redis, gw.prefix, [{ kind: 'CLAIM', id: firstClaimOfA, memberId: a.memberId, unitId: a.unitId, status: 'APPROVED', at: new Date().toISOString() }]);
      await waitFor('the second announcement', async () => member.changes.length >= 1);
      expect(member.changes.map((c) => c.claim.id)).not.toContain(claimId(firstClaimOf.get(b.memberId)!));
    } finally {
      member.stop();
    }
  });

  it('refuses what queries refuse: others\' members and units, no target, no token', async () => {
    const refusals = [
      follow(await gw.token({ role: 'MEMBER', member: toGlobalId('Member', a.memberId) }), { memberId: toGlobalId('Member', b.memberId) }),
      follow(await gw.token({ role: 'UNIT_OPERATOR', unit: a.creditCode }), { unitId: toGlobalId('Unit', b.unitId) }),
      follow(await gw.token({ role: 'UNIT_OPERATOR', unit: a.creditCode }), { memberId: toGlobalId('Member', b.memberId) }),
      follow(await gw.token({ role: 'ADMIN' })),
    ];
    for (const f of refusals) expect(await f.closed).toBeNull();
    expect(refusals.map((f) => f.errors[0]?.extensions?.code)).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'BAD_USER_INPUT']);
    expect(refusals[3]!.errors[0]!.message).toMatch(/name the member \(memberId\) or the unit \(unitId\)/);
    const anonymous = follow(null);
    expect(await anonymous.closed).toBe(4403);
    const forged = follow('not-a-token');
    expect(await forged.closed).toBe(4403);
  });
});

/** Announces a change of A's first claim with a distinct `at`: what a test tells events apart by. */
async function announce(at: string, m: MemberSetup = a): Promise<void> {
  await publishStatusChanges(gw.redis, gw.prefix, [{ kind: 'CLAIM', id: firstClaimOf.get(m.memberId)!, memberId: m.memberId, unitId: m.unitId, status: 'APPROVED', at }]);
}
const moment = (n: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString();
const isIncreasing = (sequences: string[]) => sequences.every((s, i) => i === 0 || compareSequence(sequences[i - 1]!, s) < 0);
const compareSequence = (x: string, y: string) => {
  const [xa, xb] = x.split('-').map(BigInt) as [bigint, bigint];
  const [ya, yb] = y.split('-').map(BigInt) as [bigint, bigint];
  return xa !== ya ? (xa < ya ? -1 : 1) : xb === yb ? 0 : xb < yb ? -1 : 1;
};

describe('claimStatusChanged after a reconnect (`after`)', () => {
  it('sends exactly the events missed while away, in order, then live ones, none twice at the seam', async () => {
    const token = await gw.token({ role: 'MEMBER', member: toGlobalId('Member', a.memberId) });
    const first = follow(token);
    let second: Follower | undefined;
    try {
      await live(first);
      await announce(moment(0));
      await waitFor('the event before the disconnect', async () => first.changes.some((c) => c.at === moment(0)));
      const last = first.changes.at(-1)!.sequence;
      first.stop();

      // While away: three of A's changes, and B's, which A must not get.
      for (const n of [1, 2, 3]) {
        await announce(moment(n));
        await announce(moment(100 + n), b);
      }
      second = follow(token, { after: last });
      // Published while the replay may still be read: each must arrive once, whichever way it comes.
      await announce(moment(4));
      await announce(moment(5));
      await waitFor('the missed and racing events', async () => second!.changes.some((c) => c.at === moment(5)));
      await announce(moment(6));
      await waitFor('the live event', async () => second!.changes.some((c) => c.at === moment(6)));

      expect(second.errors).toEqual([]);
      expect(second.changes.map((c) => c.at)).toEqual([1, 2, 3, 4, 5, 6].map(moment));
      expect(isIncreasing([last, ...second.changes.map((c) => c.sequence)])).toBe(true);
      expect(second.changes.every((c) => c.claim.member.id === toGlobalId('Member', a.memberId))).toBe(true);
    } finally {
      first.stop();
      second?.stop();
    }
  });

  it('refuses an `after` whose following events are no longer kept, or that it never sent, and says to query again', async () => {
    const token = await gw.token({ role: 'MEMBER', member: toGlobalId('Member', a.memberId) });
    const watcher = follow(token);
    try {
      await live(watcher);
      for (const n of [10, 11, 12]) await announce(moment(n));
      await waitFor('three events', async () => watcher.changes.length >= 3);
    } finally {
      watcher.stop();
    }
    const [oldest, middle] = watcher.changes.map((c) => c.sequence);
    // Retention trims from the oldest end: `oldest` and `middle`, which followed it, are gone.
    await gw.redis.xtrim(`${gw.prefix}:events:claim`, 'MINID', bumped(middle!));
    const refusals = [follow(token, { after: oldest! }), follow(token, { after: 'not-a-sequence' }), follow(token, { after: '99999999999999-0' })];
    for (const f of refusals) expect(await f.closed).toBeNull();
    for (const f of refusals) {
      expect(f.changes).toEqual([]);
      expect(f.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
      expect(f.errors[0]!.message).toMatch(/^after: .*query again/);
    }
    // One message whatever the reason: which one applied would tell of other members' events (test/security/subscriptions.test.ts).
    expect(new Set(refusals.map((f) => f.errors[0]!.message)).size).toBe(1);
  });
});

/** The sequence right after `s`: trimming below it removes `s` itself. */
const bumped = (s: string) => {
  const [ms, n] = s.split('-');
  return `${ms}-${BigInt(n!) + 1n}`;
};

interface Progress { jobId: string; done: number; total: number | null; state: string }

/** Listens to a job's progress until the server completes the subscription. */
function watchProgress(token: string, id: string) {
  const client = createClient({ url: gw.url.replace('http:', 'ws:'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const heard: Progress[] = [];
  const errors: { extensions?: { code?: string } }[] = [];
  const completed = new Promise<void>((resolve) => {
    client.subscribe<{ rosterImportProgress: Progress }>({ query: 'subscription($id: ID!) { rosterImportProgress(id: $id) { jobId done total state } }', variables: { id } }, {
      next: (r) => {
        if (r.errors) errors.push(...(r.errors as unknown as typeof errors));
        if (r.data) heard.push(r.data.rosterImportProgress);
      },
      error: () => resolve(),
      complete: () => resolve(),
    });
  });
  return { heard, errors, completed, stop: () => void client.dispose() };
}

/** `count` members of a roster, each with a valid resident ID of its own. */
function rosterOf(count: number): string {
  const rows = Array.from({ length: count }, (_, i) => {
    const born = new Date(Date.UTC(1970, 0, 1 + Math.floor(i / 900))).toISOString().slice(0, 10).replaceAll('-', '');
    return `会员${i},${withResidentIdCheck(`350521${born}${String(i % 900).padStart(3, '0')}`)}`;
  });
  return `name,id_number\n${rows.join('\n')}\n`;
}

describe('rosterImportProgress', () => {
  it('tells how far an import has got while it runs, then its end, and completes', async () => {
    const rows = 6_000;
    // The workers would run it at once: paused, the test runs the same processor when the subscriber listens.
    await workers.queues.rosterImport.pause();
    const token = await gw.token({ role: 'UNIT_OPERATOR', unit: a.creditCode });
    let watcher: ReturnType<typeof watchProgress> | undefined;
    try {
      const started = await gw.query(token, 'mutation($input: ImportRosterInput!) { importRoster(input: $input) { rosterImport { id } userErrors { message } } }', {
        input: { fileName: 'roster.csv', csv: rosterOf(rows) },
      });
      expect(started.errors).toBeUndefined();
      const id = started.data.importRoster.rosterImport.id as string;
      const importId = localId('id', id, 'RosterImport');
      watcher = watchProgress(token, id);
      const w = watcher;
      await waitFor('the progress subscription to be live', async () => {
        await publishJobProgress(gw.redis, gw.prefix, { kind: 'ROSTER_IMPORT', id: importId, done: -1, total: null, final: false });
        await new Promise((resolve) => setTimeout(resolve, 50));
        return w.heard.length > 0;
      }, 10_000);
      w.heard.length = 0;

      const announce = (progress: Parameters<typeof publishJobProgress>[2]) => publishJobProgress(gw.redis, gw.prefix, progress);
      await rosterImportProcessor(db.pool, gw.keys, log, announce)({ data: { importId } } as Job<RosterImportJob>);
      await w.completed;

      const heard = w.heard.filter((p) => p.done !== -1);
      expect(w.errors).toEqual([]);
      expect(heard[0]).toEqual({ jobId: id, done: 0, total: rows, state: 'RUNNING' });
      expect(heard).toContainEqual({ jobId: id, done: 5_000, total: rows, state: 'RUNNING' });
      expect(heard.at(-1)).toEqual({ jobId: id, done: rows, total: rows, state: 'DONE' });
      expect(heard.slice(0, -1).every((p) => p.state === 'RUNNING')).toBe(true);
      expect(heard.map((p) => p.done)).toEqual([...heard.map((p) => p.done)].sort((x, y) => x - y));

      // Subscribed once it is over: its end at once, then complete.
      const late = watchProgress(token, id);
      await late.completed;
      expect(late.heard).toEqual([{ jobId: id, done: rows, total: rows, state: 'DONE' }]);
    } finally {
      watcher?.stop();
      await workers.queues.rosterImport.resume();
    }
  });
});
