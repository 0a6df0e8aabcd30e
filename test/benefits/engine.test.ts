import { describe, expect, it } from 'vitest';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { BenefitInputError, evaluateBenefits, type BenefitResult } from '../../src/benefits/rules/engine.ts';
import { enrolment, fen, input, settlement } from './support.ts';

const jinjiang = loadRuleSet('jinjiang-example');
const defaults = loadRuleSet('default-2025');

const amount = (result: BenefitResult, programme: string) => result.lines.find((l) => l.programme === programme)?.amountFen;

/** The published Jinjiang 2025 case (docs/design.md), as the settlement platform reports it. */
const jinjiangCase = () => ({
  settlement: {
    setlId: 'S1', medType: '21', setlTime: '2025-06-01 10:00:00', diagnoses: ['I34.0'],
    amountsFen: {
      medfee_sumamt: fen('243,200.00'), fund_pay_sumamt: fen('106,500.00'), psn_part_amt: fen('136,700.00'),
      fulamt_ownpay_amt: fen('52,700.00'), overlmt_selfpay: 0,
    },
  },
  enrolment: enrolment({ specialDisease: true }),
  planYearTotals: { INPATIENT: 0, CRITICAL: 0, MAJOR_DISEASE: 0, outOfPocket: 0 },
  priorDiseaseGroups: [],
});

describe('jinjiang-example reproduces the published case', () => {
  it('pays 16,800 + 72,000 + 10,000 and the member 37,900', () => {
    const result = evaluateBenefits(jinjiang, jinjiangCase());
    // basis 136,700 − 52,700 − 0 = 84,000; × 20% = 16,800
    // R = 136,700 − 16,800 = 119,900; (119,900 − 29,900) × 80% = 72,000
    // first HEART_VALVE diagnosis (I34.0): 10,000; member 136,700 − 98,800 = 37,900
    expect(result.eligible).toBe(true);
    expect(result.reasons).toEqual([]);
    expect(result.lines.map((l) => [l.programme, l.basisFen, l.amountFen])).toEqual([
      ['INPATIENT', fen('84,000.00'), fen('16,800.00')],
      ['CRITICAL', fen('90,000.00'), fen('72,000.00')],
      ['MAJOR_DISEASE', fen('10,000.00'), fen('10,000.00')],
    ]);
    expect(result.lines.map((l) => l.amountFen)).toEqual([1_680_000, 7_200_000, 1_000_000]);
    expect(result.totalFen).toBe(fen('98,800.00'));
    expect(result.memberPaysFen).toBe(3_790_000);
    // The published figures close: stay = insurance + mutual aid + critical + major disease + member.
    expect(fen('106,500.00') + result.totalFen + result.memberPaysFen).toBe(fen('243,200.00'));
    expect(result.planYearTotalsAfter).toEqual({ INPATIENT: 1_680_000, CRITICAL: 7_200_000, MAJOR_DISEASE: 1_000_000, outOfPocket: fen('119,900.00') });
    expect(result.diseaseGroupsGranted).toEqual(['HEART_VALVE']);
    expect(result.warnings).toEqual([]);
  });

  it('explains every step in Chinese and English', () => {
    const [inpatient, critical, major] = evaluateBenefits(jinjiang, jinjiangCase()).lines;
    expect(inpatient!.explanation.zh).toContain('基数 84,000.00 × 20% = 16,800.00');
    expect(inpatient!.explanation.en).toContain('basis 84,000.00 × 20% = 16,800.00');
    // the basis from the settlement fields, named by the settlements model
    expect(inpatient!.explanation.zh).toMatch(/基数 = \S+ 136,700\.00 − \S+ 52,700\.00 − \S+ 0\.00 = 84,000\.00/);
    expect(inpatient!.explanation.en).toMatch(/basis = [a-z ]+ 136,700\.00 − [a-z -]+ 52,700\.00 − [a-z ]+ 0\.00 = 84,000\.00/);
    expect(critical!.explanation.zh).toContain('基数 90,000.00 × 80% = 72,000.00');
    expect(critical!.explanation.en).toContain('basis 90,000.00 × 80% = 72,000.00');
    expect(critical!.explanation.zh).toContain('119,900.00');
    expect(major!.explanation.zh).toContain('I34.0');
    expect(major!.explanation.zh).toContain('10,000.00');
  });

  it('pays the same 20% under PRIVATE, and no lump sum without the add-on', () => {
    const privatePlan = { ...jinjiangCase(), enrolment: enrolment({ plan: 'PRIVATE', specialDisease: true }) };
    expect(evaluateBenefits(jinjiang, privatePlan).totalFen).toBe(fen('98,800.00'));
    const noAddOn = evaluateBenefits(jinjiang, { ...jinjiangCase(), enrolment: enrolment({ specialDisease: false }) });
    // 16,800 + 72,000 = 88,800; the member 136,700 − 88,800 = 47,900
    expect(noAddOn.totalFen).toBe(fen('88,800.00'));
    expect(noAddOn.memberPaysFen).toBe(fen('47,900.00'));
    expect(noAddOn.reasonCodes).toEqual(['NEEDS_SPECIAL_DISEASE']);
  });

  it('is deterministic', () => {
    expect(evaluateBenefits(jinjiang, jinjiangCase())).toEqual(evaluateBenefits(jinjiang, jinjiangCase()));
  });
});

describe('default-2025', () => {
  it('pays 60% for PUBLIC and 50% for PRIVATE of psn_part_amt − fulamt_ownpay_amt − overlmt_selfpay', () => {
    const claim = { psn: '10,000.00', ownpay: '1,500.00', overlmt: '500.00' }; // basis 8,000.00
    const pub = evaluateBenefits(defaults, input(claim, { plan: 'PUBLIC' }));
    const priv = evaluateBenefits(defaults, input(claim, { plan: 'PRIVATE' }));
    expect(amount(pub, 'INPATIENT')).toBe(fen('4,800.00'));
    expect(amount(priv, 'INPATIENT')).toBe(fen('4,000.00'));
    // R = 10,000 − 4,800 = 5,200, below the 50,000 threshold: CRITICAL pays nothing
    expect(amount(pub, 'CRITICAL')).toBe(0);
    expect(pub.planYearTotalsAfter.outOfPocket).toBe(fen('5,200.00'));
    expect(priv.planYearTotalsAfter.outOfPocket).toBe(fen('6,000.00'));
    expect(pub.memberPaysFen).toBe(fen('5,200.00'));
  });

  it('rounds each line down to the fen', () => {
    // basis 0.33 × 50% = 0.165 -> 0.16
    expect(amount(evaluateBenefits(defaults, input({ psn: '0.33' }, { plan: 'PRIVATE' })), 'INPATIENT')).toBe(16);
  });

  it('never lets the basis go below 0', () => {
    const result = evaluateBenefits(defaults, input({ psn: '1,000.00', ownpay: '800.00', overlmt: '300.00' }));
    expect(result.lines[0]).toMatchObject({ programme: 'INPATIENT', basisFen: 0, amountFen: 0 });
  });

  describe('eligibility', () => {
    // First enrolled 2025-03-01: +90 days is 2025-05-30 (30 days to Mar 31, 30 to Apr 30, 30 to May 30).
    it('refuses a settlement on the last day of the 90-day waiting period', () => {
      const result = evaluateBenefits(defaults, input({ setlTime: '2025-05-29 23:59:59' }, { firstEnrolledOn: '2025-03-01' }));
      expect(result.eligible).toBe(false);
      expect(result.reasonCodes).toEqual(['WAITING_PERIOD']);
      expect(result.reasons[0]!.text.zh).toContain('2025-05-30');
      expect(result.reasons[0]!.text.en).toContain('2025-05-30');
      expect(result.lines).toEqual([]);
      expect(result.totalFen).toBe(0);
      expect(result.memberPaysFen).toBe(fen('10,000.00'));
      expect(result.planYearTotalsAfter).toEqual({ INPATIENT: 0, CRITICAL: 0, MAJOR_DISEASE: 0, outOfPocket: 0 });
    });
    it('pays from the day after the waiting period', () => {
      const result = evaluateBenefits(defaults, input({ setlTime: '2025-05-30 00:00:00' }, { firstEnrolledOn: '2025-03-01' }));
      expect(result.eligible).toBe(true);
      expect(amount(result, 'INPATIENT')).toBe(fen('6,000.00'));
    });
    it('has no waiting period on a renewal (first enrolment years ago)', () => {
      expect(evaluateBenefits(defaults, input({ setlTime: '2025-01-02 08:00:00' }, { firstEnrolledOn: '2023-01-01' })).eligible).toBe(true);
      expect(evaluateBenefits(defaults, input({ setlTime: '2025-01-02 08:00:00' }, { firstEnrolledOn: '2025-01-01' })).eligible).toBe(false);
    });
    it('covers a late renewal\'s stays from its own date on: one settled, or begun, before it is NO_ENROLMENT', () => {
      const renewal = { firstEnrolledOn: '2023-01-01', enrolledOn: '2025-11-02' };
      const before = evaluateBenefits(defaults, input({ setlTime: '2025-11-01 23:59:59' }, renewal));
      expect(before).toMatchObject({ eligible: false, reasonCodes: ['NO_ENROLMENT'], lines: [], totalFen: 0 });
      expect(before.reasons[0]!.text.en).toBe('settled 2025-11-01, before the 2025 renewal\'s date 2025-11-02: not enrolled then');
      // From its date on it waits its own waiting period (below).
      expect(evaluateBenefits(defaults, input({ setlTime: '2025-11-02 00:00:00' }, renewal)).reasonCodes).toEqual(['WAITING_PERIOD']);
      // Renewed while in hospital: a stay begun before the renewal and settled after it is not covered.
      const begun = evaluateBenefits(defaults, input({ setlTime: '2025-11-20 10:00:00', admittedOn: '2025-10-28' }, renewal));
      expect(begun).toMatchObject({ eligible: false, reasonCodes: ['NO_ENROLMENT'] });
      expect(begun.reasons[0]!.text.en).toBe('admitted 2025-10-28, before the 2025 renewal\'s date 2025-11-02: not enrolled when the stay began');
      // Renewed within the back-dating limit of the year's first day (30 days): it covers the year, as one dated 1 January would.
      const prompt = { firstEnrolledOn: '2023-01-01', enrolledOn: '2025-01-31' };
      expect(evaluateBenefits(defaults, input({ setlTime: '2025-01-02 08:00:00', admittedOn: '2024-12-28' }, prompt)).eligible).toBe(true);
      expect(evaluateBenefits(defaults, input({ setlTime: '2025-01-02 08:00:00' }, { ...prompt, enrolledOn: '2025-02-01' })).reasonCodes).toEqual(['NO_ENROLMENT']);
      expect(() => evaluateBenefits(defaults, input({}, { enrolledOn: '2025-13-01' }))).toThrow('enrolment.enrolledOn: must be a date yyyy-MM-dd');
    });
    // Renewed on 2025-06-02, beyond 1 January + 30 days: a gap. +90 days is 2025-08-31 (29 to Jul 1, 31 to Aug 1, 30 to Aug 31).
    it('makes a late renewal wait the waiting period from its own date, as a first enrolment does, and says it is a renewal after a gap', () => {
      const renewal = { firstEnrolledOn: '2023-01-01', enrolledOn: '2025-06-02' };
      const waiting = evaluateBenefits(defaults, input({ setlTime: '2025-08-30 23:59:59', admittedOn: '2025-06-10' }, renewal));
      expect(waiting).toMatchObject({ eligible: false, reasonCodes: ['WAITING_PERIOD'], lines: [], totalFen: 0 });
      expect(waiting.reasons[0]!.text).toEqual({
        zh: '2025 年度续保入会日期 2025-06-02 晚于年初（中断后续保），90 天等待期内（2025-08-31 起享受），结算日 2025-08-30',
        en: 'settled 2025-08-30, within the 90-day waiting period of a renewal after a gap, dated 2025-06-02 (covered from 2025-08-31)',
      });
      // The same day's settlement of a first enrolment on the renewal's date waits alike.
      expect(evaluateBenefits(defaults, input({ setlTime: '2025-08-30 23:59:59' }, { firstEnrolledOn: '2025-06-02' })).reasonCodes).toEqual(['WAITING_PERIOD']);
      const covered = evaluateBenefits(defaults, input({ setlTime: '2025-08-31 00:00:00', admittedOn: '2025-08-20' }, renewal));
      expect({ eligible: covered.eligible, inpatient: amount(covered, 'INPATIENT') }).toEqual({ eligible: true, inpatient: fen('6,000.00') });
      // Begun before the renewal: still not enrolled when the stay began.
      expect(evaluateBenefits(defaults, input({ setlTime: '2025-09-10 10:00:00', admittedOn: '2025-05-30' }, renewal)).reasonCodes).toEqual(['NO_ENROLMENT']);
      // Within the back-dating limit it is no gap: no waiting period.
      expect(evaluateBenefits(defaults, input({ setlTime: '2025-02-10 10:00:00' }, { firstEnrolledOn: '2023-01-01', enrolledOn: '2025-01-31' })).eligible).toBe(true);
      // Without a waiting period a late renewal covers from its date, as before.
      const none = { ...defaults, eligibility: { ...defaults.eligibility, waitingDays: 0 } };
      expect(evaluateBenefits(none, input({ setlTime: '2025-06-02 00:00:00' }, renewal)).eligible).toBe(true);
      expect(evaluateBenefits(none, input({ setlTime: '2025-06-01 23:59:59' }, renewal)).reasonCodes).toEqual(['NO_ENROLMENT']);
    });
    it('refuses when the unit has not paid the contribution', () => {
      const result = evaluateBenefits(defaults, input({}, { contributionPaid: false }));
      expect(result).toMatchObject({ eligible: false, reasonCodes: ['CONTRIBUTION_UNPAID'], lines: [], totalFen: 0 });
      expect(result.reasons[0]).toEqual({ code: 'CONTRIBUTION_UNPAID', text: { zh: expect.stringContaining('互助金未缴清'), en: 'the unit\'s contribution for plan year 2025 is not paid' } });
    });
    it('refuses without an enrolment for the plan year of setl_time', () => {
      expect(evaluateBenefits(defaults, { ...input(), enrolment: null }).reasonCodes).toEqual(['NO_ENROLMENT']);
      expect(evaluateBenefits(defaults, input({}, { planYear: 2024 })).reasonCodes).toEqual(['NO_ENROLMENT']);
    });
    it('gives every reason at once', () => {
      const result = evaluateBenefits(defaults, input({ setlTime: '2025-02-01 09:00:00' }, { contributionPaid: false, firstEnrolledOn: '2025-01-15' }));
      expect(result.reasonCodes).toEqual(['CONTRIBUTION_UNPAID', 'WAITING_PERIOD']);
    });
  });

  it('gives an outpatient settlement no lines, with the reason', () => {
    const result = evaluateBenefits(defaults, input({ medType: '11', diagnoses: ['C34.1'] }, { specialDisease: true }));
    expect(result.eligible).toBe(true);
    expect(result.lines).toEqual([]);
    expect(result.reasonCodes).toEqual(['MED_TYPE_NOT_COVERED']);
    expect(result.totalFen).toBe(0);
    expect(result.planYearTotalsAfter.outOfPocket).toBe(0);
  });

  describe('MAJOR_DISEASE', () => {
    // psn 20,000: INPATIENT 12,000; R 8,000 (no CRITICAL); CANCER 6,000; total 18,000
    const cancer = { psn: '20,000.00', diagnoses: ['J18.9', 'C34.1'] };
    it('pays 6,000 on the first diagnosis of a CANCER code with the add-on', () => {
      const result = evaluateBenefits(defaults, input(cancer, { specialDisease: true }));
      expect(amount(result, 'MAJOR_DISEASE')).toBe(fen('6,000.00'));
      expect(result.totalFen).toBe(fen('18,000.00'));
      expect(result.diseaseGroupsGranted).toEqual(['CANCER']);
      expect(result.lines[2]!.explanation.zh).toContain('C34.1');
    });
    it('pays once per group, however many codes of the group a claim has', () => {
      const result = evaluateBenefits(defaults, input({ ...cancer, diagnoses: ['C34.1', 'C78.0', 'C97'] }, { specialDisease: true }));
      expect(amount(result, 'MAJOR_DISEASE')).toBe(fen('6,000.00'));
    });
    it('pays nothing when the group was granted before', () => {
      const result = evaluateBenefits(defaults, input(cancer, { specialDisease: true }, { prior: ['CANCER'] }));
      expect(amount(result, 'MAJOR_DISEASE')).toBe(0);
      expect(result.diseaseGroupsGranted).toEqual([]);
      expect(result.totalFen).toBe(fen('12,000.00'));
    });
    it('pays nothing without the SPECIAL_DISEASE add-on, and says why', () => {
      const result = evaluateBenefits(defaults, input(cancer, { specialDisease: false }));
      expect(result.lines.map((l) => l.programme)).toEqual(['INPATIENT', 'CRITICAL']);
      expect(result.reasonCodes).toEqual(['NEEDS_SPECIAL_DISEASE']);
      expect(result.diseaseGroupsGranted).toEqual([]);
    });
    it('has no line when no diagnosis is in a group (D00 is outside C00–C97)', () => {
      const result = evaluateBenefits(defaults, input({ diagnoses: ['D00.0', 'B99'] }, { specialDisease: true }));
      expect(result.lines.map((l) => l.programme)).toEqual(['INPATIENT', 'CRITICAL']);
    });
  });

  describe('the SPECIAL_DISEASE add-on given after the enrolment began', () => {
    // Given on 2025-03-01: 90 days later, stays admitted from 2025-05-30 on are covered. Settled 2025-06-01.
    const cancer = { psn: '20,000.00', diagnoses: ['C34.1'] };
    const addedOn = { specialDisease: true, specialDiseaseAddedOn: '2025-03-01' };
    const programmes = (result: BenefitResult) => result.lines.map((l) => l.programme);

    it('pays no lump sum for a stay admitted before it was given, settled long after, and says why', () => {
      const result = evaluateBenefits(defaults, input({ ...cancer, admittedOn: '2025-02-20' }, addedOn));
      expect(programmes(result)).toEqual(['INPATIENT', 'CRITICAL']);
      expect({ eligible: result.eligible, total: result.totalFen, granted: result.diseaseGroupsGranted }).toEqual({ eligible: true, total: fen('12,000.00'), granted: [] });
      expect(result.reasons).toEqual([{
        code: 'ADD_ON_WAITING_PERIOD',
        text: {
          zh: '重大疾病一次性补助须在职工特病附加保障等待期满后入院：附加保障 2025-03-01 起参加，等待期 90 天，2025-05-30 起入院的住院方予补助；本次 2025-02-20 入院，本次不予发放',
          en: 'MAJOR_DISEASE requires a stay admitted after the SPECIAL_DISEASE add-on\'s waiting period: the add-on was given on 2025-03-01, with a 90-day waiting period, so it pays stays admitted from 2025-05-30; this stay was admitted on 2025-02-20',
        },
      }]);
    });

    it('counts the admission day, not the settlement day: within the waiting period no lump sum, from its last day on the lump sum', () => {
      expect(evaluateBenefits(defaults, input({ ...cancer, admittedOn: '2025-05-29' }, addedOn)).reasonCodes).toEqual(['ADD_ON_WAITING_PERIOD']);
      const covered = evaluateBenefits(defaults, input({ ...cancer, admittedOn: '2025-05-30' }, addedOn));
      expect({ major: amount(covered, 'MAJOR_DISEASE'), reasons: covered.reasonCodes, granted: covered.diseaseGroupsGranted })
        .toEqual({ major: fen('6,000.00'), reasons: [], granted: ['CANCER'] });
    });

    it('pays no lump sum for a stay whose admission day the settlement does not give', () => {
      const result = evaluateBenefits(defaults, input(cancer, addedOn));
      expect(programmes(result)).toEqual(['INPATIENT', 'CRITICAL']);
      expect(result.reasons[0]!.text.en).toMatch(/so it pays stays admitted from 2025-05-30; the settlement gives no admission date \(begndate\)$/);
      expect(result.reasons[0]!.text.zh).toMatch(/本次结算未提供入院日期，本次不予发放$/);
    });

    it('waits the rule set\'s own days (specialDiseaseWaitingDays)', () => {
      const none = { ...defaults, eligibility: { ...defaults.eligibility, specialDiseaseWaitingDays: 0 } };
      expect(amount(evaluateBenefits(none, input({ ...cancer, admittedOn: '2025-03-01' }, addedOn)), 'MAJOR_DISEASE')).toBe(fen('6,000.00'));
      expect(evaluateBenefits(none, input({ ...cancer, admittedOn: '2025-02-28' }, addedOn)).reasonCodes).toEqual(['ADD_ON_WAITING_PERIOD']);
    });

    it('waits for nothing more when the add-on covers from the enrolment\'s date (no day it was added, as in facts stored before)', () => {
      for (const facts of [{ specialDisease: true }, { specialDisease: true, specialDiseaseAddedOn: null }]) {
        const result = evaluateBenefits(defaults, input({ ...cancer, admittedOn: '2024-12-20' }, facts));
        expect({ major: amount(result, 'MAJOR_DISEASE'), reasons: result.reasonCodes }).toEqual({ major: fen('6,000.00'), reasons: [] });
      }
    });

    it('an add-on whose chain began in an earlier year covers a stay whose admission day is unknown once its waiting ended before the plan year', () => {
      // Taken first with the 2024 renewal (1 January 2024) and continued: covered from 2024-03-31.
      const continued = { specialDisease: true, specialDiseaseAddedOn: '2024-01-01' };
      expect(amount(evaluateBenefits(defaults, input(cancer, continued)), 'MAJOR_DISEASE')).toBe(fen('6,000.00'));
      // A stay begun before that, settled in 2025, is still not paid the lump sum.
      expect(evaluateBenefits(defaults, input({ ...cancer, admittedOn: '2024-03-30' }, continued)).reasonCodes).toEqual(['ADD_ON_WAITING_PERIOD']);
      // Its waiting running into the plan year (taken on 2024-12-01): an unknown admission day is not paid.
      expect(evaluateBenefits(defaults, input(cancer, { specialDisease: true, specialDiseaseAddedOn: '2024-12-01' })).reasonCodes).toEqual(['ADD_ON_WAITING_PERIOD']);
    });

    it('says nothing when the lump sum would pay nothing anyway (the group granted before), and names a bad day\'s field', () => {
      const granted = evaluateBenefits(defaults, input({ ...cancer, admittedOn: '2025-02-20' }, addedOn, { prior: ['CANCER'] }));
      expect({ reasons: granted.reasonCodes, total: granted.totalFen }).toEqual({ reasons: [], total: fen('12,000.00') });
      expect(() => evaluateBenefits(defaults, input(cancer, { ...addedOn, specialDiseaseAddedOn: '2025-3-1' })))
        .toThrow(new BenefitInputError('enrolment.specialDiseaseAddedOn', 'must be a date yyyy-MM-dd'));
      expect(() => evaluateBenefits(defaults, input({ ...cancer, admittedOn: '20250220' }, addedOn)))
        .toThrow(new BenefitInputError('settlement.begndate', 'must be a date yyyy-MM-dd'));
    });
  });

  describe('annual caps', () => {
    it('cuts INPATIENT to what is left of 50,000 after the year so far, and R grows by the rest', () => {
      // computed 10,000 × 60% = 6,000; 50,000 − 48,000 paid = 2,000 left
      const result = evaluateBenefits(defaults, input({ psn: '10,000.00' }, {}, { totals: { INPATIENT: fen('48,000.00') } }));
      expect(result.lines[0]).toMatchObject({ programme: 'INPATIENT', computedFen: fen('6,000.00'), amountFen: fen('2,000.00'), capsHit: ['ANNUAL_CAP'] });
      expect(result.planYearTotalsAfter.INPATIENT).toBe(fen('50,000.00'));
      expect(result.planYearTotalsAfter.outOfPocket).toBe(fen('8,000.00')); // 10,000 − 2,000
      expect(result.lines[0]!.explanation.zh).toContain('年度封顶 50,000.00');
    });
    it('pays CRITICAL on the growth of R above 50,000 until 150,000 is reached', () => {
      // basis 0 (all self-funded), R 400,000 -> 410,000: excess 350,000 -> 360,000, × 50% = 5,000;
      // 150,000 − 149,000 paid = 1,000 left
      const result = evaluateBenefits(defaults, input({ psn: '10,000.00', ownpay: '10,000.00' }, {}, {
        totals: { CRITICAL: fen('149,000.00'), outOfPocket: fen('400,000.00') },
      }));
      expect(result.lines[1]).toMatchObject({ programme: 'CRITICAL', basisFen: fen('10,000.00'), computedFen: fen('5,000.00'), amountFen: fen('1,000.00'), capsHit: ['ANNUAL_CAP'] });
      expect(result.planYearTotalsAfter.CRITICAL).toBe(fen('150,000.00'));
    });
    it('pays CRITICAL only on the part above the threshold when R crosses it', () => {
      // R 45,000 -> 45,000 + (20,000 − 12,000) = 53,000: excess 0 -> 3,000, × 50% = 1,500
      const result = evaluateBenefits(defaults, input({ psn: '20,000.00' }, {}, { totals: { outOfPocket: fen('45,000.00') } }));
      expect(amount(result, 'CRITICAL')).toBe(fen('1,500.00'));
    });
  });

  describe('lines never above psn_part_amt', () => {
    it('cuts the last programme in stacking order first', () => {
      // psn 5,000: INPATIENT 3,000; R 100,000 -> 102,000, excess 50,000 -> 52,000, × 50% = 1,000;
      // MAJOR_DISEASE 6,000 cut to 5,000 − 4,000 = 1,000; the member pays 0
      const result = evaluateBenefits(defaults, input({ psn: '5,000.00', diagnoses: ['C50.9'] }, { specialDisease: true }, {
        totals: { outOfPocket: fen('100,000.00') },
      }));
      expect(result.lines.map((l) => [l.programme, l.amountFen, l.capsHit])).toEqual([
        ['INPATIENT', fen('3,000.00'), []],
        ['CRITICAL', fen('1,000.00'), []],
        ['MAJOR_DISEASE', fen('1,000.00'), ['PERSONAL_PART']],
      ]);
      expect(result.totalFen).toBe(fen('5,000.00'));
      expect(result.memberPaysFen).toBe(0);
      expect(result.lines[2]!.explanation.zh).toContain('个人负担 5,000.00');
      expect(result.diseaseGroupsGranted).toEqual(['CANCER']);
    });
    it('leaves the group open when the lump sum is cut to nothing', () => {
      // psn 0.00: every line is 0, the CANCER lump sum could not be paid
      const result = evaluateBenefits(defaults, input({ psn: '0.00', diagnoses: ['C50.9'] }, { specialDisease: true }));
      expect(result.totalFen).toBe(0);
      expect(result.diseaseGroupsGranted).toEqual([]);
    });
  });

  it('warns when the settlement is outside the rule set plan years', () => {
    const result = evaluateBenefits(defaults, input({ setlTime: '2026-01-10 10:00:00' }, { planYear: 2026 }));
    expect(result.warnings).toEqual(['rule set default-2025 v1 covers plan years 2025, not 2026']);
  });

  it('refuses input it cannot evaluate, naming the field', () => {
    const missing = input();
    delete missing.settlement.amountsFen.fulamt_ownpay_amt;
    expect(() => evaluateBenefits(defaults, missing)).toThrow(new BenefitInputError('settlement.fulamt_ownpay_amt', 'is required by rule set default-2025'));
    expect(() => evaluateBenefits(defaults, { ...input(), settlement: { ...settlement(), setlTime: '2025-02-30 10:00:00' } })).toThrow('settlement.setl_time');
    expect(() => evaluateBenefits(defaults, input({}, {}, { totals: { INPATIENT: 0.5 } }))).toThrow('planYearTotals.INPATIENT');
    expect(() => evaluateBenefits(defaults, input({}, { firstEnrolledOn: '2025-1-1' }))).toThrow('enrolment.firstEnrolledOn');
  });
});
