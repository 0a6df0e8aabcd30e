import { randomInt } from 'node:crypto';
import type pg from 'pg';
import { expect } from 'vitest';
import { inTransaction } from '../../src/db/pool.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { fenToCny } from '../../src/kernel/money.ts';
import { encrypt, lookupHash, maskIdNumber, type PersonalDataKeys } from '../../src/privacy/personalData.ts';
import { preparePage, storePage } from '../../src/settlements/ingest.ts';
import { payContribution, seedEnrolment, seedUnit, type MemberSetup } from '../benefits/seed.ts';
import { pdf, png, uploadAttachment } from '../appeals/support.ts';
import type { TestGateway } from '../support/gateway.ts';

export { pdf, png, uploadAttachment };

/** A member as the roster would register it (a real ID number, hashed with the hub's keys), enrolled for 2025 and paid for. */
export interface Applicant extends MemberSetup {
  idNumber: string;
}

export async function seedApplicant(db: pg.Pool, keys: PersonalDataKeys, unitId?: number): Promise<Applicant> {
  const unit = unitId ? { id: unitId, creditCode: '' } : await seedUnit(db);
  const idNumber = withResidentIdCheck(`350502198${randomInt(0, 10)}0${randomInt(1, 10)}1${randomInt(0, 10)}${String(randomInt(0, 1000)).padStart(3, '0')}`);
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
     VALUES ($1, '陈申请', $2, $3, $4, '1980-01-01', 'M') RETURNING id`,
    [unit.id, encrypt(keys, idNumber), lookupHash(keys, idNumber), maskIdNumber(idNumber)],
  );
  const memberId = rows[0]!.id;
  const enrolmentId = await seedEnrolment(db, memberId, unit.id);
  if (!unitId) await payContribution(db, unit.id);
  return { unitId: unit.id, creditCode: unit.creditCode, memberId, enrolmentId, idNumber };
}

export const memberOf = (m: { memberId: number }) => ({ role: 'MEMBER' as const, sub: `member-${m.memberId}`, member: toGlobalId('Member', m.memberId) });

/** An inpatient stay whose figures add up as the platform's do; `psnFen` is what the patient bore. */
export function stay(overrides: Record<string, unknown> = {}, amounts: Record<string, number | null> = {}) {
  const funds = 2_000_000;
  const psn = 1_234_567;
  return {
    hospitalCode: 'H44010600001', hospitalName: '广州市第一人民医院', medicalType: '21',
    admittedOn: '2025-05-20', dischargedOn: '2025-06-01', diagnoses: ['I21.9'],
    ...overrides,
    amounts: {
      totalFeesFen: funds + psn, fullyOwnPayFen: 0, overLimitSelfPayFen: 0, fundsTotalFen: funds,
      personBurdenFen: psn, personalAccountFen: 0, cashPaidFen: psn, ...amounts,
    },
  };
}

export const APPLICATION_FIELDS = `id status channel round hospitalCode admittedOn dischargedOn inpatient amounts { totalFeesFen personBurdenFen }
  submittedBy { subject role } decidedBy { subject } returnReason returnNote
  attachments { kind contentType fileName } settlement { id status source }`;

export const SUBMIT = `mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {
  application { ${APPLICATION_FIELDS} } userErrors { field code message } } }`;
export const RESUBMIT = `mutation($input: ResubmitApplicationInput!) { resubmitApplication(input: $input) {
  application { ${APPLICATION_FIELDS} } userErrors { field code message } } }`;
/** Accepts round 1 unless `round` says which round the reviewer checked. */
export const ACCEPT = `mutation($id: ID!, $round: Int! = 1) { acceptApplication(input: { applicationId: $id, round: $round }) {
  application { ${APPLICATION_FIELDS} } userErrors { field code message } } }`;
export const RETURN = `mutation($input: ReturnApplicationInput!) { returnApplication(input: $input) {
  application { ${APPLICATION_FIELDS} } userErrors { field code message } } }`;

type Who = Parameters<TestGateway['query']>[0];

/** Submits `input` with one settlement sheet uploaded by `who`; answers the payload. */
export async function submit(gw: TestGateway, who: Who, input: Record<string, unknown>, documents: { kind: string; bytes: Buffer }[] = [{ kind: 'SETTLEMENT_SHEET', bytes: pdf(400) }]) {
  const attachments = [];
  for (const d of documents) attachments.push({ uploadId: await uploadAttachment(gw, who, d.bytes), kind: d.kind });
  const answer = await gw.query(who, SUBMIT, { input: { attachments, ...input } });
  expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
  return answer.data.submitApplication;
}

/**
 * A platform feed record of the applicant's stay, stored through the ingest path (one page, one
 * transaction) under a FILE source (`feed` unless named). Answers the page outcome.
 */
export async function feedStay(
  db: pg.Pool, keys: PersonalDataKeys, applicant: Applicant, s: ReturnType<typeof stay>, extra: Record<string, unknown> = {}, source = 'feed',
) {
  await db.query(`INSERT INTO settlement_sources (name, kind) VALUES ($1, 'FILE') ON CONFLICT DO NOTHING`, [source]);
  const a = s.amounts;
  const fields = {
    setl_id: `F${randomInt(1e9, 9e9)}`, mdtrt_id: `M${randomInt(1e9, 9e9)}`, psn_no: 'P1', psn_name: '陈申请', psn_cert_type: '01',
    certno: applicant.idNumber, insutype: '310', med_type: s.medicalType, setl_time: `${s.dischargedOn} 10:30:00`,
    medfee_sumamt: fenToCny(a.totalFeesFen), fulamt_ownpay_amt: fenToCny(a.fullyOwnPayFen), overlmt_selfpay: fenToCny(a.overLimitSelfPayFen),
    fund_pay_sumamt: fenToCny(a.fundsTotalFen), psn_part_amt: fenToCny(a.personBurdenFen), acct_pay: fenToCny(a.personalAccountFen),
    psn_cash_pay: fenToCny(a.cashPaidFen), fixmedins_code: s.hospitalCode, ...extra,
  };
  const prepared = preparePage(keys, [{ fields, position: 'item 1' }]);
  expect(prepared.rejections).toEqual([]);
  return inTransaction(db, (tx) => storePage(tx, source, null, prepared));
}
