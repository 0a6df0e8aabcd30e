import type { SettlementKind, SettlementStatus, UnmatchedReason } from './model.ts';

/**
 * Matching a stored settlement to a member and the enrolment of its plan year. Pure: SQL gathers
 * the facts (by keyed hash of the ID number, plan year = calendar year of setl_time in China time;
 * for a reversal, of the settlement it cancels), this decides.
 */
export interface MatchFacts {
  id: number;
  kind: SettlementKind;
  /** The same setl_id stored earlier from another source (the earliest copy is the one that counts). */
  duplicateOfId: number | null;
  memberId: number | null;
  enrolmentId: number | null;
  enrolmentUnitId: number | null;
  /** For a reversal: the stored settlement it cancels. */
  reversesId: number | null;
}

export interface MatchDecision {
  id: number;
  status: Exclude<SettlementStatus, 'RECEIVED'>;
  unmatchedReason: UnmatchedReason | null;
  memberId: number | null;
  enrolmentId: number | null;
  unitId: number | null;
  duplicateOfId: number | null;
  reversesId: number | null;
}

export function decideMatch(f: MatchFacts): MatchDecision {
  const none = { memberId: null, enrolmentId: null, unitId: null, duplicateOfId: null, reversesId: f.reversesId };
  if (f.duplicateOfId !== null) return { id: f.id, status: 'DUPLICATE', unmatchedReason: null, ...none, duplicateOfId: f.duplicateOfId };
  if (f.memberId === null) return { id: f.id, status: 'UNMATCHED', unmatchedReason: 'NO_MEMBER', ...none };
  const member = { ...none, memberId: f.memberId };
  // A reversal is decided against its original: it waits (UNMATCHED) until that one arrives.
  if (f.kind === 'REVERSAL' && f.reversesId === null) return { id: f.id, status: 'UNMATCHED', unmatchedReason: 'ORIGINAL_NOT_FOUND', ...member };
  if (f.enrolmentId === null) return { id: f.id, status: 'UNMATCHED', unmatchedReason: 'NO_ENROLMENT', ...member };
  return { id: f.id, status: 'MATCHED', unmatchedReason: null, ...member, enrolmentId: f.enrolmentId, unitId: f.enrolmentUnitId };
}
