import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { fen } from './support.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';
import { approveClaim } from '../../src/benefits/review.ts';
import type { Actor } from '../../src/audit/audit.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';

/**
 * Rows for adjudication tests, written directly with SQL (units, members, enrolments, contribution
 * payments and MATCHED settlements with the columns of 0002), so each test states exactly the facts
 * its hand-computed figures depend on.
 */
let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter += 1).toString(36)}${randomBytes(3).toString('hex')}`;

/**
 * A unit registered in `organisationId` (the hub's own union without one): a unit's organisation is
 * set at registration; only its change takes two ADMINs (a confirmed unit move, migration 0074). Its
 * terms are stated confirmed, as the database lets an INSERT state them (0076): through the API a
 * second ADMIN confirms them (test/security/unitFirstTerms.test.ts).
 */
export async function seedUnit(
  db: pg.Pool, planType: 'PUBLIC' | 'PRIVATE' = 'PUBLIC', organisationId: number | null = null,
): Promise<{ id: number; creditCode: string }> {
  const digits = (randomBytes(8).readBigUInt64BE() % 10n ** 10n).toString().padStart(10, '0');
  const creditCode = withCreditCodeCheck(`91350500${digits.slice(0, 9)}`);
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO units (credit_code, name, plan_type, organisation_id, terms_confirmed) VALUES ($1, $2, $3, $4, true) RETURNING id`,
    [creditCode, `单位 ${unique()}`, planType, organisationId],
  );
  return { id: rows[0]!.id, creditCode };
}

export async function seedMember(db: pg.Pool, unitId: number): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
     VALUES ($1, '测试', '\\x00', $2, '3505**********0000', '1980-01-01', 'M') RETURNING id`,
    [unitId, randomBytes(16)],
  );
  return rows[0]!.id;
}

export interface EnrolmentSpec {
  year?: number;
  plan?: 'PUBLIC' | 'PRIVATE';
  specialDisease?: boolean;
  firstEnrolledOn?: string;
  enrolledOn?: string;
}

export async function seedEnrolment(db: pg.Pool, memberId: number, unitId: number, spec: EnrolmentSpec = {}): Promise<number> {
  const { year = 2025, plan = 'PUBLIC', specialDisease = false, firstEnrolledOn = '2020-01-01', enrolledOn = `${year}-01-01` } = spec;
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
     VALUES ($1, $2, $3, $4, $5, $6, least($7::date, $6::date)) RETURNING id`,
    [memberId, unitId, year, plan, specialDisease, enrolledOn, firstEnrolledOn],
  );
  return rows[0]!.id;
}

/** Pays the unit's contribution for the year in full (more than any test unit owes). */
export async function payContribution(db: pg.Pool, unitId: number, year = 2025): Promise<void> {
  await db.query(
    `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
     VALUES ($1, $2, 100000000, $3, $4, 'MANUAL', 'test')`,
    [unitId, year, `T${unique()}`.slice(0, 35), `${year}-01-10`],
  );
}

export interface MemberSetup {
  unitId: number;
  creditCode: string;
  memberId: number;
  enrolmentId: number;
}

/** A unit with one enrolled member (contribution paid unless `paid: false`). */
export async function seedEnrolledMember(db: pg.Pool, spec: EnrolmentSpec & { paid?: boolean } = {}): Promise<MemberSetup> {
  const unit = await seedUnit(db, spec.plan ?? 'PUBLIC');
  const memberId = await seedMember(db, unit.id);
  const enrolmentId = await seedEnrolment(db, memberId, unit.id, spec);
  if (spec.paid !== false) await payContribution(db, unit.id, spec.year ?? 2025);
  return { unitId: unit.id, creditCode: unit.creditCode, memberId, enrolmentId };
}

export interface SettlementSpec {
  /** psn_part_amt, CNY as people write it ("136,700.00"). */
  psn?: string;
  ownpay?: string;
  overlmt?: string;
  /** Insurance funds paid (fund_pay_sumamt); medfee_sumamt = funds + psn. */
  funds?: string;
  medType?: string;
  /** China time, yyyy-MM-dd HH:mm:ss. */
  setlTime?: string;
  /** begndate (入院日期); absent: not sent. */
  admittedOn?: string;
  diagnoses?: string[];
}

async function ensureSource(db: pg.Pool): Promise<void> {
  await db.query(`INSERT INTO settlement_sources (name, kind) VALUES ('test', 'FILE') ON CONFLICT DO NOTHING`);
}

/** A MATCHED settlement of the member (as the match step leaves it). */
export async function seedSettlement(db: pg.Pool, m: MemberSetup, spec: SettlementSpec = {}): Promise<number> {
  const { psn = '10,000.00', ownpay = '0', overlmt = '0', funds = '0', medType = '21', setlTime = '2025-06-01 10:00:00', admittedOn = null, diagnoses = [] } = spec;
  await ensureSource(db);
  const setlId = `S${unique()}`.slice(0, 30);
  const psnFen = fen(psn);
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO settlements (source, setl_id, infno, kind, mdtrt_id, psn_no, psn_name_enc, psn_name_masked, certno_enc,
                              certno_hash, certno_masked, insutype, med_type, setl_time, diagnoses, medfee_sumamt,
                              fulamt_ownpay_amt, overlmt_selfpay, fund_pay_sumamt, psn_part_amt, acct_pay, psn_cash_pay,
                              raw_enc, status, member_id, enrolment_id, unit_id, matched_at, begndate)
     VALUES ('test', $1, $2, 'SETTLEMENT', $1, 'P1', '\\x00', '测*', '\\x00', '\\x00', '3505**********0000', '310', $3,
             ($4::timestamp AT TIME ZONE 'Asia/Shanghai'), $5, $6, $7, $8, $9, $10, 0, $10, '\\x00', 'MATCHED', $11, $12, $13, now(), $14)
     RETURNING id`,
    [setlId, medType.startsWith('2') ? '2304' : '2207', medType, setlTime, diagnoses, fen(funds) + psnFen, fen(ownpay), fen(overlmt),
     fen(funds), psnFen, m.memberId, m.enrolmentId, m.unitId, admittedOn],
  );
  return rows[0]!.id;
}

/** A MATCHED reversal (2305) of `originalId`, its amounts negated as the platform sends them. */
export async function seedReversal(db: pg.Pool, m: MemberSetup, originalId: number): Promise<number> {
  const setlId = `R${unique()}`.slice(0, 30);
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO settlements (source, setl_id, infno, kind, reverses_setl_id, reverses_id, mdtrt_id, psn_no, psn_name_enc,
                              psn_name_masked, certno_enc, certno_hash, certno_masked, insutype, med_type, setl_time, diagnoses,
                              medfee_sumamt, fulamt_ownpay_amt, overlmt_selfpay, fund_pay_sumamt, psn_part_amt, acct_pay,
                              psn_cash_pay, raw_enc, status, member_id, enrolment_id, unit_id, matched_at)
     SELECT 'test', $2, '2305', 'REVERSAL', o.setl_id, o.id, o.mdtrt_id, o.psn_no, o.psn_name_enc, o.psn_name_masked,
            o.certno_enc, o.certno_hash, o.certno_masked, o.insutype, o.med_type, o.setl_time + interval '1 day', o.diagnoses,
            -o.medfee_sumamt, -o.fulamt_ownpay_amt, -o.overlmt_selfpay, -o.fund_pay_sumamt, -o.psn_part_amt, -o.acct_pay,
            -o.psn_cash_pay, o.raw_enc, 'MATCHED', $3, $4, $5, now()
       FROM settlements o WHERE o.id = $1
     RETURNING id`,
    [originalId, setlId, m.memberId, m.enrolmentId, m.unitId],
  );
  return rows[0]!.id;
}

export interface StoredLine {
  programme: string;
  amountFen: number;
  adjustedFen: number | null;
  status: string;
  explanation: string;
}

export async function claimOf(db: pg.Pool, settlementId: number) {
  const { rows } = await db.query<{ id: number; status: string; totalFen: number; reasonCodes: string[]; reasons: string[]; ruleSetId: string | null; warnings: string[] }>(
    `SELECT id, status, total_fen AS "totalFen", reason_codes AS "reasonCodes", reasons, rule_set_id AS "ruleSetId", warnings
       FROM claims WHERE settlement_id = $1`,
    [settlementId],
  );
  const claim = rows[0];
  if (!claim) return null;
  const { rows: lines } = await db.query<StoredLine>(
    `SELECT programme, amount_fen AS "amountFen", adjusted_fen AS "adjustedFen", status, explanation
       FROM benefit_lines WHERE claim_id = $1 ORDER BY id`,
    [claim.id],
  );
  const amounts = Object.fromEntries(lines.map((l) => [l.programme, l.adjustedFen ?? l.amountFen]));
  return { ...claim, lines, amounts };
}

export async function totalsOf(db: pg.Pool, memberId: number, year = 2025) {
  const { rows } = await db.query<{ INPATIENT: number; CRITICAL: number; MAJOR_DISEASE: number; outOfPocket: number; claims: number }>(
    `SELECT inpatient_fen AS "INPATIENT", critical_fen AS "CRITICAL", major_disease_fen AS "MAJOR_DISEASE",
            out_of_pocket_fen AS "outOfPocket", claims FROM member_year_totals WHERE member_id = $1 AND plan_year = $2`,
    [memberId, year],
  );
  return rows[0] ?? { INPATIENT: 0, CRITICAL: 0, MAJOR_DISEASE: 0, outOfPocket: 0, claims: 0 };
}

/** The total of a claim now (`Claim.totalFen`): what a reviewer reads and approves. */
export async function totalOfClaim(db: pg.Pool, claimId: number): Promise<number> {
  const { rows } = await db.query<{ totalFen: number }>(`SELECT total_fen AS "totalFen" FROM claims WHERE id = $1`, [claimId]);
  return rows[0]!.totalFen;
}

/** A reviewer's approval (unscoped) of a claim at the total they read just before it. */
export async function approveAsRead(db: pg.Pool, actor: Actor, claimId: number, note: string | null = null): Promise<void> {
  await approveClaim(db, actor, UNSCOPED, claimId, await totalOfClaim(db, claimId), note);
}
