import { ZERO_TOTALS, type BenefitInput, type EnrolmentFacts, type PlanYearTotals, type SettlementFacts } from '../../src/benefits/rules/engine.ts';
import { parseFen } from '../../src/kernel/money.ts';

/** CNY in test cases, written as people write them ("84,000.00"), to fen. */
export const fen = (cny: string) => parseFen(cny.replaceAll(',', ''), 'test');

export interface ClaimSpec {
  psn?: string;
  ownpay?: string;
  overlmt?: string;
  medType?: string;
  setlTime?: string;
  /** begndate; absent: not sent. */
  admittedOn?: string;
  diagnoses?: string[];
}

export function settlement({ psn = '10,000.00', ownpay = '0', overlmt = '0', medType = '21', setlTime = '2025-06-01 10:00:00', admittedOn, diagnoses = [] }: ClaimSpec = {}): SettlementFacts {
  return {
    medType, setlTime, diagnoses, ...(admittedOn === undefined ? {} : { admittedOn }),
    amountsFen: { psn_part_amt: fen(psn), fulamt_ownpay_amt: fen(ownpay), overlmt_selfpay: fen(overlmt) },
  };
}

export const enrolment = (facts: Partial<EnrolmentFacts> = {}): EnrolmentFacts => ({
  planYear: 2025, plan: 'PUBLIC', specialDisease: false, firstEnrolledOn: '2020-01-01', contributionPaid: true, ...facts,
});

export function input(claim: ClaimSpec = {}, facts: Partial<EnrolmentFacts> = {}, extra: { totals?: Partial<PlanYearTotals>; prior?: string[] } = {}): BenefitInput {
  return {
    settlement: settlement(claim),
    enrolment: enrolment(facts),
    planYearTotals: { ...ZERO_TOTALS, ...extra.totals },
    priorDiseaseGroups: extra.prior ?? [],
  };
}
