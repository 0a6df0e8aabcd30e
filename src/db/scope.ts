import type { Scope } from '../kernel/scope.ts';
import type { Params } from './sql.ts';

// `organisationId` is compared loosely (`!= null`): scopes signed into download links before
// organisations existed carry no such field and mean "no organisation restriction". Subqueries alias
// their tables scope_*, so an outer alias passed in (`u.id`, `m.unit_id`) is never shadowed.

/** Whether the organisation `organisationIdExpr` is `organisationId` or below it. */
const organisationSubtreeSql = (p: Params, organisationId: number, organisationIdExpr: string) =>
  `EXISTS (SELECT 1 FROM organisations scope_o WHERE scope_o.id = ${organisationIdExpr} AND ${p.add(organisationId)}::bigint = ANY(scope_o.path))`;

/**
 * The scope of rows that belong to a member (`<alias>.member_id`: settlements, claims, payouts): a
 * unit operator sees those of its unit's members, a member their own, an organisation's staff those
 * of members of units in its subtree.
 */
export function memberRowScopeSql(p: Params, scope: Scope, alias: string): string {
  const parts: string[] = [];
  if (scope.unitId !== null) parts.push(`EXISTS (SELECT 1 FROM members m WHERE m.id = ${alias}.member_id AND m.unit_id = ${p.add(scope.unitId)})`);
  if (scope.memberId !== null) parts.push(`${alias}.member_id = ${p.add(scope.memberId)}`);
  if (scope.organisationId != null) {
    parts.push(`EXISTS (SELECT 1 FROM members scope_m JOIN units scope_u ON scope_u.id = scope_m.unit_id
                          JOIN organisations scope_o ON scope_o.id = scope_u.organisation_id
                         WHERE scope_m.id = ${alias}.member_id AND ${p.add(scope.organisationId)}::bigint = ANY(scope_o.path))`);
  }
  return parts.length ? parts.join(' AND ') : 'true';
}

/**
 * The scope of rows that belong to a unit (`unitIdExpr`, an SQL expression such as `u.id` or
 * `m.unit_id`): a unit operator its own unit, a member their unit, an organisation's staff the units
 * in its subtree. `organisationIdExpr`, the unit row's own `organisation_id` when the statement holds
 * (and locks) that row: an organisation's scope is checked on it rather than through a subquery of
 * units, so a check made again after waiting for the unit's move sees where the move left it (an
 * organisation's path never changes).
 */
export function unitRowScopeSql(p: Params, scope: Scope, unitIdExpr: string, organisationIdExpr?: string): string {
  const parts: string[] = [];
  if (scope.unitId !== null) parts.push(`${unitIdExpr} = ${p.add(scope.unitId)}`);
  if (scope.memberId !== null) parts.push(`${unitIdExpr} = (SELECT scope_m.unit_id FROM members scope_m WHERE scope_m.id = ${p.add(scope.memberId)})`);
  if (scope.organisationId != null) {
    parts.push(organisationIdExpr === undefined
      ? `EXISTS (SELECT 1 FROM units scope_u JOIN organisations scope_o ON scope_o.id = scope_u.organisation_id
                  WHERE scope_u.id = ${unitIdExpr} AND ${p.add(scope.organisationId)}::bigint = ANY(scope_o.path))`
      : organisationSubtreeSql(p, scope.organisationId, organisationIdExpr));
  }
  return parts.length ? parts.join(' AND ') : 'true';
}

/**
 * The scope of a members row itself (alias `m`), written on the row's own columns. Given `u`, the
 * alias of the member's units row, an organisation's scope is checked on that row's
 * `organisation_id` too, not through a subquery of units: a query that locks both
 * (`FOR SHARE OF m, u`) and waits for a move to commit, the member's to another unit or the unit's to
 * another organisation, checks the scope again on the rows as the move left them (an organisation's
 * path never changes). Without `u`, for reads that lock nothing, the unit is looked up.
 */
export function memberScopeSql(p: Params, scope: Scope, m: string, u?: string): string {
  const parts: string[] = [];
  if (scope.unitId !== null) parts.push(`${m}.unit_id = ${p.add(scope.unitId)}`);
  if (scope.memberId !== null) parts.push(`${m}.id = ${p.add(scope.memberId)}`);
  if (scope.organisationId != null) {
    parts.push(unitRowScopeSql(p, { ...scope, unitId: null, memberId: null }, `${m}.unit_id`, u === undefined ? undefined : `${u}.organisation_id`));
  }
  return parts.length ? parts.join(' AND ') : 'true';
}

/**
 * The scope of rows owned by an organisation (`organisationIdExpr`: funders, organisations): an
 * organisation's staff see their organisation and those below it. Unit operators and members own no
 * organisation's rows, so for them nothing is in scope.
 */
export function organisationRowScopeSql(p: Params, scope: Scope, organisationIdExpr: string): string {
  const parts: string[] = [];
  if (scope.unitId !== null || scope.memberId !== null) parts.push('false');
  if (scope.organisationId != null) {
    parts.push(organisationSubtreeSql(p, scope.organisationId, organisationIdExpr));
  }
  return parts.length ? parts.join(' AND ') : 'true';
}
