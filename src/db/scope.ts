import type { Scope } from '../kernel/scope.ts';
import type { Params } from './sql.ts';

/**
 * The scope of rows that belong to a member (`<alias>.member_id`: settlements, claims, payouts): a
 * unit operator sees those of its unit's members, a member their own.
 */
export function memberRowScopeSql(p: Params, scope: Scope, alias: string): string {
  const parts: string[] = [];
  if (scope.unitId !== null) parts.push(`EXISTS (SELECT 1 FROM members m WHERE m.id = ${alias}.member_id AND m.unit_id = ${p.add(scope.unitId)})`);
  if (scope.memberId !== null) parts.push(`${alias}.member_id = ${p.add(scope.memberId)}`);
  return parts.length ? parts.join(' AND ') : 'true';
}
