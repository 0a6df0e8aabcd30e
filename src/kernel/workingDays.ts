import { DAY_MS, addDays, chinaToday, dateOfDayNumber, dayNumber, parseChinaTime } from './time.ts';

/**
 * Working days (工作日) and the programme's turnaround promise (pure). Dates are China dates
 * `yyyy-MM-dd`; working days are Monday to Friday except the given holidays (春节, 国庆 …: the
 * bank's BANK_HOLIDAYS, the promise's PROMISE_HOLIDAYS). Weekend make-up days (调休) are not
 * modelled: a holiday list that needs them must name the weekdays off instead.
 */

export function isWorkingDay(date: string, holidays: ReadonlySet<string>): boolean {
  const weekday = new Date(dayNumber(date) * DAY_MS).getUTCDay();
  return weekday !== 0 && weekday !== 6 && !holidays.has(date);
}

/** The `days`-th working day after `date` (T+2: `addWorkingDays(T, 2)`); `date` itself never counts. */
export function addWorkingDays(date: string, days: number, holidays: ReadonlySet<string>): string {
  let day = dayNumber(date);
  for (let left = days; left > 0;) {
    day += 1;
    if (isWorkingDay(dateOfDayNumber(day), holidays)) left -= 1;
  }
  return dateOfDayNumber(day);
}

/** Working days after `from` up to and including `to` (0 when `to` is not after `from`). */
export function workingDaysBetween(from: string, to: string, holidays: ReadonlySet<string>): number {
  let count = 0;
  for (let day = dayNumber(from) + 1; day <= dayNumber(to); day++) {
    if (isWorkingDay(dateOfDayNumber(day), holidays)) count += 1;
  }
  return count;
}

/**
 * The last receipt date whose due date (`addWorkingDays(date, days)`) is before `today`: whatever
 * was received on or before it and is still waiting is late today. A due date never moves later as
 * the receipt date moves earlier, so walking back finds it (a store turns it into a WHERE bound).
 */
export function lastLateReceiptDate(today: string, days: number, holidays: ReadonlySet<string>): string {
  let date = addDays(today, -1);
  while (addWorkingDays(date, days, holidays) >= today) date = addDays(date, -1);
  return date;
}

/** Items still open and received before this instant (midnight after `lastLateReceiptDate`, China time) are late today. */
export function lateReceivedBefore(today: string, days: number, holidays: ReadonlySet<string>): Date {
  return parseChinaTime(`${addDays(lastLateReceiptDate(today, days, holidays), 1)} 00:00:00`)!;
}

/** The programme's promise: decided, and paid, within so many working days of receipt. */
export interface TurnaroundPromise {
  decisionWorkingDays: number;
  paymentWorkingDays: number;
  holidays: string[];
}

/** The promise as configured: DECISION_/PAYMENT_PROMISE_WORKING_DAYS and PROMISE_HOLIDAYS of src/config.ts. */
export function promiseOf(config: {
  DECISION_PROMISE_WORKING_DAYS: number; PAYMENT_PROMISE_WORKING_DAYS: number; PROMISE_HOLIDAYS: string[];
}): TurnaroundPromise {
  return {
    decisionWorkingDays: config.DECISION_PROMISE_WORKING_DAYS,
    paymentWorkingDays: config.PAYMENT_PROMISE_WORKING_DAYS,
    holidays: config.PROMISE_HOLIDAYS,
  };
}

export interface TurnaroundTimes {
  receivedAt: Date;
  decidedAt: Date | null;
  paidAt: Date | null;
  /** False when nothing is to be paid (rejected, withdrawn, nothing payable): no payment promise then. Default true. */
  paymentExpected?: boolean;
}

/**
 * Where an item stands against the promise. Both clocks run from receipt; a due date is the last
 * China date the step may happen on (`addWorkingDays(received date, N)`), so a step on a later
 * date, or still missing after it, is a breach.
 */
export interface Turnaround {
  receivedAt: Date;
  decidedAt: Date | null;
  paidAt: Date | null;
  /** Working days from receipt to decision; null while undecided. */
  toDecisionWorkingDays: number | null;
  /** Working days from receipt to payment; null while unpaid. */
  toPaymentWorkingDays: number | null;
  decisionDueBy: string;
  /** Null when no payment is expected. */
  paymentDueBy: string | null;
  decisionBreached: boolean;
  paymentBreached: boolean;
}

export function turnaroundOf(times: TurnaroundTimes, promise: TurnaroundPromise, now: Date): Turnaround {
  const holidays = new Set(promise.holidays);
  const received = chinaToday(times.receivedAt);
  const today = chinaToday(now);
  const decisionDueBy = addWorkingDays(received, promise.decisionWorkingDays, holidays);
  const paymentDueBy = times.paymentExpected === false ? null : addWorkingDays(received, promise.paymentWorkingDays, holidays);
  // Late if it happened after the due date, or has not happened and the due date is past.
  const late = (at: Date | null, dueBy: string) => (at ? chinaToday(at) : today) > dueBy;
  return {
    receivedAt: times.receivedAt,
    decidedAt: times.decidedAt,
    paidAt: times.paidAt,
    toDecisionWorkingDays: times.decidedAt ? workingDaysBetween(received, chinaToday(times.decidedAt), holidays) : null,
    toPaymentWorkingDays: times.paidAt ? workingDaysBetween(received, chinaToday(times.paidAt), holidays) : null,
    decisionDueBy,
    paymentDueBy,
    decisionBreached: late(times.decidedAt, decisionDueBy),
    paymentBreached: paymentDueBy !== null && late(times.paidAt, paymentDueBy),
  };
}
