import type { Context } from '../gateway/context.ts';
import { actorOf, actorView, hasRole, requireRole, scopeOf } from '../gateway/context.ts';
import { countedTotal, readPage, toConnection, type CountedConnection } from '../gateway/connection.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { countUnits, listUnits } from '../members/store.ts';
import type { UnitRow } from '../members/model.ts';
import { ORGANISATION_ADMINS, ORGANISATION_READERS, type OrganisationRow } from './model.ts';
import { confirmUnitMove, createOrganisation, organisationInScope, proposeUnitMove, withdrawUnitMove } from './service.ts';
import { organisationLoaders, withinCallerOrganisation } from './loaders.ts';
import { countOrganisations, organisationByCode, organisationsPage } from './store.ts';

export type OrganisationConnectionResult = CountedConnection<OrganisationRow>;

/** Whether the caller sees below this organisation (its children and units): it lies in the caller's subtree. */
const seesBelow = (ctx: Context, organisation: OrganisationRow) => organisationInScope(scopeOf(ctx.principal), organisation);

export const organisationNodes = {
  Organisation: async (ctx: Context, id: number) => {
    if (!hasRole(ctx, ORGANISATION_READERS)) return null;
    const organisation = await organisationLoaders(ctx).organisation.load(id);
    return organisation && seesBelow(ctx, organisation) ? organisation : null;
  },
};

export const organisationResolvers: DomainResolvers = {
  Query: {
    organisation: async (_root, { code }, ctx) => {
      requireRole(ctx, ORGANISATION_READERS, 'organisation');
      const organisation = await organisationByCode(ctx.db, code.trim().toUpperCase());
      return organisation && seesBelow(ctx, organisation) ? organisation : null;
    },
    organisations: async (_root, { parentId, ...args }, ctx) => {
      requireRole(ctx, ORGANISATION_READERS, 'organisations');
      const parent = parentId == null ? null : localId('parentId', parentId, 'Organisation');
      const scope = scopeOf(ctx.principal);
      const page = readPage(args);
      const rows = await organisationsPage(ctx.reads, scope, parent, page);
      return { ...toConnection(rows, page, (o) => o.id), count: () => countOrganisations(ctx.reads, scope, parent) };
    },
  },
  Mutation: {
    createOrganisation: async (_root, { input }, ctx) => {
      const parentId = input.parentId == null ? null : localId('input.parentId', input.parentId, 'Organisation');
      const organisation = await createOrganisation(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), {
        code: input.code, name: input.name, level: input.level, parentId,
      });
      return { organisation };
    },
    moveUnit: async (_root, { input }, ctx) => {
      requireRole(ctx, ORGANISATION_ADMINS, 'moveUnit');
      const unitId = localId('input.unitId', input.unitId, 'Unit');
      const organisationId = localId('input.organisationId', input.organisationId, 'Organisation');
      const move = await proposeUnitMove(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), { unitId, organisationId, reason: input.reason });
      return { move };
    },
    confirmUnitMove: async (_root, { input }, ctx) => {
      requireRole(ctx, ORGANISATION_ADMINS, 'confirmUnitMove');
      const unitId = localId('input.unitId', input.unitId, 'Unit');
      // The DateTime scalar refused anything but a date and time before this runs.
      const proposedAt = new Date(input.proposedAt);
      const move = await confirmUnitMove(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), unitId, proposedAt);
      ctx.loaders.unit.clear(unitId);
      return { move };
    },
    withdrawUnitMove: async (_root, { input }, ctx) => {
      requireRole(ctx, ORGANISATION_ADMINS, 'withdrawUnitMove');
      const unitId = localId('input.unitId', input.unitId, 'Unit');
      return { move: await withdrawUnitMove(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), unitId, input.reason) };
    },
  },
  Organisation: {
    id: (row) => toGlobalId('Organisation', row.id),
    parent: (row, _args, ctx) => (row.parentId === null ? null : organisationLoaders(ctx).organisation.load(row.parentId)),
    ancestors: async (row, _args, ctx) => {
      const above = await organisationLoaders(ctx).organisation.loadMany(row.path.slice(0, -1));
      return above.filter((o): o is OrganisationRow => o !== null && !(o instanceof Error));
    },
    children: (row, _args, ctx) => (seesBelow(ctx, row) ? organisationLoaders(ctx).childrenOf.load(row.id) : []),
    units: async (row, args, ctx) => {
      const page = readPage(args);
      if (!seesBelow(ctx, row)) return toConnection<UnitRow>([], page, (u) => u.id);
      const scope = scopeOf(ctx.principal);
      const filter = { organisationId: row.id };
      const rows = await listUnits(ctx.reads, scope, filter, page);
      return { ...toConnection(rows, page, (u) => u.id), count: () => countUnits(ctx.reads, scope, filter) };
    },
  },
  OrganisationConnection: { totalCount: countedTotal },
  UnitMove: {
    unit: async (row, _args, ctx) => (await ctx.loaders.unit.load(row.unitId))!,
    from: async (row, _args, ctx) => (await organisationLoaders(ctx).organisation.load(row.fromOrganisationId))!,
    to: async (row, _args, ctx) => (await organisationLoaders(ctx).organisation.load(row.toOrganisationId))!,
    confirmed: (row) => row.status === 'CONFIRMED',
    withdrawn: (row) => row.status === 'WITHDRAWN',
    proposedBy: (row, _args, ctx) => actorView(ctx, row.proposedBy, 'ADMIN'),
    confirmedBy: (row, _args, ctx) => (row.confirmedBy === null ? null : actorView(ctx, row.confirmedBy, 'ADMIN')),
    withdrawnBy: (row, _args, ctx) => (row.withdrawnBy === null ? null : actorView(ctx, row.withdrawnBy, 'ADMIN')),
  },
  Unit: {
    organisation: async (unit, _args, ctx) => (await organisationLoaders(ctx).organisation.load(unit.organisationId))!,
    // A unit reached through a member's past enrolment, claim or payout may lie outside the caller's subtree: no move of it shown.
    pendingMove: async (unit, _args, ctx) => {
      if (!hasRole(ctx, ORGANISATION_ADMINS)) return null;
      return (await withinCallerOrganisation(ctx, unit.organisationId)) ? organisationLoaders(ctx).openMoveOfUnit.load(unit.id) : null;
    },
  },
};
