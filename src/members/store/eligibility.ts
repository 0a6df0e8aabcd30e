import type { Queryable, Tx } from '../../kernel/transaction.ts';

/**
 * The reads eligibility at enrolment needs (src/members/eligibility.ts): whether the enrolment to
 * write exists already, and on which date. An existing enrolment keeps its date (the upsert never
 * changes enrolled_on), so back-dating is judged only for a new one.
 */

/** The date of a member's enrolment for `planYear`, locked until the transaction ends; null when there is none. */
export async function lockedEnrolmentDate(tx: Tx, memberId: number, planYear: number): Promise<string | null> {
  const { rows } = await tx.query<{ enrolledOn: string }>(
    `SELECT enrolled_on AS "enrolledOn" FROM enrolments WHERE member_id = $1 AND plan_year = $2 FOR UPDATE`,
    [memberId, planYear],
  );
  return rows[0]?.enrolledOn ?? null;
}

/** The date of the enrolment for `planYear` of the member with this ID number (keyed hash); null when there is none. */
export async function enrolmentDateByIdNumber(db: Queryable, idNumberHash: Buffer, planYear: number): Promise<string | null> {
  const { rows } = await db.query<{ enrolledOn: string }>(
    `SELECT e.enrolled_on AS "enrolledOn" FROM enrolments e JOIN members m ON m.id = e.member_id
      WHERE m.id_number_hash = $1 AND e.plan_year = $2`,
    [idNumberHash, planYear],
  );
  return rows[0]?.enrolledOn ?? null;
}
