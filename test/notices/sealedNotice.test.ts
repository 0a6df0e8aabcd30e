import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideAppeal, fileAppeal } from '../../src/appeals/service.ts';
import { claimDecidedNotification } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import type { ClaimStatus } from '../../src/benefits/model.ts';
import { rejectClaim } from '../../src/benefits/review.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { exportNotice, issueNotice, issuePendingNotices, NOTICE_ACTOR } from '../../src/notices/issue.ts';
import { noticeTitle } from '../../src/notices/model.ts';
import { noticesByIds } from '../../src/notices/store.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import type { MemberSetup } from '../benefits/seed.ts';
import { upholdTotal } from '../appeals/support.ts';
import {
  CARD_MASKED, decidedClaim, MEMBER_ID_MASKED, MEMBER_NAME, namedMember, noticeTestSettings, notify, paidPayout, paymentNotification, payoutAttempt,
  poppler, squeezed, tempFile,
} from './support.ts';

/**
 * A notice end to end: a claim decided by the real engine, its CLAIM_DECIDED notification, the
 * notice rendered, sealed with the union's seal, stored encrypted and exported; then read as an
 * outsider reads it, with poppler's pdfsig (signature) and pdftotext (what it says).
 */
let db: TestDatabase;
const settings = noticeTestSettings();
let work: ReturnType<typeof tempFile>;

beforeAll(async () => {
  db = await freshDatabase();
  work = tempFile('README', Buffer.from('notices under test'));
});
afterAll(async () => {
  work?.remove();
  await db?.drop();
});

async function claimLines(claimId: number) {
  const { rows } = await db.pool.query<{ explanation: string; amountFen: number }>(
    `SELECT explanation, coalesce(adjusted_fen, amount_fen) AS "amountFen" FROM benefit_lines WHERE claim_id = $1 ORDER BY id`, [claimId]);
  const { rows: [claim] } = await db.pool.query<{ totalFen: number; status: string }>(`SELECT total_fen AS "totalFen", status FROM claims WHERE id = $1`, [claimId]);
  return { lines: rows, ...claim! };
}

/** 1680000 -> "16,800.00", written out here rather than taken from the code under test. */
const grouped = (fen: number) => `${Math.floor(fen / 100).toLocaleString('en-US')}.${String(fen % 100).padStart(2, '0')}`;

/** A notice's text as pdftotext reads it, white space removed. */
async function noticeText(noticeId: number, name: string): Promise<string> {
  const file = path.join(work.dir, name);
  await exportNotice(db.pool, settings.keys, noticeId, file);
  expect(poppler('pdfsig', ['-no-ocsp', file]).output).toContain('Signature is Valid.');
  return squeezed(poppler('pdftotext', ['-enc', 'UTF-8', file, '-']).output);
}

/** The notices of a member by their notifications' kinds, issued now. */
async function noticesByKind(memberId: number): Promise<Map<string, number>> {
  await issuePendingNotices(db.pool, settings, { memberId });
  const { rows } = await db.pool.query<{ kind: string; id: number }>(`SELECT kind, id FROM notices WHERE member_id = $1 ORDER BY id`, [memberId]);
  return new Map(rows.map((r) => [r.kind, r.id]));
}

/** China date of a notification, as PostgreSQL tells it. */
async function notifiedOn(notificationId: number): Promise<string> {
  const { rows } = await db.pool.query<{ on: string }>(`SELECT to_char(created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS on FROM notifications WHERE id = $1`, [notificationId]);
  return rows[0]!.on;
}

describe('a sealed claim notice', () => {
  let claimId: number;
  let noticeId: number;
  let file: string;
  let pdf: Buffer;

  beforeAll(async () => {
    const m = await namedMember(db.pool);
    claimId = await decidedClaim(db.pool, m);
    const claim = await claimLines(claimId);
    const notificationId = await notify(db.pool, claimDecidedNotification(m.memberId, claimId, 2025, claim.status as ClaimStatus, claim.totalFen, []));
    noticeId = (await issueNotice(db.pool, settings, notificationId))!;
    file = path.join(work.dir, 'claim-notice.pdf');
    await exportNotice(db.pool, settings.keys, noticeId, file);
    pdf = readFileSync(file);
  });

  it('is a PDF whose signature pdfsig finds valid over the whole document, made with the union seal', () => {
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const { output } = poppler('pdfsig', ['-no-ocsp', file]);
    expect(output).toContain('Signature Validation: Signature is Valid.');
    expect(output).toContain('Total document signed');
    expect(output).toContain('Signer Certificate Common Name: Test Union Seal');
    expect(output).toContain('Signature Type: adbe.pkcs7.detached');
    // The test CA is in no NSS database: the chain is reported unknown, not the signature bad.
    expect(output).toMatch(/Certificate Validation: Certificate issuer is unknown/);
  });

  it('fails pdfsig after one byte inside the signed range changes', () => {
    // The producer "Mutual Aid Hub" as pdf-lib writes it: UTF-16BE in hex, "M" = 004D.
    const at = pdf.indexOf('/Producer <FEFF004D0075');
    expect(at).toBeGreaterThan(0);
    const digit = at + '/Producer <FEFF004'.length;
    // The signed ranges are everything but the /Contents hex string; the producer lies in one of them.
    const [start1, length1, start2, length2] = /\/ByteRange \[\s*(\d+) (\d+) (\d+) (\d+)/.exec(pdf.toString('latin1'))!.slice(1).map(Number) as [number, number, number, number];
    expect((digit >= start1 && digit < start1 + length1) || (digit >= start2 && digit < start2 + length2)).toBe(true);
    const tampered = Buffer.from(pdf);
    tampered[digit] = 'E'.charCodeAt(0); // "Mutual" -> "Nutual": still a well-formed PDF
    const copy = path.join(work.dir, 'tampered.pdf');
    writeFileSync(copy, tampered);
    const { output } = poppler('pdfsig', ['-no-ocsp', copy]);
    expect(output).not.toContain('Signature is Valid');
    expect(output).toMatch(/Signature Validation: (Digest Mismatch|Signature is Invalid)/);
  });

  it('says in Chinese what was decided: title, member, masked ID, each calculation line and the total', async () => {
    const { output } = poppler('pdftotext', ['-enc', 'UTF-8', file, '-']);
    const text = squeezed(output);
    const claim = await claimLines(claimId);
    expect(claim.lines.length).toBeGreaterThan(0);
    expect(text).toContain('职工医疗互助金核定通知书');
    expect(text).toContain(MEMBER_NAME);
    expect(text).toContain(MEMBER_ID_MASKED.replace(/\s/g, ''));
    for (const line of claim.lines) {
      // benefit_lines.explanation is "zh / en": the notice prints the Chinese half.
      const zh = line.explanation.slice(0, line.explanation.indexOf(' / '));
      expect(zh).toMatch(/[\u4e00-\u9fff]/);
      expect(text).toContain(squeezed(zh));
      expect(text).not.toContain(squeezed(line.explanation.slice(line.explanation.indexOf(' / ') + 3)));
      expect(text).toContain(`${grouped(line.amountFen)}元`);
    }
    expect(text).toContain(`互助金合计：${grouped(claim.totalFen)}元`);
    expect(text).toContain('某市总工会');
    // The appeal it offers is the configured period (45 days in these settings), from the decision.
    expect(text).toContain('可自核定之日起45日内');
  });

  it('is stored encrypted, under the hash of the exported bytes, and issued once however often it is asked for', async () => {
    const { rows: [row] } = await db.pool.query<{ pdf_enc: Buffer; sha256: Buffer; notification_id: number }>(
      `SELECT pdf_enc, sha256, notification_id FROM notices WHERE id = $1`, [noticeId]);
    expect(row!.sha256.toString('hex')).toBe(createHash('sha256').update(pdf).digest('hex'));
    expect(row!.pdf_enc.includes(Buffer.from('%PDF'))).toBe(false);
    expect(row!.pdf_enc.includes(Buffer.from('Mutual Aid Hub'))).toBe(false);

    expect(await issueNotice(db.pool, settings, row!.notification_id)).toBe(noticeId);
    expect(await issuePendingNotices(db.pool, settings)).toEqual([]);
    const { rows: counts } = await db.pool.query<{ notices: number; audits: number }>(
      `SELECT (SELECT count(*)::int FROM notices WHERE notification_id = $1) AS notices,
              (SELECT count(*)::int FROM audit_log WHERE action = 'notice.issue' AND actor = $2 AND (details ->> 'noticeId')::bigint = $3) AS audits`,
      [row!.notification_id, NOTICE_ACTOR.subject, noticeId]);
    expect(counts[0]).toEqual({ notices: 1, audits: 1 });
  });
});

describe('a sealed payment notice', () => {
  it('tells the amount, the masked card and the date, and two workers racing issue one notice', async () => {
    const m = await namedMember(db.pool, '李四');
    const claimId = await decidedClaim(db.pool, m);
    const amountFen = 1_234_567;
    const payoutId = await paidPayout(db.pool, m, claimId, amountFen);
    const notificationId = await paymentNotification(db.pool, 'PAYOUT_PAID', payoutId);
    const [a, b] = await Promise.all([issueNotice(db.pool, settings, notificationId), issueNotice(db.pool, settings, notificationId)]);
    expect(a).toBe(b);
    const text = await noticeText(a!, 'payout-notice.pdf');
    expect(text).toContain('职工医疗互助金支付通知书');
    expect(text).toContain('李四');
    expect(text).toContain('12,345.67元');
    expect(text).toContain(squeezed(CARD_MASKED));
    expect(text).toContain(`支付日期${await notifiedOn(notificationId)}`);
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM notices WHERE notification_id = $1`, [notificationId]);
    expect(rows[0]!.n).toBe(1);
  });

  it('tells of the attempt it is about as the bank was told it, though the member changed cards before it was issued', async () => {
    const m = await namedMember(db.pool, '周八');
    const claimId = await decidedClaim(db.pool, m);
    // Paid to the card on record then (CARD_MASKED), and returned by the bank (退票).
    const payoutId = await paidPayout(db.pool, m, claimId, 500_000);
    const firstPaid = await paymentNotification(db.pool, 'PAYOUT_PAID', payoutId);
    await db.pool.query(`UPDATE payout_attempts SET status = 'RETURNED', reason_code = 'AC04', reason = '账户已销户' WHERE payout_id = $1`, [payoutId]);
    const returned = await paymentNotification(db.pool, 'PAYOUT_RETURNED', payoutId);
    // The member gives another card; the payment is made again to it; then the member changes card once more.
    const second = '6217 **** **** 5501';
    await db.pool.query(`UPDATE members SET bank_card_masked = $2 WHERE id = $1`, [m.memberId, second]);
    await payoutAttempt(db.pool, payoutId, { attemptNo: 2, amountFen: 500_000, cardMasked: second, status: 'PAID' });
    const secondPaid = await paymentNotification(db.pool, 'PAYOUT_PAID', payoutId);
    const now = '6228 **** **** 7777';
    await db.pool.query(`UPDATE members SET bank_card_masked = $2 WHERE id = $1`, [m.memberId, now]);

    const [paidText, returnedText, paidAgainText] = await Promise.all([firstPaid, returned, secondPaid].map(async (notificationId, i) =>
      noticeText((await issueNotice(db.pool, settings, notificationId))!, `payment-${i}.pdf`)));
    expect(paidText).toContain(`收款银行卡${squeezed(CARD_MASKED)}`);
    expect(paidText).toContain('支付状态已支付');
    expect(paidText).toContain(`支付日期${await notifiedOn(firstPaid)}`);
    expect(paidText).not.toContain('AC04');
    expect(returnedText).toContain('职工医疗互助金退票通知书');
    expect(returnedText).toContain(`收款银行卡${squeezed(CARD_MASKED)}`);
    expect(returnedText).toContain(`银行答复日期${await notifiedOn(returned)}`);
    expect(returnedText).toContain('AC04账户已销户');
    expect(paidAgainText).toContain(`收款银行卡${squeezed(second)}`);
    for (const text of [paidText, returnedText, paidAgainText]) {
      expect(text).toContain('支付金额5,000.00元');
      expect(text).not.toContain(squeezed(now));
    }
  });

  it('of a condolence payment (慰问金) names it so, and offers no review of a 核定 there never was', async () => {
    const m = await namedMember(db.pool, '吴九');
    const { rows: [payout] } = await db.pool.query<{ id: number }>(
      `WITH c AS (
         INSERT INTO condolences (member_id, plan_year, reason, description, occurred_on, requested_fen, approved_fen, funder_id, rule_set_id, rule_set_version,
                                  status, applied_by, applied_role, decided_by, decided_role, decided_at, decision_note)
         VALUES ($1, 2025, 'HARDSHIP', '职工家庭困难，申请慰问', '2025-06-01', 200000, 200000, (SELECT id FROM funders WHERE code = 'UNION'), 'default-2025', 1,
                 'APPROVED', 'operator-1', 'UNIT_OPERATOR', 'reviewer-1', 'REVIEWER', now(), '核实属实，批准') RETURNING id, member_id, unit_id)
       INSERT INTO payouts (condolence_id, member_id, unit_id, amount_fen, status, paid_at) SELECT id, member_id, unit_id, 200000, 'PAID', now() FROM c RETURNING id`,
      [m.memberId]);
    await payoutAttempt(db.pool, payout!.id, { attemptNo: 1, amountFen: 200_000, cardMasked: CARD_MASKED, status: 'PAID' });
    const notificationId = await paymentNotification(db.pool, 'PAYOUT_PAID', payout!.id);
    const noticeId = (await issueNotice(db.pool, settings, notificationId))!;
    const text = await noticeText(noticeId, 'condolence-notice.pdf');
    expect(text).toContain('工会慰问金支付通知书');
    // The API's title is the printed one.
    const [row] = await noticesByIds(db.pool, [noticeId], UNSCOPED);
    expect(noticeTitle(row!.kind, row!.condolence)).toBe('工会慰问金支付通知书');
    expect(text).toContain('支付金额2,000.00元');
    expect(text).not.toContain('互助金');
    expect(text).not.toContain('复核');
  });

  it('issues none for a notification that is no decision or payment', async () => {
    const m = await namedMember(db.pool, '赵五');
    const notificationId = await notify(db.pool, { memberId: m.memberId, kind: 'BANK_ACCOUNT_CHANGED', subjectType: 'Member', subjectId: m.memberId, facts: {} });
    expect(await issueNotice(db.pool, settings, notificationId)).toBeNull();
    expect(await issuePendingNotices(db.pool, settings, { memberId: m.memberId })).toEqual([]);
  });
});

describe('application and appeal notices', () => {
  it('an application returned: hospital, stay dates and the reason for the return', async () => {
    const m = await namedMember(db.pool, '钱六');
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO applications (member_id, channel, status, fixmedins_code, fixmedins_name, med_type, begndate, enddate, medfee_sumamt,
                                 fulamt_ownpay_amt, overlmt_selfpay, fund_pay_sumamt, psn_part_amt, acct_pay, psn_cash_pay,
                                 submitted_by, submitted_role, decided_by, decided_at, return_reason, return_note)
       VALUES ($1, 'ONLINE', 'RETURNED', 'H35050000001', '泉州市第一医院', '21', '2025-05-20', '2025-06-01', 4321000,
               0, 0, 3000000, 1321000, 0, 1321000, 'member', 'MEMBER', 'reviewer-1', now(), 'MISSING_DOCUMENT', '请补交出院小结') RETURNING id`,
      [m.memberId]);
    const notificationId = await notify(db.pool, { memberId: m.memberId, kind: 'APPLICATION_RETURNED', subjectType: 'Application', subjectId: rows[0]!.id, facts: {} });
    const file = path.join(work.dir, 'application-notice.pdf');
    await exportNotice(db.pool, settings.keys, (await issueNotice(db.pool, settings, notificationId))!, file);
    expect(poppler('pdfsig', ['-no-ocsp', file]).output).toContain('Signature is Valid.');
    const text = squeezed(poppler('pdftotext', ['-enc', 'UTF-8', file, '-']).output);
    expect(text).toContain('职工医疗互助金申请退回通知书');
    expect(text).toContain('泉州市第一医院');
    expect(text).toContain('2025-05-20至2025-06-01');
    expect(text).toContain('43,210.00元');
    expect(text).toContain('请补交出院小结');
  });

  it('an appeal decided: the decision, its reason and the claim\'s calculation', async () => {
    const m = await namedMember(db.pool, '孙七');
    const claimId = await decidedClaim(db.pool, m);
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO appeals (claim_id, member_id, claim_status_when_filed, status, reason, filed_by, filed_role, decided_by, decided_role, decided_at, decision_reason)
       VALUES ($1, $2, 'APPROVED', 'DISMISSED', '金额计算有误', 'member', 'MEMBER', 'reviewer-2', 'REVIEWER', now(), '经复核计算无误') RETURNING id`,
      [claimId, m.memberId]);
    const notificationId = await notify(db.pool, { memberId: m.memberId, kind: 'APPEAL_DECIDED', subjectType: 'Appeal', subjectId: rows[0]!.id, facts: {} });
    const file = path.join(work.dir, 'appeal-notice.pdf');
    await exportNotice(db.pool, settings.keys, (await issueNotice(db.pool, settings, notificationId))!, file);
    const text = squeezed(poppler('pdftotext', ['-enc', 'UTF-8', file, '-']).output);
    expect(text).toContain('职工医疗互助金复核决定通知书');
    expect(text).toContain('维持原核定');
    expect(text).toContain('经复核计算无误');
    const { lines } = await claimLines(claimId);
    for (const line of lines) expect(text).toContain(squeezed(line.explanation.slice(0, line.explanation.indexOf(' / '))));
  });
});

describe('notices of a claim refused, and of one decided again after', () => {
  const reviewer = (subject: string) => ({ subject, role: 'REVIEWER' });
  const admin = { subject: 'admin-zhang', role: 'ADMIN' };
  const ruleSets = new RuleSetCache();

  /** A claim of the member rejected by a reviewer, and an appeal against it decided by another. */
  async function refusedAndAppealed(m: MemberSetup, decision: 'UPHOLD' | 'DISMISS'): Promise<number> {
    const claimId = await decidedClaim(db.pool, m, { review: true });
    await rejectClaim(db.pool, reviewer('reviewer-a'), UNSCOPED, claimId, '出院小结与票据不符');
    const appeal = await fileAppeal(db.pool, settings.keys, admin, UNSCOPED, { days: 45, holidays: [] }, { claimId, reason: '已补交出院小结，请求复核', attachments: [] });
    await decideAppeal(db.pool, ruleSets, reviewer('reviewer-b'), UNSCOPED, appeal.id, decision, decision === 'UPHOLD' ? '材料齐全，予以支持' : '经复核，维持原核定',
      decision === 'UPHOLD' ? await upholdTotal(db.pool, claimId, ruleSets) : null);
    return claimId;
  }

  it('a rejection, and the dismissal of its appeal, grant 0.00 and show no line amount as granted', async () => {
    const m = await namedMember(db.pool, '郑十');
    const claimId = await refusedAndAppealed(m, 'DISMISS');
    const claim = await claimLines(claimId);
    expect(claim.status).toBe('REJECTED');
    // The rules computed lines and a total; the rejection left them on the claim.
    expect(claim.totalFen).toBeGreaterThan(0);
    const notices = await noticesByKind(m.memberId);
    const texts = [await noticeText(notices.get('CLAIM_DECIDED')!, 'rejected.pdf'), await noticeText(notices.get('APPEAL_DECIDED')!, 'dismissed.pdf')];
    expect(texts[0]).toContain('职工医疗互助金核定通知书');
    expect(texts[1]).toContain('维持原核定');
    for (const text of texts) {
      expect(text).toContain('互助金合计：0.00元');
      expect(text).toContain('核定结果：不予给付');
      expect(text).not.toContain(`${grouped(claim.totalFen)}元`);
      for (const line of claim.lines) {
        // Shown as calculated, not granted; never as "<programme>：<amount>元".
        expect(text).toContain(`计算金额${grouped(line.amountFen)}元（未核定给付）`);
        expect(text).not.toContain(`：${grouped(line.amountFen)}元`);
      }
    }
  });

  it('a rejection whose notice is issued after its appeal was upheld tells the rejection, and that it was changed since', async () => {
    const m = await namedMember(db.pool, '冯十一');
    const claimId = await refusedAndAppealed(m, 'UPHOLD');
    const claim = await claimLines(claimId);
    expect(claim.status).toBe('APPROVED');
    const notices = await noticesByKind(m.memberId);
    expect([...notices.keys()].sort()).toEqual(['APPEAL_DECIDED', 'CLAIM_DECIDED', 'CLAIM_REDECIDED']);

    const rejection = await noticeText(notices.get('CLAIM_DECIDED')!, 'rejected-then-upheld.pdf');
    expect(rejection).toContain('职工医疗互助金核定通知书');
    expect(rejection).toContain('互助金合计：0.00元');
    expect(rejection).toContain('核定结果：不予给付');
    expect(rejection).toContain('本核定作出后已有变更（现核定结果：核定给付）');
    expect(rejection).not.toContain(`${grouped(claim.totalFen)}元`);
    for (const line of claim.lines) expect(rejection).not.toContain(squeezed(line.explanation.slice(0, line.explanation.indexOf(' / '))));

    for (const [kind, name] of [['CLAIM_REDECIDED', 'redecided.pdf'], ['APPEAL_DECIDED', 'upheld.pdf']] as const) {
      const text = await noticeText(notices.get(kind)!, name);
      expect(text).toContain(`互助金合计：${grouped(claim.totalFen)}元`);
      expect(text).toContain('核定结果：核定给付');
      expect(text).not.toContain('已有变更');
      for (const line of claim.lines) expect(text).toContain(`：${grouped(line.amountFen)}元`);
    }
  });
});
