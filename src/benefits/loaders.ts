import DataLoader from 'dataloader';
import type { Queryable } from '../kernel/transaction.ts';
import { byId, byParent, type ParentKey } from '../gateway/loaders.ts';
import type { RuleSetCache } from './catalogue.ts';
import type { BenefitLineRow, BenefitTotalsRow, ClaimRow, RedecisionRow, RuleSetRow } from './model.ts';
import { enrolmentCoverageFigures, type EnrolmentCoverageFigures } from '../members/store/coverage.ts';
import type { RuleSet } from './rules/ruleSet.ts';
import {
  claimsByIds, claimsOfMembers, claimsOfSettlements, linesByIds, linesOfClaims, memberYearTotals, redecisionsOfClaims, ruleSetsForYears, ruleSetVersions,
  type ClaimFilter,
} from './store.ts';
import type { Page } from '../kernel/page.ts';
import type { Scope } from '../kernel/scope.ts';

export interface BenefitLoaders {
  /** Claims by id, within the caller's scope. */
  claim: DataLoader<number, ClaimRow | null>;
  claimOfSettlement: DataLoader<number, ClaimRow | null>;
  claimsOfMember: DataLoader<ParentKey<{ filter: ClaimFilter; page: Page }>, ClaimRow[], string>;
  linesOfClaim: DataLoader<number, BenefitLineRow[]>;
  /** A claim's re-decisions, oldest first (the claim is loaded in scope first). */
  redecisionsOfClaim: DataLoader<number, RedecisionRow[]>;
  /** What coverage of an enrolment is decided on (the enrolment is loaded in scope first). */
  enrolmentCoverage: DataLoader<number, EnrolmentCoverageFigures | null>;
  benefitLine: DataLoader<number, BenefitLineRow | null>;
  benefitTotals: DataLoader<{ memberId: number; planYear: number }, BenefitTotalsRow, string>;
  /** A stored rule set by id and version (the one that decided a claim). */
  ruleSetVersion: DataLoader<{ id: string; version: number }, RuleSetRow | null, string>;
  /** The rule set governing a plan year, as adjudication picks it (the shipped ones stored first). */
  ruleSetOfYear: DataLoader<number, RuleSet>;
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
    redecisionsOfClaim: new DataLoader((ids) => redecisionsOfClaims(db, ids)),
    enrolmentCoverage: new DataLoader((ids) => enrolmentCoverageFigures(db, ids)),
    benefitLine: byId((ids) => linesByIds(db, ids, scope)),
    benefitTotals: new DataLoader((keys) => memberYearTotals(db, keys), { cacheKeyFn: (k) => `${k.memberId}:${k.planYear}` }),
    ruleSetVersion: new DataLoader((keys) => ruleSetVersions(db, keys), { cacheKeyFn: (k) => `${k.id}:${k.version}` }),
    ruleSetOfYear: new DataLoader(async (years) => {
      // Before any rule set is published, a plan year is governed by a shipped one.
      await ruleSets.ensureShipped(db);
      const governing = await ruleSetsForYears(db, years);
      return years.map((year) => {
        const row = governing.get(year);
        return row ? ruleSets.ruleSetOf(row) : new Error(`no rule set is stored for plan year ${year}`);
      });
    }),
    ruleSets,
  };
}
