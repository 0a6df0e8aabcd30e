import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedClaims, type ApprovedClaim } from '../payouts/support.ts';
import { seedMember, seedUnit } from '../benefits/seed.ts';
import { publishJobProgress, publishStatusChanges, type StatusChange } from '../../src/events/statusEvents.ts';
import { waitFor } from '../support/waitFor.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { log } from '../../src/log.ts';

/**
 * Subscriptions that resume (issue 16) as an attacker tries them: a replay from an old sequence
 * shows a member exactly what a live subscription would (their own claims, nothing announced for
 * others, nothing forged under their id), costs the same however busy the rest of the hub was, and
 * its refusals tell nothing of others' events; a job's progress is for whoever may read the job; one
 * socket holds a bounded number of subscriptions; a failure while one runs shows nothing of its cause.
 */
let db: TestDatabase;
let gw: TestGateway;
let victim: ApprovedClaim & { unitId: number };
let attacker: ApprovedClaim & { unitId: number };

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  const claims = await approvedClaims(db.pool, 2);
  const { rows } = await db.pool.query<{ id: number; unitId: number }>('SELECT id, unit_id AS "unitId" FROM members WHERE id = ANY($1::bigint[])', [claims.map((c) => c.memberId)]);
  [attacker, victim] = claims.map((c) => ({ ...c, unitId: rows.find((r) => r.id === c.memberId)!.unitId })) as [typeof victim, typeof victim];
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

interface Outcome { data: unknown[]; errors: { message: string; extensions?: Record<string, unknown> }[] }

const socketOf = (token: string): Client =>
  createClient({ url: gw.url.replace('http:', 'ws:'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });

/**
 * Starts `query` on `client` (one socket may carry several) and collects what arrives, telling
 * `heard` of each result; `ended` once the server completes it or ends it with errors.
 */
function listen(client: Client, query: string, variables: Record<string, unknown> = {}, heard: (o: Outcome) => void = () => undefined) {
  const outcome: Outcome = { data: [], errors: [] };
  let stop = () => undefined as void;
  const ended = new Promise<void>((resolve) => {
    stop = client.subscribe({ query, variables }, {
      next: (r) => {
        if (r.errors) outcome.errors.push(...(r.errors as Outcome['errors']));
        if (r.data) outcome.data.push(Object.values(r.data)[0]);
        heard(outcome);
      },
      // The operation's errors come as a list; a socket the server closed as its close event.
      error: (error) => {
        outcome.errors.push(...(Array.isArray(error) ? error as Outcome['errors'] : [{ message: `socket closed: ${String((error as { code?: number }).code ?? error)}` }]));
        resolve();
      },
      complete: resolve,
    });
  });
  return Object.assign(outcome, { ended, stop });
}

/** Subscribes as `token` on a socket of its own and collects what arrives until `until` holds or the server ends it. */
async function subscribe(token: string, query: string, variables: Record<string, unknown>, until: (o: Outcome) => boolean): Promise<Outcome> {
  const client = socketOf(token);
  try {
    let held = () => undefined as void;
    const holds = new Promise<void>((resolve) => { held = resolve; });
    const { data, errors, ended } = listen(client, query, variables, (o) => { if (until(o)) held(); });
    await Promise.race([ended, holds]);
    return { data, errors };
  } finally {
    await client.dispose();
  }
}

const CLAIMS = 'subscription($after: String) { claimStatusChanged(after: $after) { at sequence claim { id member { id } } } }';
const at = (n: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString();
const change = (claim: ApprovedClaim & { unitId: number }, at: string, as: Partial<StatusChange> = {}): StatusChange =>
  ({ kind: 'CLAIM', id: claim.claimId, memberId: claim.memberId, unitId: claim.unitId, status: 'APPROVED', at, ...as });
/** The sequence of the claim stream's last event. */
const lastSequence = async () => (await gw.redis.xrevrange(`${gw.prefix}:events:claim`, '+', '-', 'COUNT', 1))[0]![0];
const attackerToken = () => gw.token({ role: 'MEMBER', member: toGlobalId('Member', attacker.memberId), sub: 'attacker' });

describe('claimStatusChanged replayed from `after`', () => {
  it('shows a member only their own claims: not another member\'s events, nor another\'s claim announced under their id', async () => {
    await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(0))]);
    const start = await lastSequence();
    await publishStatusChanges(gw.redis, gw.prefix, [
      change(victim, at(1)),
      // Forged: the victim's claim under the attacker's member and unit.
      change(victim, at(2), { memberId: attacker.memberId, unitId: attacker.unitId }),
      change(victim, at(3)),
      change(attacker, at(4)),
    ]);
    const token = await attackerToken();
    const replayed = await subscribe(token, CLAIMS, { after: start }, (o) => o.data.some((d) => (d as { at: string }).at === at(4)) || o.errors.length > 0);
    expect(replayed.errors).toEqual([]);
    expect(replayed.data).toEqual([{ at: at(4), sequence: expect.any(String), claim: { id: toGlobalId('Claim', attacker.claimId), member: { id: toGlobalId('Member', attacker.memberId) } } }]);
  });

  it('refuses to replay another member\'s claims to a member who names them', async () => {
    const token = await attackerToken();
    const refused = await subscribe(token, 'subscription($m: ID, $after: String) { claimStatusChanged(memberId: $m, after: $after) { at } }',
      { m: toGlobalId('Member', victim.memberId), after: '0-0' }, () => false);
    expect(refused.data).toEqual([]);
    expect(refused.errors[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('answers every `after` it cannot resume from alike: past the stream\'s end or not, another member\'s, malformed, out of range', async () => {
    const token = await attackerToken();
    const answer = (after: string) => subscribe(token, CLAIMS, { after }, (o) => o.data.length > 0);
    await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(20))]);
    const own = await lastSequence();
    const [ms, n] = own.split('-') as [string, string];
    // The least sequence after the stream's end: whoever's change comes next is at or after it.
    const next = `${ms}-${BigInt(n) + 1n}`;
    const pastTheEnd = await answer(next);
    // Someone else's claim changes somewhere in the hub, then one of the attacker's own.
    await publishStatusChanges(gw.redis, gw.prefix, [change(victim, at(21))]);
    const victims = await lastSequence();
    await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(22))]);
    const refusals = [pastTheEnd, await answer(next), await answer(victims), await answer('not-a-sequence'), await answer('99999999999999999999-0')];
    // Were `next` refused before and taken after, the attacker would have learnt that the hub changed something.
    for (const refusal of refusals) expect(refusal).toEqual(refusals[0]);
    expect(refusals[0]).toMatchObject({ data: [], errors: [{ message: expect.stringMatching(/^after: .*query again/), extensions: { code: 'BAD_USER_INPUT', field: 'after' } }] });
    // What the attacker was sent still resumes, with their own change only.
    expect(await answer(own)).toMatchObject({ errors: [], data: [{ at: at(22) }] });
  });
});

describe('claimStatusChanged of their own unit, as a member names it', () => {
  it('follows only the member: a unit-mate\'s sequence as `after` is refused as another unit\'s is, so it tells nothing of the unit-mate', async () => {
    const token = await attackerToken();
    const BY_UNIT = 'subscription($u: ID, $after: String) { claimStatusChanged(unitId: $u, after: $after) { at } }';
    const answer = (after: string) => subscribe(token, BY_UNIT, { u: toGlobalId('Unit', attacker.unitId), after }, (o) => o.data.length > 0);
    const unitMate = await seedMember(db.pool, attacker.unitId);
    await publishStatusChanges(gw.redis, gw.prefix, [change(victim, at(60), { memberId: unitMate, unitId: attacker.unitId })]);
    const mates = await lastSequence();
    await publishStatusChanges(gw.redis, gw.prefix, [change(victim, at(61))]);
    const strangers = await lastSequence();
    await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(62))]);
    // Were the unit-mate's taken (and the attacker's own change replayed after it), the guess would be confirmed.
    const [mate, stranger] = [await answer(mates), await answer(strangers)];
    expect(mate).toEqual(stranger);
    expect(mate).toMatchObject({ data: [], errors: [{ message: expect.stringMatching(/^after: .*query again/), extensions: { code: 'BAD_USER_INPUT', field: 'after' } }] });
    // The attacker's own sequence still resumes under the unit filter, with their own change.
    await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(63))]);
    const own = await lastSequence();
    await publishStatusChanges(gw.redis, gw.prefix, [change(victim, at(64), { memberId: unitMate, unitId: attacker.unitId }), change(attacker, at(65))]);
    expect(await answer(own)).toMatchObject({ errors: [], data: [{ at: at(65) }] });
  });
});

describe('the cost of a replay', () => {
  /** `count` changes of other members' claims, as the rest of a busy hub makes them. */
  const othersChanges = (count: number): StatusChange[] =>
    Array.from({ length: count }, (_, i) => ({ kind: 'CLAIM', id: 1_000_000 + i, memberId: 9_000_000 + i, unitId: 9_000_000 + i, status: 'APPROVED', at: at(0) }));
  /** What `act` returns, and how many stream entries the gateway read (XRANGE) meanwhile. */
  const entriesRead = async <T>(act: () => Promise<T>): Promise<{ result: T; entries: number }> => {
    const xrange = vi.spyOn(gw.redis, 'xrange');
    try {
      const result = await act();
      return { result, entries: xrange.mock.settledResults.reduce((sum, r) => sum + (r.type === 'fulfilled' ? (r.value as unknown[]).length : 0), 0) };
    } finally {
      xrange.mockRestore();
    }
  };

  it('is at most 10,000 stream entries read (ten per event one replay may send), however many of others\' changes followed `after`', async () => {
    const token = await attackerToken();
    await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(30))]);
    const after = await lastSequence();
    await publishStatusChanges(gw.redis, gw.prefix, othersChanges(5_000));
    await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(31))]);
    const replay = () => subscribe(token, CLAIMS, { after }, (o) => o.data.length > 0);
    // Within the bound the replay is whole.
    const within = await entriesRead(replay);
    expect(within.result).toMatchObject({ errors: [], data: [{ at: at(31) }] });
    // 25,001 entries now follow `after`: what the attacker could not see anyway is not all read.
    await publishStatusChanges(gw.redis, gw.prefix, othersChanges(20_000));
    const beyond = await entriesRead(replay);
    // The bound, one entry past it, and `after`'s own.
    expect(beyond.entries).toBeLessThanOrEqual(10_000 + 2);
    expect(beyond.result).toMatchObject({ data: [], errors: [{ message: expect.stringMatching(/^after: .*query again/), extensions: { code: 'BAD_USER_INPUT', field: 'after' } }] });
  });
});

describe('subscriptions on one socket', () => {
  it('are at most SUBSCRIPTIONS_PER_SOCKET (20) at once: more are refused naming the limit, until one ends', async () => {
    const limit = gw.config.SUBSCRIPTIONS_PER_SOCKET;
    expect(limit).toBe(20);
    const client = socketOf(await attackerToken());
    try {
      // Each live one costs a scoped read of every change it follows.
      const subscriptions = Array.from({ length: limit + 5 }, () => listen(client, 'subscription { claimStatusChanged { at } }'));
      const answered = () => subscriptions.every((s) => s.data.length > 0 || s.errors.length > 0);
      await waitFor('each to hear the attacker\'s change or be refused', async () => {
        await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(40))]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return answered();
      }, 10_000);
      const refused = subscriptions.filter((s) => s.errors.length > 0);
      expect(subscriptions.filter((s) => s.data.length > 0)).toHaveLength(limit);
      expect(refused).toHaveLength(5);
      const refusal = {
        message: 'at most 20 subscriptions at once on one socket (SUBSCRIPTIONS_PER_SOCKET); complete one before starting another',
        extensions: { code: 'RATE_LIMITED', limit: 'SUBSCRIPTIONS_PER_SOCKET' },
      };
      for (const s of refused) expect(s.errors).toEqual([refusal]);
      // One the client completes frees its place (the refused ones held none); the next one over is refused again.
      subscriptions.find((s) => s.data.length > 0)!.stop();
      const again = listen(client, 'subscription { claimStatusChanged { at } }');
      const over = listen(client, 'subscription { claimStatusChanged { at } }');
      await over.ended;
      expect(over.errors).toEqual([refusal]);
      await waitFor('the new one to hear the attacker\'s change', async () => {
        await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(41))]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return again.data.length > 0 || again.errors.length > 0;
      }, 10_000);
      expect(again.errors).toEqual([]);
    } finally {
      await client.dispose();
    }
  });
});

describe('an event that cannot be read again', () => {
  it('reaches the subscriber as an internal error with a reference, logged with its cause, as on HTTP: not in the database\'s words', async () => {
    const logged = vi.spyOn(log, 'error');
    const client = socketOf(await attackerToken());
    const holder = await db.pool.connect();
    try {
      const subscription = listen(client, 'subscription { claimStatusChanged { at } }');
      await waitFor('the subscription to be live', async () => {
        await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(50))]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return subscription.data.length > 0;
      }, 10_000);
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE claims IN ACCESS EXCLUSIVE MODE');
      const { rows: [held] } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(51))]);
      // The gateway's read of the claim waits for the lock; it is cancelled, as a statement timeout or a failover ends one.
      const waiting = await waitFor('the read of the claim to wait', async () => (await db.pool.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [held!.pid])).rows[0]?.pid);
      await db.pool.query('SELECT pg_cancel_backend($1)', [waiting]);
      await subscription.ended;
      const reference = subscription.errors[0]?.extensions?.reference;
      expect(subscription.errors).toEqual([{ message: `internal error (reference ${reference})`, extensions: { code: 'INTERNAL_SERVER_ERROR', reference: expect.any(String) } }]);
      expect(logged).toHaveBeenCalledWith(
        expect.objectContaining({ reference, err: expect.objectContaining({ message: 'canceling statement due to user request' }) }), 'internal error in a GraphQL operation',
      );
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
      logged.mockRestore();
      await client.dispose();
    }
  });
});

describe('job progress', () => {
  it('is for whoever may read the job: not a member, not another unit\'s operator, not a unit operator for reconciliation runs', async () => {
    const { rows: [row] } = await db.pool.query<{ id: number }>(
      `INSERT INTO roster_imports (file_name, sha256, default_unit_id, only_unit_id, created_by, created_by_role, status)
       VALUES ('r.csv', '\\x00', $1, $1, 'operator-victim', 'UNIT_OPERATOR', 'PENDING') RETURNING id`, [victim.unitId]);
    const importId = toGlobalId('RosterImport', row!.id);
    const otherUnit = await seedUnit(db.pool);
    const { rows: [victimUnit] } = await db.pool.query<{ creditCode: string }>('SELECT credit_code AS "creditCode" FROM units WHERE id = $1', [victim.unitId]);
    const PROGRESS = 'subscription($id: ID!) { rosterImportProgress(id: $id) { done state } }';
    for (const claims of [{ role: 'MEMBER' as const, member: toGlobalId('Member', victim.memberId) }, { role: 'UNIT_OPERATOR' as const, unit: otherUnit.creditCode }, { role: 'FINANCE' as const }]) {
      const refused = await subscribe(await gw.token(claims), PROGRESS, { id: importId }, () => false);
      expect(refused).toMatchObject({ data: [], errors: [{ extensions: { code: 'NOT_FOUND' } }] });
    }
    // The unit's own operator may: it hears the import's progress.
    const heard = subscribe(await gw.token({ role: 'UNIT_OPERATOR', unit: victimUnit!.creditCode }), PROGRESS, { id: importId }, (o) => o.data.length > 0);
    let answered = false;
    void heard.finally(() => { answered = true; });
    await waitFor('the operator to hear the progress', async () => {
      await publishJobProgress(gw.redis, gw.prefix, { kind: 'ROSTER_IMPORT', id: row!.id, done: 7, total: null, final: false });
      await new Promise((resolve) => setTimeout(resolve, 50));
      return answered;
    }, 10_000);
    expect(await heard).toEqual({ data: [{ done: 7, state: 'RUNNING' }], errors: [] });

    const { rows: [run] } = await db.pool.query<{ id: number }>(`INSERT INTO reconciliation_runs (account, started_by) VALUES ('6222000000000000', 'schedule') RETURNING id`);
    const runId = toGlobalId('ReconciliationRun', run!.id);
    for (const claims of [{ role: 'UNIT_OPERATOR' as const, unit: victimUnit!.creditCode }, { role: 'MEMBER' as const, member: toGlobalId('Member', victim.memberId) }, { role: 'REVIEWER' as const }]) {
      const refused = await subscribe(await gw.token(claims), 'subscription($id: ID!) { reconciliationRunProgress(id: $id) { done state } }', { id: runId }, () => false);
      expect(refused).toMatchObject({ data: [], errors: [{ extensions: { code: 'NOT_FOUND' } }] });
    }
  });
});
