import { isObject } from '../kernel/text.ts';
import { type Amounts } from '../settlements/model.ts';
import { consistencyProblems, stayDay } from '../settlements/validation.ts';
import { evaluateBenefits, ZERO_TOTALS, type BenefitInput, type BenefitResult, type PlanYearTotals } from './rules/engine.ts';
import { isIcd10Code } from './rules/icd10.ts';
import { bilingual } from './rules/explain.ts';
import {
  MEMBER_CATEGORIES, PLANS, SETTLEMENT_AMOUNT_FIELDS, settlementFieldsUsed, UNIT_TYPES,
  type MemberCategory, type Plan, type RuleSet, type SettlementAmountField, type UnitType,
} from './rules/ruleSet.ts';
import { invalidFields } from '../kernel/errors.ts';
import { AmountError, parseFen } from '../kernel/money.ts';
import type { FieldProblem } from '../kernel/problems.ts';
import { isIsoDate, parseChinaTime } from '../kernel/time.ts';

/**
 * The preview of one settlement's benefits under a rule set, changing nothing: `hub benefits
 * preview` and the API's `benefitPreview` read the same input and print the same result.
 *
 * The input (docs/design.md, Contracts): a settlement in the platform's own field names with CNY
 * decimal strings, the member's plan facts and plan-year totals. Checked field by field; every
 * problem names its field; amounts must satisfy the platform's identities
 * (medfee_sumamt = fund_pay_sumamt + psn_part_amt (+ hosp_part_amt), psn_part_amt = acct_pay + psn_cash_pay)
 * where all their terms are given. The input has no contribution flag: a preview
 * treats the unit's contribution as paid unless `contributionPaid: false` is given.
 */
export function previewBenefits(ruleSet: RuleSet, json: unknown, at?: string): BenefitResult {
  // Every fact the engine checks is checked here first, naming the caller's field.
  return evaluateBenefits(ruleSet, parsePreviewInput(json, ruleSet, at));
}

/** A preview as `hub benefits preview` prints it (and `BenefitPreview.json` shows it): each reason and explanation one `zh / en` string. */
export function printedPreview(result: BenefitResult) {
  return {
    ...result,
    reasons: result.reasons.map((r) => bilingual(r.text)),
    lines: result.lines.map((l) => ({ ...l, explanation: bilingual(l.explanation) })),
  };
}

const TOP_LEVEL = new Set([
  'settlement', 'plan', 'specialDisease', 'firstEnrolledOn', 'planYearTotals', 'priorDiseaseGroups', 'contributionPaid', 'unitType', 'memberCategories',
  'specialDiseaseAddedOn',
]);
const TOTALS = ['INPATIENT', 'CRITICAL', 'MAJOR_DISEASE', 'PROVINCIAL_SUBSIDY', 'outOfPocket'] as const;

/**
 * The engine's input from the preview input `json`. Bad input is a DomainError listing every
 * problem; fields are named as the caller sent them, under `at` when given (`input` in the API).
 */
export function parsePreviewInput(json: unknown, ruleSet: RuleSet, at?: string): BenefitInput {
  const problems: FieldProblem<string>[] = [];
  const fail = () => invalidFields(problems.map((p) => (at === undefined ? p : { field: `${at}.${p.field}`, reason: p.reason })));
  const problem = (field: string, reason: string) => problems.push({ field, reason });
  const fen = (value: unknown, field: string): number | undefined => {
    try {
      return parseFen(value, field);
    } catch (error) {
      if (!(error instanceof AmountError)) throw error;
      problem(error.field, error.reason);
      return undefined;
    }
  };

  if (!isObject(json)) {
    problem('(input)', 'must be a JSON object');
    throw fail();
  }
  for (const key of Object.keys(json)) if (!TOP_LEVEL.has(key)) problem(key, 'is not a preview input field');

  const settlement = isObject(json.settlement) ? json.settlement : {};
  if (!isObject(json.settlement)) problem('settlement', 'must be an object with the platform settlement fields');

  const medType = settlement.med_type;
  if (typeof medType !== 'string' || !/^\d+$/.test(medType)) problem('settlement.med_type', 'must be the platform med_type code, e.g. "21"');
  const setlTime = settlement.setl_time;
  if (typeof setlTime !== 'string' || !parseChinaTime(setlTime)) problem('settlement.setl_time', 'must be yyyy-MM-dd HH:mm:ss');

  const amountsFen: Partial<Record<SettlementAmountField, number>> = {};
  for (const field of SETTLEMENT_AMOUNT_FIELDS) {
    // The platform sends null for an amount that does not apply.
    if (settlement[field] === undefined || settlement[field] === null) continue;
    const value = fen(settlement[field], `settlement.${field}`);
    if (value !== undefined) amountsFen[field] = value;
  }
  for (const field of settlementFieldsUsed(ruleSet)) {
    if (settlement[field] === undefined || settlement[field] === null) problem(`settlement.${field}`, `is required (rule set ${ruleSet.id} uses it)`);
  }
  const sent = Object.fromEntries(SETTLEMENT_AMOUNT_FIELDS.map((f) => [f, amountsFen[f] ?? null])) as Amounts;
  for (const p of consistencyProblems(sent)) problem(`settlement.${p.field}`, p.reason);

  const diagnoses: string[] = [];
  if (settlement.diagnoses !== undefined && !Array.isArray(settlement.diagnoses)) problem('settlement.diagnoses', 'must be a list of ICD-10 codes');
  (Array.isArray(settlement.diagnoses) ? settlement.diagnoses : []).forEach((code: unknown, i) => {
    if (typeof code === 'string' && isIcd10Code(code)) diagnoses.push(code.trim());
    else problem(`settlement.diagnoses[${i}]`, 'must be an ICD-10 code such as I34.0');
  });

  const plan = json.plan;
  if (!PLANS.includes(plan as Plan)) problem('plan', `must be ${PLANS.join(' or ')}`);
  const specialDisease = json.specialDisease ?? false;
  if (typeof specialDisease !== 'boolean') problem('specialDisease', 'must be true or false');
  const contributionPaid = json.contributionPaid ?? true;
  if (typeof contributionPaid !== 'boolean') problem('contributionPaid', 'must be true or false');
  const firstEnrolledOn = json.firstEnrolledOn;
  if (typeof firstEnrolledOn !== 'string' || !isIsoDate(firstEnrolledOn)) problem('firstEnrolledOn', 'must be a date yyyy-MM-dd');

  const planYearTotals: PlanYearTotals = { ...ZERO_TOTALS };
  const totals = json.planYearTotals ?? {};
  if (!isObject(totals)) problem('planYearTotals', `must be an object with ${TOTALS.join(', ')}`);
  else {
    for (const key of Object.keys(totals)) if (!(TOTALS as readonly string[]).includes(key)) problem(`planYearTotals.${key}`, `is not a total (${TOTALS.join(', ')})`);
    for (const key of TOTALS) if (totals[key] !== undefined) planYearTotals[key] = fen(totals[key], `planYearTotals.${key}`) ?? 0;
  }

  // The unit's type and the member's categories, read by programme conditions (absent: no condition is met by them).
  const unitType = json.unitType;
  if (unitType !== undefined && !(UNIT_TYPES as readonly unknown[]).includes(unitType)) problem('unitType', `must be one of ${UNIT_TYPES.join(', ')}`);
  const categories = json.memberCategories ?? [];
  if (!Array.isArray(categories) || categories.some((c) => !(MEMBER_CATEGORIES as readonly unknown[]).includes(c))) {
    problem('memberCategories', `must be a list of ${MEMBER_CATEGORIES.join(', ')}`);
  }

  // The add-on's own waiting period reads the day it was given after the enrolment and the stay's
  // admission day (begndate, a date or the platform's time); absent: it covers from the enrolment's date.
  const addedOn = json.specialDiseaseAddedOn ?? null;
  if (addedOn !== null && (typeof addedOn !== 'string' || !isIsoDate(addedOn))) problem('specialDiseaseAddedOn', 'must be a date yyyy-MM-dd');
  const begndate = settlement.begndate ?? null;
  const admittedOn = typeof begndate === 'string' ? stayDay(begndate) : null;
  if (begndate !== null && admittedOn === null) problem('settlement.begndate', 'must be a date yyyy-MM-dd (or yyyy-MM-dd HH:mm:ss)');

  const prior = json.priorDiseaseGroups ?? [];
  if (!Array.isArray(prior) || prior.some((g) => typeof g !== 'string')) problem('priorDiseaseGroups', 'must be a list of disease group codes');

  if (problems.length) throw fail();
  return {
    settlement: {
      ...(typeof settlement.setl_id === 'string' ? { setlId: settlement.setl_id } : {}),
      medType: medType as string,
      setlTime: setlTime as string,
      ...(admittedOn === null ? {} : { admittedOn }),
      diagnoses,
      amountsFen: amountsFen as BenefitInput['settlement']['amountsFen'],
    },
    enrolment: {
      planYear: Number((setlTime as string).slice(0, 4)),
      plan: plan as Plan,
      specialDisease: specialDisease as boolean,
      firstEnrolledOn: firstEnrolledOn as string,
      ...(addedOn === null ? {} : { specialDiseaseAddedOn: addedOn as string }),
      contributionPaid: contributionPaid as boolean,
      ...(unitType === undefined ? {} : { unitType: unitType as UnitType }),
      ...(json.memberCategories === undefined ? {} : { memberCategories: categories as MemberCategory[] }),
    },
    planYearTotals,
    priorDiseaseGroups: prior as string[],
  };
}
