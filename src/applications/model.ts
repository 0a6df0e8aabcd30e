import type { Transitions } from '../kernel/transitions.ts';

/**
 * Applications (申请): a member's own claim for a stay the platform feed does not carry (treatment
 * elsewhere, 异地就医, or before the feed), with the figures of its settlement sheet and the documents
 * that show them. A REVIEWER accepts it — it becomes a settlement of the source `applications`,
 * matched and adjudicated like any other — or returns it with a reason the member can fix.
 */

export type ApplicationChannel = 'ONLINE' | 'MAIL' | 'COUNTER';
export type ApplicationStatus = 'SUBMITTED' | 'RETURNED' | 'ACCEPTED';
export type ApplicationReturnReason =
  | 'MISSING_DOCUMENT' | 'UNREADABLE_DOCUMENT' | 'FIGURES_DIFFER' | 'DATES_DIFFER' | 'HOSPITAL_DIFFERS' | 'DUPLICATE' | 'OTHER';

/**
 * The moves each status may make; each of the store's UPDATEs names the status it moves from
 * (`WHERE status = ...`), and this table is the list of them (test/applications/model.test.ts
 * compares the statuses with the table's CHECK).
 */
export const APPLICATION_TRANSITIONS = {
  // acceptApplication / returnApplication (a reviewer's decision).
  SUBMITTED: ['ACCEPTED', 'RETURNED'],
  // resubmitApplication (the member fixed what the return named).
  RETURNED: ['SUBMITTED'],
  ACCEPTED: [],
} as const satisfies Transitions<ApplicationStatus>;

/** Staff file on a member's behalf by post or at a counter; a member files ONLINE. */
export const STAFF_CHANNELS: readonly ApplicationChannel[] = ['MAIL', 'COUNTER'];

/** 定点医药机构编号: `H`, the 6-digit division code and a 5-digit number. */
export const HOSPITAL_CODE = /^H\d{11}$/;

/** The largest figure an application may state: 10,000,000.00 CNY (far above any stay the programme pays). */
export const MAX_APPLICATION_FEN = 1_000_000_000;
