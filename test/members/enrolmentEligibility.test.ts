import { describe, expect, it } from 'vitest';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { decideEnrolment, planYearDateProblem, reachesAge, type EnrolmentCandidate } from '../../src/benefits/rules/enrolment.ts';
import { validateRuleSet } from '../../src/benefits/rules/ruleSet.ts';

/**
 * Eligibility at enrolment as the pure core decides it (src/benefits/rules/enrolment.ts), with the
 * rules default-2025 ships. The expected days below are counted by hand from the rule set's values
 * (first test), not by the code under test.
 */

const rules = loadRuleSet('default-2025').enrolment;

/** A candidate that passes every rule, to change one fact at a time. */
const good: EnrolmentCandidate = {
  birthDate: '1985-03-12', gender: 'M', inService: true, enrolledOn: '2025-03-01', planYear: 2025, today: '2025-03-01',
  newEnrolment: true, unitPlan: 'PUBLIC', plan: 'PUBLIC', override: [],
};
const rulesBroken = (c: Partial<EnrolmentCandidate>) => decideEnrolment(rules, { ...good, ...c }).refusals.map((r) => r.rule);

describe('the rule set states the enrolment rules', () => {
  it('default-2025 and jinjiang-example: 16 to 60y3m (men) / 55y3m (women), in service, 30 days back, the unit\'s plan', () => {
    for (const id of ['default-2025', 'jinjiang-example']) {
      expect(loadRuleSet(id).enrolment).toEqual({
        minimumAge: { years: 16, months: 0 },
        maximumAge: { M: { years: 60, months: 3 }, F: { years: 55, months: 3 } },
        requireInService: true, maxBackdatingDays: 30, planFollowsUnit: true,
      });
    }
  });

  it('a rule set without the section gets the 2025 statutory ages (shipped and older stored versions read alike); bad values name their field', () => {
    const { enrolment: _dropped, ...withoutSection } = loadRuleSet('default-2025');
    const parsed = validateRuleSet({ ...withoutSection, id: 'no-enrolment' });
    expect(parsed.ok && parsed.ruleSet.enrolment).toEqual({
      minimumAge: { years: 16, months: 0 }, maximumAge: { M: { years: 60, months: 3 }, F: { years: 55, months: 3 } },
      requireInService: true, maxBackdatingDays: 30, planFollowsUnit: true,
    });
    const bad = validateRuleSet({ ...withoutSection, id: 'bad', enrolment: { ...rules, maxBackdatingDays: -1, maximumAge: { M: { years: 60, months: 12 }, F: rules.maximumAge.F } } });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors.map((e) => e.field).sort()).toEqual(['enrolment.maxBackdatingDays', 'enrolment.maximumAge.M.months']);
  });
});

describe('WORKING_AGE', () => {
  it('refuses a man from the day he reaches 60 years 3 months, not the day before', () => {
    // Born 1965-05-10: 60 years on 2025-05-10, 3 months more on 2025-08-10.
    expect(rulesBroken({ birthDate: '1965-05-10', enrolledOn: '2025-08-09', today: '2025-08-09' })).toEqual([]);
    expect(rulesBroken({ birthDate: '1965-05-10', enrolledOn: '2025-08-10', today: '2025-08-10' })).toEqual(['WORKING_AGE']);
  });

  it('refuses a woman from the day she reaches 55 years 3 months; a man of the same birth date still passes', () => {
    // Born 1970-01-20: 55 years on 2025-01-20, 3 months more on 2025-04-20.
    const day = { birthDate: '1970-01-20', enrolledOn: '2025-04-20', today: '2025-04-20' };
    expect(rulesBroken({ ...day, gender: 'F' })).toEqual(['WORKING_AGE']);
    expect(rulesBroken({ ...day, gender: 'F', enrolledOn: '2025-04-19' })).toEqual([]);
    expect(rulesBroken({ ...day, gender: 'M' })).toEqual([]);
  });

  it('refuses anyone under 16 on the enrolment date, from their 16th birthday on they pass', () => {
    expect(rulesBroken({ birthDate: '2009-03-01', enrolledOn: '2025-02-28' })).toEqual(['WORKING_AGE']);
    expect(rulesBroken({ birthDate: '2009-03-01', enrolledOn: '2025-03-01' })).toEqual([]);
  });

  it('names the day the age was reached, in English and Chinese', () => {
    const [refusal] = decideEnrolment(rules, { ...good, birthDate: '1960-01-01', enrolledOn: '2025-03-01' }).refusals;
    expect(refusal).toEqual({
      rule: 'WORKING_AGE',
      en: 'past working age on 2025-03-01: reached the retirement age of 60 years 3 months on 2020-04-01',
      zh: '入会日2025-03-01已达法定退休年龄60岁3个月（2020-04-01）',
    });
  });

  it('counts an anniversary a month lacks as that month\'s last day', () => {
    expect(reachesAge('1965-08-31', { years: 60, months: 3 })).toBe('2025-11-30');
    expect(reachesAge('2008-02-29', { years: 16, months: 0 })).toBe('2024-02-29');
    expect(reachesAge('1964-02-29', { years: 61, months: 0 })).toBe('2025-02-28');
    expect(reachesAge('1970-11-30', { years: 55, months: 3 })).toBe('2026-02-28');
  });

  it('is never overridden', () => {
    const decision = decideEnrolment(rules, { ...good, birthDate: '1950-01-01', override: ['WORKING_AGE', 'BACKDATED', 'PLAN_MISMATCH'] });
    expect(decision.refusals.map((r) => r.rule)).toEqual(['WORKING_AGE']);
    expect(decision.overridden).toEqual([]);
  });
});

describe('IN_SERVICE', () => {
  it('refuses someone not in service with the unit, whatever the override', () => {
    expect(rulesBroken({ inService: false })).toEqual(['IN_SERVICE']);
    expect(rulesBroken({ inService: false, override: ['IN_SERVICE'] })).toEqual(['IN_SERVICE']);
  });
});

describe('BACKDATED', () => {
  it('allows exactly 30 days before the day it is recorded, refuses 31', () => {
    // 2025-03-31 less 30 days is 2025-03-01; less 31 days 2025-02-28.
    expect(rulesBroken({ today: '2025-03-31', enrolledOn: '2025-03-01' })).toEqual([]);
    expect(rulesBroken({ today: '2025-03-31', enrolledOn: '2025-02-28' })).toEqual(['BACKDATED']);
    const [refusal] = decideEnrolment(rules, { ...good, today: '2025-03-31', enrolledOn: '2025-02-28' }).refusals;
    expect(refusal!.en).toBe('2025-02-28 is 31 days before 2025-03-31, more than the 30 days allowed');
  });

  it('counts across a leap day', () => {
    // 2024-02-29 exists: 2024-03-15 less 30 days is 2024-02-14.
    expect(rulesBroken({ birthDate: '1985-03-12', planYear: 2024, today: '2024-03-15', enrolledOn: '2024-02-14' })).toEqual([]);
    expect(rulesBroken({ birthDate: '1985-03-12', planYear: 2024, today: '2024-03-15', enrolledOn: '2024-02-13' })).toEqual(['BACKDATED']);
  });

  it('refuses a new enrolment in a plan year that has ended, however few days back its date is', () => {
    expect(rulesBroken({ planYear: 2024, today: '2024-12-31', enrolledOn: '2024-12-11' })).toEqual([]);
    expect(rulesBroken({ planYear: 2024, today: '2025-01-01', enrolledOn: '2024-12-31' })).toEqual(['BACKDATED']);
    const [refusal] = decideEnrolment(rules, { ...good, planYear: 2024, today: '2025-01-10', enrolledOn: '2024-12-11' }).refusals;
    expect(refusal!.en).toBe('the plan year 2024 ended on 2024-12-31, before 2025-01-10: a new enrolment in it is back-dated');
    // Beyond the limit too: the days are named.
    expect(decideEnrolment(rules, { ...good, planYear: 2024, today: '2025-01-10', enrolledOn: '2024-12-10' }).refusals[0]!.en)
      .toBe('2024-12-10 is 31 days before 2025-01-10, more than the 30 days allowed');
    // An existing enrolment of the year is changed as before; an ADMIN may override.
    expect(rulesBroken({ planYear: 2024, today: '2025-06-15', enrolledOn: '2024-01-05', newEnrolment: false })).toEqual([]);
    expect(rulesBroken({ planYear: 2024, today: '2025-06-15', enrolledOn: '2024-12-31', override: ['BACKDATED'] })).toEqual([]);
  });

  it('a date must fall in its plan year (checked as input on every path)', () => {
    expect(planYearDateProblem(2024, '2024-01-01')).toBeNull();
    expect(planYearDateProblem(2024, '2024-12-31')).toBeNull();
    expect(planYearDateProblem(2024, '2025-06-15')).toBe('must fall in the plan year 2024 (2024-01-01 to 2024-12-31)');
    expect(planYearDateProblem(2025, '2024-12-31')).toBe('must fall in the plan year 2025 (2025-01-01 to 2025-12-31)');
  });

  it('does not judge an existing enrolment (its date was decided when it was made), and yields to an override', () => {
    expect(rulesBroken({ today: '2026-01-10', enrolledOn: '2025-01-02', newEnrolment: false })).toEqual([]);
    const decision = decideEnrolment(rules, { ...good, today: '2026-01-10', enrolledOn: '2025-01-02', override: ['BACKDATED'] });
    expect(decision.refusals).toEqual([]);
    expect(decision.overridden.map((r) => r.rule)).toEqual(['BACKDATED']);
  });

  it('a date after today is not back-dated', () => {
    expect(rulesBroken({ today: '2025-03-01', enrolledOn: '2025-06-01' })).toEqual([]);
  });
});

describe('PLAN_MISMATCH', () => {
  it('refuses a plan other than the unit\'s type unless overridden', () => {
    expect(rulesBroken({ unitPlan: 'PUBLIC', plan: 'PRIVATE' })).toEqual(['PLAN_MISMATCH']);
    expect(rulesBroken({ unitPlan: 'PRIVATE', plan: 'PUBLIC' })).toEqual(['PLAN_MISMATCH']);
    expect(rulesBroken({ unitPlan: 'PUBLIC', plan: 'PRIVATE', override: ['PLAN_MISMATCH'] })).toEqual([]);
  });

  it('is not checked under a rule set whose plan does not follow the unit', () => {
    expect(decideEnrolment({ ...rules, planFollowsUnit: false }, { ...good, plan: 'PRIVATE' }).refusals).toEqual([]);
  });
});

it('reports every broken rule at once, an override letting through only the rules it names', () => {
  const all = { birthDate: '1950-06-01', inService: false, today: '2025-06-01', enrolledOn: '2025-01-01', plan: 'PRIVATE' as const };
  expect(rulesBroken(all)).toEqual(['WORKING_AGE', 'IN_SERVICE', 'BACKDATED', 'PLAN_MISMATCH']);
  const decision = decideEnrolment(rules, { ...good, ...all, override: ['PLAN_MISMATCH'] });
  expect(decision.refusals.map((r) => r.rule)).toEqual(['WORKING_AGE', 'IN_SERVICE', 'BACKDATED']);
  expect(decision.overridden.map((r) => r.rule)).toEqual(['PLAN_MISMATCH']);
});
