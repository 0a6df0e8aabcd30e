import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { claimOf, seedEnrolledMember, seedEnrolment, seedMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { waitFor } from '../support/waitFor.ts';
import { log } from '../../src/log.ts';
import { startWorkers, type RunningWorkers } from '../../jobs/worker.ts';
import { publishStatusChanges } from '../../src/events/statusEvents.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';

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

const SUBSCRIPTION = `subscription($memberId: ID, $unitId: ID) {
  claimStatusChanged(memberId: $memberId, unitId: $unitId) { status at claim { id status member { id } totalFen lines { status } } }
}`;

interface Change { status: string; at: string; claim: { id: string; status: string; member: { id: string }; lines: { status: string }[] } }

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

      const approved = await gw.query({ role: 'REVIEWER' }, 'mutation($id: ID!) { approveClaim(input: { claimId: $id }) { status } }', { id: claimId(claim.id) });
      expect(approved.errors).toBeUndefined();
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
