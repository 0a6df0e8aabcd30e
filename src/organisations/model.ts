/**
 * Union organisations (工会组织): a tree of province (省总工会) → city (市总工会) → county/district
 * (县区总工会) that every unit (基层工会) belongs to. Staff whose token names an organisation see that
 * organisation and everything below it; of its ancestors only their names and codes.
 *
 * Rules (kept by the service and by the database, migrations 0021 and 0026):
 * - an organisation keeps its parent and level for ever, and sits below its parent's level;
 * - only an ADMIN creates an organisation, an organisation-scoped ADMIN only inside its subtree;
 * - moving a unit to another organisation takes two ADMINs (four eyes): one proposes, another
 *   confirms, both with the unit and the target organisation in their scope.
 */

export const ORGANISATION_LEVELS = ['PROVINCE', 'CITY', 'COUNTY'] as const;
export type OrganisationLevel = (typeof ORGANISATION_LEVELS)[number];

/** An organisation code: what tokens (`org` claim) and operators name it by. */
export const ORGANISATION_CODE = /^[A-Z][A-Z0-9-]{0,31}$/;
export const ORGANISATION_NAME_MAX = 200;

/** Who creates organisations and moves units. */
export const ORGANISATION_ADMINS = ['ADMIN'] as const;
/** Who reads the organisation tree (every staff role; units see their own organisation through Unit.organisation). */
export const ORGANISATION_READERS = ['ADMIN', 'REVIEWER', 'FINANCE', 'AUDITOR', 'SERVICE'] as const;

export interface OrganisationRow {
  id: number;
  code: string;
  name: string;
  level: OrganisationLevel;
  parentId: number | null;
  /** Ids from the root down to this organisation itself. */
  path: number[];
  createdAt: Date;
  createdBy: string;
}

export type UnitMoveStatus = 'PROPOSED' | 'CONFIRMED' | 'WITHDRAWN';

export interface UnitMoveRow {
  id: number;
  unitId: number;
  fromOrganisationId: number;
  toOrganisationId: number;
  reason: string;
  status: UnitMoveStatus;
  proposedBy: string;
  proposedAt: Date;
  confirmedBy: string | null;
  confirmedAt: Date | null;
  withdrawnBy: string | null;
  withdrawnAt: Date | null;
  withdrawalReason: string | null;
}
