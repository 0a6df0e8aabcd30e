import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimTimelines } from '../../src/figures/waiting.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { seedFigures, spreadClaimants, type Tree } from '../figures/support.ts';

/**
 * Who sees measured waiting: a claim's timeline only where the claim itself may be seen (a unit
 * operator its unit's, a member their own, staff bound to 晋江 its subtree's); the percentiles only
 * for the figures' readers, counted only over claims in their scope; bad ranges refused by field.
 */
let db: TestDatabase;
let gw: TestGateway;
let tree: Tree;
const FROM = '2026-03-01';
const TO = '2026-03-02';

const WAITING = `query($filter: PaymentWaitingFilter!) { paymentWaiting(filter: $filter) { claims overall { stage count } } }`;
const TIMELINE = `query($id: ID!) { claim(id: $id) { id timeline { receivedAt decidedAt approvedByRules } } }`;
const jj = (role: string) => ({ role, org: 'JJ', sub: `jj-${role.toLowerCase()}` }) as never;

interface ClaimRow { id: number; member_id: number; unit_id: number; credit_code: string; path: number[] }
let claims: ClaimRow[];

beforeAll(async () => {
  db = await freshDatabase();
  tree = await seedFigures(db.pool);
  await spreadClaimants(db.pool, tree);
  // Received over two China days, decided minutes later.
  await db.pool.query(
    `WITH c AS (SELECT settlement_id, row_number() OVER (ORDER BY id) AS i FROM claims)
     UPDATE settlements s SET received_at = (($1::date + (c.i % 2)::int) + time '10:00') AT TIME ZONE 'Asia/Shanghai' + c.i * interval '1 minute'
       FROM c WHERE c.settlement_id = s.id`, [FROM]);
  await db.pool.query(`UPDATE claims c SET decided_at = s.received_at + interval '7 minutes' FROM settlements s WHERE s.id = c.settlement_id AND c.decided_at IS NOT NULL`);
  claims = (await db.pool.query<ClaimRow>(
    `SELECT c.id::int, c.member_id::int, c.unit_id::int, u.credit_code, o.path::int[] AS path
       FROM claims c JOIN units u ON u.id = c.unit_id JOIN organisations o ON o.id = u.organisation_id ORDER BY c.id`)).rows;
  gw = await startTestGateway(db);
}, 120_000);
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const under = (org: number) => claims.filter((c) => c.path.includes(org));

describe('a claim\'s timeline', () => {
  it('a member sees their own claim\'s, never another member\'s', async () => {
    const [mine, theirs] = [claims[0]!, claims.find((c) => c.member_id !== claims[0]!.member_id)!];
    const member = { role: 'MEMBER', member: toGlobalId('Member', mine.member_id) } as never;
    const own = await gw.query(member, TIMELINE, { id: toGlobalId('Claim', mine.id) });
    expect(own.errors).toBeUndefined();
    expect(own.data.claim.timeline.receivedAt).toBeTruthy();
    const other = await gw.query(member, TIMELINE, { id: toGlobalId('Claim', theirs.id) });
    expect(other.data?.claim ?? null).toBeNull();
  });

  it('a unit operator and 晋江 staff see their own claims\' timelines only; the read itself is scoped too', async () => {
    const unit = claims[0]!;
    const operator = { role: 'UNIT_OPERATOR', unit: unit.credit_code } as never;
    const otherUnit = claims.find((c) => c.unit_id !== unit.unit_id)!;
    expect((await gw.query(operator, TIMELINE, { id: toGlobalId('Claim', unit.id) })).data.claim.timeline).not.toBeNull();
    expect((await gw.query(operator, TIMELINE, { id: toGlobalId('Claim', otherUnit.id) })).data?.claim ?? null).toBeNull();

    const inside = under(tree.JJ)[0]!;
    const outside = claims.find((c) => !c.path.includes(tree.JJ))!;
    expect((await gw.query(jj('REVIEWER'), TIMELINE, { id: toGlobalId('Claim', inside.id) })).data.claim.timeline).not.toBeNull();
    expect((await gw.query(jj('REVIEWER'), TIMELINE, { id: toGlobalId('Claim', outside.id) })).data?.claim ?? null).toBeNull();

    // Asked directly for claims outside the scope (as a loader might be), the store answers null.
    const scoped = await claimTimelines(db.pool, [otherUnit.id, unit.id], { ...UNSCOPED, unitId: unit.unit_id });
    expect(scoped.map((t) => t !== null)).toEqual([false, true]);
    const member = await claimTimelines(db.pool, [otherUnit.id], { ...UNSCOPED, memberId: unit.member_id });
    expect(member).toEqual([null]);
    const jjScope = await claimTimelines(db.pool, [outside.id, inside.id], { ...UNSCOPED, organisationId: tree.JJ });
    expect(jjScope.map((t) => t !== null)).toEqual([false, true]);
  });
});

describe('paymentWaiting', () => {
  it('unit operators and members are refused', async () => {
    const filter = { from: FROM, to: TO };
    expect((await gw.query({ role: 'UNIT_OPERATOR', unit: claims[0]!.credit_code } as never, WAITING, { filter })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gw.query({ role: 'MEMBER', member: toGlobalId('Member', claims[0]!.member_id) } as never, WAITING, { filter })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('晋江 staff count only 晋江\'s claims, and cannot ask for 泉州 above or 厦门 beside (as not found)', async () => {
    const filter = { from: FROM, to: TO };
    const all = await gw.query({ role: 'AUDITOR' }, WAITING, { filter });
    expect(all.data.paymentWaiting.claims).toBe(claims.length);
    const own = await gw.query(jj('FINANCE'), WAITING, { filter });
    const jjClaims = under(tree.JJ).length;
    expect(jjClaims).toBeGreaterThan(0);
    expect(jjClaims).toBeLessThan(claims.length);
    expect(own.data.paymentWaiting.claims).toBe(jjClaims);
    const decided = own.data.paymentWaiting.overall.find((s: { stage: string }) => s.stage === 'RECEIVED_TO_DECIDED').count;
    expect(decided).toBeLessThanOrEqual(jjClaims);
    for (const id of [tree.QZ, tree.XM]) {
      const other = await gw.query(jj('ADMIN'), WAITING, { filter: { ...filter, organisationId: toGlobalId('Organisation', id) } });
      expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    // 泉州's staff asking for 晋江 see exactly 晋江's claims.
    const qz = await gw.query({ role: 'REVIEWER', org: 'QZ' } as never, WAITING, { filter: { ...filter, organisationId: toGlobalId('Organisation', tree.JJ) } });
    expect(qz.data.paymentWaiting.claims).toBe(jjClaims);
  });

  it('bad ranges are refused naming the field', async () => {
    const cases = [
      [{ from: '2025-01-01', to: '2026-01-02' }, 'filter.to'],
      [{ from: TO, to: FROM }, 'filter.to'],
    ] as const;
    for (const [filter, field] of cases) {
      const result = await gw.query({ role: 'ADMIN' }, WAITING, { filter });
      expect(result.errors?.[0]?.extensions, JSON.stringify(filter)).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });
});
