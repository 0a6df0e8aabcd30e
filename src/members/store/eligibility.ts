import type { Queryable, Tx } from '../../kernel/transaction.ts';
import type { MemberCategory } from '../model.ts';

/**
 * The reads eligibility at enrolment needs (src/members/eligibility.ts): whether the enrolment to
 * write exists already, on which date, with which unit and which cover. An existing enrolment keeps
 * its date and its unit (the upsert changes neither), so back-dating is judged for a new one, and
 * for cover a change adds to an existing one (it counts from that date).
 */

/** An enrolment as eligibility reads it: its date, and the cover it records. */
export interface RecordedEnrolment {
  enrolledOn: string;
  specialDisease: boolean;
  memberCategories: MemberCategory[];
}

const RECORDED_COLUMNS = `e.enrolled_on AS "enrolledOn", e.special_disease AS "specialDisease", e.member_categories AS "memberCategories"`;

/** A member's enrolment for `planYear` (its date, unit and cover), locked until the transaction ends; null when there is none. */
export async function lockedEnrolment(tx: Tx, memberId: number, planYear: number): Promise<(RecordedEnrolment & { unitId: number }) | null> {
  const { rows } = await tx.query<RecordedEnrolment & { unitId: number }>(
    `SELECT ${RECORDED_COLUMNS}, e.unit_id AS "unitId" FROM enrolments e WHERE e.member_id = $1 AND e.plan_year = $2 FOR UPDATE`,
    [memberId, planYear],
  );
  return rows[0] ?? null;
}

/** Which enrolment a roster row may touch: the member with this ID number (keyed hash) in the row's unit, and the plan year. */
export interface RowEnrolmentKey {
  idNumberHash: Buffer;
  unitId: number;
  planYear: number;
}

export const rowEnrolmentKey = (k: RowEnrolmentKey): string => `${k.idNumberHash.toString('hex')}:${k.unitId}:${k.planYear}`;

/**
 * The enrolments these roster rows may touch, by `rowEnrolmentKey`, in one query: each only if the
 * member is in the row's unit. Another unit's member reads as not enrolled: a row's refusal never
 * tells its unit whether someone else's member is.
 */
export async function enrolmentsOfRows(db: Queryable, keys: readonly RowEnrolmentKey[]): Promise<Map<string, RecordedEnrolment>> {
  if (keys.length === 0) return new Map();
  const { rows } = await db.query<RecordedEnrolment & { key: string }>(
    `SELECT ${RECORDED_COLUMNS}, encode(m.id_number_hash, 'hex') || ':' || m.unit_id || ':' || e.plan_year AS key
       FROM unnest($1::bytea[], $2::bigint[], $3::int[]) AS k(hash, unit_id, plan_year)
       JOIN members m ON m.id_number_hash = k.hash AND m.unit_id = k.unit_id
       JOIN enrolments e ON e.member_id = m.id AND e.plan_year = k.plan_year`,
    [keys.map((k) => k.idNumberHash), keys.map((k) => k.unitId), keys.map((k) => k.planYear)],
  );
  return new Map(rows.map(({ key, ...enrolment }) => [key, enrolment]));
}

/**
 * Orders the enrolments of plan years against the condolence decisions of those years: enrolling
 * takes a year's lock shared (enrolments go side by side), approving a condolence takes it
 * exclusive. Each reads the other's rows after its lock, so a worker paid a condolence is never
 * enrolled in the year, nor an enrolled one approved a condolence, by two transactions at once.
 * Keyed by schema: advisory locks are the database's. Years locked in order (no deadlock).
 */
export async function lockPlanYearEnrolments(tx: Tx, planYears: readonly number[], mode: 'enrolling' | 'deciding'): Promise<void> {
  const lock = mode === 'enrolling' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  for (const year of [...new Set(planYears)].sort((a, b) => a - b)) {
    await tx.query(`SELECT ${lock}(hashtextextended(current_schema() || ':enrolments:' || $1::int, 0))`, [year]);
  }
}

/** Whether the member was approved a condolence (慰问金) in `planYear`: such a worker is not enrolled in that year. */
export async function condolenceApprovedInYear(db: Queryable, memberId: number, planYear: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM condolences WHERE member_id = $1 AND plan_year = $2 AND status = 'APPROVED' LIMIT 1`, [memberId, planYear],
  );
  return rowCount === 1;
}
