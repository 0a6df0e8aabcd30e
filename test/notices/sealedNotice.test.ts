import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportNotice, issueNotice, issuePendingNotices, NOTICE_ACTOR } from '../../src/notices/issue.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import {
  CARD_MASKED, decidedClaim, MEMBER_ID_MASKED, MEMBER_NAME, namedMember, noticeTestSettings, notify, paidPayout, poppler, squeezed, tempFile,
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

describe('a sealed claim notice', () => {
  let claimId: number;
  let noticeId: number;
  let file: string;
  let pdf: Buffer;

  beforeAll(async () => {
    const m = await namedMember(db.pool);
    claimId = await decidedClaim(db.pool, m);
    const claim = await claimLines(claimId);
    const notificationId = await notify(db.pool, {
      memberId: m.memberId, kind: 'CLAIM_DECIDED', subjectType: 'Claim', subjectId: claimId, facts: { status: claim.status, totalFen: claim.totalFen },
    });
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
    const notificationId = await notify(db.pool, { memberId: m.memberId, kind: 'PAYOUT_PAID', subjectType: 'Payout', subjectId: payoutId, facts: { amountFen } });
    const [a, b] = await Promise.all([issueNotice(db.pool, settings, notificationId), issueNotice(db.pool, settings, notificationId)]);
    expect(a).toBe(b);
    const file = path.join(work.dir, 'payout-notice.pdf');
    await exportNotice(db.pool, settings.keys, a!, file);
    expect(poppler('pdfsig', ['-no-ocsp', file]).output).toContain('Signature is Valid.');
    const text = squeezed(poppler('pdftotext', ['-enc', 'UTF-8', file, '-']).output);
    expect(text).toContain('职工医疗互助金支付通知书');
    expect(text).toContain('李四');
    expect(text).toContain('12,345.67元');
    expect(text).toContain(squeezed(CARD_MASKED));
    expect(text).toContain('2025-06-04');
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM notices WHERE notification_id = $1`, [notificationId]);
    expect(rows[0]!.n).toBe(1);
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
