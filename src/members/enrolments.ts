import { addDays } from '../kernel/time.ts';
import type { EnrolmentRow } from './model.ts';

/**
 * The last day of an enrolment's waiting period: benefits pay for settlements from the next day on
 * (the rule engine's WAITING_PERIOD: a settlement before the chain's first enrolment + `waitingDays`
 * is refused). `waitingDays` is that of the rule set governing the enrolment's plan year. Null when
 * the enrolment does not wait: the waiting ended before it began (a renewal without a gap of a
 * chain older than the waiting period), or a rule set without a waiting period. A renewal of a
 * chain that began within the waiting period still waits until the chain's period ends.
 */
export function waitingPeriodEndsOn(enrolment: Pick<EnrolmentRow, 'firstEnrolledOn' | 'enrolledOn'>, waitingDays: number): string | null {
  if (waitingDays === 0) return null;
  const lastDay = addDays(enrolment.firstEnrolledOn, waitingDays - 1);
  return lastDay >= enrolment.enrolledOn ? lastDay : null;
}
