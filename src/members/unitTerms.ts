import { inTransaction } from '../db/pool.ts';
import type { Db } from '../kernel/transaction.ts';
import type { Scope } from '../kernel/scope.ts';
import { conflict, forbidden, notFound } from '../kernel/errors.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { PlanType, UnitRow, UnitTermsChangeRow, UnitType } from './model.ts';
import * as store from './store.ts';

/**
 * A unit's terms (plan type, unit type, small-firm mark) decide which programmes of the approved rule
 * sets pay its members, stays before a change included: its first terms and every change of them take
 * two ADMINs (four eyes, kept by the database: migrations 0058, 0076). One ADMIN proposes them
 * (`createUnit` its first, `updateUnit` a change), another confirms them (`confirmUnitTermsChange`).
 */

/** Why a new unit's terms are proposed (unit_terms_changes.reason): its registration. */
export const FIRST_TERMS_REASON = 'the unit\'s first terms, given at its registration';

export const NONE_WAITING = 'no change of the unit\'s terms is waiting for confirmation';

export interface NewUnit {
  creditCode: string;
  name: string;
  planType: PlanType;
  /** Null: the one its plan implies. */
  unitType: UnitType | null;
  smallMicro: boolean;
  /** Null: the caller's organisation, or the hub's own union. */
  organisationId: number | null;
}

/**
 * Registers a unit in `scope` (its organisation's subtree), its terms proposed by `actor` for another
 * ADMIN to confirm: until then no member of it is enrolled. Audited.
 */
export async function registerUnit(db: Db, actor: Actor, scope: Scope, input: NewUnit): Promise<UnitRow> {
  // An organisation's ADMIN registers units inside its subtree only: its own organisation unless it names one below.
  const organisationId = input.organisationId ?? scope.organisationId;
  if (organisationId !== null && !(await store.organisationVisible(db, scope, organisationId))) throw notFound('organisation', 'input.organisationId');
  return inTransaction(db, async (tx) => {
    const unit = await store.insertUnit(tx, { ...input, organisationId });
    if (!unit) throw conflict(`a unit with credit code ${input.creditCode} already exists`, 'input.creditCode');
    const terms = { planType: unit.planType, unitType: unit.unitType, smallMicro: unit.smallMicro };
    const change = (await store.insertUnitTermsChange(tx, { unitId: unit.id, ...terms, reason: FIRST_TERMS_REASON, proposedBy: actor.subject }))!;
    await recordAudit(tx, actor, {
      action: 'unit.create', targetType: 'Unit', targetId: String(unit.id),
      details: { creditCode: unit.creditCode, ...terms, organisationId: unit.organisationId, termsChangeId: change.id },
    });
    return unit;
  });
}

/**
 * Confirms the unit's waiting terms change, the one the confirmer checked (`proposedAt`, as read):
 * the unit then has the proposed terms, confirmed. Never by its proposer (four eyes:
 * unit_terms_changes_four_eyes keeps it too). The unit must be in the confirmer's scope. Audited.
 */
export async function confirmTermsChange(
  db: Db, actor: Actor, scope: Scope, unitId: number, proposedAt: Date,
): Promise<{ change: UnitTermsChangeRow; unit: UnitRow }> {
  return inTransaction(db, async (tx) => {
    // Read first, locking nothing: a unit out of scope is neither waited on nor told apart from a missing one by the wait's CONFLICT.
    if (!(await store.unitsByIds(tx, [unitId], scope)).length) throw notFound('unit', 'input.unitId');
    if (!(await store.lockUnitForMove(tx, unitId))) throw conflict('input.unitId: a roster import is merging the unit: confirm once it is done', 'input.unitId');
    // Again on the locked row: the unit may have moved out of scope while this waited.
    const [before] = await store.unitsByIds(tx, [unitId], scope);
    if (!before) throw notFound('unit', 'input.unitId');
    const waiting = await store.lockOpenUnitTermsChange(tx, unitId);
    if (!waiting) throw conflict(`input.unitId: ${NONE_WAITING}`, 'input.unitId');
    if (waiting.proposedAt.getTime() !== proposedAt.getTime()) {
      throw conflict('input.proposedAt: the change waiting is not the one checked (proposed at another time): read the unit again and check it', 'input.proposedAt');
    }
    const refused = () => forbidden('you proposed this change of the unit\'s terms: another ADMIN must confirm it');
    if (waiting.proposedBy === actor.subject) throw refused();
    try {
      const { changes: [change], units: [unit] } = await store.confirmUnitTermsChanges(tx, [waiting.id], actor.subject);
      const done = { change: change!, unit: unit! };
      await recordAudit(tx, actor, {
        action: 'unit.terms.confirm', targetType: 'Unit', targetId: String(unitId),
        details: {
          changeId: waiting.id, proposedBy: waiting.proposedBy, proposedAt: waiting.proposedAt, firstTerms: !before.termsConfirmed,
          before: { planType: before.planType, unitType: before.unitType, smallMicro: before.smallMicro },
          after: { planType: done.unit.planType, unitType: done.unit.unitType, smallMicro: done.unit.smallMicro },
        },
      });
      return done;
    } catch (error) {
      // The database's four eyes (0058): the proposer cannot confirm.
      if ((error as { constraint?: string }).constraint === 'unit_terms_changes_four_eyes') throw refused();
      throw error;
    }
  });
}

/**
 * Units in bulk, the sample data of `hub demo` and the benchmarks: registered as `registerUnit`
 * registers one, their first terms proposed by `proposer` and confirmed by `confirmer`, another ADMIN
 * (the database refuses one person as both); a credit code registered already is skipped.
 */
export async function registerSampleUnits(
  db: Db, units: readonly { creditCode: string; name: string; planType: PlanType }[], proposer: Actor, confirmer: Actor,
): Promise<void> {
  await inTransaction(db, async (tx) => {
    const changeIds = await store.insertUnits(tx, units, proposer.subject, FIRST_TERMS_REASON);
    await store.confirmUnitTermsChanges(tx, changeIds, confirmer.subject);
  });
}
