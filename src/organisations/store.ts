import type { Queryable, Tx } from '../kernel/transaction.ts';
import type { Page } from '../kernel/page.ts';
import type { Scope } from '../kernel/scope.ts';
import { Params } from '../db/sql.ts';
import { organisationRowScopeSql } from '../db/scope.ts';
import { byKey, keysetSql } from '../db/keyset.ts';
import type { OrganisationLevel, OrganisationRow, UnitMoveRow } from './model.ts';

/**
 * SQL of the organisations domain: organisations and unit_moves (units are read here; a unit's
 * organisation is changed by the members domain, which owns units).
 */

const COLUMNS = `o.id, o.code, o.name, o.level, o.parent_id AS "parentId", o.path, o.created_at AS "createdAt", o.created_by AS "createdBy"`;

// pg returns bigint[] as strings; ids fit a JS number.
const withNumericPath = (row: OrganisationRow): OrganisationRow => ({ ...row, path: row.path.map(Number) });

export async function organisationByCode(db: Queryable, code: string): Promise<OrganisationRow | null> {
  const { rows } = await db.query<OrganisationRow>(`SELECT ${COLUMNS} FROM organisations o WHERE o.code = $1`, [code]);
  return rows[0] ? withNumericPath(rows[0]) : null;
}

/** The ids from the root down to the organisation itself; empty when there is no such organisation. */
export async function organisationPath(db: Queryable, organisationId: number): Promise<number[]> {
  const { rows } = await db.query<{ path: string[] }>(`SELECT path FROM organisations WHERE id = $1`, [organisationId]);
  return rows[0] ? rows[0].path.map(Number) : [];
}

/** The organisation a unit belongs to; null when there is no such unit. */
export async function organisationOfUnit(db: Queryable, unitId: number): Promise<OrganisationRow | null> {
  const { rows } = await db.query<OrganisationRow>(
    `SELECT ${COLUMNS} FROM units u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = $1`, [unitId]);
  return rows[0] ? withNumericPath(rows[0]) : null;
}

/**
 * Organisations by id. `scope` limits them to the caller's subtree; without a scope (UNSCOPED, or
 * for ancestors shown only by name and code) every one is returned.
 */
export async function organisationsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<OrganisationRow[]> {
  if (!ids.length) return [];
  const p = new Params();
  const { rows } = await db.query<OrganisationRow>(
    `SELECT ${COLUMNS} FROM organisations o WHERE o.id = ANY(${p.add(ids)}::bigint[]) AND ${organisationRowScopeSql(p, scope, 'o.id')}`,
    p.values,
  );
  return rows.map(withNumericPath);
}

const ORDERING = byKey('o.id', 'ASC');

function listSql(p: Params, scope: Scope, parentId: number | null): string {
  return `${parentId === null ? 'true' : `o.parent_id = ${p.add(parentId)}`} AND ${organisationRowScopeSql(p, scope, 'o.id')}`;
}

/** A keyset page of the organisations in `scope` (children of `parentId` when given), in creation order. */
export async function organisationsPage(db: Queryable, scope: Scope, parentId: number | null, page: Page): Promise<OrganisationRow[]> {
  const p = new Params();
  const where = listSql(p, scope, parentId);
  const keyset = keysetSql(p, ORDERING, page);
  const { rows } = await db.query<OrganisationRow>(
    `SELECT ${COLUMNS} FROM organisations o WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows.map(withNumericPath);
}

export async function countOrganisations(db: Queryable, scope: Scope, parentId: number | null): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM organisations o WHERE ${listSql(p, scope, parentId)}`, p.values);
  return rows[0]!.n;
}

/** The children of each organisation, in creation order (unscoped: children of an in-scope organisation are in scope). */
export async function childrenOf(db: Queryable, parentIds: readonly number[]): Promise<OrganisationRow[]> {
  if (!parentIds.length) return [];
  const { rows } = await db.query<OrganisationRow>(
    `SELECT ${COLUMNS} FROM organisations o WHERE o.parent_id = ANY($1::bigint[]) ORDER BY o.id`, [parentIds]);
  return rows.map(withNumericPath);
}

/** Every organisation, root first then by path (the operators' listing). */
export async function allOrganisations(db: Queryable): Promise<OrganisationRow[]> {
  const { rows } = await db.query<OrganisationRow>(`SELECT ${COLUMNS} FROM organisations o ORDER BY o.path`);
  return rows.map(withNumericPath);
}

/** Creates the organisation; null when the code is taken. Its path is set by the database. */
export async function insertOrganisation(
  tx: Tx, organisation: { code: string; name: string; level: OrganisationLevel; parentId: number | null; createdBy: string },
): Promise<OrganisationRow | null> {
  const { rows } = await tx.query<OrganisationRow>(
    `INSERT INTO organisations AS o (code, name, level, parent_id, created_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (code) DO NOTHING RETURNING ${COLUMNS}`,
    [organisation.code, organisation.name, organisation.level, organisation.parentId, organisation.createdBy],
  );
  return rows[0] ? withNumericPath(rows[0]) : null;
}

// ---- unit moves ----

const MOVE_COLUMNS = `mv.id, mv.unit_id AS "unitId", mv.from_organisation_id AS "fromOrganisationId", mv.to_organisation_id AS "toOrganisationId",
  mv.reason, mv.status, mv.proposed_by AS "proposedBy", mv.proposed_at AS "proposedAt", mv.confirmed_by AS "confirmedBy", mv.confirmed_at AS "confirmedAt",
  mv.withdrawn_by AS "withdrawnBy", mv.withdrawn_at AS "withdrawnAt", mv.withdrawal_reason AS "withdrawalReason"`;

/** Proposes the move; null when the unit has an open proposal already. */
export async function insertUnitMove(
  tx: Tx, move: { unitId: number; fromOrganisationId: number; toOrganisationId: number; reason: string; proposedBy: string },
): Promise<UnitMoveRow | null> {
  const { rows } = await tx.query<UnitMoveRow>(
    `INSERT INTO unit_moves AS mv (unit_id, from_organisation_id, to_organisation_id, reason, proposed_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (unit_id) WHERE status = 'PROPOSED' DO NOTHING RETURNING ${MOVE_COLUMNS}`,
    [move.unitId, move.fromOrganisationId, move.toOrganisationId, move.reason, move.proposedBy],
  );
  return rows[0] ?? null;
}

/** The unit's open move proposal, locked for its confirmation or withdrawal; null when there is none. */
export async function lockOpenUnitMove(tx: Tx, unitId: number): Promise<UnitMoveRow | null> {
  const { rows } = await tx.query<UnitMoveRow>(
    `SELECT ${MOVE_COLUMNS} FROM unit_moves mv WHERE mv.unit_id = $1 AND mv.status = 'PROPOSED' FOR UPDATE`, [unitId]);
  return rows[0] ?? null;
}

export async function confirmUnitMove(tx: Tx, moveId: number, confirmedBy: string): Promise<UnitMoveRow> {
  const { rows } = await tx.query<UnitMoveRow>(
    `UPDATE unit_moves AS mv SET status = 'CONFIRMED', confirmed_by = $2, confirmed_at = now() WHERE mv.id = $1 RETURNING ${MOVE_COLUMNS}`,
    [moveId, confirmedBy],
  );
  return rows[0]!;
}

export async function withdrawUnitMove(tx: Tx, moveId: number, withdrawnBy: string, reason: string): Promise<UnitMoveRow> {
  const { rows } = await tx.query<UnitMoveRow>(
    `UPDATE unit_moves AS mv SET status = 'WITHDRAWN', withdrawn_by = $2, withdrawn_at = now(), withdrawal_reason = $3 WHERE mv.id = $1 RETURNING ${MOVE_COLUMNS}`,
    [moveId, withdrawnBy, reason],
  );
  return rows[0]!;
}

/** The open (unconfirmed) moves of these units. */
export async function openUnitMoves(db: Queryable, unitIds: readonly number[]): Promise<UnitMoveRow[]> {
  if (!unitIds.length) return [];
  const { rows } = await db.query<UnitMoveRow>(
    `SELECT ${MOVE_COLUMNS} FROM unit_moves mv WHERE mv.unit_id = ANY($1::bigint[]) AND mv.status = 'PROPOSED'`, [unitIds]);
  return rows;
}
