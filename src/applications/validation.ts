import type { FieldProblem } from '../kernel/problems.ts';
import { invalidFields } from '../kernel/errors.ts';
import { fenToCny } from '../kernel/money.ts';
import { lineProblem } from '../kernel/text.ts';
import { isIsoDate, dayNumber } from '../kernel/time.ts';
import { AMOUNT_FIELDS, isInpatient, type Amounts } from '../settlements/model.ts';
import { consistencyProblems, parseDiagnoses } from '../settlements/validation.ts';
import { HOSPITAL_CODE, MAX_APPLICATION_FEN } from './model.ts';
import type { ApplicationStay } from './store.ts';

/**
 * The stay and figures of an application as a member or clerk typed them from the documents, checked
 * before anything is stored (pure). Every problem names its input field, so the form can point at it.
 */

/** The stay as the API takes it: amounts under their English names (SettlementAmounts). */
export interface StayInput {
  hospitalCode: string;
  hospitalName: string;
  medicalType: string;
  admittedOn: string;
  dischargedOn: string;
  diagnoses?: readonly string[] | null;
  amounts: Readonly<Record<string, number | null | undefined>>;
}

// 省级行政区划代码 (GB/T 2260): the first two digits of a hospital code's division.
const PROVINCES = new Set(['11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42', '43',
  '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '71', '81', '82']);

/** The longest stay an application may state (a plan year and a day). */
const MAX_STAY_DAYS = 366;
const EARLIEST = '2000-01-01';

/** The checked stay, or bad input naming every wrong field under `field` (e.g. `input.stay`). */
export function validateStay(field: string, input: StayInput, today: string): ApplicationStay {
  const problems: FieldProblem[] = [];
  const problem = (name: string, reason: string) => problems.push({ field: `${field}.${name}`, reason });

  const hospitalCode = input.hospitalCode.trim().toUpperCase();
  if (!HOSPITAL_CODE.test(hospitalCode)) problem('hospitalCode', 'must be a 定点医药机构编号: H and 11 digits, e.g. H35050200001');
  else if (!PROVINCES.has(hospitalCode.slice(1, 3))) problem('hospitalCode', `names no province (${hospitalCode.slice(1, 3)} is not a GB/T 2260 code)`);

  const hospitalName = input.hospitalName.trim();
  const nameProblem = lineProblem(hospitalName);
  if (nameProblem) problem('hospitalName', nameProblem);
  else if (hospitalName.length < 1 || hospitalName.length > 100) problem('hospitalName', 'must be 1 to 100 characters');

  const medType = input.medicalType.trim();
  if (!/^\d{2,6}$/.test(medType)) problem('medicalType', 'must be a 医疗类别 code of 2 to 6 digits, e.g. 11 outpatient, 21 inpatient');

  const date = (name: 'admittedOn' | 'dischargedOn', value: string) => {
    if (!isIsoDate(value)) problem(name, 'must be a date yyyy-MM-dd');
    else if (value < EARLIEST) problem(name, `must be on or after ${EARLIEST}`);
    else if (value > today) problem(name, `must not be in the future (today is ${today})`);
    else return value;
    return null;
  };
  const admittedOn = date('admittedOn', input.admittedOn);
  const dischargedOn = date('dischargedOn', input.dischargedOn);
  if (admittedOn && dischargedOn) {
    if (dischargedOn < admittedOn) problem('dischargedOn', `must not be before admittedOn ${admittedOn}`);
    else if (dayNumber(dischargedOn) - dayNumber(admittedOn) > MAX_STAY_DAYS) problem('dischargedOn', `a stay is at most ${MAX_STAY_DAYS} days`);
    else if (/^\d{2,6}$/.test(medType) && !isInpatient(medType) && dischargedOn !== admittedOn) {
      problem('dischargedOn', 'an outpatient visit (medicalType not starting with 2) is one day: dischargedOn = admittedOn');
    }
  }

  const diagnoses = parseDiagnoses(input.diagnoses ? [...input.diagnoses] : [], (_f, reason) => problem('diagnoses', reason));
  const amounts = validateAmounts(`${field}.amounts`, input.amounts, problems);

  if (problems.length || !admittedOn || !dischargedOn || !amounts) throw invalidFields(problems);
  return { hospitalCode, hospitalName, medType, admittedOn, dischargedOn, diagnoses, amounts };
}

function validateAmounts(field: string, input: StayInput['amounts'], problems: FieldProblem[]): Amounts | null {
  const before = problems.length;
  const nameOf = new Map<string, string>(AMOUNT_FIELDS.map((f) => [f.field, f.name]));
  const amounts = {} as Amounts;
  for (const f of AMOUNT_FIELDS) {
    const fen = input[f.name] ?? null;
    amounts[f.field] = fen;
    if (fen === null) {
      if (f.required) problems.push({ field: `${field}.${f.name}`, reason: 'is required' });
    } else if (!Number.isSafeInteger(fen) || fen < 0) {
      problems.push({ field: `${field}.${f.name}`, reason: 'must be a whole number of fen, 0 or more' });
    } else if (fen > MAX_APPLICATION_FEN) {
      problems.push({ field: `${field}.${f.name}`, reason: `must be at most ${fenToCny(MAX_APPLICATION_FEN)} CNY` });
    }
  }
  if (problems.length > before) return null;
  if (amounts.medfee_sumamt === 0) problems.push({ field: `${field}.totalFeesFen`, reason: 'must be more than 0' });
  // The platform's own identities, reported under the input's names.
  for (const p of consistencyProblems(amounts)) problems.push({ field: `${field}.${nameOf.get(p.field) ?? p.field}`, reason: p.reason });
  const ownPay = amounts.fulamt_ownpay_amt! + amounts.overlmt_selfpay!;
  if (ownPay > amounts.psn_part_amt!) {
    problems.push({ field: `${field}.fullyOwnPayFen`, reason: `fullyOwnPayFen + overLimitSelfPayFen (${fenToCny(ownPay)}) is more than personBurdenFen (${fenToCny(amounts.psn_part_amt!)})` });
  }
  return problems.length > before ? null : amounts;
}
