import { buildSubgraphSchema } from '@apollo/subgraph';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError, isScalarType, Kind, type ASTVisitor, type GraphQLSchema, type ValidationContext } from 'graphql';
import type { Context } from '../context.ts';
import { allResolvers, fetchNode } from '../resolvers.ts';
import { hubComposition } from './compose.ts';

/** The in-process schema: the composed API schema, executed with every domain's resolvers (no query planning). */
export function hubSchema(): GraphQLSchema {
  return withScalarDescriptions(makeExecutableSchema({ typeDefs: hubComposition().apiSdl, resolvers: allResolvers() as never }));
}

/** A scalar given as a resolver (Fen, Date…) replaces the SDL's description with its own (none): the SDL's is kept. */
function withScalarDescriptions(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (isScalarType(type) && type.astNode?.description) type.description = type.astNode.description.value;
  }
  return schema;
}

/**
 * One subgraph as a service of its own (`hub serve --subgraph NAME`): its SDL with `_service` and
 * `_entities`. Every entity is resolved the way `node(id:)` resolves it, through the same fetchers and
 * scope checks: a representation the caller may not see (another unit's member for a UNIT_OPERATOR)
 * or whose ID is of another type is null. A gateway sends all the entities of one step in one
 * `_entities` call; the object limit (limits.ts) takes its representations as `nodes(ids:)` takes
 * IDs: at most MAX_IDS, each counted toward GRAPHQL_MAX_NODES with the pages asked under it.
 */
export function subgraphSchema(name: string): GraphQLSchema {
  const subgraph = hubComposition().subgraphs.find((s) => s.name === name);
  if (!subgraph) throw new Error(`no subgraph named ${name} (one of ${hubComposition().subgraphs.map((s) => s.name).join(', ')})`);
  const resolvers: Record<string, object> = allResolvers() as never;
  for (const d of subgraph.typeDefs.definitions) {
    if (d.kind !== Kind.OBJECT_TYPE_DEFINITION || !d.directives?.some((k) => k.name.value === 'key')) continue;
    const type = d.name.value;
    resolvers[type] = { ...resolvers[type], __resolveReference: (reference: { id?: unknown }, ctx: Context) => resolveReference(type, reference, ctx) };
  }
  return withScalarDescriptions(buildSubgraphSchema({ typeDefs: subgraph.typeDefs, resolvers: resolvers as never }));
}

async function resolveReference(type: string, { id }: { id?: unknown }, ctx: Context): Promise<object | null> {
  if (typeof id !== 'string') return null;
  const row = (await fetchNode(ctx, id)) as { __typename?: string } | null;
  return row?.__typename === type ? row : null;
}

/**
 * In production a subgraph does not describe itself (`_service { sdl }`), as the gateway answers no
 * introspection: a router composes the committed subgraph SDL (schema/published/subgraphs) instead.
 */
export function noServiceSdl(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      if (node.name.value === '_service' && context.getParentType()?.name === 'Query') {
        context.reportError(new GraphQLError('_service is not available here: compose the published subgraph SDL', { nodes: [node] }));
      }
    },
  };
}
