import { z } from 'zod';
import { isIcd10Code, normaliseIcd10 } from './icd10.ts';
import type { FieldProblem } from '../../kernel/problems.ts';

/**
 * A benefit rule set is versioned data the union can change (docs/design.md, Default benefit rules):
 * validated here, interpreted by the engine. Money is integer fen, ratios are basis points
 * (1 bp = 0.01 %), so every computation stays in integers.
 */

export const PROGRAMMES = ['INPATIENT', 'CRITICAL', 'MAJOR_DISEASE', 'PROVINCIAL_SUBSIDY'] as const;
export type Programme = (typeof PROGRAMMES)[number];

/** 单位性质: what a programme's `when.unitTypes` may name (units.unit_type). */
export const UNIT_TYPES = ['GOVERNMENT', 'PUBLIC_INSTITUTION', 'STATE_OWNED', 'NON_PUBLIC', 'SOCIAL_ORGANISATION'] as const;
export type UnitType = (typeof UNIT_TYPES)[number];

/** Targeted groups recorded at enrolment (enrolments.member_categories): what `when.memberCategories` may name. */
export const MEMBER_CATEGORIES = ['NEW_EMPLOYMENT_FORM', 'SANITATION', 'MIGRANT_WORKER', 'HARDSHIP', 'MODEL_WORKER'] as const;
export type MemberCategory = (typeof MEMBER_CATEGORIES)[number];

/** Why a condolence payment (慰问金) is made. */
export const CONDOLENCE_REASONS = ['SERIOUS_ILLNESS', 'DEATH', 'HARDSHIP', 'ACCIDENT'] as const;
export type CondolenceReason = (typeof CONDOLENCE_REASONS)[number];

/** The funder (出资方) of a programme a rule set names none for: the hub's own union. */
export const DEFAULT_FUNDER = 'UNION';

export const PLANS = ['PUBLIC', 'PRIVATE'] as const;
export type Plan = (typeof PLANS)[number];

/**
 * The settlement amount fields a rule set may read, in the platform's own names, with labels for
 * explanations. The engine names them itself (a core imports no domain); they are the settlements
 * model's AMOUNT_FIELDS (test/benefits/ruleSet.test.ts keeps the two lists one).
 */
export const SETTLEMENT_AMOUNT_LABELS = {
  medfee_sumamt: { zh: '医疗费总额', en: 'total medical fees' },
  fulamt_ownpay_amt: { zh: '全自费金额', en: 'fully self-funded' },
  overlmt_selfpay: { zh: '超限价自费', en: 'above the price cap' },
  preselfpay_amt: { zh: '先行自付金额', en: 'class-B upfront self-pay' },
  inscp_scp_amt: { zh: '符合政策范围金额', en: 'in-policy amount' },
  act_pay_dedc: { zh: '实际支付起付线', en: 'deductible applied' },
  hifp_pay: { zh: '统筹基金支出', en: 'pooled fund' },
  hifmi_pay: { zh: '居民大病保险', en: 'serious-illness insurance' },
  hifob_pay: { zh: '职工大额医疗费用补助', en: 'large-expense subsidy' },
  maf_pay: { zh: '医疗救助基金', en: 'medical assistance' },
  cvlserv_pay: { zh: '公务员医疗补助', en: 'civil-servant subsidy' },
  hifes_pay: { zh: '企业补充医疗保险', en: 'enterprise supplement' },
  oth_pay: { zh: '其他支出', en: 'other funds' },
  fund_pay_sumamt: { zh: '基金支付总额', en: 'all funds' },
  psn_part_amt: { zh: '个人负担总金额', en: 'patient burden' },
  acct_pay: { zh: '个人账户支出', en: 'personal account' },
  psn_cash_pay: { zh: '个人现金支出', en: 'paid in cash' },
  hosp_part_amt: { zh: '医院负担金额', en: 'borne by the hospital' },
} as const satisfies Record<string, { zh: string; en: string }>;

export type SettlementAmountField = keyof typeof SETTLEMENT_AMOUNT_LABELS;
export const SETTLEMENT_AMOUNT_FIELDS = Object.keys(SETTLEMENT_AMOUNT_LABELS) as SettlementAmountField[];

export const PROGRAMME_LABELS: Record<Programme, { zh: string; en: string }> = {
  INPATIENT: { zh: '住院医疗互助', en: 'INPATIENT' },
  CRITICAL: { zh: '大病补助', en: 'CRITICAL' },
  MAJOR_DISEASE: { zh: '重大疾病一次性补助', en: 'MAJOR_DISEASE' },
  PROVINCIAL_SUBSIDY: { zh: '省总工会大病补助', en: 'PROVINCIAL_SUBSIDY' },
};

const fen = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const basisPoints = z.int().min(0).max(10_000, 'must be at most 10000 (100 %)');
const amountField = z.enum(SETTLEMENT_AMOUNT_FIELDS as [SettlementAmountField, ...SettlementAmountField[]]);
const icd10 = z.string().refine(isIcd10Code, 'must be an ICD-10 code such as C00 or I34.0');

/** Settlement fields added and subtracted; the result is never below 0. */
const formula = z.strictObject({
  add: z.array(amountField).min(1),
  subtract: z.array(amountField).default([]),
});

const ratioPerPlan = z.strictObject({ PUBLIC: basisPoints, PRIVATE: basisPoints });

/** A funder's code (funders.code); a rule set naming one without a funders row is refused when proposed or approved. */
const funderCode = z.string().regex(/^[A-Z][A-Z0-9-]{0,31}$/, 'must be a funder code such as UNION or FJ');

/**
 * Who a programme applies to: members of a unit of one of `unitTypes` and, when given, enrolled
 * with one of `memberCategories`. Anyone else gets no line of it (an explanation says why); the
 * claim itself is not refused.
 */
const condition = z.strictObject({
  unitTypes: z.array(z.enum(UNIT_TYPES)).min(1).optional(),
  memberCategories: z.array(z.enum(MEMBER_CATEGORIES)).min(1).optional(),
});

const programmeCommon = {
  /** Only members with the SPECIAL_DISEASE (职工特病) add-on get this programme. */
  requiresSpecialDisease: z.boolean().default(false),
  /** Per member and plan year, across all claims; null = no cap. */
  annualCapFen: fen.nullable().default(null),
  /** Whose money the programme's lines are (funders.code); versions stored before funders existed read as UNION. */
  funder: funderCode.default(DEFAULT_FUNDER),
  /** Absent: the programme applies to every member. */
  when: condition.optional(),
};

const inpatient = z.strictObject({
  ...programmeCommon,
  basis: formula,
  ratioBp: ratioPerPlan,
});

const critical = z.strictObject({
  ...programmeCommon,
  /** What one claim adds to the running out-of-pocket total R: settlement fields less earlier programmes' lines. */
  outOfPocket: z.strictObject({
    add: formula.shape.add,
    subtract: formula.shape.subtract,
    lessProgrammes: z.array(z.enum(PROGRAMMES)).default([]),
  }),
  thresholdFen: fen,
  ratioBp: ratioPerPlan,
});

/**
 * 省总工会大病补助, stacked on the city's lines: the shape of CRITICAL, on an out-of-pocket total
 * derived from CRITICAL's running total R rather than kept apart: R_p = R − what `lessProgrammes`
 * paid this plan year (their member-year totals, this claim's lines included). So reversals,
 * rejections and adjustments move it with R and the lines they release, with no total of its own;
 * it needs CRITICAL configured and evaluated before it. The threshold, ratio and cumulative rounding
 * are CRITICAL's.
 */
const provincialSubsidy = z.strictObject({
  ...programmeCommon,
  lessProgrammes: z.array(z.enum(PROGRAMMES)).default([]),
  thresholdFen: fen,
  ratioBp: ratioPerPlan,
});

const diseaseGroup = z.strictObject({
  code: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an upper-case code such as CANCER'),
  name: z.strictObject({ zh: z.string().min(1), en: z.string().min(1) }),
  icd10: z.array(z.strictObject({ from: icd10, to: icd10 })).min(1),
  lumpSumFen: fen,
});

const majorDisease = z.strictObject({
  ...programmeCommon,
  diseaseGroups: z.array(diseaseGroup).min(1),
});

/** An age in whole years and months (法定年龄): reached on the anniversary, see enrolment.ts `reachesAge`. */
const age = z.strictObject({ years: z.int().min(0).max(100), months: z.int().min(0).max(11).default(0) });

/**
 * Who may be enrolled (docs/design.md, Eligibility at enrolment), checked by enrolment.ts. A rule
 * set without the section gets the defaults below, so the shipped files and every version stored
 * before the section existed read alike (a stored version never changes): aged 16 to the highest
 * statutory retirement age reached in 2025 under the gradual raise that began on 2025-01-01 (men
 * 60 years 3 months, women 55 years 3 months), in service, back-dated at most 30 days, in the plan
 * of the unit's type. A later rule-set version states its own values.
 */
const enrolment = z.strictObject({
  /** 法定劳动年龄: the youngest a member may be on the enrolment date. */
  minimumAge: age,
  /** 法定退休年龄 by gender: a member who has reached it on the enrolment date is refused. */
  maximumAge: z.strictObject({ M: age, F: age }),
  /** Only employees in service (在职) with their unit on the enrolment date. */
  requireInService: z.boolean(),
  /** Days the enrolment date may lie before the day it is recorded; earlier only by ADMIN with a reason. */
  maxBackdatingDays: z.int().min(0).max(366),
  /** The plan must be the unit's plan type, unless ADMIN overrides it with a reason. */
  planFollowsUnit: z.boolean(),
});

const ENROLMENT_DEFAULTS: z.input<typeof enrolment> = {
  minimumAge: { years: 16 },
  maximumAge: { M: { years: 60, months: 3 }, F: { years: 55, months: 3 } },
  requireInService: true,
  maxBackdatingDays: 30,
  planFollowsUnit: true,
};

/**
 * 慰问金 for workers who are not enrolled, applied for by their unit union: the caps of one case
 * and of one worker's plan year, whose money it is and the reasons it is paid for. A rule set
 * without the section pays no condolence.
 */
const condolence = z.strictObject({
  perCaseCapFen: fen,
  annualCapFenPerWorker: fen,
  funder: funderCode.default(DEFAULT_FUNDER),
  reasons: z.array(z.enum(CONDOLENCE_REASONS)).min(1).default([...CONDOLENCE_REASONS]),
});

const ruleSetSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'),
    version: z.int().min(1),
    description: z.string().default(''),
    planYears: z.array(z.int().min(2000).max(2100)).min(1),
    eligibility: z.strictObject({
      waitingDays: z.int().min(0).max(3650),
      /**
       * The SPECIAL_DISEASE add-on's own waiting period, in days from the day it was given to an
       * enrolment that began without it: the programmes requiring it pay only stays admitted from
       * then on. An add-on enrolled with the enrolment waits as the enrolment does (`waitingDays`).
       * Versions stored before it existed read 90.
       */
      specialDiseaseWaitingDays: z.int().min(0).max(3650).default(90),
      requireContributionPaid: z.boolean(),
      /**
       * What "contribution paid" means for one enrolment. ENROLMENT_ORDER: the unit's payments for
       * the plan year cover its enrolments in the order they were owed (enrolled_on, then id), so a
       * late addition never uncovers members already paid for. WHOLE_UNIT: only a unit paid in full
       * covers anyone.
       */
      coverage: z.enum(['ENROLMENT_ORDER', 'WHOLE_UNIT']).default('ENROLMENT_ORDER'),
    }),
    enrolment: enrolment.default(() => enrolment.parse(ENROLMENT_DEFAULTS)),
    /** Settlements whose med_type starts with one of these get benefits (`["2"]`: inpatient only). */
    medTypePrefixes: z.array(z.string().regex(/^\d+$/, 'must be digits')).min(1),
    programmes: z.strictObject({
      INPATIENT: inpatient.optional(),
      CRITICAL: critical.optional(),
      MAJOR_DISEASE: majorDisease.optional(),
      PROVINCIAL_SUBSIDY: provincialSubsidy.optional(),
    }),
    /** Evaluation and cutting order: later programmes are cut first when lines exceed psn_part_amt. */
    stackingOrder: z.array(z.enum(PROGRAMMES)).min(1),
    capAtPersonalPart: z.boolean(),
    condolence: condolence.optional(),
  })
  .superRefine((rs, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const configured = PROGRAMMES.filter((p) => rs.programmes[p]);
    const order = rs.stackingOrder;
    if (new Set(order).size !== order.length) issue(['stackingOrder'], 'lists a programme twice');
    for (const p of configured) if (!order.includes(p)) issue(['stackingOrder'], `must list ${p} (it is configured)`);
    order.forEach((p, i) => {
      if (!rs.programmes[p]) issue(['stackingOrder', i], `${p} is not configured under programmes`);
    });
    if (new Set(rs.planYears).size !== rs.planYears.length) issue(['planYears'], 'lists a year twice');
    const critical = rs.programmes.CRITICAL;
    critical?.outOfPocket.lessProgrammes.forEach((p, i) => {
      // R uses the final line of each programme it deducts, so those must be decided first.
      if (!(order.indexOf(p) >= 0 && order.indexOf(p) < order.indexOf('CRITICAL'))) {
        issue(['programmes', 'CRITICAL', 'outOfPocket', 'lessProgrammes', i], `${p} must come before CRITICAL in stackingOrder`);
      }
    });
    const provincial = rs.programmes.PROVINCIAL_SUBSIDY;
    if (provincial) {
      const at = order.indexOf('PROVINCIAL_SUBSIDY');
      // R_p is derived from CRITICAL's R, so CRITICAL must be configured and decided first.
      if (!rs.programmes.CRITICAL || !(order.indexOf('CRITICAL') >= 0 && order.indexOf('CRITICAL') < at)) {
        issue(['programmes', 'PROVINCIAL_SUBSIDY'], 'needs CRITICAL configured and before it in stackingOrder (it reads the running out-of-pocket total R)');
      }
      provincial.lessProgrammes.forEach((p, i) => {
        const field = ['programmes', 'PROVINCIAL_SUBSIDY', 'lessProgrammes', i];
        if (!(order.indexOf(p) >= 0 && order.indexOf(p) < at)) issue(field, `${p} must come before PROVINCIAL_SUBSIDY in stackingOrder`);
        // R already excludes CRITICAL's deductions: taking them off again would count them twice.
        if (rs.programmes.CRITICAL?.outOfPocket.lessProgrammes.includes(p)) issue(field, `${p} is already deducted from R by CRITICAL`);
      });
    }
    const groups = rs.programmes.MAJOR_DISEASE?.diseaseGroups ?? [];
    const seen = new Set<string>();
    groups.forEach((g, i) => {
      if (seen.has(g.code)) issue(['programmes', 'MAJOR_DISEASE', 'diseaseGroups', i, 'code'], `group ${g.code} is defined twice`);
      seen.add(g.code);
      g.icd10.forEach((range, j) => {
        if (normaliseIcd10(range.from) > normaliseIcd10(range.to)) {
          issue(['programmes', 'MAJOR_DISEASE', 'diseaseGroups', i, 'icd10', j], `from ${range.from} is after to ${range.to}`);
        }
      });
    });
  });

export type RuleSet = z.output<typeof ruleSetSchema>;
export type BasisFormula = z.output<typeof formula>;
export type DiseaseGroup = z.output<typeof diseaseGroup>;
export type EnrolmentRules = z.output<typeof enrolment>;
export type Age = z.output<typeof age>;
export type CondolenceRules = z.output<typeof condolence>;
export type ProgrammeCondition = z.output<typeof condition>;

/** The funder code of each programme the rule set configures (and of its condolence section), with the field that names it. */
export function fundersNamed(ruleSet: RuleSet): { field: string; code: string }[] {
  const named = PROGRAMMES.flatMap((p) => {
    const config = ruleSet.programmes[p];
    return config ? [{ field: `programmes.${p}.funder`, code: config.funder }] : [];
  });
  if (ruleSet.condolence) named.push({ field: 'condolence.funder', code: ruleSet.condolence.funder });
  return named;
}

export type RuleSetValidation = { ok: true; ruleSet: RuleSet } | { ok: false; errors: FieldProblem<string>[] };

/** Checks rule-set JSON (shipped or published by the union); errors name the field, e.g. `programmes.INPATIENT.ratioBp.PUBLIC`. */
export function validateRuleSet(json: unknown): RuleSetValidation {
  const result = ruleSetSchema.safeParse(json);
  if (result.success) return { ok: true, ruleSet: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(rule set)', reason: i.message })),
  };
}

/** The settlement amount fields a rule set reads (they must be present in a settlement it evaluates). */
export function settlementFieldsUsed(ruleSet: RuleSet): SettlementAmountField[] {
  const { INPATIENT, CRITICAL } = ruleSet.programmes;
  const fields = new Set<SettlementAmountField>(['psn_part_amt']);
  for (const f of [INPATIENT?.basis, CRITICAL?.outOfPocket]) for (const name of [...(f?.add ?? []), ...(f?.subtract ?? [])]) fields.add(name);
  return [...fields];
}
