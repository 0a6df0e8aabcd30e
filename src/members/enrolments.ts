import { addDays } from '../kernel/time.ts';
import type { EnrolmentRow } from './model.ts';

/**
 * The last day of an enrolment's waiting period: benefits pay for settlements from the next day on
 * (the rule engine's WAITING_PERIOD: a settlement before first enrolment + `waitingDays` is refused).
 * `waitingDays` is that of the rule set governing the enrolment's plan year. Null when the enrolment
 * does not wait: a renewal without a gap (it keeps its chain's first enrolment), or a rule set
 * without a waiting period.
 */
export function waitingPeriodEndsOn(enrolment: Pick<EnrolmentRow, 'firstEnrolledOn' | 'enrolledOn'>, waitingDays: number): string | null {
  if (enrolment.firstEnrolledOn !== enrolment.enrolledOn || waitingDays === 0) return null;
  return addDays(enrolment.firstEnrolledOn, waitingDays - 1);
}
