/** Rows as the benefits domain reads them from SQL (camelCase aliases); resolvers map them to the schema. */
import type { CountedConnection } from '../members/rows.ts';
import type { CapHit } from './rules/engine.ts';
import type { Programme } from './rules/ruleSet.ts';

export type ClaimStatus = 'INELIGIBLE' | 'PENDING_REVIEW' | 'APPROVED' | 'REJECTED' | 'CANCELLED';
export type LineStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'CANCELLED' | 'PAID';

export interface ClaimRow {
  id: number;
  settlementId: number;
  memberId: number;
  unitId: number;
  enrolmentId: number;
  planYear: number;
  setlTime: Date;
  ruleSetId: string | null;
  ruleSetVersion: number | null;
  status: ClaimStatus;
  eligible: boolean;
  psnPartAmt: number;
  computedTotalFen: number;
  totalFen: number;
  reasons: string[];
  reasonCodes: string[];
  warnings: string[];
  outOfPocketFen: number;
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface BenefitLineRow {
  id: number;
  claimId: number;
  programme: Programme;
  basisFen: number;
  ratioBp: number | null;
  fixedFen: number | null;
  beforeCapsFen: number;
  capsHit: CapHit[];
  amountFen: number;
  adjustedFen: number | null;
  adjustmentReason: string | null;
  adjustedBy: string | null;
  adjustedAt: Date | null;
  diseaseGroups: string[];
  explanation: string;
  status: LineStatus;
  paidAt: Date | null;
}

export interface RuleSetRow {
  ruleSetId: string;
  version: number;
  planYears: number[];
  definition: unknown;
  shipped: boolean;
  publishedAt: Date;
  publishedBy: string;
}

export interface BenefitTotalsRow {
  memberId: number;
  planYear: number;
  inpatientFen: number;
  criticalFen: number;
  majorDiseaseFen: number;
  outOfPocketFen: number;
  claims: number;
}

export interface RecoveryRow {
  id: number;
  benefitLineId: number;
  claimId: number;
  memberId: number;
  reversalSettlementId: number;
  amountFen: number;
  status: 'OPEN' | 'RECOVERED' | 'WAIVED';
  createdAt: Date;
}

export type ClaimConnectionResult = CountedConnection<ClaimRow>;

/** What a line pays now: the reviewer's adjustment when there is one, else the computed amount. */
export const payableFen = (line: Pick<BenefitLineRow, 'amountFen' | 'adjustedFen'>): number => line.adjustedFen ?? line.amountFen;
