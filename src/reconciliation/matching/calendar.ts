import { DAY_MS, dateOfDayNumber, dayNumber } from '../../kernel/time.ts';

/**
 * Bank calendar days (pure): dates are China dates `yyyy-MM-dd`; business days are Monday to
 * Friday except the configured bank holidays (BANK_HOLIDAYS: 春节, 国庆 ...).
 */

export function isBusinessDay(date: string, holidays: ReadonlySet<string>): boolean {
  const weekday = new Date(dayNumber(date) * DAY_MS).getUTCDay();
  return weekday !== 0 && weekday !== 6 && !holidays.has(date);
}

/** The `days`-th business day after `date` (T+2: `addBusinessDays(T, 2)`). */
export function addBusinessDays(date: string, days: number, holidays: ReadonlySet<string>): string {
  let day = dayNumber(date);
  for (let left = days; left > 0;) {
    day += 1;
    if (isBusinessDay(dateOfDayNumber(day), holidays)) left -= 1;
  }
  return dateOfDayNumber(day);
}

