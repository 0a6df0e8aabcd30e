import { z } from 'zod';
import { isIcd10Code, normaliseIcd10 } from './icd10.ts';
import type { FieldProblem } from '../../kernel/problems.ts';

/**
 * A benefit rule set is versioned data the union can change (docs/design.md, Default benefit rules):
 * validated here, interpreted by the engine. Money is integer fen, ratios are basis points
 * (1 bp = 0.01 %), so every computation stays in integers.
 */

export const PROGRAMMES = ['INPATIENT', 'CRITICAL', 'MAJOR_DISEASE'] as const;
export type Programme = (typeof PROGRAMMES)[number];

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

const programmeCommon = {
  /** Only members with the SPECIAL_DISEASE (职工特病) add-on get this programme. */
  requiresSpecialDisease: z.boolean().default(false),
  /** Per member and plan year, across all claims; null = no cap. */
  annualCapFen: fen.nullable().default(null),
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

const ruleSetSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'),
    version: z.int().min(1),
    description: z.string().default(''),
    planYears: z.array(z.int().min(2000).max(2100)).min(1),
    eligibility: z.strictObject({
      waitingDays: z.int().min(0).max(3650),
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
    }),
    /** Evaluation and cutting order: later programmes are cut first when lines exceed psn_part_amt. */
    stackingOrder: z.array(z.enum(PROGRAMMES)).min(1),
    capAtPersonalPart: z.boolean(),
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
