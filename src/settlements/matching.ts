import type { MatchDecision, MatchFacts } from './model.ts';

/**
 * Matching a stored settlement to a member and the enrolment of its plan year. Pure: SQL gathers the
 * facts (store.ts `lockMatchFacts`: by keyed hash of the ID number, plan year = calendar year of
 * setl_time in China time; for a reversal, of the settlement it cancels), this decides. The match
 * step (matchingStep.ts) runs it in a transaction.
 */
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
