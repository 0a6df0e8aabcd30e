import DataLoader from 'dataloader';
import type { Queryable } from '../kernel/transaction.ts';
import { byId, byParent, type ParentKey } from '../gateway/loaders.ts';
import type { RuleSetCache } from './catalogue.ts';
import { governingRuleSets } from './governing.ts';
import type { BenefitLineRow, BenefitTotalsRow, ClaimRow, RedecisionRow, RuleSetRow } from './model.ts';
import { enrolmentCoverageFigures, type EnrolmentCoverageFigures } from '../members/store/coverage.ts';
import type { RuleSet } from './rules/ruleSet.ts';
import {
  approvalBarsOfClaims, claimsByIds, claimsOfMembers, claimsOfSettlements, linesByIds, linesOfClaims, memberYearTotals, organisationsOfUnits, redecisionsOfClaims, ruleSetVersions,
  type ApprovalBars, type ClaimFilter,
} from './store.ts';
import type { Page } from '../kernel/page.ts';
import type { Scope } from '../kernel/scope.ts';

export interface BenefitLoaders {
  /** Claims by id, within the caller's scope. */
  claim: DataLoader<number, ClaimRow | null>;
  claimOfSettlement: DataLoader<number, ClaimRow | null>;
  claimsOfMember: DataLoader<ParentKey<{ filter: ClaimFilter; page: Page }>, ClaimRow[], string>;
  linesOfClaim: DataLoader<number, BenefitLineRow[]>;
  /** Who set the targeted groups of a claim's enrolment or entered its application, whom its approval refuses (the claim is loaded in scope first). */
  approvalBarsOfClaim: DataLoader<number, ApprovalBars>;
  /** A claim's re-decisions, oldest first (the claim is loaded in scope first). */
  redecisionsOfClaim: DataLoader<number, RedecisionRow[]>;
  /** What coverage of an enrolment is decided on (the enrolment is loaded in scope first). */
  enrolmentCoverage: DataLoader<number, EnrolmentCoverageFigures | null>;
  benefitLine: DataLoader<number, BenefitLineRow | null>;
  benefitTotals: DataLoader<{ memberId: number; planYear: number }, BenefitTotalsRow, string>;
  /** A stored rule set by id and version (the one that decided a claim). */
  ruleSetVersion: DataLoader<{ id: string; version: number }, RuleSetRow | null, string>;
  /** The rule set governing a plan year, as adjudication picks it (the shipped ones stored first). */
  /** The rule set governing an enrolment: its unit's organisation's for the plan year, effective `on` its date (as for a claim). */
  ruleSetOfEnrolment: DataLoader<{ unitId: number; planYear: number; on: string }, RuleSet, string>;
  /** The gateway's rule sets (shipped ones inserted, stored ones parsed): one per gateway, shared by every request. */
  ruleSets: RuleSetCache;
}

/** `ruleSets`: the gateway's cache (src/gateway/server.ts makes one). */
export function createBenefitLoaders(db: Queryable, scope: Scope, ruleSets: RuleSetCache): BenefitLoaders {
  return {
    claim: byId((ids) => claimsByIds(db, ids, scope)),
    claimOfSettlement: new DataLoader((ids) => claimsOfSettlements(db, ids, scope)),
    claimsOfMember: byParent((memberIds, { filter, page }) => claimsOfMembers(db, memberIds, scope, filter, page)),
    linesOfClaim: new DataLoader((ids) => linesOfClaims(db, ids)),
    approvalBarsOfClaim: new DataLoader((ids) => approvalBarsOfClaims(db, ids)),
    redecisionsOfClaim: new DataLoader((ids) => redecisionsOfClaims(db, ids)),
    enrolmentCoverage: new DataLoader((ids) => enrolmentCoverageFigures(db, ids)),
    benefitLine: byId((ids) => linesByIds(db, ids, scope)),
    benefitTotals: new DataLoader((keys) => memberYearTotals(db, keys), { cacheKeyFn: (k) => `${k.memberId}:${k.planYear}` }),
    ruleSetVersion: new DataLoader((keys) => ruleSetVersions(db, keys), { cacheKeyFn: (k) => `${k.id}:${k.version}` }),
    ruleSetOfEnrolment: new DataLoader(async (keys) => {
      // Before any rule set is published, a plan year is governed by a shipped one.
      await ruleSets.ensureShipped(db);
      const organisations = await organisationsOfUnits(db, [...new Set(keys.map((k) => k.unitId))]);
      const governing = keys.map((k) => ({ organisationId: organisations.get(k.unitId)!, planYear: k.planYear, on: k.on }));
      const lookup = await governingRuleSets(db, ruleSets, governing);
      return governing.map((k) => lookup(k));
    }, { cacheKeyFn: (k) => `${k.unitId}:${k.planYear}:${k.on}` }),
    ruleSets,
  };
}
