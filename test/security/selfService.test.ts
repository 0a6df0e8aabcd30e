import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { withCreditCodeCheck, withLuhnCheck } from '../../src/kernel/identifiers.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { ensureUnit, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedClaims, keys, settings, type ApprovedClaim } from '../payouts/support.ts';

/**
 * Issue 17, the members' own channel: a member changes only its own bank account (the member is the
 * token's, never the input's) and reads only its own records; staff of another unit, read-only
 * roles and forged or oversized input change nothing; the breach list is for staff.
 */

let db: TestDatabase;
let gw: TestGateway;
let a: ApprovedClaim;
let b: ApprovedClaim;
const NAME = '测试'; // both seeded members' registered name (test/benefits/seed.ts)
const BANK = '102397000011';
const card = (n: number) => withLuhnCheck(`62220291${String(n).padStart(10, '0')}`);
const memberToken = (memberId: number) => ({ role: 'MEMBER' as const, member: toGlobalId('Member', memberId), sub: `member-${memberId}` });

const CHANGE = `mutation($input: ChangeMyBankAccountInput!) { changeMyBankAccount(input: $input) { member { id } userErrors { field code message } } }`;
const UPDATE = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { id } userErrors { field code message } } }`;

/** What any bank account change would write for a member: its account, changes, notifications. */
async function footprint(memberId: number) {
  const { rows: [m] } = await db.pool.query(`SELECT bank_card_hash, bank_code, bank_card_changed_at FROM members WHERE id = $1`, [memberId]);
  const { rows: [n] } = await db.pool.query(
    `SELECT (SELECT count(*) FROM member_changes WHERE member_id = $1)::int AS changes,
            (SELECT count(*) FROM notifications WHERE member_id = $1 AND kind = 'BANK_ACCOUNT_CHANGED')::int AS told`, [memberId]);
  return { ...m, ...n };
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64') });
  [a, b] = (await approvedClaims(db.pool, 2)) as [ApprovedClaim, ApprovedClaim];
  await planPayouts(db.pool, settings);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('a member changes only its own account', () => {
  it('refuses a member id in the input before anything runs', async () => {
    const before = await footprint(b.memberId);
    const result = await gw.query(memberToken(a.memberId), CHANGE, {
      input: { memberId: toGlobalId('Member', b.memberId), accountHolderName: NAME, cardNumber: card(1), bankCode: BANK },
    });
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.message).toMatch(/memberId/);
    expect(await footprint(b.memberId)).toEqual(before);
    expect(await footprint(a.memberId)).toMatchObject({ changes: 0, told: 0 });
  });

  it('changes the token\'s member, whatever name is given: another person\'s name is refused', async () => {
    const before = await footprint(b.memberId);
    const otherName = await gw.query(memberToken(a.memberId), CHANGE, { input: { accountHolderName: '李四', cardNumber: card(2), bankCode: BANK } });
    expect(otherName.data.changeMyBankAccount.userErrors).toEqual([expect.objectContaining({ field: 'input.accountHolderName', code: 'INVALID' })]);
    const own = await gw.query(memberToken(a.memberId), CHANGE, { input: { accountHolderName: NAME, cardNumber: card(3), bankCode: BANK } });
    expect(own.data.changeMyBankAccount.member.id).toBe(toGlobalId('Member', a.memberId));
    expect(await footprint(b.memberId)).toEqual(before);
  });

  it('a token for a member that does not exist changes nothing', async () => {
    const ghost = await gw.query(memberToken(999_999), CHANGE, { input: { accountHolderName: NAME, cardNumber: card(4), bankCode: BANK } });
    expect(ghost.data.changeMyBankAccount).toEqual({ member: null, userErrors: [expect.objectContaining({ code: 'NOT_FOUND' })] });
    const { rows: [n] } = await db.pool.query(`SELECT count(*)::int AS n FROM member_changes WHERE member_id = 999999`);
    expect(n.n).toBe(0);
  });

  it('a MEMBER token whose member claim is another type of object is not accepted', async () => {
    const forged = await gw.query({ role: 'MEMBER', member: toGlobalId('Claim', b.claimId), sub: 'forger' }, CHANGE, {
      input: { accountHolderName: NAME, cardNumber: card(5), bankCode: BANK },
    });
    expect(forged.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses oversized and unstorable input by field, writing nothing', async () => {
    const before = await footprint(a.memberId);
    const long = await gw.query(memberToken(a.memberId), CHANGE, { input: { accountHolderName: '测'.repeat(5_000), cardNumber: '6'.repeat(500), bankCode: '1'.repeat(200) } });
    expect(long.data.changeMyBankAccount).toEqual({
      member: null,
      userErrors: ['input.accountHolderName', 'input.cardNumber', 'input.bankCode'].map((field) => expect.objectContaining({ field, code: 'INVALID' })),
    });
    const nul = await gw.query(memberToken(a.memberId), CHANGE, { input: { accountHolderName: `${NAME}\u0000`, cardNumber: card(6), bankCode: BANK } });
    expect(nul.data.changeMyBankAccount).toEqual({
      member: null, userErrors: [expect.objectContaining({ field: 'input.accountHolderName', code: 'INVALID', message: expect.stringContaining('U+0000') })],
    });
    expect(await footprint(a.memberId)).toEqual(before);
  });

  it('is for MEMBER only: staff of another unit, AUDITOR and SERVICE are refused, and cannot reach the member through updateMember', async () => {
    const before = await footprint(a.memberId);
    const otherUnit = withCreditCodeCheck('91350500MA0000917');
    await ensureUnit(gw, otherUnit, '泉州某电子有限公司');
    const operator = { role: 'UNIT_OPERATOR' as const, unit: otherUnit, sub: 'operator-other' };
    for (const who of [operator, { role: 'AUDITOR' as const }, { role: 'SERVICE' as const }, { role: 'ADMIN' as const }]) {
      const result = await gw.query(who, CHANGE, { input: { accountHolderName: NAME, cardNumber: card(7), bankCode: BANK } });
      expect(result.errors?.[0]?.extensions?.code, who.role).toBe('FORBIDDEN');
    }
    const viaUpdate = await gw.query(operator, UPDATE, { input: { memberId: toGlobalId('Member', a.memberId), bankAccount: { cardNumber: card(8), bankCode: BANK } } });
    expect(viaUpdate.data.updateMember.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
    const byAuditor = await gw.query({ role: 'AUDITOR' }, UPDATE, { input: { memberId: toGlobalId('Member', a.memberId), bankAccount: { cardNumber: card(9), bankCode: BANK } } });
    expect(byAuditor.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await footprint(a.memberId)).toEqual(before);
  });
});

describe('a member reads only its own records', () => {
  const VIEW = `{ viewer { member { id bankAccount { id payableFrom }
      enrolments { edges { node { id planYear contributionCovered } } }
      claims { edges { node { id status stage { zh en } turnaround { decisionDueBy decisionBreached paymentBreached }
                              lines { amountFen explanation { zh en } } payout { status } } } }
      payouts { edges { node { id status statusReason } } } } } }`;

  it('reads its enrolments, claims with their explanation, stage and turnaround, and payouts in one query', async () => {
    const result = await gw.query(memberToken(b.memberId), VIEW);
    expect(result.errors).toBeUndefined();
    const me = result.data.viewer.member;
    expect(me.id).toBe(toGlobalId('Member', b.memberId));
    // Its claim was approved, so its unit's contribution covers it (coverage per enrolment).
    expect(me.enrolments.edges.map((e: { node: { contributionCovered: boolean } }) => e.node.contributionCovered)).toEqual([true]);
    expect(me.claims.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([toGlobalId('Claim', b.claimId)]);
    const [claim] = me.claims.edges.map((e: { node: unknown }) => e.node);
    expect(claim).toMatchObject({ status: 'APPROVED', stage: { zh: '已批准，待付款' }, payout: { status: 'READY' } });
    expect(claim.lines.length).toBeGreaterThan(0);
    expect(claim.lines[0].explanation.zh.length).toBeGreaterThan(0);
    expect(me.payouts.edges).toHaveLength(1);
  });

  it('sees nothing of another member: member, claim, payout, bank account, lists', async () => {
    const { data: { member: other } } = await gw.query({ role: 'ADMIN' }, `query($id: ID!) { member(id: $id) { bankAccount { id } payouts { edges { node { id } } } } }`, { id: toGlobalId('Member', b.memberId) });
    const asA = memberToken(a.memberId);
    const lookups = await gw.query(asA, `query($m: ID!, $c: ID!, $p: ID!, $acc: ID!) {
      member(id: $m) { id } claim(id: $c) { id } payout(id: $p) { id } node(id: $acc) { id }
      claims { edges { node { member { id } } } } payouts { edges { node { member { id } } } } }`, {
      m: toGlobalId('Member', b.memberId), c: toGlobalId('Claim', b.claimId), p: other.payouts.edges[0].node.id, acc: other.bankAccount.id,
    });
    expect(lookups.errors).toBeUndefined();
    expect(lookups.data).toMatchObject({ member: null, claim: null, payout: null, node: null });
    for (const list of [lookups.data.claims, lookups.data.payouts]) {
      expect(list.edges.map((e: { node: { member: { id: string } } }) => e.node.member.id)).toEqual([toGlobalId('Member', a.memberId)]);
    }
  });

  it('the breach list is for staff only', async () => {
    const BREACHES = `{ claimTurnaroundBreaches { totalCount } }`;
    for (const who of [memberToken(a.memberId), { role: 'UNIT_OPERATOR' as const, unit: withCreditCodeCheck('91350500MA0000917') }, { role: 'SERVICE' as const }]) {
      const result = await gw.query(who, BREACHES);
      expect(result.errors?.[0]?.extensions?.code, who.role).toBe('FORBIDDEN');
      expect(result.data).toBeNull();
    }
    expect((await gw.query({ role: 'AUDITOR' }, BREACHES)).errors).toBeUndefined();
  });
});
