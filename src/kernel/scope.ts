/**
 * The rows a caller may see (a UNIT_OPERATOR its unit's members, a MEMBER itself), enforced in the
 * stores' WHERE clauses so an out-of-scope row is never even loaded.
 */
export interface Scope {
  /** Only this unit's members (UNIT_OPERATOR). */
  unitId: number | null;
  /** Only this member (MEMBER). */
  memberId: number | null;
}

/** Every row: staff roles and the system's own work. */
export const UNSCOPED: Scope = { unitId: null, memberId: null };
