import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/pool.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { recordPayoutReturns, settlePayoutAttempts } from '../../src/payouts/bankEvents.ts';
import { startBank, testFilePki } from '../banks/simulator/support.ts';
import { seedEnrolledMember, type MemberSetup } from '../benefits/seed.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, keys, submissionContext } from '../payouts/support.ts';

/**
 * Issue 16, ids on the parts of an object (a member's changes, a unit's payments, a payout's
 * attempts and retry proposal): `node` shows each exactly to whoever sees it through its parent,
 * so an id copied from another unit's page, or guessed, reaches nothing more.
 */

const pki = testFilePki();
let db: TestDatabase;
let gw: TestGateway;
let a: MemberSetup;
let b: MemberSetup;

const ADMIN = { role: 'ADMIN', sub: 'admin-chen' } as const;
const NODES = `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`;

beforeAll(async () => {
  db = await freshDatabase();
  // The gateway and the payout worker share the personal-data key (batch files are kept encrypted).
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64') });
  a = await seedEnrolledMember(db.pool);
  b = await seedEnrolledMember(db.pool);
  for (const m of [a, b]) {
    await db.pool.query(
      `INSERT INTO member_changes (member_id, actor, role, action, field, before, after) VALUES ($1, 'admin-chen', 'ADMIN', 'member.update', 'NAME', '张三', '张叁')`,
      [m.memberId],
    );
  }
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

/** The ids of a member's change and of their unit's payment, as staff read them. */
async function idsOf(m: MemberSetup): Promise<{ change: string; payment: string }> {
  const res = await gw.query(ADMIN, `query($m: ID!) { member(id: $m) { changes { edges { node { id } } } unit { contribution(planYear: 2025) { payments { id } } } } }`,
    { m: toGlobalId('Member', m.memberId) });
  expect(res.errors).toBeUndefined();
  return { change: res.data.member.changes.edges[0].node.id, payment: res.data.member.unit.contribution.payments[0].id };
}

const nodes = async (auth: Parameters<TestGateway['query']>[0], ids: string[]) => {
  const res = await gw.query(auth, NODES, { ids });
  expect(res.errors).toBeUndefined();
  return res.data.nodes.map((n: { id: string } | null) => n?.id ?? null);
};

describe('member changes and contribution payments by id', () => {
  it('a unit operator fetches their own unit\'s, never another unit\'s; a member and a reviewer reach what their role reads, no more', async () => {
    const own = await idsOf(a);
    const other = await idsOf(b);
    const ids = [own.change, own.payment, other.change, other.payment];
    expect(await nodes(ADMIN, ids)).toEqual(ids);
    expect(await nodes({ role: 'UNIT_OPERATOR', unit: a.creditCode }, ids)).toEqual([own.change, own.payment, null, null]);
    // A member reads neither changes nor their unit's finances, even their own (as Member.changes and Unit.contribution).
    expect(await nodes({ role: 'MEMBER', member: toGlobalId('Member', a.memberId) }, ids)).toEqual([null, null, null, null]);
    // A reviewer reads contributions, but no member's change history.
    expect(await nodes({ role: 'REVIEWER' }, ids)).toEqual([null, own.payment, null, other.payment]);
  });

  it('answers null to a guessed, mistyped or malformed id', async () => {
    const { rows: [max] } = await db.pool.query<{ change: number; payment: number }>(
      `SELECT (SELECT max(id) FROM member_changes) AS change, (SELECT max(id) FROM contribution_payments) AS payment`,
    );
    const ids = [
      toGlobalId('MemberChange', max!.change + 1000), toGlobalId('ContributionPayment', max!.payment + 1000),
      toGlobalId('ContributionPayment', `${a.unitId}-2025`), toGlobalId('MemberChange', '-1'), 'TWVtYmVyQ2hhbmdlOjE7IERST1AgVEFCTEU',
    ];
    expect(await nodes(ADMIN, ids)).toEqual(ids.map(() => null));
  });
});

describe('payout attempts and retry proposals by id', () => {
  it('are seen as their payout is; a proposal only by those who see batches, and only while it awaits confirmation', async () => {
    const claims = await approvedClaims(db.pool, 2);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
    } finally {
      ctx.remove();
    }
    const { rows } = await db.pool.query<{ id: number; endToEndId: string; payoutId: number; memberId: number; creditCode: string }>(
      `SELECT a.id, a.end_to_end_id AS "endToEndId", a.payout_id AS "payoutId", p.member_id AS "memberId", u.credit_code AS "creditCode"
         FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN units u ON u.id = p.unit_id ORDER BY a.id`,
    );
    const [mine, theirs] = [rows.find((r) => r.memberId === claims[0]!.memberId)!, rows.find((r) => r.memberId === claims[1]!.memberId)!];
    // The bank takes the first one back after paying it: retrying it needs two FINANCE people.
    await inTransaction(db.pool, (tx) => settlePayoutAttempts(tx, [mine.id]));
    await inTransaction(db.pool, (tx) => recordPayoutReturns(tx, [{ endToEndId: mine.endToEndId, reasonCode: 'AC04', reason: 'closed account' }]));
    const RETRY = `mutation($id: ID!, $reason: String!) { retryPayout(input: { payoutId: $id, reason: $reason }) { userErrors { code } } }`;
    const payoutId = toGlobalId('Payout', mine.payoutId);
    expect((await gw.query({ role: 'FINANCE', sub: 'finance-wang' }, RETRY, { id: payoutId, reason: 'the bank says it came back' })).data.retryPayout.userErrors).toEqual([]);

    const PAYOUT = `query($id: ID!) { payout(id: $id) {
      attempts { id endToEndId status }
      retryProposal { id proposedBy proposer { subject role isViewer } reason }
    } }`;
    const seen = (await gw.query({ role: 'FINANCE', sub: 'finance-zhao' }, PAYOUT, { id: payoutId })).data.payout;
    expect(seen.retryProposal).toMatchObject({ proposedBy: 'finance-wang', proposer: { subject: 'finance-wang', role: 'FINANCE', isViewer: false } });
    const [attempt] = seen.attempts;
    expect(attempt.endToEndId).toBe(mine.endToEndId);
    // Each id fetches back the same object.
    const ATTEMPT = `query($id: ID!) { node(id: $id) { id ... on PayoutAttempt { endToEndId status } } }`;
    const PROPOSAL = `query($id: ID!) { node(id: $id) { id ... on PayoutRetryProposal { proposedBy proposer { subject role isViewer } reason } } }`;
    expect((await gw.query({ role: 'FINANCE', sub: 'finance-zhao' }, ATTEMPT, { id: attempt.id })).data.node).toEqual(attempt);
    expect((await gw.query({ role: 'FINANCE', sub: 'finance-zhao' }, PROPOSAL, { id: seen.retryProposal.id })).data.node).toEqual(seen.retryProposal);

    const otherAttempt = toGlobalId('PayoutAttempt', theirs.id);
    const ids = [attempt.id, seen.retryProposal.id, otherAttempt];
    expect(await nodes({ role: 'AUDITOR' }, ids)).toEqual(ids);
    // Their own unit's payout: its attempts, not the proposal (no batches for a unit operator or a member).
    expect(await nodes({ role: 'UNIT_OPERATOR', unit: mine.creditCode }, ids)).toEqual([attempt.id, null, null]);
    expect(await nodes({ role: 'MEMBER', member: toGlobalId('Member', mine.memberId) }, ids)).toEqual([attempt.id, null, null]);
    expect(await nodes({ role: 'UNIT_OPERATOR', unit: theirs.creditCode }, ids)).toEqual([null, null, otherAttempt]);
    // The other member sees their own payout's attempt only.
    expect(await nodes({ role: 'MEMBER', member: toGlobalId('Member', theirs.memberId) }, ids)).toEqual([null, null, otherAttempt]);

    // Confirmed, it no longer awaits anyone: gone from the payout and from `node` alike.
    expect((await gw.query({ role: 'FINANCE', sub: 'finance-zhao' }, RETRY, { id: payoutId, reason: 'checked the statement with the bank' })).data.retryPayout.userErrors).toEqual([]);
    expect((await gw.query(ADMIN, PAYOUT, { id: payoutId })).data.payout.retryProposal).toBeNull();
    expect(await nodes(ADMIN, [seen.retryProposal.id])).toEqual([null]);
  });
});
