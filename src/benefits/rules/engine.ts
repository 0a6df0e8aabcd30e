import { addDays, isIsoDate, parseChinaTime } from '../../kernel/time.ts';
import { cny, formulaTerms, joinedSteps, percent, type Step } from './explain.ts';
import { icd10InRange, isIcd10Code } from './icd10.ts';
import {
  PROGRAMME_LABELS, settlementFieldsUsed,
  type BasisFormula, type MemberCategory, type Plan, type Programme, type ProgrammeCondition, type RuleSet, type SettlementAmountField, type UnitType,
} from './ruleSet.ts';

/**
 * The benefit rule engine: one settlement of a member, the member's enrolment and plan-year
 * totals, and a rule set in; eligibility, benefit lines with explanations and the totals after
 * this claim out. Pure and deterministic: no I/O, no clock, integers only (fen, basis points).
 */

export interface SettlementFacts {
  setlId?: string;
  /** Platform med_type; inpatient types start with `2`. */
  medType: string;
  /** `yyyy-MM-dd HH:mm:ss` China time as the platform writes it (`formatChinaTime`); its year is the plan year. */
  setlTime: string;
  /** ICD-10 codes; the first diagnosis of a disease group triggers MAJOR_DISEASE. */
  diagnoses: string[];
  /** 入院日期 (`begndate`) yyyy-MM-dd, China time; null or absent when the sender did not give it. */
  admittedOn?: string | null;
  /** Platform amount fields in fen (the settlements model's `Amounts` fit; null = not sent); the fields the rule set reads must be present. */
  amountsFen: Partial<Record<SettlementAmountField, number | null>>;
}

export interface EnrolmentFacts {
  planYear: number;
  plan: Plan;
  specialDisease: boolean;
  /** First day of the member's continuous enrolment (a renewal without a gap keeps the old date). */
  firstEnrolledOn: string;
  /**
   * The enrolment's own date. A renewal recorded late (after the year's first day and its back-dating
   * limit) is a gap: it covers stays from it only, after the waiting period counted from it. Absent in
   * facts stored before it was kept: not checked.
   */
  enrolledOn?: string;
  /**
   * The first day of the member's unbroken SPECIAL_DISEASE add-on (enrolments.special_disease_since:
   * continued from last year's enrolment it keeps its start), when that was after the chain's first
   * enrolment: its own waiting period counts from it (an add-on taken for the first time with a
   * renewal, or turned on after the enrolment's date). Null or absent: the add-on came with the
   * chain's first enrolment, whose waiting period covers it (facts stored before the add-on had its
   * own start read so).
   */
  specialDiseaseAddedOn?: string | null;
  /** Whether the unit's contribution for this plan year is paid. */
  contributionPaid: boolean;
  /** The unit's type (单位性质), read by programme conditions; absent in facts stored before conditions existed. */
  unitType?: UnitType;
  /** The categories on the enrolment (targeted groups), read by programme conditions. */
  memberCategories?: readonly MemberCategory[];
}

/**
 * Paid per programme so far this plan year, and the running out-of-pocket total R, all in fen.
 * PROVINCIAL_SUBSIDY came later: absent means 0 (totals stored and previews written before it).
 */
export type PlanYearTotals = Record<Exclude<Programme, 'PROVINCIAL_SUBSIDY'>, number> & { PROVINCIAL_SUBSIDY?: number; outOfPocket: number };

export const ZERO_TOTALS: PlanYearTotals = Object.freeze({ INPATIENT: 0, CRITICAL: 0, MAJOR_DISEASE: 0, outOfPocket: 0 });

/** What the plan year paid so far under `programme`. */
export const paidSoFar = (totals: PlanYearTotals, programme: Programme): number => totals[programme] ?? 0;

export interface BenefitInput {
  settlement: SettlementFacts;
  /** The member's enrolment for the plan year of the settlement, or null when there is none. */
  enrolment: EnrolmentFacts | null;
  planYearTotals: PlanYearTotals;
  /**
   * What the plan year's other claims hold of each programme, for its annual cap, where that is more
   * than `planYearTotals` (the claims decided before this one): a claim figured again after later
   * claims were decided counts the year's thresholds up to it, and its caps against every other claim.
   */
  capsPaidBefore?: Partial<Record<Programme, number>>;
  /** Disease groups whose MAJOR_DISEASE lump sum the member already received. */
  priorDiseaseGroups: readonly string[];
}

/** ANNUAL_CAP: the programme's annual cap bound; PERSONAL_PART: cut so the lines stay within psn_part_amt. */
export type CapHit = 'ANNUAL_CAP' | 'PERSONAL_PART';

export interface BenefitLine {
  programme: Programme;
  /** Whose money the line is: the programme's funder code in the rule set. */
  funder: string;
  basisFen: number;
  /** Ratio lines (INPATIENT, CRITICAL); null for lump sums. */
  ratioBp: number | null;
  /** Lump-sum lines (MAJOR_DISEASE); null for ratio lines. */
  fixedFen: number | null;
  /** The amount before caps. */
  computedFen: number;
  capsHit: CapHit[];
  amountFen: number;
  /** Every step, one text per language. */
  explanation: Step;
  /** MAJOR_DISEASE: the groups this line pays for. */
  diseaseGroups?: string[];
  /** A programme paying only members of some targeted groups (`when.memberCategories`): those of the member's that it pays for. */
  targetedGroups?: MemberCategory[];
}

export type ReasonCode = 'NO_ENROLMENT' | 'CONTRIBUTION_UNPAID' | 'WAITING_PERIOD' | 'MED_TYPE_NOT_COVERED' | 'NEEDS_SPECIAL_DISEASE'
  | 'ADD_ON_WAITING_PERIOD' | 'PROGRAMME_CONDITION_NOT_MET';

export interface BenefitResult {
  ruleSet: string;
  ruleSetVersion: number;
  eligible: boolean;
  /** Why the claim is ineligible, or why an eligible claim gets less than it might: a code and its words in each language. */
  reasons: Reason[];
  reasonCodes: ReasonCode[];
  lines: BenefitLine[];
  totalFen: number;
  /** psn_part_amt − totalFen. */
  memberPaysFen: number;
  /** The plan-year totals to store after this claim (input to the member's next claim). */
  planYearTotalsAfter: PlanYearTotals;
  /** Disease groups granted by this claim (add to priorDiseaseGroups). */
  diseaseGroupsGranted: string[];
  /**
   * The member's targeted groups some line pays more than 0 fen for only because the member is in
   * them (its programme's `when.memberCategories`): without them that line would pay nothing, so a
   * person, not the rules alone, approves the claim. Empty when no line depends on the groups.
   */
  dependsOnGroups: MemberCategory[];
  warnings: string[];
}

export class BenefitInputError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}

export interface Reason {
  code: ReasonCode;
  text: Step;
}

/** What a programme would pay before caps and cuts, or null when it does not apply to the claim. */
interface Computed {
  basisFen: number;
  ratioBp: number | null;
  fixedFen: number | null;
  computedFen: number;
  steps: Step[];
  diseaseGroups?: string[];
}

export function evaluateBenefits(ruleSet: RuleSet, input: BenefitInput): BenefitResult {
  const { settlement, enrolment, planYearTotals: before } = input;
  const amounts = checkedAmounts(ruleSet, settlement, before, input.capsPaidBefore ?? {});
  const psnPart = amounts.psn_part_amt;
  const { planYear, date } = settlementDate(settlement.setlTime);
  const warnings: string[] = [];
  if (!ruleSet.planYears.includes(planYear)) {
    warnings.push(`rule set ${ruleSet.id} v${ruleSet.version} covers plan years ${ruleSet.planYears.join(', ')}, not ${planYear}`);
  }
  const diagnoses = settlement.diagnoses.filter((code) => {
    if (isIcd10Code(code)) return true;
    warnings.push(`diagnosis ${JSON.stringify(code)} is not an ICD-10 code and was ignored`);
    return false;
  });

  const result = (eligible: boolean, reasons: Reason[], lines: BenefitLine[] = [], outOfPocketFen = 0, granted: string[] = []): BenefitResult => {
    const totalFen = lines.reduce((sum, l) => sum + l.amountFen, 0);
    const after = { ...before, outOfPocket: before.outOfPocket + outOfPocketFen };
    for (const line of lines) after[line.programme] = paidSoFar(after, line.programme) + line.amountFen;
    if (totalFen > psnPart) warnings.push(`lines total ${cny(totalFen)} exceeds psn_part_amt ${cny(psnPart)} (capAtPersonalPart is off)`);
    const dependsOnGroups = new Set<MemberCategory>();
    for (const line of lines) {
      if (!line.targetedGroups || line.amountFen === 0) continue;
      for (const group of line.targetedGroups) dependsOnGroups.add(group);
      warnings.push(
        `${line.programme} pays ${cny(line.amountFen)} only to members in the targeted groups ${line.targetedGroups.join(', ')} of this member's enrolment: `
        + 'a reviewer who did not set the groups approves it, not the rules alone',
      );
    }
    return {
      ruleSet: ruleSet.id, ruleSetVersion: ruleSet.version, eligible,
      reasons, reasonCodes: reasons.map((r) => r.code),
      lines, totalFen, memberPaysFen: psnPart - totalFen, planYearTotalsAfter: after, diseaseGroupsGranted: granted,
      dependsOnGroups: [...dependsOnGroups], warnings,
    };
  };

  const admittedOn = settlement.admittedOn ?? null;
  if (admittedOn !== null && !isIsoDate(admittedOn)) throw new BenefitInputError('settlement.begndate', 'must be a date yyyy-MM-dd');
  const ineligible = eligibilityProblems(ruleSet, enrolment, planYear, date, admittedOn);
  if (ineligible.length || !enrolment) return result(false, ineligible);
  const addOnWaiting = addOnWaitingProblem(ruleSet, enrolment, planYear, admittedOn);

  if (!ruleSet.medTypePrefixes.some((prefix) => settlement.medType.startsWith(prefix))) {
    return result(true, [{
      code: 'MED_TYPE_NOT_COVERED',
      text: {
        zh: `医疗类别 ${settlement.medType} 不在本规则适用范围（${ruleSet.medTypePrefixes.join('、')} 开头），不予补助`,
        en: `med_type ${settlement.medType} is not covered by this rule set (only types starting with ${ruleSet.medTypePrefixes.join(', ')}): no benefit lines`,
      },
    }]);
  }

  const reasons: Reason[] = [];
  const lines: BenefitLine[] = [];
  const paidThisClaim = new Map<Programme, number>();
  let outOfPocketFen = 0;
  for (const programme of ruleSet.stackingOrder) {
    let computed: Computed | null;
    if (programme === 'INPATIENT') {
      computed = inpatientLine(ruleSet.programmes.INPATIENT!, enrolment.plan, amounts);
    } else if (programme === 'CRITICAL') {
      const critical = criticalLine(ruleSet.programmes.CRITICAL!, enrolment.plan, amounts, paidThisClaim, before.outOfPocket, paidSoFar(before, 'CRITICAL'));
      outOfPocketFen = critical.outOfPocketFen;
      computed = critical;
    } else if (programme === 'PROVINCIAL_SUBSIDY') {
      computed = provincialLine(ruleSet.programmes.PROVINCIAL_SUBSIDY!, enrolment.plan, before, outOfPocketFen, paidThisClaim);
    } else {
      computed = majorDiseaseLine(ruleSet.programmes.MAJOR_DISEASE!.diseaseGroups, diagnoses, input.priorDiseaseGroups);
    }
    if (!computed) continue;
    const config = ruleSet.programmes[programme]!;
    if (config.requiresSpecialDisease && !enrolment.specialDisease) {
      if (computed.computedFen > 0) {
        const label = PROGRAMME_LABELS[programme];
        reasons.push({
          code: 'NEEDS_SPECIAL_DISEASE',
          text: {
            zh: `${label.zh}须参加职工特病互助（SPECIAL_DISEASE），本次不予发放`,
            en: `${label.en} requires the SPECIAL_DISEASE add-on, which the member does not have`,
          },
        });
      }
      continue;
    }
    if (config.requiresSpecialDisease && addOnWaiting) {
      if (computed.computedFen > 0) {
        const label = PROGRAMME_LABELS[programme];
        reasons.push({ code: 'ADD_ON_WAITING_PERIOD', text: { zh: `${label.zh}${addOnWaiting.zh}，本次不予发放`, en: `${label.en} ${addOnWaiting.en}` } });
      }
      continue;
    }
    const unmet = config.when && unmetCondition(config.when, enrolment);
    if (unmet) {
      if (computed.computedFen > 0) {
        const label = PROGRAMME_LABELS[programme];
        reasons.push({ code: 'PROGRAMME_CONDITION_NOT_MET', text: { zh: `${label.zh}${unmet.zh}，本次不予发放`, en: `${label.en} ${unmet.en}` } });
      }
      continue;
    }

    const room = ruleSet.capAtPersonalPart ? psnPart - lines.reduce((sum, l) => sum + l.amountFen, 0) : Infinity;
    const { amountFen, capsHit, steps } = capped(computed, config.annualCapFen, input.capsPaidBefore?.[programme] ?? paidSoFar(before, programme), room, psnPart);
    paidThisClaim.set(programme, amountFen);
    const targetedGroups = config.when?.memberCategories?.filter((c) => enrolment.memberCategories?.includes(c));
    lines.push({
      programme, funder: config.funder, basisFen: computed.basisFen, ratioBp: computed.ratioBp, fixedFen: computed.fixedFen,
      computedFen: computed.computedFen, capsHit, amountFen, explanation: joinedSteps(steps),
      ...(computed.diseaseGroups ? { diseaseGroups: computed.diseaseGroups } : {}),
      ...(targetedGroups ? { targetedGroups } : {}),
    });
  }
  // A group counts as granted only when something was paid for it (a line cut to 0 leaves it open).
  const granted = lines.find((l) => l.programme === 'MAJOR_DISEASE' && l.amountFen > 0)?.diseaseGroups ?? [];
  return result(true, reasons, lines, outOfPocketFen, granted);
}

/** The annual cap (against what the plan year paid so far), then the room left under psn_part_amt. */
function capped(computed: Computed, annualCapFen: number | null, paidBefore: number, room: number, psnPart: number) {
  const capsHit: CapHit[] = [];
  const steps = [...computed.steps];
  let amountFen = computed.computedFen;
  if (annualCapFen !== null && amountFen > Math.max(0, annualCapFen - paidBefore)) {
    amountFen = Math.max(0, annualCapFen - paidBefore);
    capsHit.push('ANNUAL_CAP');
    steps.push({
      zh: `年度封顶 ${cny(annualCapFen)}，本年已付 ${cny(paidBefore)}，本次最多 ${cny(amountFen)}`,
      en: `annual cap ${cny(annualCapFen)}, paid this plan year ${cny(paidBefore)}: at most ${cny(amountFen)}`,
    });
  }
  if (amountFen > room) {
    amountFen = room;
    capsHit.push('PERSONAL_PART');
    steps.push({
      zh: `各项补助合计不超过个人负担 ${cny(psnPart)}，本项减为 ${cny(room)}`,
      en: `the lines may not exceed psn_part_amt ${cny(psnPart)}: cut to ${cny(room)}`,
    });
  }
  if (capsHit.length) steps.push({ zh: `本项 ${cny(amountFen)}`, en: `pays ${cny(amountFen)}` });
  return { amountFen, capsHit, steps };
}

/**
 * The date of a late renewal, or null. A renewal keeps its chain's first date (no waiting period),
 * but one dated beyond the year's first day by more than the back-dating limit could not have been
 * dated back to it: the member was not enrolled in between, a gap. Renewing them after a stay (even
 * while in hospital) must not buy cover for it, nor renewing them when an illness is known: such an
 * enrolment covers stays settled, and where the admission day is known begun, on or after its own
 * date, and waits the waiting period from it as a first enrolment does. A renewal within the limit
 * covers the year, as one dated its first day would. Facts stored before the enrolment's date was
 * kept: null. Enrolment.waitingPeriodEndsOn reads it too (src/members/enrolments.ts).
 */
export function lateRenewalDate(
  maxBackdatingDays: number, enrolment: Pick<EnrolmentFacts, 'planYear' | 'firstEnrolledOn' | 'enrolledOn'>,
): string | null {
  const on = enrolment.enrolledOn;
  if (on === undefined || enrolment.firstEnrolledOn >= on) return null;
  return on > addDays(`${enrolment.planYear}-01-01`, maxBackdatingDays) ? on : null;
}

function eligibilityProblems(ruleSet: RuleSet, enrolment: EnrolmentFacts | null, planYear: number, date: string, admittedOn: string | null): Reason[] {
  if (enrolment && !isIsoDate(enrolment.firstEnrolledOn)) throw new BenefitInputError('enrolment.firstEnrolledOn', 'must be a date yyyy-MM-dd');
  if (enrolment?.enrolledOn !== undefined && !isIsoDate(enrolment.enrolledOn)) throw new BenefitInputError('enrolment.enrolledOn', 'must be a date yyyy-MM-dd');
  if (!enrolment || enrolment.planYear !== planYear) {
    return [{ code: 'NO_ENROLMENT', text: { zh: `${planYear} 年度未参加互助`, en: `no enrolment for plan year ${planYear}` } }];
  }
  const problems: Reason[] = [];
  if (ruleSet.eligibility.requireContributionPaid && !enrolment.contributionPaid) {
    problems.push({ code: 'CONTRIBUTION_UNPAID', text: { zh: `单位 ${planYear} 年度互助金未缴清`, en: `the unit's contribution for plan year ${planYear} is not paid` } });
  }
  const { waitingDays } = ruleSet.eligibility;
  // A late renewal is later than the chain's first date, so its own waiting period ends later.
  const lapsedUntil = lateRenewalDate(ruleSet.enrolment.maxBackdatingDays, enrolment);
  const coveredFrom = addDays(lapsedUntil ?? enrolment.firstEnrolledOn, waitingDays);
  // Not enrolled when the stay was settled, or began: a fact no waiting ends.
  const uncovered = lapsedUntil === null ? null
    : date < lapsedUntil ? {
      zh: `结算日 ${date} 早于 ${planYear} 年度续保入会日期 ${lapsedUntil}，结算时未参加互助`,
      en: `settled ${date}, before the ${planYear} renewal's date ${lapsedUntil}: not enrolled then`,
    }
    : admittedOn !== null && admittedOn < lapsedUntil ? {
      zh: `本次 ${admittedOn} 入院，早于 ${planYear} 年度续保入会日期 ${lapsedUntil}，入院时未参加互助`,
      en: `admitted ${admittedOn}, before the ${planYear} renewal's date ${lapsedUntil}: not enrolled when the stay began`,
    }
    : null;
  if (uncovered) {
    problems.push({ code: 'NO_ENROLMENT', text: uncovered });
  } else if (date < coveredFrom) {
    problems.push({
      code: 'WAITING_PERIOD',
      text: lapsedUntil === null ? {
        zh: `首次参加互助 ${enrolment.firstEnrolledOn}，${waitingDays} 天等待期内（${coveredFrom} 起享受），结算日 ${date}`,
        en: `settled ${date}, within the ${waitingDays}-day waiting period after first enrolment on ${enrolment.firstEnrolledOn} (covered from ${coveredFrom})`,
      } : {
        zh: `${planYear} 年度续保入会日期 ${lapsedUntil} 晚于年初（中断后续保），${waitingDays} 天等待期内（${coveredFrom} 起享受），结算日 ${date}`,
        en: `settled ${date}, within the ${waitingDays}-day waiting period of a renewal after a gap, dated ${lapsedUntil} (covered from ${coveredFrom})`,
      },
    });
  }
  return problems;
}

/**
 * Why the SPECIAL_DISEASE add-on does not cover this stay yet, or null when it does (or came with the
 * chain's first enrolment). Taken after the chain began (first with a renewal, or turned on later),
 * it covers stays admitted from its own waiting period's end: a stay begun before (a member in
 * hospital when the add-on was turned on) is not paid whenever it is settled, nor one whose admission
 * day is unknown, unless the waiting ended before the plan year began (an add-on continued for years).
 * A late renewal (a gap) continuing last year's add-on gives it again on its own date: the general
 * waiting period looks at the settlement's date, so a stay begun in the gap's waiting and settled
 * after it would otherwise be paid the add-on's lump sums at once.
 */
function addOnWaitingProblem(ruleSet: RuleSet, enrolment: EnrolmentFacts, planYear: number, admittedOn: string | null): Step | null {
  const chainAddedOn = enrolment.specialDiseaseAddedOn;
  if (!enrolment.specialDisease || chainAddedOn === undefined) return null;
  if (chainAddedOn !== null && !isIsoDate(chainAddedOn)) throw new BenefitInputError('enrolment.specialDiseaseAddedOn', 'must be a date yyyy-MM-dd');
  const renewedOn = lateRenewalDate(ruleSet.enrolment.maxBackdatingDays, enrolment);
  const afterGap = renewedOn !== null && (chainAddedOn === null || renewedOn > chainAddedOn);
  const addedOn = afterGap ? renewedOn : chainAddedOn;
  if (addedOn === null) return null;
  const days = ruleSet.eligibility.specialDiseaseWaitingDays;
  const coveredFrom = addDays(addedOn, days);
  if (admittedOn === null ? coveredFrom <= `${planYear}-01-01` : admittedOn >= coveredFrom) return null;
  const stay = admittedOn === null
    ? { zh: '本次结算未提供入院日期', en: 'the settlement gives no admission date (begndate)' }
    : { zh: `本次 ${admittedOn} 入院`, en: `this stay was admitted on ${admittedOn}` };
  const given = afterGap
    ? { zh: `附加保障随 ${addedOn} 中断后续保重新起算`, en: `the add-on was given again with a renewal after a gap on ${addedOn}` }
    : { zh: `附加保障 ${addedOn} 起参加`, en: `the add-on was given on ${addedOn}` };
  return {
    zh: `须在职工特病附加保障等待期满后入院：${given.zh}，等待期 ${days} 天，${coveredFrom} 起入院的住院方予补助；${stay.zh}`,
    en: `requires a stay admitted after the SPECIAL_DISEASE add-on's waiting period: ${given.en}, with a ${days}-day waiting period, so it pays stays admitted from ${coveredFrom}; ${stay.en}`,
  };
}

function inpatientLine(config: NonNullable<RuleSet['programmes']['INPATIENT']>, plan: Plan, amounts: CheckedAmounts): Computed {
  const basisFen = formulaValue(config.basis, amounts);
  const ratioBp = config.ratioBp[plan];
  const computedFen = applyRatio(basisFen, ratioBp);
  const terms = formulaTerms(config.basis, amounts);
  return {
    basisFen, ratioBp, fixedFen: null, computedFen,
    steps: [
      { zh: `基数 = ${terms.zh} = ${cny(basisFen)}`, en: `basis = ${terms.en} = ${cny(basisFen)}` },
      { zh: `基数 ${cny(basisFen)} × ${percent(ratioBp)} = ${cny(computedFen)}（${plan} 计划比例）`, en: `basis ${cny(basisFen)} × ${percent(ratioBp)} = ${cny(computedFen)} (${plan} plan ratio)` },
    ],
  };
}

/**
 * CRITICAL pays the ratio of the growth of R above the threshold. Rounding is cumulative: the
 * entitlement to date is rounded down, the line is its growth, so splitting a year's stays into
 * more or fewer settlements, in any order, never changes the year's total by a fen.
 * `paidBefore`: what the year's claims before this one hold of CRITICAL (aboveThreshold).
 */
function criticalLine(
  config: NonNullable<RuleSet['programmes']['CRITICAL']>,
  plan: Plan,
  amounts: CheckedAmounts,
  paidThisClaim: ReadonlyMap<Programme, number>,
  rBefore: number,
  paidBefore: number,
): Computed & { outOfPocketFen: number } {
  const { outOfPocket: oop } = config;
  const deducted = oop.lessProgrammes.map((p) => ({ p, fen: paidThisClaim.get(p) ?? 0 }));
  const outOfPocketFen = Math.max(0, formulaValue(oop, amounts) - deducted.reduce((sum, d) => sum + d.fen, 0));
  const rAfter = rBefore + outOfPocketFen;
  const terms = formulaTerms(oop, amounts);
  const less = (lang: 'zh' | 'en') => deducted.map((d) => ` − ${PROGRAMME_LABELS[d.p][lang]} ${cny(d.fen)}`).join('');
  const steps: Step[] = [
    { zh: `本次自付 = ${terms.zh}${less('zh')} = ${cny(outOfPocketFen)}`, en: `out-of-pocket = ${terms.en}${less('en')} = ${cny(outOfPocketFen)}` },
    { zh: `本年累计自付 ${cny(rBefore)} + ${cny(outOfPocketFen)} = ${cny(rAfter)}`, en: `running out-of-pocket ${cny(rBefore)} + ${cny(outOfPocketFen)} = ${cny(rAfter)}` },
  ];
  return { ...aboveThreshold(config.thresholdFen, config.ratioBp[plan], rBefore, rAfter, paidBefore, steps), outOfPocketFen };
}

/**
 * PROVINCIAL_SUBSIDY: CRITICAL's rule on R_p = R − what `lessProgrammes` paid this plan year, before
 * this claim and after it (ruleSet.ts, provincialSubsidy). R_p never falls: a claim's own lines are
 * at most what it added to R, but a reviewer's later change could make it, and a fall pays nothing.
 */
function provincialLine(
  config: NonNullable<RuleSet['programmes']['PROVINCIAL_SUBSIDY']>,
  plan: Plan,
  before: PlanYearTotals,
  outOfPocketFen: number,
  paidThisClaim: ReadonlyMap<Programme, number>,
): Computed {
  const paidBefore = config.lessProgrammes.reduce((sum, p) => sum + paidSoFar(before, p), 0);
  const paidNow = config.lessProgrammes.reduce((sum, p) => sum + (paidThisClaim.get(p) ?? 0), 0);
  const rBefore = Math.max(0, before.outOfPocket - paidBefore);
  const rAfter = Math.max(rBefore, before.outOfPocket + outOfPocketFen - paidBefore - paidNow);
  const less = (lang: 'zh' | 'en') => config.lessProgrammes.map((p) => ` − ${PROGRAMME_LABELS[p][lang]}`).join('');
  const steps: Step[] = [{
    zh: `省级累计自付 = 本年累计自付${less('zh')}（本年合计）= ${cny(rAfter)}（此前 ${cny(rBefore)}）`,
    en: `provincial running out-of-pocket = running out-of-pocket${less('en')} (this plan year) = ${cny(rAfter)} (before ${cny(rBefore)})`,
  }];
  return aboveThreshold(config.thresholdFen, config.ratioBp[plan], rBefore, rAfter, paidSoFar(before, 'PROVINCIAL_SUBSIDY'), steps);
}

/**
 * The ratio of the growth of a running total above a threshold. Rounding is cumulative: the
 * entitlement to date is rounded down, the line is its growth. Never beyond the entitlement to date
 * less what the year's claims before it hold (`paidBefore`): a claim that left the year (reversed,
 * rejected) takes its share of the running total with it, but a claim decided after it keeps what it
 * was paid above the threshold with that share counted, and the next claim would climb over the
 * threshold again and be paid that slice a second time. Where nothing left the year, under one
 * ratio and threshold, the earlier claims hold at most the entitlement before this one (caps and
 * adjustments only lower them), and the line is its growth.
 */
function aboveThreshold(thresholdFen: number, ratioBp: number, rBefore: number, rAfter: number, paidBefore: number, leading: Step[]): Computed {
  const excessBefore = Math.max(0, rBefore - thresholdFen);
  const excessAfter = Math.max(0, rAfter - thresholdFen);
  const entitledBefore = applyRatio(excessBefore, ratioBp);
  const entitledAfter = applyRatio(excessAfter, ratioBp);
  const basisFen = excessAfter - excessBefore;
  const growthFen = entitledAfter - entitledBefore;
  const computedFen = Math.min(growthFen, Math.max(0, entitledAfter - paidBefore));
  const steps: Step[] = [
    ...leading,
    {
      zh: `超过起付线 ${cny(thresholdFen)} 的部分由 ${cny(excessBefore)} 增至 ${cny(excessAfter)}，基数 ${cny(basisFen)}`,
      en: `above the threshold ${cny(thresholdFen)}: ${cny(excessBefore)} -> ${cny(excessAfter)}, basis ${cny(basisFen)}`,
    },
  ];
  if (excessBefore === 0) {
    steps.push({ zh: `基数 ${cny(basisFen)} × ${percent(ratioBp)} = ${cny(growthFen)}`, en: `basis ${cny(basisFen)} × ${percent(ratioBp)} = ${cny(growthFen)}` });
  } else {
    steps.push({
      zh: `累计 ${cny(excessAfter)} × ${percent(ratioBp)} = ${cny(entitledAfter)}，减此前 ${cny(excessBefore)} × ${percent(ratioBp)} = ${cny(entitledBefore)}，本次 ${cny(growthFen)}`,
      en: `to date ${cny(excessAfter)} × ${percent(ratioBp)} = ${cny(entitledAfter)}, less before ${cny(excessBefore)} × ${percent(ratioBp)} = ${cny(entitledBefore)}: ${cny(growthFen)}`,
    });
  }
  if (computedFen < growthFen) {
    steps.push({
      zh: `本年此前已核定 ${cny(paidBefore)}，累计应得 ${cny(entitledAfter)}，本次最多 ${cny(computedFen)}`,
      en: `the plan year's claims before it hold ${cny(paidBefore)} of the ${cny(entitledAfter)} due to date: at most ${cny(computedFen)}`,
    });
  }
  return { basisFen, ratioBp, fixedFen: null, computedFen, steps };
}

/** Why the member falls outside a programme's condition (in each language), or null when they are within it. */
function unmetCondition(when: ProgrammeCondition, enrolment: EnrolmentFacts): Step | null {
  if (when.unitTypes && !(enrolment.unitType && when.unitTypes.includes(enrolment.unitType))) {
    return {
      zh: `仅适用于单位性质为 ${when.unitTypes.join('、')} 的会员（本单位 ${enrolment.unitType ?? '未知'}）`,
      en: `applies only to members of units of type ${when.unitTypes.join(', ')} (this unit: ${enrolment.unitType ?? 'unknown'})`,
    };
  }
  const categories = enrolment.memberCategories ?? [];
  if (when.memberCategories && !when.memberCategories.some((c) => categories.includes(c))) {
    return {
      zh: `仅适用于 ${when.memberCategories.join('、')} 类会员（本会员 ${categories.join('、') || '无'}）`,
      en: `applies only to members in the categories ${when.memberCategories.join(', ')} (this member: ${categories.join(', ') || 'none'})`,
    };
  }
  return null;
}

/** A line only when a diagnosis falls in one of the programme's disease groups. */
function majorDiseaseLine(
  groups: NonNullable<RuleSet['programmes']['MAJOR_DISEASE']>['diseaseGroups'],
  diagnoses: string[],
  prior: readonly string[],
): Computed | null {
  const steps: Step[] = [];
  const paid: string[] = [];
  let fixedFen = 0;
  for (const group of groups) {
    const code = diagnoses.find((d) => group.icd10.some((range) => icd10InRange(d, range)));
    if (!code) continue;
    if (prior.includes(group.code)) {
      steps.push({ zh: `${group.name.zh}（${code}）此前已发放过一次性补助`, en: `${group.name.en} (${code}): lump sum already granted` });
      continue;
    }
    // A group whose lump sum is 0 pays nothing, so it is never granted (whatever else the line pays).
    if (group.lumpSumFen > 0) paid.push(group.code);
    fixedFen += group.lumpSumFen;
    steps.push({ zh: `首次确诊${group.name.zh}（${code}）一次性补助 ${cny(group.lumpSumFen)}`, en: `first diagnosis of ${group.name.en} (${code}): lump sum ${cny(group.lumpSumFen)}` });
  }
  if (!steps.length) return null;
  return { basisFen: fixedFen, ratioBp: null, fixedFen, computedFen: fixedFen, steps, diseaseGroups: paid };
}

type CheckedAmounts = Partial<Record<SettlementAmountField, number>> & { psn_part_amt: number };

/** The amounts sent (nulls dropped), after checking they are fen and hold what the rule set reads. */
function checkedAmounts(ruleSet: RuleSet, settlement: SettlementFacts, totals: PlanYearTotals, capsPaid: Partial<Record<Programme, number>>): CheckedAmounts {
  const amounts: Partial<Record<SettlementAmountField, number>> = {};
  for (const [field, fen] of Object.entries(settlement.amountsFen) as [SettlementAmountField, number | null | undefined][]) {
    if (fen === null || fen === undefined) continue;
    if (!Number.isSafeInteger(fen) || fen < 0) throw new BenefitInputError(`settlement.${field}`, 'must be a whole number of fen, not negative');
    amounts[field] = fen;
  }
  for (const [field, fen] of Object.entries(totals)) {
    if (!Number.isSafeInteger(fen) || fen < 0) throw new BenefitInputError(`planYearTotals.${field}`, 'must be a whole number of fen, not negative');
  }
  for (const [programme, fen] of Object.entries(capsPaid)) {
    if (!Number.isSafeInteger(fen) || fen < 0) throw new BenefitInputError(`capsPaidBefore.${programme}`, 'must be a whole number of fen, not negative');
  }
  for (const field of settlementFieldsUsed(ruleSet)) {
    if (amounts[field] === undefined) throw new BenefitInputError(`settlement.${field}`, `is required by rule set ${ruleSet.id}`);
  }
  return amounts as CheckedAmounts;
}

function formulaValue(formula: BasisFormula, amounts: CheckedAmounts): number {
  const sum = (fields: string[]) => fields.reduce((total, f) => total + (amounts[f as SettlementAmountField] ?? 0), 0);
  return Math.max(0, sum(formula.add) - sum(formula.subtract));
}

/** floor(fen × bp / 10000), exact for any amount (BigInt: fen × bp can pass 2^53). */
export function applyRatio(fen: number, bp: number): number {
  return Number((BigInt(fen) * BigInt(bp)) / 10_000n);
}

function settlementDate(setlTime: string): { planYear: number; date: string } {
  if (!parseChinaTime(setlTime)) throw new BenefitInputError('settlement.setl_time', 'must be yyyy-MM-dd HH:mm:ss');
  // The text is China time, so its own date and year are the member's.
  return { planYear: Number(setlTime.slice(0, 4)), date: setlTime.slice(0, 10) };
}
