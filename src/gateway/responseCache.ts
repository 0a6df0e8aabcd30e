import { createHash } from 'node:crypto';
import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { getNamedType, Kind, type ConstDirectiveNode, type FormattedExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { RosterEpoch } from '../members/rosterEpoch.ts';
import type { Principal } from './auth.ts';
import type { Context } from './context.ts';

/**
 * Whole answers to roster queries, kept in this process's memory. Which answers may be kept is
 * said by the schema: `@cacheControl` hints on the roster types (Unit, Member, Enrolment and their
 * connections), read by Apollo's cache-control plugin; a query touching anything else (claims,
 * payouts, a contribution's payment) has maxAge 0 and is always executed. An answer is kept per
 * caller scope (role, unit, member: what resolvers filter by, never the token's subject) and per
 * roster epoch: a unit, member or enrolment change committed before a request arrived is always in
 * its answer, on this gateway and any other. Answers with errors are never kept. No HTTP cache
 * headers are sent: answers carry personal data, and the gateway, not a browser or proxy, knows
 * when they go stale.
 *
 * Not Apollo's response-cache plugin: it keeps answers as JSON, parses them on every hit and
 * Apollo then serializes them again, a fifth of a cached 50-member page's time. Here an answer's
 * data is serialized once and written as it is (`stringifyResult`).
 */
export function responseCachePlugins(rosterEpoch: RosterEpoch, maxBytes: number): ApolloServerPlugin<Context>[] {
  // Nothing sets cache hints without the cache: the plugin would time every field for nothing.
  if (maxBytes === 0) return [ApolloServerPluginCacheControlDisabled()];
  const answers = new LRUCache<string, string>({ maxSize: maxBytes, sizeCalculation: (json, key) => json.length + key.length });
  let keptRootFields = new Set<string>();
  let latest = 0;
  const keep: ApolloServerPlugin<Context> = {
    async serverWillStart({ schema }) {
      keptRootFields = rootFieldsWithMaxAge(schema);
    },
    async requestDidStart() {
      let key: string | null = null;
      return {
        async responseForOperation({ operation, contextValue, queryHash, request, metrics }) {
          if (!mayBeKept(operation, keptRootFields)) return null;
          const epoch = await rosterEpoch.current().catch(() => null);
          if (epoch === null) return null; // the database did not answer: execute (and fail there, clearly)
          if (epoch !== latest) {
            latest = epoch;
            answers.clear(); // unreachable now: no reason to keep personal data in memory
          }
          // The document by Apollo's own hash of it (queryHash); the variables hashed, not kept in clear.
          key = createHash('sha256')
            .update(JSON.stringify([scopeKey(contextValue.principal), epoch, queryHash, request.operationName ?? null, request.variables ?? {}]))
            .digest('base64');
          const json = answers.get(key);
          if (json === undefined) return null;
          metrics.responseCacheHit = true;
          return { body: { kind: 'single', singleResult: { data: new KeptData(json) as never } }, http: { status: undefined, headers: new HeaderMap() } };
        },
        async willSendResponse({ response, overallCachePolicy, metrics }) {
          if (key === null || metrics.responseCacheHit || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          const policy = overallCachePolicy.policyIfCacheable();
          if (result.errors || !result.data || !policy) return;
          const json = JSON.stringify(result.data);
          answers.set(key, json, { ttl: policy.maxAge * 1000 });
          result.data = new KeptData(json) as never; // serialized once, for the cache and the response
        },
      };
    },
  };
  return [ApolloServerPluginCacheControl({ defaultMaxAge: 0, calculateHttpHeaders: false }), keep];
}

/** An answer's `data`, already serialized. */
class KeptData {
  constructor(readonly json: string) {}

  toJSON(): unknown {
    return JSON.parse(this.json);
  }
}

/** The gateway's `stringifyResult`: compact JSON (Apollo indents by default), kept data written as it is. */
export function stringifyResult(result: FormattedExecutionResult): string {
  if (result.data instanceof KeptData && !result.errors && !result.extensions) return `{"data":${result.data.json}}`;
  return JSON.stringify(result);
}

// The organisation too: staff of two organisations with the same role see different rows.
const scopeKey = (principal: Principal) => `${principal.role}:${principal.unitId ?? '-'}:${principal.memberId ?? '-'}:${principal.organisationId ?? '-'}`;

/**
 * Whether an answer to `operation` may be kept: its fields must then resolve under Apollo's
 * cache-control plugin (src/gateway/execution.ts leaves these to graphql-js).
 */
export function keepableOperations(schema: GraphQLSchema): (operation: OperationDefinitionNode) => boolean {
  const kept = rootFieldsWithMaxAge(schema);
  return (operation) => mayBeKept(operation, kept);
}

/** A query whose every root field can be kept (any other has maxAge 0, so its answer never is). */
function mayBeKept(operation: OperationDefinitionNode | undefined, keptRootFields: Set<string>): boolean {
  return operation?.operation === 'query' && operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && keptRootFields.has(s.name.value));
}

/**
 * The `@cacheControl` hint written on a schema element: undefined when it has none; `maxAge`
 * undefined when the hint gives none (inheritMaxAge).
 */
export function cacheHint(node: { directives?: readonly ConstDirectiveNode[] } | null | undefined): { maxAge?: number } | undefined {
  const hint = node?.directives?.find((d) => d.name.value === 'cacheControl');
  if (!hint) return undefined;
  const value = hint.arguments?.find((a) => a.name.value === 'maxAge')?.value;
  return { maxAge: value?.kind === Kind.INT ? Number(value.value) : undefined };
}

/** Query fields that carry a positive maxAge themselves or through the type they return. */
function rootFieldsWithMaxAge(schema: GraphQLSchema): Set<string> {
  const kept = new Set<string>();
  for (const field of Object.values(schema.getQueryType()?.getFields() ?? {})) {
    const age = cacheHint(field.astNode)?.maxAge ?? cacheHint(getNamedType(field.type).astNode)?.maxAge;
    if (age !== undefined && age > 0) kept.add(field.name);
  }
  return kept;
}
