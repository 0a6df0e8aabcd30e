import { GraphQLScalarType } from 'graphql';
import type { Resolvers } from './generated/resolvers.ts';
import type { Role } from './auth.ts';
import { parseGlobalId } from './globalId.ts';
import { withArgumentTextCheck } from './argumentText.ts';
import type { Context } from './context.ts';
import { DateScalar, DateTimeScalar, Fen } from './scalars.ts';
import { MANAGE_MEMBERS, memberNodes, memberResolvers } from '../members/resolvers.ts';
import { INGEST, settlementNodes, settlementResolvers } from '../settlements/resolvers.ts';
import { benefitNodes, benefitResolvers } from '../benefits/resolvers.ts';
import { payoutNodes, payoutResolvers } from '../payouts/resolvers.ts';
import { reconciliationNodes, reconciliationResolvers, WRITE } from '../reconciliation/resolvers.ts';
import { subscriptionResolvers } from '../events/resolvers.ts';

type NodeFetcher = (ctx: Context, id: number) => Promise<object | null>;

/** Every Node type, by the type name inside its global ID. */
const nodeFetchers: Record<string, NodeFetcher> = { ...memberNodes, ...settlementNodes, ...benefitNodes, ...payoutNodes, ...reconciliationNodes };

async function fetchNode(ctx: Context, globalId: string): Promise<object | null> {
  const parsed = parseGlobalId(globalId);
  // Own keys only: "constructor", "toString"... are no Node types.
  const fetcher = parsed && Object.hasOwn(nodeFetchers, parsed.type) ? nodeFetchers[parsed.type] : undefined;
  if (!parsed || !fetcher) return null;
  const row = await fetcher(ctx, parsed.id);
  // Apollo resolves the Node interface from __typename; a copy keeps loader-cached rows untouched.
  return row && { ...row, __typename: parsed.type };
}

const gatewayResolvers: Resolvers = {
  Fen,
  Date: DateScalar,
  DateTime: DateTimeScalar,
  Query: {
    node: (_root, { id }, ctx) => fetchNode(ctx, id) as never,
    nodes: (_root, { ids }, ctx) => Promise.all(ids.map((id) => fetchNode(ctx, id))) as never,
    viewer: (_root, _args, ctx) => ctx.principal,
  },
  Viewer: {
    unit: (principal, _args, ctx) => (principal.unitId === null ? null : ctx.loaders.unit.load(principal.unitId)),
    member: (principal, _args, ctx) => (principal.memberId === null ? null : ctx.loaders.member.load(principal.memberId)),
  },
};

/** All resolvers: the gateway's own and each domain's, merged per type. */
export function allResolvers(): Resolvers {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const part of [gatewayResolvers, memberResolvers, settlementResolvers, benefitResolvers, payoutResolvers, reconciliationResolvers, subscriptionResolvers]) {
    for (const [type, fields] of Object.entries(part)) {
      merged[type] = fields instanceof GraphQLScalarType ? (fields as never) : Object.assign(merged[type] ?? {}, fields);
    }
  }
  return withArgumentTextCheck(merged) as Resolvers;
}

/** Roles that may call an upload operation (importRoster, uploadSettlements, uploadBankStatement), from those resolvers' own role lists: only their bodies are read up to GRAPHQL_MAX_UPLOAD_BYTES. */
export const uploadRoles: ReadonlySet<Role> = new Set<Role>([...MANAGE_MEMBERS, ...INGEST, ...WRITE]);
