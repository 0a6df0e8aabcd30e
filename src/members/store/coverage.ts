import type { Queryable } from '../../kernel/transaction.ts';
import { CONTRIBUTION_FEN } from '../model.ts';

/**
 * SQL of contribution coverage per enrolment (contributions.ts `contributionCovered` decides).
 * An enrolment's place in its unit's plan year is the order it was owed in: enrolled_on, then id
 * (the roster row that enrolled it first). `owedThroughFen` is what the unit owes for it and every
 * enrolment before it; a late addition is last, so it never moves an earlier one.
 */
export interface EnrolmentCoverageFigures {
  enrolmentId: number;
  unitId: number;
  planYear: number;
  /** Owed for this enrolment and those owed before it in its unit's plan year. */
  owedThroughFen: number;
  /** Owed for all of the unit's enrolments of the plan year. */
  owedFen: number;
  /** Paid by the unit towards the plan year. */
  paidFen: number;
}

/** The coverage figures of each enrolment, in the order asked; null for an unknown enrolment. */
export async function enrolmentCoverageFigures(db: Queryable, enrolmentIds: readonly number[]): Promise<(EnrolmentCoverageFigures | null)[]> {
  if (!enrolmentIds.length) return [];
  const { rows } = await db.query<EnrolmentCoverageFigures>(
    `WITH years AS (SELECT DISTINCT unit_id, plan_year FROM enrolments WHERE id = ANY($1::bigint[])),
     owed AS (
       SELECT e.id, e.unit_id, e.plan_year,
              sum(CASE e.plan WHEN 'PUBLIC' THEN $2::bigint ELSE $3::bigint END + CASE WHEN e.special_disease THEN $4::bigint ELSE 0 END)
                OVER (PARTITION BY e.unit_id, e.plan_year ORDER BY e.enrolled_on, e.id) AS through,
              sum(CASE e.plan WHEN 'PUBLIC' THEN $2::bigint ELSE $3::bigint END + CASE WHEN e.special_disease THEN $4::bigint ELSE 0 END)
                OVER (PARTITION BY e.unit_id, e.plan_year) AS total
         FROM enrolments e JOIN years y ON y.unit_id = e.unit_id AND y.plan_year = e.plan_year)
     SELECT o.id AS "enrolmentId", o.unit_id AS "unitId", o.plan_year AS "planYear", o.through::bigint AS "owedThroughFen",
            o.total::bigint AS "owedFen",
            (SELECT coalesce(sum(cp.amount_fen), 0)::bigint FROM contribution_payments cp
              WHERE cp.unit_id = o.unit_id AND cp.plan_year = o.plan_year) AS "paidFen"
       FROM owed o WHERE o.id = ANY($1::bigint[])`,
    [enrolmentIds, CONTRIBUTION_FEN.PUBLIC, CONTRIBUTION_FEN.PRIVATE, CONTRIBUTION_FEN.SPECIAL_DISEASE],
  );
  const byId = new Map(rows.map((r) => [r.enrolmentId, r]));
  return enrolmentIds.map((id) => byId.get(id) ?? null);
}
