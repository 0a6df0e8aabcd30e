import { addDays } from '../kernel/time.ts';
import { lateRenewalDate } from '../benefits/rules/engine.ts';
import type { RuleSet } from '../benefits/rules/ruleSet.ts';
import type { EnrolmentRow } from './model.ts';

/**
 * The last day of an enrolment's waiting period: benefits pay for settlements from the next day on
 * (the rule engine's WAITING_PERIOD: a settlement before the chain's first enrolment + `waitingDays`,
 * or a late renewal's own date + `waitingDays`, is refused). `rules` are those of the rule set
 * governing the enrolment. Null when the enrolment does not wait: the waiting ended before it began
 * (a renewal without a gap of a chain older than the waiting period), or a rule set without a
 * waiting period. A renewal of a chain that began within the waiting period still waits until the
 * chain's period ends; a late renewal (a gap) waits from its own date.
 */
export function waitingPeriodEndsOn(
  enrolment: Pick<EnrolmentRow, 'planYear' | 'firstEnrolledOn' | 'enrolledOn'>,
  rules: { eligibility: Pick<RuleSet['eligibility'], 'waitingDays'>; enrolment: Pick<RuleSet['enrolment'], 'maxBackdatingDays'> },
): string | null {
  const { waitingDays } = rules.eligibility;
  if (waitingDays === 0) return null;
  const start = lateRenewalDate(rules.enrolment.maxBackdatingDays, enrolment) ?? enrolment.firstEnrolledOn;
  const lastDay = addDays(start, waitingDays - 1);
  return lastDay >= enrolment.enrolledOn ? lastDay : null;
}
