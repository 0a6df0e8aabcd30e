import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { withLuhnCheck } from '../../src/kernel/identifiers.ts';
import { lookupHash } from '../../src/privacy/personalData.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { deliverDue } from '../../src/notifications/delivery.ts';
import { deliveryContext, simulatorSettings, startNotifySimulator } from '../notifications/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedClaims, keys, payoutsOf, resetPayouts, settings } from '../payouts/support.ts';

/**
 * Issue 17, self-service: a member changes its own bank account. Bad input is refused field by
 * field with nothing written; a good change is recorded, audited and told to the member, and the
 * payouts to the new card wait out the cooling-off (or a second person's confirmation), which the
 * member cannot give itself. A change by staff is told to the member too.
 */

let db: TestDatabase;
let gw: TestGateway;
const BANK = '102397000011';
const SEEDED_NAME = '测试'; // the name test/benefits/seed.ts registers members under
const COOLING_OFF_MS = 7 * 86_400_000; // BANK_CARD_COOLING_OFF_DAYS' default

const card = (n: number) => withLuhnCheck(`62220290${String(n).padStart(10, '0')}`);
/** The same card with its last digit changed: the Luhn check fails. */
const badLuhn = (n: number) => { const c = card(n); return c.slice(0, -1) + String((Number(c.at(-1)) + 1) % 10); };

const member = (memberId: number) => ({ role: 'MEMBER' as const, member: toGlobalId('Member', memberId), sub: `member-${memberId}` });
const FINANCE = { role: 'FINANCE' as const, sub: 'finance-wang' };
const ADMIN = { role: 'ADMIN' as const, sub: 'admin-zhang' };

const ACCOUNT = 'bankAccount { cardNumberMasked bankCode changedAt changer { subject role } confirmedAt payableFrom }';
const CHANGE = `mutation($input: ChangeMyBankAccountInput!) { changeMyBankAccount(input: $input) { member { id ${ACCOUNT} } userErrors { field code message } } }`;
const CONFIRM = `mutation($input: ConfirmBankCardChangeInput!) { confirmBankCardChange(input: $input) { member { ${ACCOUNT} } userErrors { field code message } } }`;
const UPDATE = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { ${ACCOUNT} } userErrors { field code message } } }`;

/** Everything a bank account change writes, for one member. */
async function written(memberId: number) {
  const { rows: [m] } = await db.pool.query(
    `SELECT bank_card_hash, bank_code, bank_card_changed_at, bank_card_changed_by, bank_card_confirmed_at FROM members WHERE id = $1`, [memberId]);
  const { rows: changes } = await db.pool.query(`SELECT field, actor, role, action FROM member_changes WHERE member_id = $1 ORDER BY id`, [memberId]);
  const { rows: notifications } = await db.pool.query(
    `SELECT kind, subject_type, subject_id, event_key, facts FROM notifications WHERE member_id = $1 AND kind = 'BANK_ACCOUNT_CHANGED' ORDER BY id`, [memberId]);
  const { rows: audits } = await db.pool.query(
    `SELECT action, actor, details FROM audit_log WHERE target_type = 'Member' AND target_id = $1 ORDER BY seq`, [String(memberId)]);
  return { member: m, changes, notifications, audits };
}

beforeAll(async () => {
  db = await freshDatabase();
  // The payout planner and the gateway share the personal-data key.
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64') });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('changeMyBankAccount', () => {
  it('refuses a wrong holder name, a bad Luhn digit and a bad bank code, all at once, and writes nothing', async () => {
    await resetPayouts(db.pool);
    const [claim] = await approvedClaims(db.pool, 1);
    const before = await written(claim!.memberId);
    const result = await gw.query(member(claim!.memberId), CHANGE, {
      input: { accountHolderName: '张三', cardNumber: badLuhn(1), bankCode: '10239700001' },
    });
    expect(result.data.changeMyBankAccount.member).toBeNull();
    expect(result.data.changeMyBankAccount.userErrors).toEqual([
      { field: 'input.accountHolderName', code: 'INVALID', message: expect.stringContaining('your own name') },
      { field: 'input.cardNumber', code: 'INVALID', message: expect.stringContaining('Luhn') },
      { field: 'input.bankCode', code: 'INVALID', message: expect.stringContaining('12-digit') },
    ]);
    // One bad field alone is refused as well: an account number that is no card, a name with another character.
    const notACard = await gw.query(member(claim!.memberId), CHANGE, { input: { accountHolderName: SEEDED_NAME, cardNumber: '1234567890123', bankCode: BANK } });
    expect(notACard.data.changeMyBankAccount.userErrors).toEqual([expect.objectContaining({ field: 'input.cardNumber', code: 'INVALID' })]);
    const otherName = await gw.query(member(claim!.memberId), CHANGE, { input: { accountHolderName: `${SEEDED_NAME}一`, cardNumber: card(1), bankCode: BANK } });
    expect(otherName.data.changeMyBankAccount.userErrors).toEqual([expect.objectContaining({ field: 'input.accountHolderName', code: 'INVALID' })]);
    expect(await written(claim!.memberId)).toEqual(before);
  });

  it('holds payouts to the new card until the cooling-off ends; the member cannot confirm it; told once', async () => {
    await resetPayouts(db.pool);
    const [claim] = await approvedClaims(db.pool, 1);
    await db.pool.query(`UPDATE members SET phone = '13900000021' WHERE id = $1`, [claim!.memberId]);
    const me = member(claim!.memberId);
    // Spaces in the number and a full-width space in the name are what people type.
    const result = await gw.query(me, CHANGE, { input: { accountHolderName: ` 测\u3000试 `, cardNumber: card(2).replace(/(\d{4})/g, '$1 '), bankCode: BANK } });
    expect(result.data.changeMyBankAccount.userErrors).toEqual([]);
    const account = result.data.changeMyBankAccount.member.bankAccount;
    expect(account).toMatchObject({ bankCode: BANK, changer: { subject: me.sub }, confirmedAt: null, cardNumberMasked: expect.stringMatching(new RegExp(`${card(2).slice(-4)}$`)) });
    expect(new Date(account.payableFrom).getTime() - new Date(account.changedAt).getTime()).toBe(COOLING_OFF_MS);

    const after = await written(claim!.memberId);
    expect(after.member.bank_card_hash).toEqual(lookupHash(keys, card(2)));
    expect(after.member.bank_card_changed_by).toBe(me.sub);
    expect(after.changes).toEqual([{ field: 'BANK_ACCOUNT', actor: me.sub, role: 'MEMBER', action: 'member.update' }]);
    expect(after.audits).toEqual([expect.objectContaining({ action: 'member.changeOwnBankAccount', actor: me.sub })]);
    expect(after.notifications).toEqual([{
      kind: 'BANK_ACCOUNT_CHANGED', subject_type: 'Member', subject_id: claim!.memberId, event_key: expect.stringMatching(/^\d+$/),
      facts: { changedAt: new Date(account.changedAt).toISOString(), byMember: true, actorRole: 'MEMBER', firstAccount: false, payableFrom: new Date(account.payableFrom).toISOString() },
    }]);
    // Figures only: neither the card nor the name is in what the member is told.
    const told = JSON.stringify(after.notifications);
    for (const secret of [card(2), card(2).slice(-4), SEEDED_NAME]) expect(told).not.toContain(secret);

    // The payout to the new card waits.
    await planPayouts(db.pool, settings);
    expect((await payoutsOf(db.pool)).find((p) => p.claimId === claim!.claimId)).toMatchObject({ status: 'HELD', statusReason: expect.stringContaining('bank card changed on') });

    // The member cannot confirm its own change: not as MEMBER, not with a staff role under the same subject.
    const own = await gw.query(me, CONFIRM, { input: { memberId: toGlobalId('Member', claim!.memberId), changedAt: account.changedAt, reason: 'it is my card' } });
    expect(own.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const sameSubject = await gw.query({ role: 'FINANCE', sub: me.sub }, CONFIRM, { input: { memberId: toGlobalId('Member', claim!.memberId), changedAt: account.changedAt, reason: 'it is my card' } });
    expect(sameSubject.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' }, message: expect.stringContaining('you replaced this bank account') });
    expect((await written(claim!.memberId)).member.bank_card_confirmed_at).toBeNull();

    // Sending it again changes nothing and tells nothing more.
    const again = await gw.query(me, CHANGE, { input: { accountHolderName: SEEDED_NAME, cardNumber: card(2), bankCode: BANK } });
    expect(again.data.changeMyBankAccount.userErrors).toEqual([expect.objectContaining({ field: 'input.cardNumber', code: 'CONFLICT' })]);
    expect((await written(claim!.memberId)).notifications).toHaveLength(1);

    // Seven days later (the change moved back in time), the member told by SMS, the payout is released.
    await planPayouts(db.pool, settings);
    expect((await payoutsOf(db.pool)).find((p) => p.claimId === claim!.claimId)?.status).toBe('HELD');
    const sim = await startNotifySimulator();
    try {
      await deliverDue(deliveryContext(db.pool, simulatorSettings(sim)));
    } finally {
      await sim.close();
    }
    await db.pool.query(`UPDATE members SET bank_card_changed_at = bank_card_changed_at - interval '7 days 1 minute' WHERE id = $1`, [claim!.memberId]);
    expect(await planPayouts(db.pool, settings)).toMatchObject({ released: 1 });
    expect((await payoutsOf(db.pool)).find((p) => p.claimId === claim!.claimId)?.status).toBe('READY');
  });

  it('a second person (FINANCE) may release it before the cooling-off ends', async () => {
    await resetPayouts(db.pool);
    const [claim] = await approvedClaims(db.pool, 1);
    const me = member(claim!.memberId);
    expect((await gw.query(me, CHANGE, { input: { accountHolderName: SEEDED_NAME, cardNumber: card(3), bankCode: BANK } })).data.changeMyBankAccount.userErrors).toEqual([]);
    await planPayouts(db.pool, settings);
    expect((await payoutsOf(db.pool)).find((p) => p.claimId === claim!.claimId)?.status).toBe('HELD');
    const checked = await gw.query(FINANCE, `query($id: ID!) { member(id: $id) { bankAccount { changedAt } } }`, { id: toGlobalId('Member', claim!.memberId) });
    const confirmed = await gw.query(FINANCE, CONFIRM, { input: { memberId: toGlobalId('Member', claim!.memberId), changedAt: checked.data.member.bankAccount.changedAt, reason: 'called the member back' } });
    expect(confirmed.data.confirmBankCardChange.userErrors).toEqual([]);
    expect(confirmed.data.confirmBankCardChange.member.bankAccount.confirmedAt).not.toBeNull();
    expect(await planPayouts(db.pool, settings)).toMatchObject({ released: 1 });
  });

  it('a member\'s first card starts no cooling-off (as for staff), and is told', async () => {
    await resetPayouts(db.pool);
    const [claim] = await approvedClaims(db.pool, 1, { 0: null });
    const result = await gw.query(member(claim!.memberId), CHANGE, { input: { accountHolderName: SEEDED_NAME, cardNumber: card(4), bankCode: BANK } });
    expect(result.data.changeMyBankAccount.member.bankAccount).toMatchObject({ changedAt: null, payableFrom: null });
    expect((await written(claim!.memberId)).notifications).toEqual([expect.objectContaining({ facts: expect.objectContaining({ firstAccount: true, payableFrom: null }) })]);
  });
});

describe('a change by staff is told to the member', () => {
  it('updateMember records one BANK_ACCOUNT_CHANGED per change of the account, none for other fields', async () => {
    await resetPayouts(db.pool);
    const [claim] = await approvedClaims(db.pool, 1);
    const memberId = toGlobalId('Member', claim!.memberId);
    const first = await gw.query(ADMIN, UPDATE, { input: { memberId, bankAccount: { cardNumber: card(5), bankCode: BANK } } });
    expect(first.data.updateMember.userErrors).toEqual([]);
    const phoneOnly = await gw.query(ADMIN, UPDATE, { input: { memberId, phone: '13800000009' } });
    expect(phoneOnly.data.updateMember.userErrors).toEqual([]);
    const second = await gw.query(ADMIN, UPDATE, { input: { memberId, bankAccount: { cardNumber: card(6), bankCode: BANK } } });
    expect(second.data.updateMember.userErrors).toEqual([]);

    const { notifications, changes } = await written(claim!.memberId);
    const accountChanges = changes.filter((c) => c.field === 'BANK_ACCOUNT');
    expect(accountChanges).toHaveLength(2);
    expect(notifications).toHaveLength(2);
    expect(new Set(notifications.map((n) => n.event_key)).size).toBe(2);
    for (const n of notifications) {
      expect(n).toMatchObject({ kind: 'BANK_ACCOUNT_CHANGED', facts: { byMember: false, actorRole: 'ADMIN', firstAccount: false } });
    }
    expect(notifications[1]!.facts.payableFrom).toBe(new Date(second.data.updateMember.member.bankAccount.payableFrom).toISOString());
  });
});
