import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/pool.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { protectBankCard } from '../../src/members/memberFields.ts';
import { recordChangeAlerts } from '../../src/members/selfService.ts';
import { changeMember, confirmBankCardChange } from '../../src/members/store.ts';
import { deliverDue } from '../../src/notifications/delivery.ts';
import { config } from '../../src/config.ts';
import { approveBatch, createBatch } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { approvePaymentPolicy, proposePaymentPolicy, releaseUnderPolicies } from '../../src/payouts/policies.ts';
import { sealBatch } from '../../src/payouts/sealing.ts';
import { initiatingParty } from '../../src/payouts/settings.ts';
import { openAccount, PAYEE_BANK, testFilePki } from '../banks/simulator/support.ts';
import { deliveryContext, simulatorSettings, startNotifySimulator } from '../notifications/support.ts';
import { approvedClaims, clerk, finance, handMadePolicyRelease, keys, sealedFile, settings } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * A replaced card waits out BANK_CARD_COOLING_OFF_DAYS so that the member, told by SMS on the phone
 * on record before the change, can object. A member registered with a landline (the SMS provider
 * refuses it, the alert ends FAILED) or with no phone is told nothing: an insider (a unit operator's
 * updateMember or roster row) replaced the card, or first swapped the landline for their own mobile
 * (that alert failing too) and then the card, and once the cooling-off passed the payouts went to
 * the insider's card. Such a card is now paid only after a second person's confirmation: in
 * planning (HELD, with the reason), in a standing policy's release (worker and trigger).
 */
let db: TestDatabase;
const operator = { subject: 'operator-insider', role: 'UNIT_OPERATOR' };
const LANDLINE = '0595-22345678';
const INSIDER_MOBILE = '13700000099';
const GOOD_MOBILE = '13900000001';

beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await db.drop();
});

/** updateMember's store write and its alerts, as the unit's operator makes them. */
async function changeAsOperator(memberId: number, change: { phone?: string; card?: string }): Promise<void> {
  const unitId = (await db.pool.query<{ unitId: number }>('SELECT unit_id AS "unitId" FROM members WHERE id = $1', [memberId])).rows[0]!.unitId;
  await inTransaction(db.pool, async (tx) => {
    const changed = await changeMember(tx, memberId, unitId, {
      ...(change.phone ? { phone: change.phone } : {}),
      ...(change.card ? { bankCard: protectBankCard(keys, change.card, PAYEE_BANK) } : {}),
    }, { actor: operator, action: 'member.update' });
    await recordChangeAlerts(tx, changed!.member, changed!.changes, operator, settings.coolingOffDays);
  });
}

/** The notification worker's round against the SMS simulator (which takes mobile numbers only). */
async function deliverAlerts(): Promise<{ kind: string; status: string }[]> {
  const sim = await startNotifySimulator();
  try {
    await deliverDue(deliveryContext(db.pool, simulatorSettings(sim)));
  } finally {
    await sim.close();
  }
  const { rows } = await db.pool.query<{ kind: string; status: string }>(
    `SELECT n.kind, d.status FROM notifications n JOIN notification_deliveries d ON d.notification_id = n.id
      WHERE n.kind IN ('BANK_ACCOUNT_CHANGED', 'PHONE_CHANGED') ORDER BY n.id, d.channel`,
  );
  return rows;
}

/** The cooling-off has passed: the replacement (and its history) dated cooling-off + 1 days ago. */
async function coolingOffPassed(memberId: number): Promise<void> {
  const ago = `${settings.coolingOffDays + 1} days`;
  await db.pool.query(`UPDATE members SET bank_card_changed_at = bank_card_changed_at - $2::interval WHERE id = $1`, [memberId, ago]);
  // member_changes is append-only (a trigger): only the test's own session steps around it.
  await inTransaction(db.pool, async (tx) => {
    await tx.query(`SET LOCAL session_replication_role = replica`);
    await tx.query(`UPDATE member_changes SET at = at - $2::interval WHERE member_id = $1`, [memberId, ago]);
  });
}

async function payoutOf(memberId: number): Promise<{ id: number; status: string; reason: string | null }> {
  return (await db.pool.query<{ id: number; status: string; reason: string | null }>(
    'SELECT id, status, status_reason AS reason FROM payouts WHERE member_id = $1', [memberId])).rows[0]!;
}

async function withPhone(memberId: number, phone: string | null): Promise<void> {
  await db.pool.query('UPDATE members SET phone = $2 WHERE id = $1', [memberId, phone]);
}

describe('a replaced card whose member was never told', () => {
  it('a landline member\'s card replaced by an insider is not paid when the cooling-off passes; a second person\'s confirmation releases it', async () => {
    const [untold, told] = await approvedClaims(db.pool, 2);
    await withPhone(untold!.memberId, LANDLINE);
    await withPhone(told!.memberId, GOOD_MOBILE);
    await changeAsOperator(untold!.memberId, { card: openAccount() });
    await changeAsOperator(told!.memberId, { card: openAccount() });
    expect(await deliverAlerts()).toEqual([{ kind: 'BANK_ACCOUNT_CHANGED', status: 'FAILED' }, { kind: 'BANK_ACCOUNT_CHANGED', status: 'SENT' }]);
    await coolingOffPassed(untold!.memberId);
    await coolingOffPassed(told!.memberId);

    await planPayouts(db.pool, settings);
    // The member told on its mobile is paid after the cooling-off, as before.
    expect((await payoutOf(told!.memberId)).status).toBe('READY');
    const held = await payoutOf(untold!.memberId);
    expect(held.status).toBe('HELD');
    expect(held.reason).toMatch(/second person's confirmation.*was not told/);
    const batch = await createBatch(db.pool, clerk, settings, 100);
    const { rows: inBatch } = await db.pool.query('SELECT payout_id FROM payout_attempts WHERE batch_id = $1', [batch!.id]);
    expect(inBatch.map((r) => Number(r.payout_id))).toEqual([(await payoutOf(told!.memberId)).id]);

    // FINANCE, who did not replace it, checks the card with the member and confirms it: it is paid.
    const changedAt = (await db.pool.query<{ at: Date }>('SELECT bank_card_changed_at AS at FROM members WHERE id = $1', [untold!.memberId])).rows[0]!.at;
    await inTransaction(db.pool, (tx) => confirmBankCardChange(tx, untold!.memberId, changedAt, finance.subject));
    await planPayouts(db.pool, settings);
    expect(await payoutOf(untold!.memberId)).toMatchObject({ status: 'READY', reason: null });
  });

  it('an insider who swapped the landline for their own mobile first, then the card: the card\'s alert reached the insider, and it still waits', async () => {
    const [member] = await approvedClaims(db.pool, 1);
    await withPhone(member!.memberId, LANDLINE);
    await changeAsOperator(member!.memberId, { phone: INSIDER_MOBILE });
    await changeAsOperator(member!.memberId, { card: openAccount() });
    // The phone change's alert went to the landline (refused); the card's to the insider's mobile.
    expect(await deliverAlerts()).toEqual([{ kind: 'PHONE_CHANGED', status: 'FAILED' }, { kind: 'BANK_ACCOUNT_CHANGED', status: 'SENT' }]);
    await coolingOffPassed(member!.memberId);

    await planPayouts(db.pool, settings);
    expect(await payoutOf(member!.memberId)).toMatchObject({ status: 'HELD', reason: expect.stringMatching(/was not told/) });
    expect(await createBatch(db.pool, clerk, settings, 100)).toBeNull();
  });

  it('a member with no phone: a standing policy releases nothing to the replaced card, in the worker or by a hand-made batch', async () => {
    const [member] = await approvedClaims(db.pool, 1);
    await withPhone(member!.memberId, null);
    await changeAsOperator(member!.memberId, { card: openAccount() });
    expect(await deliverAlerts()).toEqual([]);
    await coolingOffPassed(member!.memberId);
    const funderId = (await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`)).rows[0]!.id;
    const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
      funderId, maxPayoutFen: 10_000_000, dailySumFen: 100_000_000, dailyCount: 1_000, accountUnchangedDays: settings.coolingOffDays,
      validFrom: new Date(Date.now() - 60_000), validUntil: new Date(Date.now() + 86_400_000), reason: '即时办: cards past their cooling-off',
    });
    await approvePaymentPolicy(db.pool, { subject: 'finance-zhao', role: 'FINANCE' }, UNSCOPED, policy.id);

    await planPayouts(db.pool, settings);
    // Left READY by hand, as a payout planned before the card's alert was known to have failed.
    await db.pool.query(`UPDATE payouts SET status = 'READY', status_reason = NULL WHERE member_id = $1`, [member!.memberId]);
    expect(await releaseUnderPolicies(db.pool, settings)).toEqual([]);
    await expect(handMadePolicyRelease(db.pool, policy.id, (await payoutOf(member!.memberId)).id)).rejects.toThrow(/not told/);
  });

  it('a batch made before the upgrade, when the cooling-off alone released the card: the payment leaves it at sealing and waits', async () => {
    const [untold, told] = await approvedClaims(db.pool, 2);
    await withPhone(untold!.memberId, LANDLINE);
    await withPhone(told!.memberId, GOOD_MOBILE);
    await changeAsOperator(untold!.memberId, { card: openAccount() });
    await changeAsOperator(told!.memberId, { card: openAccount() });
    await deliverAlerts();
    await coolingOffPassed(untold!.memberId);
    await coolingOffPassed(told!.memberId);
    // The old rule stood in for by a confirmation present while the batch is made and approved, gone after.
    await db.pool.query(`UPDATE members SET bank_card_confirmed_at = now(), bank_card_confirmed_by = 'old-rule' WHERE id = $1`, [untold!.memberId]);
    await planPayouts(db.pool, settings);
    const batch = await createBatch(db.pool, clerk, settings, 100);
    await approveBatch(db.pool, finance, batch!.id);
    expect(batch!.nbOfTxs).toBe(2);
    await db.pool.query(`UPDATE members SET bank_card_confirmed_at = NULL, bank_card_confirmed_by = NULL WHERE id = $1`, [untold!.memberId]);

    const outDir = mkdtempSync(path.join(tmpdir(), 'hub-untold-'));
    try {
      const sealing = { keys, seal: testFilePki().union, outDir, initiatingParty: initiatingParty(config()) };
      const sealed = await sealBatch(db.pool, sealing, settings, batch!.id);
      expect(sealed.file).not.toBeNull();
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
    const file = (await sealedFile(db.pool, batch!.id))!;
    expect(file).toContain(`<NbOfTxs>1</NbOfTxs>`);
    const { rows: sent } = await db.pool.query<{ payoutId: number }>(
      `SELECT payout_id AS "payoutId" FROM payout_attempts WHERE batch_id = $1 AND status = 'PLANNED'`, [batch!.id]);
    expect(sent.map((r) => Number(r.payoutId))).toEqual([(await payoutOf(told!.memberId)).id]);
    expect(await payoutOf(untold!.memberId)).toMatchObject({ status: 'HELD', reason: expect.stringMatching(/was not told/) });
  });
});
