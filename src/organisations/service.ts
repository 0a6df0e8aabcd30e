import { inTransaction } from '../db/pool.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import type { Scope } from '../kernel/scope.ts';
import { checkAll, conflict, forbidden, notFound, reasonOf } from '../kernel/errors.ts';
import { textProblem } from '../kernel/text.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { lockUnitForMove, lockUnitInScope, setUnitOrganisation, unitsByIds } from '../members/store.ts';
import type { UnitRow } from '../members/model.ts';
import {
  ORGANISATION_ADMINS, ORGANISATION_CODE, ORGANISATION_NAME_MAX,
  type OrganisationLevel, type OrganisationRow, type UnitMoveRow,
} from './model.ts';
import * as store from './store.ts';

/** Whether `organisation` lies in `scope`: its subtree for staff of an organisation, everything for staff of the whole hub. */
export function organisationInScope(scope: Scope, organisation: Pick<OrganisationRow, 'path'>): boolean {
  if (scope.unitId !== null || scope.memberId !== null) return false;
  return scope.organisationId == null || organisation.path.includes(scope.organisationId);
}

function requireAdmin(actor: Actor, operation: string): void {
  if (!(ORGANISATION_ADMINS as readonly string[]).includes(actor.role)) {
    throw forbidden(`${operation} needs one of the roles ${ORGANISATION_ADMINS.join(', ')}; you are ${actor.role}`);
  }
}

/** The organisation if it is in `scope`; otherwise NOT_FOUND on `field`, as for one that does not exist. */
async function organisationInScopeOrMissing(db: Db | Tx, scope: Scope, id: number, field: string): Promise<OrganisationRow> {
  const [organisation] = await store.organisationsByIds(db, [id], scope);
  if (!organisation) throw notFound('organisation', field);
  return organisation;
}

export interface NewOrganisation {
  code: string;
  name: string;
  level: OrganisationLevel;
  parentId: number | null;
}

/**
 * Creates an organisation below `parentId` (a new tree when null). An ADMIN of an organisation
 * creates only inside its subtree and never a new tree. Audited.
 */
export async function createOrganisation(db: Db, actor: Actor, scope: Scope, input: NewOrganisation): Promise<OrganisationRow> {
  requireAdmin(actor, 'createOrganisation');
  const code = input.code.trim().toUpperCase();
  const name = input.name.trim();
  checkAll({
    'input.code': ORGANISATION_CODE.test(code) ? null : 'must be a capital letter, then capital letters, digits or "-", at most 32 characters',
    'input.name': textProblem(name) ?? (name.length >= 1 && name.length <= ORGANISATION_NAME_MAX ? null : `must be 1 to ${ORGANISATION_NAME_MAX} characters`),
  });
  if (input.parentId === null && scope.organisationId != null) throw notFound('organisation', 'input.parentId');
  return inTransaction(db, async (tx) => {
    const parent = input.parentId === null ? null : await organisationInScopeOrMissing(tx, scope, input.parentId, 'input.parentId');
    if (parent && !levelBelow(input.level, parent.level)) {
      throw conflict(`input.level: a ${input.level} organisation cannot sit below a ${parent.level} organisation`, 'input.level');
    }
    const organisation = await store.insertOrganisation(tx, { code, name, level: input.level, parentId: parent?.id ?? null, createdBy: actor.subject });
    if (!organisation) throw conflict(`input.code: an organisation with code ${code} already exists`, 'input.code');
    await recordAudit(tx, actor, {
      action: 'organisation.create', targetType: 'Organisation', targetId: String(organisation.id),
      details: { code, name, level: input.level, parentId: parent?.id ?? null },
    });
    return organisation;
  });
}

const RANK: Record<OrganisationLevel, number> = { PROVINCE: 0, CITY: 1, COUNTY: 2 };
/** Mirrors the trigger organisations_path (0021): a level sits below its parent's. */
export const levelBelow = (level: OrganisationLevel, parentLevel: OrganisationLevel): boolean => RANK[level] > RANK[parentLevel];

/**
 * The unit, locked until the commit as an update would (lockUnitForMove: a confirmation moves it), so
 * a proposal made while a move of the unit is confirmed waits and sees the unit where the move left
 * it, and a confirmation moves it from where it is; NOT_FOUND when it is not in `scope`, CONFLICT
 * while a roster import is merging it.
 */
async function unitToMove(tx: Tx, scope: Scope, unitId: number): Promise<Pick<UnitRow, 'id' | 'organisationId'>> {
  // Read first, locking nothing: a unit out of scope is neither waited on nor told apart from a missing one by the wait's CONFLICT.
  if (!(await unitsByIds(tx, [unitId], scope)).length) throw notFound('unit', 'input.unitId');
  if (!(await lockUnitForMove(tx, unitId))) throw conflict('input.unitId: a roster import is merging the unit: move it once it is done', 'input.unitId');
  // Again on the locked row: a move of the unit may have committed while this waited.
  const unit = await lockUnitInScope(tx, unitId, scope);
  if (!unit) throw notFound('unit', 'input.unitId');
  return unit;
}

/**
 * Proposes to move a unit to another organisation; a second ADMIN confirms (`confirmUnitMove`).
 * The unit and the target must be in the proposer's scope. Audited.
 */
export async function proposeUnitMove(
  db: Db, actor: Actor, scope: Scope, input: { unitId: number; organisationId: number; reason: string },
): Promise<UnitMoveRow> {
  requireAdmin(actor, 'moveUnit');
  const reason = reasonOf('input.reason', input.reason);
  return inTransaction(db, async (tx) => {
    const unit = await unitToMove(tx, scope, input.unitId);
    const target = await organisationInScopeOrMissing(tx, scope, input.organisationId, 'input.organisationId');
    if (unit.organisationId === target.id) throw conflict(`input.organisationId: the unit already belongs to ${target.code}`, 'input.organisationId');
    const move = await store.insertUnitMove(tx, {
      unitId: unit.id, fromOrganisationId: unit.organisationId, toOrganisationId: target.id, reason, proposedBy: actor.subject,
    });
    if (!move) throw conflict('input.unitId: the unit has a move waiting for confirmation already', 'input.unitId');
    await recordAudit(tx, actor, {
      action: 'unit.move.propose', targetType: 'Unit', targetId: String(unit.id), reason,
      details: { moveId: move.id, fromOrganisationId: unit.organisationId, toOrganisationId: target.id },
    });
    return move;
  });
}

/**
 * The unit's waiting move, locked for its confirmation or withdrawal, and its two organisations;
 * NOT_FOUND unless both are in `scope`.
 */
async function openMoveInScope(tx: Tx, scope: Scope, unitId: number): Promise<{ move: UnitMoveRow; organisations: OrganisationRow[] }> {
  const move = await store.lockOpenUnitMove(tx, unitId);
  if (!move) throw notFound('unit move waiting for confirmation', 'input.unitId');
  const organisations = await store.organisationsByIds(tx, [move.fromOrganisationId, move.toOrganisationId], scope);
  if (organisations.length !== 2) throw notFound('unit move waiting for confirmation', 'input.unitId');
  return { move, organisations };
}

/**
 * Confirms a unit's waiting move, the one the confirmer checked (`proposedAt`, as read): the unit
 * then belongs to the new organisation. Never by its proposer (four eyes: unit_moves_four_eyes keeps
 * it too). The unit and both organisations must be in the confirmer's scope. Audited.
 */
export async function confirmUnitMove(db: Db, actor: Actor, scope: Scope, unitId: number, proposedAt: Date): Promise<UnitMoveRow> {
  requireAdmin(actor, 'confirmUnitMove');
  return inTransaction(db, async (tx) => {
    const unit = await unitToMove(tx, scope, unitId);
    const { move, organisations } = await openMoveInScope(tx, scope, unitId);
    // A move withdrawn and proposed again (to another organisation, perhaps) is not the one the confirmer checked.
    if (move.proposedAt.getTime() !== proposedAt.getTime()) {
      throw conflict('input.proposedAt: the move waiting is not the one checked (proposed at another time): read the unit again and check it', 'input.proposedAt');
    }
    if (move.proposedBy === actor.subject) {
      throw conflict(`input.unitId: ${actor.subject} proposed this move and cannot also confirm it; another ADMIN must`, 'input.unitId');
    }
    // A move proposed from an organisation the unit has left since would take it from one its proposer never held.
    if (unit.organisationId !== move.fromOrganisationId) {
      const from = organisations.find((o) => o.id === move.fromOrganisationId)!;
      throw conflict(`input.unitId: the unit no longer belongs to ${from.code}, the organisation this move was proposed from`, 'input.unitId');
    }
    const confirmed = await store.confirmUnitMove(tx, move.id, actor.subject);
    await setUnitOrganisation(tx, unitId, move.toOrganisationId);
    await recordAudit(tx, actor, {
      action: 'unit.move.confirm', targetType: 'Unit', targetId: String(unitId),
      details: { moveId: move.id, fromOrganisationId: move.fromOrganisationId, toOrganisationId: move.toOrganisationId, proposedBy: move.proposedBy },
    });
    return confirmed;
  });
}

/**
 * Withdraws a unit's waiting move, with a reason: it never takes effect, and the unit may be
 * proposed for another move. By any ADMIN with the unit and both organisations in scope, its proposer
 * included (withdrawing moves nothing, so four eyes are not needed). Audited.
 */
export async function withdrawUnitMove(db: Db, actor: Actor, scope: Scope, unitId: number, reasonText: string): Promise<UnitMoveRow> {
  requireAdmin(actor, 'withdrawUnitMove');
  const reason = reasonOf('input.reason', reasonText);
  return inTransaction(db, async (tx) => {
    if (!(await lockUnitInScope(tx, unitId, scope))) throw notFound('unit', 'input.unitId');
    const { move } = await openMoveInScope(tx, scope, unitId);
    const withdrawn = await store.withdrawUnitMove(tx, move.id, actor.subject, reason);
    await recordAudit(tx, actor, {
      action: 'unit.move.withdraw', targetType: 'Unit', targetId: String(unitId), reason,
      details: { moveId: move.id, fromOrganisationId: move.fromOrganisationId, toOrganisationId: move.toOrganisationId, proposedBy: move.proposedBy },
    });
    return withdrawn;
  });
}
