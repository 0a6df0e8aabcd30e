import type DataLoader from 'dataloader';
import DataLoaderClass from 'dataloader';
import type { Queryable } from '../kernel/transaction.ts';
import { byId, byParent, countByParent, type ParentKey } from '../gateway/loaders.ts';
import type { ContributionFigures, ContributionKey, EnrolmentRow, MemberChangeRow, MemberRow, RosterImportRow, StoredContributionPayment, UnitRow } from './model.ts';
import { changeCountsOfMembers, changesOfMembers, contributionFigures, contributionPayments, enrolmentCountsOfMembers, enrolmentsByIds, enrolmentsOfMembers, membersByIds, membersOfUnits, rosterImportsByIds, unitsByIds, type EnrolmentFilter, type MemberFilter } from './store.ts';
import type { Page } from '../kernel/page.ts';
import { type Scope, UNSCOPED } from '../kernel/scope.ts';

export interface MemberLoaders {
  /** Units by id. Unscoped: used for the unit of an already visible member or enrolment (Unit.contribution checks the scope). */
  unit: DataLoader<number, UnitRow | null>;
  member: DataLoader<number, MemberRow | null>;
  enrolment: DataLoader<number, EnrolmentRow | null>;
  rosterImport: DataLoader<number, RosterImportRow | null>;
  membersOfUnit: DataLoader<ParentKey<{ filter: MemberFilter; page: Page }>, MemberRow[], string>;
  enrolmentsOfMember: DataLoader<ParentKey<{ filter: EnrolmentFilter; page: Page }>, EnrolmentRow[], string>;
  enrolmentCountOfMember: DataLoader<ParentKey<EnrolmentFilter>, number, string>;
  /** Unscoped: asked only for an already visible member, by roles that may read its changes. */
  changesOfMember: DataLoader<ParentKey<{ page: Page }>, MemberChangeRow[], string>;
  changeCountOfMember: DataLoader<number, number>;
  contribution: DataLoader<ContributionKey, ContributionFigures, string>;
  contributionPayments: DataLoader<ContributionKey, StoredContributionPayment[], string>;
}

const contributionKey = (k: ContributionKey) => `${k.unitId}:${k.planYear}`;

export function createMemberLoaders(db: Queryable, scope: Scope): MemberLoaders {
  return {
    unit: byId((ids) => unitsByIds(db, ids, UNSCOPED)),
    member: byId((ids) => membersByIds(db, ids, scope)),
    enrolment: byId((ids) => enrolmentsByIds(db, ids, scope)),
    rosterImport: byId((ids) => rosterImportsByIds(db, ids)),
    membersOfUnit: byParent((unitIds, { filter, page }) => membersOfUnits(db, unitIds, scope, filter, page)),
    enrolmentsOfMember: byParent((memberIds, { filter, page }) => enrolmentsOfMembers(db, memberIds, filter, page)),
    enrolmentCountOfMember: countByParent((memberIds, filter) => enrolmentCountsOfMembers(db, memberIds, filter)),
    changesOfMember: byParent((memberIds, { page }) => changesOfMembers(db, memberIds, page)),
    changeCountOfMember: new DataLoaderClass((memberIds) => changeCountsOfMembers(db, memberIds)),
    contribution: new DataLoaderClass((keys) => contributionFigures(db, keys), { cacheKeyFn: contributionKey }),
    contributionPayments: new DataLoaderClass((keys) => contributionPayments(db, keys), { cacheKeyFn: contributionKey }),
  };
}
