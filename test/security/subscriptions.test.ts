import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedClaims, type ApprovedClaim } from '../payouts/support.ts';
import { seedUnit } from '../benefits/seed.ts';
import { publishJobProgress, publishStatusChanges, type StatusChange } from '../../src/events/statusEvents.ts';
import { waitFor } from '../support/waitFor.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';

/**
 * Subscriptions that resume (issue 16) as an attacker tries them: a replay from an old sequence
 * shows a member exactly what a live subscription would (their own claims, nothing announced for
 * others, nothing forged under their id), and a job's progress is for whoever may read the job.
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

/** Subscribes as `token` and collects what arrives until `until` holds or the server completes. */
async function subscribe(token: string, query: string, variables: Record<string, unknown>, until: (o: Outcome) => boolean): Promise<Outcome> {
  const client = createClient({ url: gw.url.replace('http:', 'ws:'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const outcome: Outcome = { data: [], errors: [] };
  try {
    await new Promise<void>((resolve, reject) => {
      client.subscribe({ query, variables }, {
        next: (r) => {
          if (r.errors) outcome.errors.push(...(r.errors as Outcome['errors']));
          if (r.data) outcome.data.push(Object.values(r.data)[0]);
          if (until(outcome)) resolve();
        },
        error: reject,
        complete: resolve,
      });
    });
  } finally {
    await client.dispose();
  }
  return outcome;
}

const CLAIMS = 'subscription($after: String) { claimStatusChanged(after: $after) { at sequence claim { id member { id } } } }';
const at = (n: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString();
const change = (claim: ApprovedClaim & { unitId: number }, at: string, as: Partial<StatusChange> = {}): StatusChange =>
  ({ kind: 'CLAIM', id: claim.claimId, memberId: claim.memberId, unitId: claim.unitId, status: 'APPROVED', at, ...as });

describe('claimStatusChanged replayed from `after`', () => {
  it('shows a member only their own claims: not another member\'s events, nor another\'s claim announced under their id', async () => {
    await publishStatusChanges(gw.redis, gw.prefix, [change(attacker, at(0))]);
    const start = (await gw.redis.xrevrange(`${gw.prefix}:events:claim`, '+', '-', 'COUNT', 1))[0]![0];
    await publishStatusChanges(gw.redis, gw.prefix, [
      change(victim, at(1)),
      // Forged: the victim's claim under the attacker's member and unit.
      change(victim, at(2), { memberId: attacker.memberId, unitId: attacker.unitId }),
      change(victim, at(3)),
      change(attacker, at(4)),
    ]);
    const token = await gw.token({ role: 'MEMBER', member: toGlobalId('Member', attacker.memberId), sub: 'attacker' });
    const replayed = await subscribe(token, CLAIMS, { after: start }, (o) => o.data.some((d) => (d as { at: string }).at === at(4)) || o.errors.length > 0);
    expect(replayed.errors).toEqual([]);
    expect(replayed.data).toEqual([{ at: at(4), sequence: expect.any(String), claim: { id: toGlobalId('Claim', attacker.claimId), member: { id: toGlobalId('Member', attacker.memberId) } } }]);
  });

  it('refuses to replay another member\'s claims to a member who names them', async () => {
    const token = await gw.token({ role: 'MEMBER', member: toGlobalId('Member', attacker.memberId), sub: 'attacker' });
    const refused = await subscribe(token, 'subscription($m: ID, $after: String) { claimStatusChanged(memberId: $m, after: $after) { at } }',
      { m: toGlobalId('Member', victim.memberId), after: '0-0' }, () => false);
    expect(refused.data).toEqual([]);
    expect(refused.errors[0]?.extensions?.code).toBe('NOT_FOUND');
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
