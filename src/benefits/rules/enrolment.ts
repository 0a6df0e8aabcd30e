import { dayNumber } from '../../kernel/time.ts';
import type { Age, EnrolmentRules, MemberCategory, Plan } from './ruleSet.ts';

/**
 * Eligibility at enrolment (入会资格), decided from the rule set's `enrolment` section: working age
 * from the ID number's birth date, in service with the unit, no back-dating beyond the limit (nor
 * into a plan year that has ended), the plan of the unit's type. Pure: the caller reads the member,
 * the unit and the day. A refusal names its rule; BACKDATED and PLAN_MISMATCH yield to an ADMIN's
 * override (with a reason, checked by the caller), WORKING_AGE and IN_SERVICE never do.
 *
 * A targeted group added to an existing enrolment is asked today but counts from the enrolment's
 * date, as the enrolment does: it is judged for back-dating as a new enrolment on that date would be
 * (BACKDATED, the same override). The SPECIAL_DISEASE add-on turned on for an existing enrolment
 * starts on the day it is recorded instead (specialDiseaseFrom), with its own waiting period for the
 * programmes needing it (engine.ts): not back-dated, so not refused, except in a plan year that has
 * ended (it could cover none of the year's stays). An ADMIN's override of BACKDATED back-dates it to
 * the enrolment's date, recorded as the rule it overrides.
 */

export const ENROLMENT_RULES = ['WORKING_AGE', 'IN_SERVICE', 'BACKDATED', 'PLAN_MISMATCH'] as const;
export type EnrolmentRule = (typeof ENROLMENT_RULES)[number];

/** The rules an ADMIN may override with a reason. */
export const OVERRIDABLE_RULES: readonly EnrolmentRule[] = ['BACKDATED', 'PLAN_MISMATCH'];

export interface EnrolmentCandidate {
  /** yyyy-MM-dd, from the ID number. */
  birthDate: string;
  gender: 'M' | 'F';
  /** 在职: the unit says the member works for it on `enrolledOn`. */
  inService: boolean;
  /** Within `planYear` (planYearDateProblem: the caller checks it as input). */
  enrolledOn: string;
  planYear: number;
  /** The day the enrolment is recorded (China time); back-dating is measured from it. */
  today: string;
  /** False when the enrolment exists already: its date was decided then and is not changed. */
  newEnrolment: boolean;
  /**
   * Of an existing enrolment (`newEnrolment` false, `enrolledOn` its date): the cover this change
   * adds to it, asked today (groups count from `enrolledOn`, the add-on from specialDiseaseFrom).
   * Absent or empty: it adds none.
   */
  addedCover?: AddedCover;
  unitPlan: Plan;
  plan: Plan;
  /** Rules the caller (an ADMIN, with a reason) overrides; only OVERRIDABLE_RULES take effect. */
  override: readonly EnrolmentRule[];
}

/** Cover a change adds to an existing enrolment. */
export interface AddedCover {
  /** The SPECIAL_DISEASE add-on (职工特病), turned on. */
  specialDisease: boolean;
  /** Targeted groups (重点群体) it did not record: a programme may pay only them (`when.memberCategories`). */
  memberCategories: readonly MemberCategory[];
}

/** The cover a change from `before` to `after` adds to an existing enrolment; null categories keep those recorded. */
export function coverAdded(
  before: { specialDisease: boolean; memberCategories: readonly MemberCategory[] },
  after: { specialDisease: boolean; memberCategories: readonly MemberCategory[] | null },
): AddedCover {
  return {
    specialDisease: after.specialDisease && !before.specialDisease,
    memberCategories: (after.memberCategories ?? []).filter((c) => !before.memberCategories.includes(c)),
  };
}

export interface EnrolmentRefusal {
  rule: EnrolmentRule;
  /** Which added cover a BACKDATED refusal of an existing enrolment is about (addedCover); absent: the enrolment itself. */
  cover?: keyof AddedCover;
  zh: string;
  en: string;
}

export interface EnrolmentDecision {
  /** Broken rules not overridden: the enrolment is refused when there is any. */
  refusals: EnrolmentRefusal[];
  /** Broken rules the override lets through (recorded on the enrolment). */
  overridden: EnrolmentRefusal[];
}

/** The day someone born on `birthDate` reaches `age`; an anniversary a month lacks (29 Feb, 31 Nov) is that month's last day. */
export function reachesAge(birthDate: string, age: Age): string {
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number, number];
  const months = (m - 1) + age.years * 12 + age.months;
  const year = y + Math.floor(months / 12);
  const month = months % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}-${String(Math.min(d, lastDay)).padStart(2, '0')}`;
}

const ageText = (age: Age) => ({
  zh: age.months ? `${age.years}岁${age.months}个月` : `${age.years}岁`,
  en: age.months ? `${age.years} years ${age.months} months` : `${age.years} years`,
});

/**
 * An enrolment's date when none is given: the day it is recorded, or the first day of a plan year
 * that has not begun (next year's roster is sent in December). A year that ended keeps the day, and
 * planYearDateProblem refuses it.
 */
export function defaultEnrolmentDate(planYear: number, today: string): string {
  return String(planYear) > today.slice(0, 4) ? `${planYear}-01-01` : today;
}

/**
 * The day the SPECIAL_DISEASE add-on starts when `c` turns it on: a new enrolment's own date; for an
 * existing one the day it is recorded (the enrolment's date when that is later: a year not begun),
 * or, back-dated by an override of BACKDATED, the enrolment's date.
 */
export function specialDiseaseFrom(c: Pick<EnrolmentCandidate, 'enrolledOn' | 'today' | 'newEnrolment' | 'override'>): string {
  if (c.newEnrolment || c.override.includes('BACKDATED')) return c.enrolledOn;
  return c.today > c.enrolledOn ? c.today : c.enrolledOn;
}

/** Why `date` cannot be the enrolment date of `planYear`, or null: an enrolment's date falls within its plan year. */
export function planYearDateProblem(planYear: number, date: string): string | null {
  return date.slice(0, 4) === String(planYear) ? null : `must fall in the plan year ${planYear} (${planYear}-01-01 to ${planYear}-12-31)`;
}

/** Every rule the candidate breaks, split into refusals and what the override lets through. */
export function decideEnrolment(rules: EnrolmentRules, c: EnrolmentCandidate): EnrolmentDecision {
  const broken: EnrolmentRefusal[] = [];
  const youngest = reachesAge(c.birthDate, rules.minimumAge);
  const maximum = rules.maximumAge[c.gender];
  const retires = reachesAge(c.birthDate, maximum);
  if (c.enrolledOn < youngest) {
    const min = ageText(rules.minimumAge);
    broken.push({
      rule: 'WORKING_AGE',
      zh: `入会日${c.enrolledOn}未满法定劳动年龄${min.zh}（${youngest}年满）`,
      en: `under working age on ${c.enrolledOn}: reaches ${min.en} on ${youngest}`,
    });
  } else if (c.enrolledOn >= retires) {
    const max = ageText(maximum);
    broken.push({
      rule: 'WORKING_AGE',
      zh: `入会日${c.enrolledOn}已达法定退休年龄${max.zh}（${retires}）`,
      en: `past working age on ${c.enrolledOn}: reached the retirement age of ${max.en} on ${retires}`,
    });
  }
  if (rules.requireInService && !c.inService) {
    broken.push({ rule: 'IN_SERVICE', zh: '非在职职工不能入会', en: 'only employees in service with the unit may be enrolled' });
  }
  const daysBack = dayNumber(c.today) - dayNumber(c.enrolledOn);
  const yearEnd = `${c.planYear}-12-31`;
  const backdated = daysBack > rules.maxBackdatingDays ? 'DAYS' : yearEnd < c.today ? 'YEAR_ENDED' : null;
  if (c.newEnrolment && backdated === 'DAYS') {
    broken.push({
      rule: 'BACKDATED',
      zh: `入会日期${c.enrolledOn}早于录入日${c.today}共${daysBack}天，超过${rules.maxBackdatingDays}天`,
      en: `${c.enrolledOn} is ${daysBack} days before ${c.today}, more than the ${rules.maxBackdatingDays} days allowed`,
    });
  } else if (c.newEnrolment && backdated === 'YEAR_ENDED') {
    // Within the limit by its date, but the whole year is behind it: every stay of the year is known.
    broken.push({
      rule: 'BACKDATED',
      zh: `${c.planYear}年度已于${yearEnd}结束，录入日${c.today}不能再新增该年度入会`,
      en: `the plan year ${c.planYear} ended on ${yearEnd}, before ${c.today}: a new enrolment in it is back-dated`,
    });
  } else if (!c.newEnrolment && c.addedCover) {
    const addOnFrom = specialDiseaseFrom(c);
    if (c.addedCover.specialDisease && yearEnd < c.today) {
      // Started on its own day, it would cover none of the year's stays: only back-dated would it cover any.
      broken.push({
        rule: 'BACKDATED', cover: 'specialDisease',
        zh: `${c.planYear}年度已于${yearEnd}结束，录入日${c.today}不能再为该年度入会增加职工特病附加保障`,
        en: `the plan year ${c.planYear} ended on ${yearEnd}, before ${c.today}: adding the SPECIAL_DISEASE add-on to its enrolment now is back-dated`,
      });
    } else if (c.addedCover.specialDisease && addOnFrom < c.today) {
      broken.push({
        rule: 'BACKDATED', cover: 'specialDisease',
        zh: `职工特病附加保障倒签至入会日期${addOnFrom}，早于录入日${c.today}共${daysBack}天（附加保障自增加之日起算）`,
        en: `the SPECIAL_DISEASE add-on back-dated to the enrolment's date ${addOnFrom}, ${daysBack} days before ${c.today} (it starts on the day it is given)`,
      });
    }
    // A targeted group counts from the enrolment's date: the same back-dating as a new enrolment on that date.
    const groups = c.addedCover.memberCategories;
    if (backdated && groups.length) {
      const zh = `重点群体${groups.join('、')}`;
      const en = `the targeted group${groups.length > 1 ? 's' : ''} ${groups.join(', ')}`;
      broken.push(backdated === 'DAYS'
        ? {
          rule: 'BACKDATED', cover: 'memberCategories',
          zh: `${zh}自入会日期${c.enrolledOn}起算，早于录入日${c.today}共${daysBack}天，超过${rules.maxBackdatingDays}天`,
          en: `${en} added on ${c.today} would count from the enrolment's date ${c.enrolledOn}, ${daysBack} days before, more than the ${rules.maxBackdatingDays} days allowed`,
        }
        : {
          rule: 'BACKDATED', cover: 'memberCategories',
          zh: `${c.planYear}年度已于${yearEnd}结束，录入日${c.today}不能再为该年度入会增加${zh}`,
          en: `the plan year ${c.planYear} ended on ${yearEnd}, before ${c.today}: adding ${en} to its enrolment now is back-dated`,
        });
    }
  }
  if (rules.planFollowsUnit && c.plan !== c.unitPlan) {
    broken.push({ rule: 'PLAN_MISMATCH', zh: `方案${c.plan}与单位类型${c.unitPlan}不符`, en: `plan ${c.plan} is not the unit's plan type ${c.unitPlan}` });
  }
  const lets = (r: EnrolmentRefusal) => OVERRIDABLE_RULES.includes(r.rule) && c.override.includes(r.rule);
  return { refusals: broken.filter((r) => !lets(r)), overridden: broken.filter(lets) };
}

/** A refusal as one line of text, rule first: a roster row's reason, a user error's. */
export const refusalText = (r: EnrolmentRefusal) => `${r.rule}: ${r.en} (${r.zh})`;
