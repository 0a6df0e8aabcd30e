import { Params } from '../db/sql.ts';
import { organisationRowScopeSql } from '../db/scope.ts';
import type { Scope } from '../kernel/scope.ts';
import type { Queryable, Tx } from '../kernel/transaction.ts';
import { CONTRIBUTION_FEN } from '../members/model.ts';
import type { CalendarDay, EnrolmentTargetRow, Grouping, TargetFigures, YearFigures } from './model.ts';

/**
 * SQL of the figures: aggregates over other domains' rows (read only), grouped by year and by the
 * grouping's key, and the one table written here, enrolment_targets. Every query is bounded by a
 * year pair (or a day range) and by the subtree's units.
 *
 * Which year a row counts in: enrolments and contributions by their plan year (a month by
 * enrolled_on / paid_on within that calendar year); claims by the China date of their decision,
 * payouts by their payment's, condolences by their approval's.
 */

const CHINA = `'Asia/Shanghai'`;

export interface FiguresSelection {
  /** The subtree's root; null for the whole hub. */
  organisationId: number | null;
  planYear: number;
  month: number | null;
  programme: string | null;
  memberCategory: string | null;
  grouping: Grouping;
}

/** year → key → figures (partial: each query fills its own columns). */
export type GroupedFigures = Map<number, Map<string, Partial<YearFigures>>>;

/** The subtree's units with their grouping keys (organisation child, unit type), in the caller's scope. */
function unitsCte(p: Params, s: FiguresSelection, scope: Scope): string {
  const org = s.organisationId === null ? null : p.add(s.organisationId);
  // The child of the report's organisation on the unit's organisation path (the root's own units: NULL).
  const child = org === null ? 'o.path[1]' : `o.path[array_position(o.path, ${org}::bigint) + 1]`;
  return `scoped_units AS (
    SELECT u.id, u.unit_type, coalesce((${child})::text, '-') AS org_key
      FROM units u JOIN organisations o ON o.id = u.organisation_id
     WHERE ${org === null ? 'true' : `${org}::bigint = ANY(o.path)`} AND ${organisationRowScopeSql(p, scope, 'u.organisation_id')})`;
}

/** The grouping key as SQL, given the row's date expression (for MONTH) and what the query joins. */
function keySql(g: Grouping, date: string, extra: { programme?: string; category?: string }): string | null {
  switch (g) {
    case 'TOTAL': return `'TOTAL'`;
    case 'ORGANISATION': return 'su.org_key';
    case 'UNIT_TYPE': return 'su.unit_type';
    case 'MONTH': return `extract(month FROM ${date})::int::text`;
    case 'PROGRAMME': return extra.programme ?? null;
    case 'MEMBER_CATEGORY': return extra.category ?? null;
  }
}

/** `column` (an instant) within the China calendar years `from` to `to`. */
function inYearsSql(p: Params, column: string, from: number, to: number): string {
  return `${column} >= make_timestamptz(${p.add(from)}::int, 1, 1, 0, 0, 0, ${CHINA}) AND ${column} < make_timestamptz(${p.add(to + 1)}::int, 1, 1, 0, 0, 0, ${CHINA})`;
}

function monthSql(p: Params, month: number | null, date: string, year: string): string {
  return month === null ? 'true' : `extract(year FROM ${date}) = ${year} AND extract(month FROM ${date}) = ${p.add(month)}`;
}

function put(into: GroupedFigures, year: number, key: string, values: Partial<YearFigures>): void {
  let byKey = into.get(year);
  if (!byKey) into.set(year, (byKey = new Map()));
  byKey.set(key, { ...byKey.get(key), ...values });
}

/** The figures of the selected subtree for planYear and the year before, grouped as asked. */
export async function groupedFigures(db: Queryable, s: FiguresSelection, scope: Scope): Promise<GroupedFigures> {
  const out: GroupedFigures = new Map();
  const categoryFilter = (p: Params, alias: string) => (s.memberCategory === null ? 'true' : `${p.add(s.memberCategory)} = ANY(${alias}.member_categories)`);
  const categoryJoin = (alias: string) => (s.grouping === 'MEMBER_CATEGORY' ? `CROSS JOIN LATERAL unnest(${alias}.member_categories) AS cat(key)` : '');
  const reads: Promise<void>[] = [];

  // Enrolments: units with one, members, contributions owed. Not split by programme.
  if (s.grouping !== 'PROGRAMME') {
    const p = new Params();
    const key = keySql(s.grouping, 'e.enrolled_on', { category: 'cat.key' })!;
    const sql = `WITH ${unitsCte(p, s, scope)}
      SELECT e.plan_year AS year, ${key} AS key, count(DISTINCT e.unit_id)::int AS units, count(*)::int AS members,
             sum(CASE e.plan WHEN 'PUBLIC' THEN ${p.add(CONTRIBUTION_FEN.PUBLIC)}::bigint ELSE ${p.add(CONTRIBUTION_FEN.PRIVATE)}::bigint END
                 + CASE WHEN e.special_disease THEN ${p.add(CONTRIBUTION_FEN.SPECIAL_DISEASE)}::bigint ELSE 0 END)::bigint AS owed
        FROM enrolments e JOIN scoped_units su ON su.id = e.unit_id ${categoryJoin('e')}
       WHERE e.plan_year IN (${p.add(s.planYear - 1)}::int, ${p.add(s.planYear)}::int) AND ${categoryFilter(p, 'e')}
         AND ${s.grouping === 'MONTH' ? 'extract(year FROM e.enrolled_on) = e.plan_year' : 'true'}
         AND ${monthSql(p, s.month, 'e.enrolled_on', 'e.plan_year')}
       GROUP BY 1, 2`;
    const contributionsCounted = s.grouping !== 'MEMBER_CATEGORY' && s.memberCategory === null;
    reads.push(db.query<{ year: number; key: string; units: number; members: number; owed: number }>(sql, p.values).then(({ rows }) => {
      for (const r of rows) put(out, r.year, r.key, { units: r.units, membersEnrolled: r.members, contributionsOwedFen: contributionsCounted ? r.owed : null });
    }));
  }

  // Contributions paid: per unit, so not by programme or member category.
  if (s.grouping !== 'PROGRAMME' && s.grouping !== 'MEMBER_CATEGORY' && s.memberCategory === null) {
    const p = new Params();
    const sql = `WITH ${unitsCte(p, s, scope)}
      SELECT cp.plan_year AS year, ${keySql(s.grouping, 'cp.paid_on', {})} AS key, sum(cp.amount_fen)::bigint AS raised
        FROM standing_contribution_payments cp JOIN scoped_units su ON su.id = cp.unit_id
       WHERE cp.plan_year IN (${p.add(s.planYear - 1)}::int, ${p.add(s.planYear)}::int)
         AND ${s.grouping === 'MONTH' ? 'extract(year FROM cp.paid_on) = cp.plan_year' : 'true'}
         AND ${monthSql(p, s.month, 'cp.paid_on', 'cp.plan_year')}
       GROUP BY 1, 2`;
    reads.push(db.query<{ year: number; key: string; raised: number }>(sql, p.values).then(({ rows }) => {
      for (const r of rows) put(out, r.year, r.key, { contributionsRaisedFen: r.raised });
    }));
  }

  // Claims decided (人次) with at least one line, and what was approved on them.
  {
    const p = new Params();
    const decided = `(c.decided_at AT TIME ZONE ${CHINA})`;
    const key = keySql(s.grouping, decided, { programme: 'bl.programme', category: 'cat.key' })!;
    const needsEnrolment = s.grouping === 'MEMBER_CATEGORY' || s.memberCategory !== null;
    const sql = `WITH ${unitsCte(p, s, scope)}
      SELECT extract(year FROM ${decided})::int AS year, ${key} AS key, count(DISTINCT c.id)::int AS claims, count(DISTINCT c.member_id)::int AS claimants,
             coalesce(sum(coalesce(bl.adjusted_fen, bl.amount_fen)) FILTER (WHERE c.status = 'APPROVED' AND bl.status IN ('APPROVED', 'PAID')), 0)::bigint AS approved
        FROM claims c JOIN scoped_units su ON su.id = c.unit_id JOIN benefit_lines bl ON bl.claim_id = c.id
             ${needsEnrolment ? 'JOIN enrolments e ON e.id = c.enrolment_id' : ''} ${needsEnrolment ? categoryJoin('e') : ''}
       WHERE ${inYearsSql(p, 'c.decided_at', s.planYear - 1, s.planYear)}
         AND c.status NOT IN ('CANCELLED', 'PENDING_REVIEW')
         AND ${s.programme === null ? 'true' : `bl.programme = ${p.add(s.programme)}`}
         AND ${needsEnrolment ? categoryFilter(p, 'e') : 'true'}
         AND ${s.month === null ? 'true' : `extract(month FROM ${decided}) = ${p.add(s.month)}`}
       GROUP BY 1, 2`;
    reads.push(db.query<{ year: number; key: string; claims: number; claimants: number; approved: number }>(sql, p.values).then(({ rows }) => {
      for (const r of rows) put(out, r.year, r.key, { claims: r.claims, claimants: r.claimants, claimsApprovedFen: r.approved });
    }));
  }

  // Payouts of claims paid (PAID or SETTLED; a returned payment is unpaid again).
  {
    const p = new Params();
    const paid = `(pay.paid_at AT TIME ZONE ${CHINA})`;
    const byLine = s.grouping === 'PROGRAMME' || s.programme !== null;
    const needsEnrolment = s.grouping === 'MEMBER_CATEGORY' || s.memberCategory !== null;
    const key = keySql(s.grouping, paid, { programme: 'bl.programme', category: 'cat.key' })!;
    const sql = `WITH ${unitsCte(p, s, scope)}
      SELECT extract(year FROM ${paid})::int AS year, ${key} AS key, count(DISTINCT pay.id)::int AS payouts, count(DISTINCT pay.member_id)::int AS payees,
             sum(${byLine ? 'pl.amount_fen' : 'pay.amount_fen'})::bigint AS paid
        FROM payouts pay JOIN scoped_units su ON su.id = pay.unit_id
             ${byLine ? 'JOIN payout_lines pl ON pl.payout_id = pay.id JOIN benefit_lines bl ON bl.id = pl.benefit_line_id' : ''}
             ${needsEnrolment ? `JOIN claims c ON c.id = pay.claim_id JOIN enrolments e ON e.id = c.enrolment_id ${categoryJoin('e')}` : ''}
       WHERE pay.status IN ('PAID', 'SETTLED') AND pay.claim_id IS NOT NULL
         AND ${inYearsSql(p, 'pay.paid_at', s.planYear - 1, s.planYear)}
         AND ${s.programme === null ? 'true' : `bl.programme = ${p.add(s.programme)}`}
         AND ${needsEnrolment ? categoryFilter(p, 'e') : 'true'}
         AND ${s.month === null ? 'true' : `extract(month FROM ${paid}) = ${p.add(s.month)}`}
       GROUP BY 1, 2`;
    reads.push(db.query<{ year: number; key: string; payouts: number; payees: number; paid: number }>(sql, p.values).then(({ rows }) => {
      for (const r of rows) put(out, r.year, r.key, { payouts: r.payouts, payees: r.payees, paidFen: r.paid });
    }));
  }

  // Condolences approved (workers not enrolled: no programme, no member category).
  if (s.grouping !== 'PROGRAMME' && s.grouping !== 'MEMBER_CATEGORY' && s.programme === null && s.memberCategory === null) {
    const p = new Params();
    const decided = `(k.decided_at AT TIME ZONE ${CHINA})`;
    const sql = `WITH ${unitsCte(p, s, scope)}
      SELECT extract(year FROM ${decided})::int AS year, ${keySql(s.grouping, decided, {})} AS key,
             count(*)::int AS condolences, count(DISTINCT k.member_id)::int AS recipients, sum(k.approved_fen)::bigint AS approved
        FROM condolences k JOIN scoped_units su ON su.id = k.unit_id
       WHERE k.status = 'APPROVED' AND ${inYearsSql(p, 'k.decided_at', s.planYear - 1, s.planYear)}
         AND ${s.month === null ? 'true' : `extract(month FROM ${decided}) = ${p.add(s.month)}`}
       GROUP BY 1, 2`;
    reads.push(db.query<{ year: number; key: string; condolences: number; recipients: number; approved: number }>(sql, p.values).then(({ rows }) => {
      for (const r of rows) put(out, r.year, r.key, { condolences: r.condolences, condolenceRecipients: r.recipients, condolencesApprovedFen: r.approved });
    }));
  }

  await Promise.all(reads);
  return out;
}

/** The children of `organisationId` (the roots for the whole hub) in the caller's scope, by code, at most `limit`. */
export async function childOrganisations(db: Queryable, organisationId: number | null, scope: Scope, limit: number): Promise<{ id: number; code: string; name: string }[]> {
  const p = new Params();
  const { rows } = await db.query<{ id: number; code: string; name: string }>(
    `SELECT o.id, o.code, o.name FROM organisations o
      WHERE ${organisationId === null ? 'o.parent_id IS NULL' : `o.parent_id = ${p.add(organisationId)}`}
        AND ${organisationRowScopeSql(p, scope, 'o.id')}
      ORDER BY o.code LIMIT ${p.add(limit)}`,
    p.values,
  );
  return rows;
}

/**
 * Received, decided and paid China dates of the claims decided in the year (one row per distinct
 * triple, with its count). Paid as the member sees it (claim_payments): when the last of its payouts
 * not cancelled was paid, null while any one (another funder's) is not.
 */
export async function turnaroundDates(
  db: Queryable, s: Omit<FiguresSelection, 'grouping'>, scope: Scope,
): Promise<{ received: string; decided: string; paid: string | null; count: number }[]> {
  const p = new Params();
  const decided = `(c.decided_at AT TIME ZONE ${CHINA})`;
  const sel: FiguresSelection = { ...s, grouping: 'TOTAL' };
  const needsEnrolment = s.memberCategory !== null;
  const { rows } = await db.query<{ received: string; decided: string; paid: string | null; count: number }>(
    `WITH ${unitsCte(p, sel, scope)}
     SELECT to_char(s.received_at AT TIME ZONE ${CHINA}, 'YYYY-MM-DD') AS received, to_char(${decided}, 'YYYY-MM-DD') AS decided,
            to_char((CASE WHEN pay.status IN ('PAID', 'SETTLED') THEN pay.paid_at END) AT TIME ZONE ${CHINA}, 'YYYY-MM-DD') AS paid, count(*)::int AS count
       FROM claims c JOIN scoped_units su ON su.id = c.unit_id JOIN settlements s ON s.id = c.settlement_id
            ${needsEnrolment ? 'JOIN enrolments e ON e.id = c.enrolment_id' : ''}
            LEFT JOIN claim_payments pay ON pay.claim_id = c.id
      WHERE ${inYearsSql(p, 'c.decided_at', s.planYear, s.planYear)}
        AND c.status NOT IN ('CANCELLED', 'PENDING_REVIEW')
        AND EXISTS (SELECT 1 FROM benefit_lines bl WHERE bl.claim_id = c.id ${s.programme === null ? '' : `AND bl.programme = ${p.add(s.programme)}`})
        AND ${needsEnrolment ? `${p.add(s.memberCategory)} = ANY(e.member_categories)` : 'true'}
        AND ${s.month === null ? 'true' : `extract(month FROM ${decided}) = ${p.add(s.month)}`}
      GROUP BY 1, 2, 3`,
    p.values,
  );
  return rows;
}

/**
 * The accounts of the funders of the subtree (the hub's own union pays from `unionAccount`), in the
 * caller's scope. For the whole hub: every funder's.
 */
export async function funderAccounts(db: Queryable, organisationId: number | null, scope: Scope, unionAccount: string): Promise<string[]> {
  const p = new Params();
  const { rows } = await db.query<{ account: string }>(
    `SELECT DISTINCT coalesce(f.account, ${p.add(unionAccount)}) AS account
       FROM funders f JOIN organisations o ON o.id = f.organisation_id
      WHERE ${organisationId === null ? 'true' : `${p.add(organisationId)}::bigint = ANY(o.path)`}
        AND ${organisationRowScopeSql(p, scope, 'f.organisation_id')}
      ORDER BY 1`,
    p.values,
  );
  return rows.map((r) => r.account);
}

/** Open exceptions of the accounts, by age in days (today − occurred_on, China dates). */
export async function openExceptionAges(db: Queryable, accounts: readonly string[], today: string): Promise<{ age: number; count: number }[]> {
  if (!accounts.length) return [];
  const { rows } = await db.query<{ age: number; count: number }>(
    `SELECT ($2::date - occurred_on) AS age, count(*)::int AS count
       FROM reconciliation_exceptions WHERE status = 'OPEN' AND account = ANY($1::text[])
      GROUP BY 1`,
    [accounts, today],
  );
  return rows;
}

/** Per account and day from `from` to `to`: statement, proof, open exceptions dated that day. */
export async function calendarDays(db: Queryable, accounts: readonly string[], from: string, to: string): Promise<Omit<CalendarDay, 'age'>[]> {
  if (!accounts.length) return [];
  const { rows } = await db.query<Omit<CalendarDay, 'age'>>(
    `SELECT to_char(d.day, 'YYYY-MM-DD') AS date, a.account,
            EXISTS (SELECT 1 FROM bank_statements bs WHERE bs.account = a.account AND bs.statement_date = d.day) AS "statementPresent",
            (SELECT dp.proven FROM daily_proofs dp WHERE dp.account = a.account AND dp.statement_date = d.day) AS proven,
            (SELECT count(*)::int FROM reconciliation_exceptions x
              WHERE x.account = a.account AND x.occurred_on = d.day AND x.status = 'OPEN') AS "openExceptions"
       FROM generate_series($2::date, $3::date, interval '1 day') AS d(day) CROSS JOIN unnest($1::text[]) AS a(account)
      ORDER BY d.day, a.account`,
    [accounts, from, to],
  );
  return rows;
}

const TARGET_COLUMNS = `t.organisation_id AS "organisationId", o.code AS "organisationCode", t.plan_year AS "planYear",
  t.members_target AS "membersTarget", t.units_target AS "unitsTarget", t.contributions_target_fen::bigint AS "contributionsTargetFen",
  t.set_by AS "setBy", t.set_at AS "setAt"`;


/** The targets of these organisations for the year (none for an organisation without one). */
export async function targetsOf(db: Queryable, organisationIds: readonly number[], planYear: number): Promise<EnrolmentTargetRow[]> {
  if (!organisationIds.length) return [];
  const { rows } = await db.query<EnrolmentTargetRow>(
    `SELECT ${TARGET_COLUMNS} FROM enrolment_targets t JOIN organisations o ON o.id = t.organisation_id
      WHERE t.organisation_id = ANY($1::bigint[]) AND t.plan_year = $2`,
    [organisationIds, planYear],
  );
  return rows;
}

/** The targets of the year in the caller's scope, by organisation code, at most `limit`. */
export async function targetsOfYear(db: Queryable, planYear: number, scope: Scope, limit: number): Promise<EnrolmentTargetRow[]> {
  const p = new Params();
  const { rows } = await db.query<EnrolmentTargetRow>(
    `SELECT ${TARGET_COLUMNS} FROM enrolment_targets t JOIN organisations o ON o.id = t.organisation_id
      WHERE t.plan_year = ${p.add(planYear)} AND ${organisationRowScopeSql(p, scope, 't.organisation_id')}
      ORDER BY o.code LIMIT ${p.add(limit)}`,
    p.values,
  );
  return rows;
}

/** Sets the target (last wins); the values it replaced, or null when there were none. Locks the row for the audit. */
export async function upsertTarget(
  tx: Tx, organisationId: number, planYear: number, t: TargetFigures, setBy: string,
): Promise<{ row: EnrolmentTargetRow; previous: TargetFigures | null }> {
  const { rows: before } = await tx.query<TargetFigures>(
    `SELECT members_target AS "membersTarget", units_target AS "unitsTarget", contributions_target_fen AS "contributionsTargetFen"
       FROM enrolment_targets WHERE organisation_id = $1 AND plan_year = $2 FOR UPDATE`,
    [organisationId, planYear],
  );
  await tx.query(
    `INSERT INTO enrolment_targets (organisation_id, plan_year, members_target, units_target, contributions_target_fen, set_by)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (organisation_id, plan_year) DO UPDATE
        SET members_target = excluded.members_target, units_target = excluded.units_target,
            contributions_target_fen = excluded.contributions_target_fen, set_by = excluded.set_by, set_at = now()`,
    [organisationId, planYear, t.membersTarget, t.unitsTarget, t.contributionsTargetFen, setBy],
  );
  const [row] = await targetsOf(tx, [organisationId], planYear);
  return { row: row!, previous: before[0] ?? null };
}
