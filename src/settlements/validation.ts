import {
  AMOUNT_FIELDS, isInpatient, SETTLEMENT_INFNOS, TEXT_FIELDS,
  type Amounts, type FirstCopy, type Infno, type ParsedSettlement, type SettlementWrite, type Stay, type TextField,
} from './model.ts';
import { AmountError, fenToCny, parseFen } from '../kernel/money.ts';
import { residentIdProblem } from '../kernel/identifiers.ts';
import { jsonTextProblem, textProblem } from '../kernel/text.ts';
import type { FieldProblem } from '../kernel/problems.ts';
import { isIsoDate, parseChinaTime, planYearOf } from '../kernel/time.ts';

/**
 * Validation of one settlement record, flat, in the platform's field names (as a file row or a
 * flattened `setlinfo`). Pure. Every problem names the field the sender must correct, so a
 * rejection can be fixed and retried.
 */
export type SettlementProblem = FieldProblem<string>;

/** A flat record as received: platform field names, values as sent (strings or numbers). */
export type SettlementFields = Record<string, unknown>;

// ICD-10 as the national list writes it: C34.9, I34.0, C34.900x001 (医保版 extension).
const ICD10 = /^[A-Z]\d{2}(\.[0-9A-Za-z]{1,8})?$/;
const MAX_DIAGNOSES = 20;

/** Starts the setl_id of every application's settlement (fromApplication.ts): no other source's. */
export const APPLICATION_SETL_ID_PREFIX = 'APP-';

export function validateSettlement(fields: SettlementFields): { value: ParsedSettlement | null; problems: SettlementProblem[] } {
  const problems: SettlementProblem[] = [];
  const problem = (field: string, reason: string) => problems.push({ field, reason });

  // PostgreSQL cannot store U+0000 or an unpaired surrogate (the record travels as jsonb): any field
  // or field name holding one would fail the whole page it came in.
  for (const [key, value] of Object.entries(fields)) {
    const keyProblem = textProblem(key);
    if (keyProblem) problem(JSON.stringify(key), `the field name ${keyProblem}`);
    else {
      const valueProblem = jsonTextProblem(value);
      if (valueProblem) problem(key, valueProblem);
    }
  }

  const texts = {} as Record<TextField, string>;
  for (const { field, maxLength } of TEXT_FIELDS) {
    const value = text(fields[field]);
    if (value === null) problem(field, 'is required');
    else if (value.length > maxLength) problem(field, `must be at most ${maxLength} characters`);
    else texts[field] = value;
  }
  // Another source's APP-<id> would be taken for a copy of that application's settlement (or it for one of it).
  if (texts.setl_id?.startsWith(APPLICATION_SETL_ID_PREFIX)) {
    problem('setl_id', `must not start with ${APPLICATION_SETL_ID_PREFIX}: it is reserved for the settlements of members' applications`);
  }

  const reversesSetlId = text(fields.init_setl_id);
  const infnoText = text(fields.infno);
  let infno: Infno | null = null;
  if (infnoText !== null && !Object.hasOwn(SETTLEMENT_INFNOS, infnoText)) {
    problem('infno', 'must be 2207 or 2304 (settlement), 2208 or 2305 (reversal)');
  } else if (infnoText !== null) {
    infno = infnoText as Infno;
  } else if (texts.med_type) {
    // Files may leave infno out: the care setting and init_setl_id say which transaction it was.
    const inpatient = isInpatient(texts.med_type);
    infno = reversesSetlId === null ? (inpatient ? '2304' : '2207') : inpatient ? '2305' : '2208';
  }
  const kind = infno ? SETTLEMENT_INFNOS[infno] : null;
  if (kind === 'REVERSAL') {
    if (reversesSetlId === null) problem('init_setl_id', 'is required for a reversal (2208/2305): the setl_id it cancels');
    else if (reversesSetlId === texts.setl_id) problem('init_setl_id', 'a reversal cannot cancel itself');
  } else if (kind === 'SETTLEMENT' && reversesSetlId !== null) {
    problem('init_setl_id', 'only a reversal (2208/2305) names a settlement it cancels');
  }

  const certno = text(fields.certno)?.toUpperCase() ?? null;
  const certType = text(fields.psn_cert_type);
  if (certno === null) problem('certno', 'is required');
  else if (certType === null || certType === '01') {
    // 01 = 居民身份证; other document types (passports, 港澳台 permits) have no check digit.
    const idProblem = residentIdProblem(certno);
    if (idProblem) problem('certno', idProblem);
  } else if (certno.length > 50) problem('certno', 'must be at most 50 characters');

  const setlTimeText = text(fields.setl_time);
  const setlTime = setlTimeText === null ? null : parseChinaTime(setlTimeText);
  if (setlTimeText === null) problem('setl_time', 'is required');
  else if (!setlTime) problem('setl_time', 'must be a time yyyy-MM-dd HH:mm:ss (China time)');

  const amounts = parseAmounts(fields, kind === 'REVERSAL', problem);
  if (amounts) {
    for (const p of consistencyProblems(amounts)) problem(p.field, p.reason);
  }

  const diagnoses = parseDiagnoses(fields.diagnoses, problem);
  const stay = parseStay(fields, problem);

  if (problems.length || !infno || !kind || !certno || !setlTime || !amounts) return { value: null, problems };
  return {
    value: {
      infno, kind, setlId: texts.setl_id, reversesSetlId: kind === 'REVERSAL' ? reversesSetlId : null,
      mdtrtId: texts.mdtrt_id, psnNo: texts.psn_no, psnName: texts.psn_name, certno,
      insutype: texts.insutype, medType: texts.med_type, setlTime, diagnoses, amounts, stay,
    },
    problems,
  };
}

/** The platform's consistency rules (docs/design.md), on amounts already parsed. */
export function consistencyProblems(a: Amounts): SettlementProblem[] {
  const problems: SettlementProblem[] = [];
  const { medfee_sumamt: total, fund_pay_sumamt: funds, psn_part_amt: person, acct_pay: account, psn_cash_pay: cash } = a;
  const hospital = a.hosp_part_amt ?? 0;
  if (total !== null && funds !== null && person !== null && total !== funds + person + hospital) {
    const terms = a.hosp_part_amt === null ? 'fund_pay_sumamt + psn_part_amt' : 'fund_pay_sumamt + psn_part_amt + hosp_part_amt';
    problems.push({ field: 'medfee_sumamt', reason: `is ${fenToCny(total)}, but ${terms} = ${fenToCny(funds + person + hospital)}` });
  }
  if (person !== null && account !== null && cash !== null && person !== account + cash) {
    problems.push({ field: 'psn_part_amt', reason: `is ${fenToCny(person)}, but acct_pay + psn_cash_pay = ${fenToCny(account + cash)}` });
  }
  return problems;
}

/**
 * Why a record is not a copy of the settlement another source stored first under its setl_id: each
 * field deciding whose claim it is and what it pays that differs (kind, person, medical type, plan
 * year, the settlement a reversal cancels, every amount both sent). Empty for a copy. What merely
 * describes it (visit number, hospital, dates, diagnoses) may differ between sources. A record that
 * is not a copy must neither pass for one (DUPLICATE, never paid) nor decide anything beside it: it
 * waits as a rejection until a person tells which is right.
 */
export function copyProblems(record: SettlementWrite, copy: FirstCopy): SettlementProblem[] {
  const problems: SettlementProblem[] = [];
  const differs = (field: string, how: string) =>
    problems.push({ field, reason: `${how} settlement ${copy.id} (source ${copy.source}), stored first under this setl_id: not a copy of it` });
  const planYear = planYearOf(record.setlTime);
  if (record.kind !== copy.kind) differs('infno', `makes it a ${record.kind}, unlike`);
  else if (record.reversesSetlId !== copy.reversesSetlId) differs('init_setl_id', 'cancels another settlement than');
  if (!record.certnoHash.equals(copy.certnoHash)) differs('certno', 'names another person than');
  if (record.medType !== copy.medType) differs('med_type', 'differs from');
  if (planYear !== copy.planYear) differs('setl_time', `is in plan year ${planYear}, not in that of`);
  for (const { field } of AMOUNT_FIELDS) {
    const [own, first] = [record.amounts[field], copy.amounts[field]];
    // An optional amount one of them left out contradicts nothing.
    if (own !== null && first !== null && own !== first) differs(field, 'differs from');
  }
  return problems;
}

/** Parses every amount exactly; null when any required one is missing or wrong (each reported). */
function parseAmounts(fields: SettlementFields, reversal: boolean, problem: (field: string, reason: string) => void): Amounts | null {
  const amounts = {} as Amounts;
  let complete = true;
  for (const { field, required } of AMOUNT_FIELDS) {
    const raw = fields[field];
    if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
      if (required) {
        problem(field, 'is required');
        complete = false;
      }
      amounts[field] = null;
      continue;
    }
    try {
      const fen = parseFen(raw, field, { allowNegative: reversal });
      // A reversal reports the amounts it cancels as negatives (冲销).
      if (reversal && fen > 0) throw new AmountError(field, 'must be negative or zero in a reversal (2208/2305)');
      amounts[field] = fen;
    } catch (error) {
      if (!(error instanceof AmountError)) throw error;
      problem(error.field, error.reason);
      amounts[field] = null;
      complete = false;
    }
  }
  return complete ? amounts : null;
}

/** ICD-10 codes as a list or one cell ("C34.1;I10"); each problem is reported on `diagnoses`. */
export function parseDiagnoses(raw: unknown, problem: (field: string, reason: string) => void): string[] {
  if (raw === undefined || raw === null || raw === '') return [];
  // Files write them as one cell ("C34.1;I10"); the JSON forms as a list.
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[;,|\s]+/) : null;
  // Codes are text; String() of anything else would give no code (and throws on {"toString": 1}).
  if (!list || !list.every((c) => typeof c === 'string')) {
    problem('diagnoses', 'must be a list of ICD-10 codes');
    return [];
  }
  const codes = list.map((c) => c.trim()).filter((c) => c !== '');
  const wrong = codes.find((c) => !ICD10.test(c));
  if (wrong !== undefined) problem('diagnoses', `${JSON.stringify(wrong)} is not an ICD-10 code`);
  else if (codes.length > MAX_DIAGNOSES) problem('diagnoses', `at most ${MAX_DIAGNOSES} codes`);
  return codes;
}

/**
 * The stay, when the sender tells it (optional: the feed often does not): the hospital's code
 * (fixmedins_code) and the admission and discharge dates (begndate, enddate; a time after the date is
 * ignored, the platform writes both forms).
 */
function parseStay(fields: SettlementFields, problem: (field: string, reason: string) => void): Stay {
  const hospitalCode = text(fields.fixmedins_code);
  if (hospitalCode !== null && hospitalCode.length > 30) problem('fixmedins_code', 'must be at most 30 characters');
  const date = (field: 'begndate' | 'enddate') => {
    const value = text(fields[field]);
    if (value === null) return null;
    const day = stayDay(value);
    if (day === null) problem(field, 'must be a date yyyy-MM-dd (China time)');
    return day;
  };
  const admittedOn = date('begndate');
  const dischargedOn = date('enddate');
  if (admittedOn && dischargedOn && admittedOn > dischargedOn) problem('enddate', `is before begndate ${admittedOn}`);
  return { hospitalCode, admittedOn, dischargedOn };
}

/** The day of a stay's date as the platform writes it (yyyy-MM-dd, or with a time after it, China time), or null when it is none. */
export function stayDay(value: string): string | null {
  const day = value.slice(0, 10);
  return isIsoDate(day) && (value.length === 10 || parseChinaTime(value)) ? day : null;
}

function text(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}
