import type { Queryable } from '../../kernel/transaction.ts';
import { planYearSql, reversedSettlementSql } from '../store.ts';

/**
 * UNMATCHED settlements whose missing piece exists now go back to RECEIVED for the match step: a
 * NO_MEMBER one whose member (by keyed hash of the ID number) is registered since, a NO_ENROLMENT
 * one whose member has an enrolment of its plan year since (the calendar year of setl_time in China
 * time, a reversal's that of the settlement it cancels, as lockMatchFacts reads it). A reversal
 * waiting for an enrolment beside its original is released with it: left behind, it would never
 * cancel the original, which would be paid. Derived from the rows, so a roster import, a member or an
 * enrolment created through the API, or the sweeper all find the same work. Returns the ids released.
 */
export async function releaseResolvableUnmatched(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `UPDATE settlements s SET status = 'RECEIVED', unmatched_reason = NULL, member_id = NULL, matched_at = NULL
      WHERE s.status = 'UNMATCHED'
        AND CASE s.unmatched_reason
              WHEN 'NO_MEMBER' THEN EXISTS (SELECT 1 FROM members m WHERE m.id_number_hash = s.certno_hash)
              WHEN 'NO_ENROLMENT' THEN EXISTS (
                SELECT 1 FROM members m JOIN enrolments e ON e.member_id = m.id
                 WHERE m.id_number_hash = s.certno_hash
                   -- A reversal is matched in its original's plan year.
                   AND e.plan_year = ${planYearSql(`coalesce((SELECT orig.setl_time FROM (${reversedSettlementSql('s')}) orig), s.setl_time)`)})
              ELSE false END
     RETURNING s.id`,
  );
  return rows.map((r) => r.id);
}
