/**
 * Dates and times as the programme counts them: calendar dates `yyyy-MM-dd` and China Standard Time
 * (UTC+8, no daylight saving), the time of the union, the insurance platform and the banks.
 * Pure: the caller passes the instant (a clock is the caller's).
 */

export const DAY_MS = 86_400_000;
const CHINA_OFFSET_MS = 8 * 3_600_000;

/** The date in China (`yyyy-MM-dd`) of an instant: a member's "today", a plan year's day. */
export function chinaToday(now = new Date()): string {
  return new Date(now.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/** The plan year (calendar year in China Standard Time) an instant falls in. */
export function planYearOf(instant: Date): number {
  return new Date(instant.getTime() + CHINA_OFFSET_MS).getUTCFullYear();
}

/** `yyyy-MM-dd HH:mm:ss` in China Standard Time -> instant; null if it is not a real time. */
export function parseChinaTime(text: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) return null;
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const local = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const roundTrips = local.getUTCFullYear() === y && local.getUTCMonth() === mo - 1 && local.getUTCDate() === d
    && local.getUTCHours() === h && local.getUTCMinutes() === mi && local.getUTCSeconds() === s;
  return roundTrips ? new Date(local.getTime() - CHINA_OFFSET_MS) : null;
}

/** Instant -> `yyyy-MM-dd HH:mm:ss` in China Standard Time (the insurance platform's format). */
export function formatChinaTime(instant: Date): string {
  return new Date(instant.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** Instant -> `2025-06-03T09:30:00+08:00` (ISO 8601 in China Standard Time, the banks' local time). */
export function chinaDateTime(instant: Date): string {
  return `${new Date(instant.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/**
 * A calendar date yyyy-MM-dd in the years 1900 to 2999: enrolments, payments, statements and birth
 * dates all fall there, and PostgreSQL has no year 0 (JavaScript has).
 */
export function isIsoDate(text: string): boolean {
  if (!/^(19|2\d)\d{2}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
}

/** Days since 1970-01-01 of a `yyyy-MM-dd` date. */
export function dayNumber(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY_MS;
}

export function dateOfDayNumber(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** `2025-02-27` + 2 -> `2025-03-01` (calendar days; negative goes back). */
export function addDays(date: string, days: number): string {
  return dateOfDayNumber(dayNumber(date) + days);
}
