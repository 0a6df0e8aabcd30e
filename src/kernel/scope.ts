/**
 * The rows a caller may see (a UNIT_OPERATOR its unit's members, a MEMBER itself, staff of an
 * organisation that organisation and everything below it), enforced in the stores' WHERE clauses so
 * an out-of-scope row is never even loaded.
 */
export interface Scope {
  /** Only this unit's members (UNIT_OPERATOR). */
  unitId: number | null;
  /** Only this member (MEMBER). */
  memberId: number | null;
  /** Only units of this organisation and of the organisations below it (staff of a 工会组织). */
  organisationId: number | null;
}

/** Every row: unscoped staff roles and the system's own work. */
export const UNSCOPED: Scope = { unitId: null, memberId: null, organisationId: null };
