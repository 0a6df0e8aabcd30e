/**
 * Yearly contributions per enrolled person (programme terms; DESIGN.md): PUBLIC 100 CNY,
 * PRIVATE 48 CNY, the 职工特病 add-on 25 CNY. Pure: owed amounts and status from counts and payments.
 */
export type PlanType = 'PUBLIC' | 'PRIVATE';

export const CONTRIBUTION_FEN = { PUBLIC: 10_000, PRIVATE: 4_800, SPECIAL_DISEASE: 2_500 } as const;

export function enrolmentContributionFen(plan: PlanType, specialDisease: boolean): number {
  return CONTRIBUTION_FEN[plan] + (specialDisease ? CONTRIBUTION_FEN.SPECIAL_DISEASE : 0);
}

export type ContributionStatus = 'OWED' | 'PARTIALLY_PAID' | 'PAID';

export function contributionStatus(owedFen: number, paidFen: number): ContributionStatus {
  if (paidFen > 0 && paidFen >= owedFen) return 'PAID';
  return paidFen > 0 ? 'PARTIALLY_PAID' : 'OWED';
}

/**
 * The reference a unit quotes on its transfer (≤ 35 characters, the ISO 20022 limit), so
 * reconciliation can match the credit: `MAH` + plan year + credit code.
 */
export function contributionReference(creditCode: string, planYear: number): string {
  return `MAH${planYear}${creditCode}`;
}
