import type { Queryable, Tx } from '../kernel/transaction.ts';
import type { Page } from '../kernel/page.ts';
import type { Scope } from '../kernel/scope.ts';
import { Params } from '../db/sql.ts';
import { memberRowScopeSql, memberScopeSql } from '../db/scope.ts';
import { byKey, keysetSql } from '../db/keyset.ts';
import type { CondolenceReason, CondolenceRow, CondolenceStatus } from './model.ts';

/** SQL of the condolences domain: table condolences (members, enrolments, funders and payouts are read, never written here). */

const COLUMNS = `k.id, k.member_id AS "memberId", k.unit_id AS "unitId", k.plan_year AS "planYear", k.reason, k.description,
  k.occurred_on AS "occurredOn", k.requested_fen AS "requestedFen", k.approved_fen AS "approvedFen",
  k.funder_id AS "funderId", k.rule_set_id AS "ruleSetId", k.rule_set_version AS "ruleSetVersion", k.status,
  k.applied_by AS "appliedBy", k.applied_role AS "appliedRole", k.applied_at AS "appliedAt", k.decided_by AS "decidedBy",
  k.decided_role AS "decidedRole", k.decided_at AS "decidedAt", k.decision_note AS "decisionNote"`;

/** What applying for a worker needs to know of them. */
export interface CondolenceWorker {
  memberId: number;
  unitId: number;
  /** The unit's organisation (工会组织), as refusals name it. */
  organisationName: string;
  /** Enrolled in the plan year asked for: such a worker claims instead. */
  enrolled: boolean;
}

/**
 * The worker on a roster in `scope` (a unit operator its own unit's, an organisation's staff their
 * subtree's), or null; the worker and its unit locked (FOR SHARE) until the commit, so a move (the
 * worker's to another unit, the unit's to another organisation) either commits first, and the worker
 * is out of the old scope, or waits: the unit the application copies is the one checked.
 */
export async function workerInScope(tx: Tx, memberId: number, planYear: number, scope: Scope): Promise<CondolenceWorker | null> {
  const p = new Params();
  const { rows } = await tx.query<CondolenceWorker>(
    `SELECT m.id AS "memberId", m.unit_id AS "unitId", o.name AS "organisationName",
            EXISTS (SELECT 1 FROM enrolments e WHERE e.member_id = m.id AND e.plan_year = ${p.add(planYear)}) AS enrolled
       FROM members m JOIN units u ON u.id = m.unit_id JOIN organisations o ON o.id = u.organisation_id
      WHERE m.id = ${p.add(memberId)} AND ${memberScopeSql(p, scope, 'm', 'u')}
        FOR SHARE OF m, u`,
    p.values,
  );
  return rows[0] ?? null;
}

/** The funder with this code (the rule set names it), or null. */
export async function funderIdByCode(db: Queryable, code: string): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM funders WHERE code = $1`, [code]);
  return rows[0]?.id ?? null;
}

/**
 * Orders every application and approval for one worker and plan year until the commit, so two of
 * them never both pass the annual cap on the same approved total.
 */
export async function lockWorkerYear(tx: Tx, memberId: number, planYear: number): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('condolences:' || $1::bigint || ':' || $2::int, 0))`, [memberId, planYear]);
}

/** What the worker was approved in the plan year so far (fen). */
export async function approvedTotalOfWorker(db: Queryable, memberId: number, planYear: number): Promise<number> {
  const { rows } = await db.query<{ total: number }>(
    `SELECT coalesce(sum(approved_fen), 0)::bigint AS total FROM condolences WHERE member_id = $1 AND plan_year = $2 AND status = 'APPROVED'`,
    [memberId, planYear],
  );
  return rows[0]!.total;
}

/** What the worker was approved for one case (the same reason on the same day), fen. */
export async function approvedTotalOfCase(
  db: Queryable, c: { memberId: number; reason: CondolenceReason; occurredOn: string },
): Promise<number> {
  const { rows } = await db.query<{ total: number }>(
    `SELECT coalesce(sum(approved_fen), 0)::bigint AS total FROM condolences
      WHERE member_id = $1 AND reason = $2 AND occurred_on = $3::date AND status = 'APPROVED'`,
    [c.memberId, c.reason, c.occurredOn],
  );
  return rows[0]!.total;
}

export interface NewCondolence {
  memberId: number;
  planYear: number;
  reason: CondolenceReason;
  description: string;
  occurredOn: string;
  requestedFen: number;
  funderId: number;
  ruleSetId: string;
  ruleSetVersion: number;
  appliedBy: string;
  appliedRole: string;
}

/** Records the application; the worker's unit is copied by the database. */
export async function insertCondolence(tx: Tx, c: NewCondolence): Promise<CondolenceRow> {
  const { rows } = await tx.query<CondolenceRow>(
    `INSERT INTO condolences AS k (member_id, plan_year, reason, description, occurred_on, requested_fen, funder_id, rule_set_id, rule_set_version,
                                   applied_by, applied_role)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
    [c.memberId, c.planYear, c.reason, c.description, c.occurredOn, c.requestedFen, c.funderId, c.ruleSetId, c.ruleSetVersion, c.appliedBy, c.appliedRole],
  );
  return rows[0]!;
}

/**
 * The condolence in `scope`, locked for its decision; null when there is none. Its worker and the
 * worker's unit are locked too (FOR SHARE) and the scope checked on them: after waiting for the
 * condolence, the check runs again on the worker and unit as a move committed meanwhile left them.
 */
export async function lockCondolence(tx: Tx, id: number, scope: Scope): Promise<CondolenceRow | null> {
  const p = new Params();
  const { rows } = await tx.query<CondolenceRow>(
    `SELECT ${COLUMNS} FROM condolences k JOIN members m ON m.id = k.member_id JOIN units u ON u.id = m.unit_id
      WHERE k.id = ${p.add(id)} AND ${memberScopeSql(p, scope, 'm', 'u')} FOR UPDATE OF k FOR SHARE OF m, u`,
    p.values,
  );
  return rows[0] ?? null;
}

export interface CondolenceDecision {
  status: Exclude<CondolenceStatus, 'PENDING'>;
  /** The amount approved (APPROVED only). */
  approvedFen: number | null;
  /** Null for a withdrawal (the applicant's own act). */
  decidedBy: string | null;
  decidedRole: string | null;
  note: string | null;
}

export async function decideCondolence(tx: Tx, id: number, d: CondolenceDecision): Promise<CondolenceRow> {
  const { rows } = await tx.query<CondolenceRow>(
    `UPDATE condolences AS k SET status = $2, approved_fen = $3, decided_by = $4, decided_role = $5, decision_note = $6, decided_at = now()
      WHERE k.id = $1 RETURNING ${COLUMNS}`,
    [id, d.status, d.approvedFen, d.decidedBy, d.decidedRole, d.note],
  );
  return rows[0]!;
}

// ---- reads ----

export async function condolencesByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<CondolenceRow[]> {
  if (!ids.length) return [];
  const p = new Params();
  const { rows } = await db.query<CondolenceRow>(
    `SELECT ${COLUMNS} FROM condolences k WHERE k.id = ANY(${p.add(ids)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'k')}`,
    p.values,
  );
  return rows;
}

/** The condolences of these members in `scope`, newest first. */
export async function condolencesOfMembers(db: Queryable, memberIds: readonly number[], scope: Scope): Promise<CondolenceRow[]> {
  if (!memberIds.length) return [];
  const p = new Params();
  const { rows } = await db.query<CondolenceRow>(
    `SELECT ${COLUMNS} FROM condolences k WHERE k.member_id = ANY(${p.add(memberIds)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'k')} ORDER BY k.id DESC`,
    p.values,
  );
  return rows;
}

/** The condolence each payout pays, in `scope` (absent for a claim's payout). */
export async function condolencesOfPayouts(db: Queryable, payoutIds: readonly number[], scope: Scope): Promise<(CondolenceRow & { payoutId: number })[]> {
  if (!payoutIds.length) return [];
  const p = new Params();
  const { rows } = await db.query<CondolenceRow & { payoutId: number }>(
    `SELECT ${COLUMNS}, py.id AS "payoutId" FROM payouts py JOIN condolences k ON k.id = py.condolence_id
      WHERE py.id = ANY(${p.add(payoutIds)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'k')}`,
    p.values,
  );
  return rows;
}

export interface CondolenceFilter {
  status?: CondolenceStatus | null;
  planYear?: number | null;
  unitId?: number | null;
}

function filterSql(p: Params, scope: Scope, f: CondolenceFilter): string {
  const where = [memberRowScopeSql(p, scope, 'k')];
  if (f.status) where.push(`k.status = ${p.add(f.status)}`);
  if (f.planYear != null) where.push(`k.plan_year = ${p.add(f.planYear)}`);
  if (f.unitId != null) where.push(`k.unit_id = ${p.add(f.unitId)}`);
  return where.join(' AND ');
}

const ORDERING = byKey('k.id', 'ASC');

export async function countCondolences(db: Queryable, scope: Scope, filter: CondolenceFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM condolences k WHERE ${filterSql(p, scope, filter)}`, p.values);
  return rows[0]!.n;
}

/** A keyset page of condolences in `scope`, oldest first (a queue). */
export async function condolencesPage(db: Queryable, scope: Scope, filter: CondolenceFilter, page: Page): Promise<CondolenceRow[]> {
  const p = new Params();
  const where = filterSql(p, scope, filter);
  const { where: keyset, orderBy } = keysetSql(p, ORDERING, page);
  const { rows } = await db.query<CondolenceRow>(
    `SELECT ${COLUMNS} FROM condolences k WHERE ${where} AND ${keyset} ORDER BY ${orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

/** The payout of each condolence (null while none was planned), in the order asked; the payout itself is then read in the caller's scope. */
export async function payoutIdsOfCondolences(db: Queryable, condolenceIds: readonly number[]): Promise<(number | null)[]> {
  const { rows } = await db.query<{ condolenceId: number; id: number }>(
    `SELECT condolence_id AS "condolenceId", id FROM payouts WHERE condolence_id = ANY($1::bigint[])`,
    [condolenceIds],
  );
  const byCondolence = new Map(rows.map((r) => [r.condolenceId, r.id]));
  return condolenceIds.map((id) => byCondolence.get(id) ?? null);
}
