import { describe, expect, it } from 'vitest';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { coverAdded, decideEnrolment, specialDiseaseFrom, type EnrolmentCandidate } from '../../src/benefits/rules/enrolment.ts';

/**
 * Cover added to an existing enrolment as the pure core decides it (src/benefits/rules/enrolment.ts
 * `addedCover`): a targeted group it lacked counts from the enrolment's date, so it is back-dated as
 * a new enrolment on that date would be (30 days in default-2025, or a plan year that has ended), on
 * the cover's own field. The SPECIAL_DISEASE add-on turned on starts on the day it is given
 * (specialDiseaseFrom), so it is not back-dated, except in a plan year that has ended or when an
 * ADMIN's override back-dates it. Nothing else is judged anew. The days below are counted by hand.
 */

const rules = loadRuleSet('default-2025').enrolment;
const NONE = { specialDisease: false, memberCategories: [] } as const;

/** An existing enrolment of 2025-01-02, changed on 2025-06-30 (179 days later). */
const existing: EnrolmentCandidate = {
  birthDate: '1985-03-12', gender: 'M', inService: true, enrolledOn: '2025-01-02', planYear: 2025, today: '2025-06-30',
  newEnrolment: false, unitPlan: 'PUBLIC', plan: 'PUBLIC', override: [],
};
const decide = (c: Partial<EnrolmentCandidate>) => decideEnrolment(rules, { ...existing, ...c });

describe('cover added to an existing enrolment', () => {
  it('the add-on turned on in the plan year starts that day, not back-dated: not refused however far the enrolment\'s date lies', () => {
    const addOn = { addedCover: { ...NONE, specialDisease: true } };
    expect(decide(addOn)).toEqual({ refusals: [], overridden: [] });
    expect(specialDiseaseFrom({ ...existing, ...addOn })).toBe('2025-06-30');
    // A targeted group asked with it still counts from the enrolment's date.
    expect(decide({ addedCover: { specialDisease: true, memberCategories: ['HARDSHIP'] } }).refusals.map((r) => [r.rule, r.cover, r.en])).toEqual([
      ['BACKDATED', 'memberCategories', 'the targeted group HARDSHIP added on 2025-06-30 would count from the enrolment\'s date 2025-01-02, 179 days before, more than the 30 days allowed'],
    ]);
    // An enrolment of a year not begun (next year's roster in December): from its own date.
    expect(specialDiseaseFrom({ ...existing, enrolledOn: '2026-01-01', today: '2025-12-15' })).toBe('2026-01-01');
    // A new enrolment asking for it: from its date.
    expect(specialDiseaseFrom({ ...existing, newEnrolment: true })).toBe('2025-01-02');
  });

  it('an ADMIN\'s override of BACKDATED back-dates the add-on to the enrolment\'s date, recorded as overridden', () => {
    const c = { addedCover: { ...NONE, specialDisease: true }, override: ['BACKDATED'] as const };
    expect(decide(c)).toEqual({
      refusals: [],
      overridden: [{
        rule: 'BACKDATED', cover: 'specialDisease',
        en: 'the SPECIAL_DISEASE add-on back-dated to the enrolment\'s date 2025-01-02, 179 days before 2025-06-30 (it starts on the day it is given)',
        zh: '职工特病附加保障倒签至入会日期2025-01-02，早于录入日2025-06-30共179天（附加保障自增加之日起算）',
      }],
    });
    expect(specialDiseaseFrom({ ...existing, ...c })).toBe('2025-01-02');
    // Nothing to back-date when the enrolment begins today.
    expect(decide({ ...c, today: '2025-01-02' })).toEqual({ refusals: [], overridden: [] });
  });

  it('in a plan year that has ended, however near the enrolment\'s date; a targeted group alike, on memberCategories', () => {
    const c = { enrolledOn: '2025-12-20', today: '2026-01-05', addedCover: { specialDisease: true, memberCategories: ['HARDSHIP', 'SANITATION'] as const } };
    expect(decide(c).refusals.map((r) => [r.rule, r.cover, r.en])).toEqual([
      ['BACKDATED', 'specialDisease', 'the plan year 2025 ended on 2025-12-31, before 2026-01-05: adding the SPECIAL_DISEASE add-on to its enrolment now is back-dated'],
      ['BACKDATED', 'memberCategories', 'the plan year 2025 ended on 2025-12-31, before 2026-01-05: adding the targeted groups HARDSHIP, SANITATION to its enrolment now is back-dated'],
    ]);
  });

  it('yields to an override of BACKDATED (the caller lets only an ADMIN with a reason name one)', () => {
    const decision = decide({ enrolledOn: '2025-12-20', today: '2026-01-05', addedCover: { specialDisease: true, memberCategories: ['HARDSHIP'] }, override: ['BACKDATED'] });
    expect(decision.refusals).toEqual([]);
    expect(decision.overridden.map((r) => [r.rule, r.cover])).toEqual([['BACKDATED', 'specialDisease'], ['BACKDATED', 'memberCategories']]);
  });

  it('nothing added (none, cover turned off, groups kept or removed) is not judged; a new enrolment is judged on its own date', () => {
    expect(decide({}).refusals).toEqual([]);
    expect(decide({ addedCover: NONE }).refusals).toEqual([]);
    expect(coverAdded({ specialDisease: true, memberCategories: ['HARDSHIP', 'SANITATION'] }, { specialDisease: false, memberCategories: ['SANITATION'] })).toEqual(NONE);
    expect(coverAdded({ specialDisease: true, memberCategories: ['HARDSHIP'] }, { specialDisease: true, memberCategories: null })).toEqual(NONE);
    expect(coverAdded({ specialDisease: false, memberCategories: ['HARDSHIP'] }, { specialDisease: true, memberCategories: ['HARDSHIP', 'MODEL_WORKER'] }))
      .toEqual({ specialDisease: true, memberCategories: ['MODEL_WORKER'] });
    // A new enrolment's BACKDATED is the enrolment's own (on enrolledOn), once.
    expect(decide({ newEnrolment: true, addedCover: { ...NONE, specialDisease: true } }).refusals.map((r) => [r.rule, r.cover])).toEqual([['BACKDATED', undefined]]);
  });
});
