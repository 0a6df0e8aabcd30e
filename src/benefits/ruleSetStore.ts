import type pg from 'pg';
import type { Queryable } from '../db/pool.ts';
import { listRuleSets } from './rules/catalogue.ts';
import { validateRuleSet, type RuleSet } from './rules/ruleSet.ts';
import type { RuleSetRow } from './rows.ts';

/**
 * Rule sets in PostgreSQL. The shipped JSON files (src/benefits/ruleSets/) are the source of truth
 * for the shipped sets and are inserted idempotently (`ensureShippedRuleSets`); published versions
 * are added beside them and none is ever changed, so every claim can name the version it used.
 *
 * Which set governs a plan year: the rule set id assigned to the year in plan_year_rule_sets
 * (2025 -> default-2025), at its newest version covering the year; a year without an assignment
 * uses the most recently published set covering it; a year no set covers uses the most recently
 * published set of all, and the engine's warning ("covers plan years ..., not ...") sends the claim
 * to review.
 */
const COLUMNS = `id AS "ruleSetId", version, plan_years AS "planYears", definition, shipped,
  published_at AS "publishedAt", published_by AS "publishedBy"`;

const ensured = new WeakMap<object, Promise<void>>();

/** Inserts the shipped rule sets that are missing (once per pool and process). */
export function ensureShippedRuleSets(db: pg.Pool): Promise<void> {
  let done = ensured.get(db);
  if (!done) {
    done = insertShipped(db).catch((error: unknown) => {
      ensured.delete(db);
      throw error;
    });
    ensured.set(db, done);
  }
  return done;
}

async function insertShipped(db: Queryable): Promise<void> {
  const sets = listRuleSets();
  await db.query(
    `INSERT INTO rule_sets (id, version, plan_years, definition, shipped, published_by)
     SELECT r.id, r.version, ARRAY(SELECT jsonb_array_elements_text(r.definition -> 'planYears')::int), r.definition, true, 'shipped'
       FROM jsonb_to_recordset($1::jsonb) AS r(id text, version int, definition jsonb)
     ON CONFLICT (id, version) DO NOTHING`,
    [JSON.stringify(sets.map((rs) => ({ id: rs.id, version: rs.version, definition: rs })))],
  );
}

export function ruleSetOf(row: RuleSetRow): RuleSet {
  const checked = validateRuleSet(row.definition);
  if (!checked.ok) throw new Error(`stored rule set ${row.ruleSetId} v${row.version} is invalid: ${checked.errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}`);
  return checked.ruleSet;
}

export async function listStoredRuleSets(db: Queryable, id?: string | null): Promise<RuleSetRow[]> {
  const { rows } = await db.query<RuleSetRow>(
    `SELECT ${COLUMNS} FROM rule_sets WHERE ($1::text IS NULL OR id = $1) ORDER BY id, version`,
    [id ?? null],
  );
  return rows;
}

/** The given version, or the newest of `id` when version is null. */
export async function storedRuleSet(db: Queryable, id: string, version?: number | null): Promise<RuleSetRow | null> {
  const { rows } = await db.query<RuleSetRow>(
    `SELECT ${COLUMNS} FROM rule_sets WHERE id = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1`,
    [id, version ?? null],
  );
  return rows[0] ?? null;
}

/** The rule set governing each plan year (see above), by year. */
export async function ruleSetsForYears(db: Queryable, years: readonly number[]): Promise<Map<number, RuleSetRow>> {
  if (!years.length) return new Map();
  const { rows } = await db.query<RuleSetRow & { year: number }>(
    `SELECT y.year, r.* FROM unnest($1::int[]) AS y(year)
     CROSS JOIN LATERAL (
       SELECT ${COLUMNS} FROM rule_sets rs
        LEFT JOIN plan_year_rule_sets a ON a.plan_year = y.year
        ORDER BY (a.rule_set_id = rs.id AND y.year = ANY(rs.plan_years)) IS TRUE DESC,
                 (y.year = ANY(rs.plan_years)) DESC, rs.published_at DESC, rs.version DESC, rs.id
        LIMIT 1) r`,
    [[...new Set(years)]],
  );
  return new Map(rows.map(({ year, ...row }) => [year, row]));
}

/** Plan years each (id) is assigned to. */
export async function assignedYears(db: Queryable, ids: readonly string[]): Promise<Map<string, number[]>> {
  const { rows } = await db.query<{ id: string; years: number[] }>(
    `SELECT rule_set_id AS id, array_agg(plan_year ORDER BY plan_year) AS years FROM plan_year_rule_sets
      WHERE rule_set_id = ANY($1) GROUP BY rule_set_id`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.years]));
}

export async function nextVersion(db: Queryable, id: string): Promise<number> {
  // The lock serialises publishers of one id: two publications can never take the same version.
  await db.query(`SELECT pg_advisory_xact_lock(hashtext('rule_sets:' || $1))`, [id]);
  const { rows } = await db.query<{ v: number }>(`SELECT coalesce(max(version), 0) + 1 AS v FROM rule_sets WHERE id = $1`, [id]);
  return rows[0]!.v;
}

export async function insertRuleSet(db: Queryable, ruleSet: RuleSet, publishedBy: string): Promise<RuleSetRow> {
  const { rows } = await db.query<RuleSetRow>(
    `INSERT INTO rule_sets (id, version, plan_years, definition, published_by) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${COLUMNS}`,
    [ruleSet.id, ruleSet.version, ruleSet.planYears, JSON.stringify(ruleSet), publishedBy],
  );
  return rows[0]!;
}
