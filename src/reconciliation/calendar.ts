/**
 * Bank calendar days (pure): dates are China dates `yyyy-MM-dd`; business days are Monday to
 * Friday except the configured bank holidays (BANK_HOLIDAYS: 春节, 国庆 ...).
 */

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a `yyyy-MM-dd` date. */
export function dayNumber(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY_MS;
}

export function dateOfDayNumber(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return dateOfDayNumber(dayNumber(date) + days);
}

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

