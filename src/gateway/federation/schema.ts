import { buildSubgraphSchema } from '@apollo/subgraph';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError, isScalarType, Kind, type ASTVisitor, type GraphQLFieldResolver, type GraphQLSchema, type ValidationContext } from 'graphql';
import { invalid } from '../../kernel/errors.ts';
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
 * `_entities` call, so a call may name at most `maxRepresentations` (GRAPHQL_MAX_NODES) of them.
 */
export function subgraphSchema(name: string, maxRepresentations: number): GraphQLSchema {
  const subgraph = hubComposition().subgraphs.find((s) => s.name === name);
  if (!subgraph) throw new Error(`no subgraph named ${name} (one of ${hubComposition().subgraphs.map((s) => s.name).join(', ')})`);
  const resolvers: Record<string, object> = allResolvers() as never;
  for (const d of subgraph.typeDefs.definitions) {
    if (d.kind !== Kind.OBJECT_TYPE_DEFINITION || !d.directives?.some((k) => k.name.value === 'key')) continue;
    const type = d.name.value;
    resolvers[type] = { ...resolvers[type], __resolveReference: (reference: { id?: unknown }, ctx: Context) => resolveReference(type, reference, ctx) };
  }
  const schema = withScalarDescriptions(buildSubgraphSchema({ typeDefs: subgraph.typeDefs, resolvers: resolvers as never }));
  const entities = schema.getQueryType()?.getFields()._entities;
  if (entities?.resolve) {
    const resolve: GraphQLFieldResolver<unknown, Context, { representations: unknown[] }> = entities.resolve;
    entities.resolve = (source, args, ctx, info) => {
      if (args.representations.length > maxRepresentations) throw invalid('representations', `at most ${maxRepresentations} (GRAPHQL_MAX_NODES)`);
      return resolve(source, args, ctx, info);
    };
  }
  return schema;
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
