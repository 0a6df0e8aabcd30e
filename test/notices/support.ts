import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { recordNotifications, recordPayoutNotifications } from '../../src/notifications/store.ts';
import type { NewNotification } from '../../src/notifications/model.ts';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import type { NoticeSettings } from '../../src/notices/issue.ts';
import { fen } from '../benefits/support.ts';
import { seedEnrolledMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { sealOf, testPki } from '../seals/fixtures.ts';

/** Keys, a test CA and its seal (the union's seal in these tests), and the settings that issue notices with them. */
export const keys = personalDataKeys(Buffer.alloc(32, 9).toString('base64'));
export function noticeTestSettings(): NoticeSettings & { caPem: string } {
  const pki = testPki();
  return { keys, seal: sealOf(pki.seal), unionName: '某市总工会', appealPeriodDays: 45, caPem: pki.ca.certificate.toString() };
}

export const MEMBER_NAME = '王小明';
export const MEMBER_ID_MASKED = '3505**********2716';
export const CARD_MASKED = '6222 **** **** 0123';

/** An enrolled member with a name, masked ID and card as a notice prints them. */
export async function namedMember(db: pg.Pool, name = MEMBER_NAME): Promise<MemberSetup> {
  const m = await seedEnrolledMember(db, { plan: 'PUBLIC', specialDisease: true });
  await db.query(`UPDATE members SET name = $2, id_number_masked = $3, bank_card_enc = '\\x00', bank_card_hash = '\\x00', bank_card_masked = $4, bank_code = '102100099996' WHERE id = $1`,
    [m.memberId, name, MEMBER_ID_MASKED, CARD_MASKED]);
  return m;
}

/**
 * A claim adjudicated by the real engine from a settlement of the member (the Jinjiang example's
 * figures): approved automatically, or left PENDING_REVIEW for a reviewer when `review`.
 */
export async function decidedClaim(db: pg.Pool, m: MemberSetup, { review = false } = {}): Promise<number> {
  const settlementId = await seedSettlement(db, m, { psn: '136,700.00', funds: '106,500.00', ownpay: '52,700.00', overlmt: '0', diagnoses: ['I34.0'] });
  await adjudicateSettlements(db, [settlementId], { autoApproveMaxFen: review ? 0 : fen('100,000.00') });
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM claims WHERE settlement_id = $1`, [settlementId]);
  return rows[0]!.id;
}

/** Records a notification as the deciding transaction would, and returns its id. */
export async function notify(db: pg.Pool, n: NewNotification): Promise<number> {
  await inTransaction(db, (tx) => recordNotifications(tx, [n]));
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM notifications WHERE kind = $1 AND subject_type = $2 AND subject_id = $3 AND event_key = $4`,
    [n.kind, n.subjectType, n.subjectId, n.eventKey ?? ''],
  );
  return rows[0]!.id;
}

/** A PAID payout of the claim, paid by its first attempt to the member's card (CARD_MASKED). */
export async function paidPayout(db: pg.Pool, m: MemberSetup, claimId: number, amountFen: number): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, paid_at) VALUES ($1, $2, $3, $4, 'PAID', '2025-06-04 10:00:00+08') RETURNING id`,
    [claimId, m.memberId, m.unitId, amountFen],
  );
  await payoutAttempt(db, rows[0]!.id, { attemptNo: 1, amountFen, cardMasked: CARD_MASKED, status: 'PAID' });
  return rows[0]!.id;
}

/** An attempt to pay the payout, in a batch of its own, with the card the bank was told (as sealing writes it) and the bank's answer. */
export async function payoutAttempt(
  db: pg.Pool, payoutId: number,
  attempt: { attemptNo: number; amountFen: number; cardMasked: string; status: 'PAID' | 'REJECTED'; reasonCode?: string; reason?: string },
): Promise<void> {
  const msgId = `MAH-N${payoutId}-${attempt.attemptNo}`;
  const { rows: [batch] } = await db.query<{ id: number }>(
    `INSERT INTO payout_batches (msg_id, pmt_inf_id, funder_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date,
                                 nb_of_txs, ctrl_sum_fen, created_by, created_by_role)
     SELECT $1, $1, funder_id, 'SIM', '6222999900001', '某市总工会', '102100099996', current_date, 1, $2, 'clerk', 'FINANCE' FROM payouts WHERE id = $3
     RETURNING id`,
    [msgId, attempt.amountFen, payoutId],
  );
  await db.query(
    `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc, creditor_account_masked,
                                  creditor_agent, remittance_info, status, reason_code, reason, status_at)
     SELECT p.id, $2, $3, $4, $5, m.name, '\\x00', $6, '102100099996', '职工医疗互助金', $7, $8, $9, now()
       FROM payouts p JOIN members m ON m.id = p.member_id WHERE p.id = $1`,
    [payoutId, attempt.attemptNo, batch!.id, msgId, attempt.amountFen, attempt.cardMasked, attempt.status, attempt.reasonCode ?? null, attempt.reason ?? null],
  );
}

/** The payout's notification of `kind` about its latest attempt, recorded as the bank's answer records it; its id. */
export async function paymentNotification(db: pg.Pool, kind: 'PAYOUT_PAID' | 'PAYOUT_FAILED' | 'PAYOUT_RETURNED', payoutId: number): Promise<number> {
  await inTransaction(db, (tx) => recordPayoutNotifications(tx, kind, [payoutId]));
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM notifications WHERE kind = $1 AND subject_type = 'Payout' AND subject_id = $2 ORDER BY id DESC LIMIT 1`, [kind, payoutId]);
  return rows[0]!.id;
}

/** A poppler tool's output (pdfsig, pdftotext), as an outside reader of the file sees it. */
export function poppler(tool: 'pdfsig' | 'pdftotext' | 'pdftoppm', args: string[]): { status: number | null; output: string } {
  const result = spawnSync(`/usr/bin/${tool}`, args, { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Writes `bytes` to a file in a fresh temporary directory; `remove` deletes it. */
export function tempFile(name: string, bytes: Buffer): { file: string; dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'hub-notices-'));
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return { file, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Text for comparing what pdftotext extracts with what was meant: white space (line breaks of the layout) removed. */
export const squeezed = (text: string) => text.replace(/\s+/g, '');
