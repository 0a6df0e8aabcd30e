import { GraphQLScalarType } from 'graphql';
import type { Resolvers } from './generated/resolvers.ts';
import { parseGlobalId, parseGlobalKey } from './globalId.ts';
import { withArgumentTextCheck } from './argumentText.ts';
import { withPayloads } from './payloads.ts';
import { hasRole, isHubStaff, type Context } from './context.ts';
import type { UploadRules } from './limits.ts';
import { DateScalar, DateTimeScalar, Fen, JsonScalar } from './scalars.ts';
import { MANAGE_MEMBERS, memberKeyedNodes, memberNodes, memberResolvers } from '../members/resolvers.ts';
import { INGEST, settlementKeyedNodes, settlementNodes, settlementResolvers } from '../settlements/resolvers.ts';
import { benefitKeyedNodes, benefitNodes, benefitResolvers } from '../benefits/resolvers.ts';
import { payoutNodes, payoutResolvers } from '../payouts/resolvers.ts';
import { reconciliationNodes, reconciliationResolvers, WRITE } from '../reconciliation/resolvers.ts';
import { subscriptionResolvers } from '../events/resolvers.ts';
import { applicationNodes, applicationResolvers } from '../applications/resolvers.ts';
import { attachmentNodes, attachmentResolvers } from '../attachments/resolvers.ts';
import { appealNodes, appealResolvers } from '../appeals/resolvers.ts';
import { noticeNodes, noticeResolvers } from '../notices/resolvers.ts';
import { notificationNodes, notificationResolvers } from '../notifications/resolvers.ts';
import { organisationNodes, organisationResolvers } from '../organisations/resolvers.ts';
import { condolenceNodes, condolenceResolvers } from '../condolences/resolvers.ts';
import { figuresResolvers } from '../figures/resolvers.ts';

type NodeFetcher = (ctx: Context, id: number) => Promise<object | null>;
type KeyedNodeFetcher = (ctx: Context, key: string) => Promise<object | null>;

/** Every Node type, by the type name inside its global ID. */
const nodeFetchers: Record<string, NodeFetcher> = { ...memberNodes, ...settlementNodes, ...benefitNodes, ...payoutNodes, ...reconciliationNodes, ...applicationNodes, ...attachmentNodes, ...appealNodes, ...noticeNodes, ...notificationNodes, ...condolenceNodes, ...organisationNodes };
/** Node types known by a text key (a name, or parts of a composite key). */
const keyedNodeFetchers: Record<string, KeyedNodeFetcher> = { ...memberKeyedNodes, ...settlementKeyedNodes, ...benefitKeyedNodes };

/** The object behind a global ID (with its `__typename`), or null: unknown, malformed or outside the caller's scope. */
export async function fetchNode(ctx: Context, globalId: string): Promise<object | null> {
  const keyed = parseGlobalKey(globalId);
  if (keyed && Object.hasOwn(keyedNodeFetchers, keyed.type)) {
    const row = await keyedNodeFetchers[keyed.type]!(ctx, keyed.key);
    return row && { ...row, __typename: keyed.type };
  }
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
  JSON: JsonScalar,
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
  for (const part of [gatewayResolvers, memberResolvers, settlementResolvers, benefitResolvers, payoutResolvers, reconciliationResolvers, subscriptionResolvers, applicationResolvers, attachmentResolvers, appealResolvers, noticeResolvers, notificationResolvers, condolenceResolvers, organisationResolvers, figuresResolvers]) {
    for (const [type, fields] of Object.entries(part)) {
      merged[type] = fields instanceof GraphQLScalarType ? (fields as never) : Object.assign(merged[type] ?? {}, fields);
    }
  }
  return withPayloads(withArgumentTextCheck(merged)) as Resolvers;
}

/**
 * Who may call each upload operation, by the rule its resolver applies: only a caller one of them
 * accepts has a body read up to GRAPHQL_MAX_UPLOAD_BYTES, and only for those it accepts.
 */
export const uploadRules: UploadRules = {
  importRoster: (principal) => hasRole({ principal }, MANAGE_MEMBERS),
  // Both the hub's own work (requireHubRole, reconciliation's own check): refused to staff bound to an organisation.
  uploadSettlements: (principal) => hasRole({ principal }, INGEST) && isHubStaff(principal),
  uploadBankStatement: (principal) => hasRole({ principal }, WRITE) && isHubStaff(principal),
};
