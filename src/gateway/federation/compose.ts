import { composeServices } from '@apollo/composition';
import {
  buildSchema, Kind, lexicographicSortSchema, parse, print, printSchema, visit,
  type ConstDirectiveNode, type DefinitionNode, type InterfaceTypeDefinitionNode, type ObjectTypeDefinitionNode,
} from 'graphql';
import { buildSubgraphs, type Subgraph } from './subgraphs.ts';

/**
 * The hub's supergraph, composed with @apollo/composition from its subgraphs, and the API schema the
 * in-process gateway executes. Composition keeps `@cacheControl` in the supergraph
 * (`@composeDirective`), but the API schema drops every non-built-in directive: the gateway's
 * response cache reads the hints, so they are copied back from the supergraph.
 */
export interface Composition {
  subgraphs: Subgraph[];
  supergraphSdl: string;
  /** The API schema (what clients see), with its `@cacheControl` hints. */
  apiSdl: string;
}

const COMPOSED_DIRECTIVES = new Set(['cacheControl']);

export class CompositionError extends Error {
  constructor(readonly errors: readonly { message: string }[]) {
    super(`the subgraphs do not compose:\n${errors.map((e) => `- ${e.message}`).join('\n')}`);
  }
}

export function compose(subgraphs: Subgraph[] = buildSubgraphs()): Composition {
  // A subgraph's URL is the deployment's business (the gateway mode overrides it).
  const result = composeServices(subgraphs.map((s) => ({ name: s.name, typeDefs: s.typeDefs, url: `http://${s.name}.invalid/graphql` })));
  if (result.errors) throw new CompositionError(result.errors);
  const api = print(result.schema.toAPISchema().toAST());
  return { subgraphs, supergraphSdl: result.supergraphSdl, apiSdl: withComposedDirectives(api, result.supergraphSdl) };
}

/**
 * The SDL as published for front-end teams (`npm run schema:print`): the composed API schema,
 * sorted so that diffs between releases read well.
 */
export function publishedSchema(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema(hubComposition().apiSdl)))}\n`;
}

let composed: Composition | undefined;

/** The composition of the schema files, once per process (composing takes about a second). */
export function hubComposition(): Composition {
  return (composed ??= compose());
}

/** `api` with the composed directives' definitions and applications of `supergraphSdl`. */
function withComposedDirectives(api: string, supergraphSdl: string): string {
  const kept = (directives: readonly ConstDirectiveNode[] = []) => directives.filter((d) => COMPOSED_DIRECTIVES.has(d.name.value));
  const onType = new Map<string, ConstDirectiveNode[]>();
  const onField = new Map<string, ConstDirectiveNode[]>();
  const definitions: DefinitionNode[] = [];
  for (const d of parse(supergraphSdl).definitions) {
    if (d.kind === Kind.DIRECTIVE_DEFINITION && COMPOSED_DIRECTIVES.has(d.name.value)) definitions.push(d);
    if (d.kind !== Kind.OBJECT_TYPE_DEFINITION && d.kind !== Kind.INTERFACE_TYPE_DEFINITION && d.kind !== Kind.UNION_TYPE_DEFINITION) continue;
    onType.set(d.name.value, kept(d.directives));
    if (d.kind === Kind.UNION_TYPE_DEFINITION) continue;
    for (const f of d.fields ?? []) onField.set(`${d.name.value}.${f.name.value}`, kept(f.directives));
  }
  const hinted = <T extends ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode>(node: T): T => ({
    ...node,
    directives: [...(node.directives ?? []), ...(onType.get(node.name.value) ?? [])],
    fields: node.fields?.map((f) => ({ ...f, directives: [...(f.directives ?? []), ...(onField.get(`${node.name.value}.${f.name.value}`) ?? [])] })),
  });
  const withHints = visit(parse(api), {
    ObjectTypeDefinition: hinted,
    InterfaceTypeDefinition: hinted,
    UnionTypeDefinition: (node) => ({ ...node, directives: [...(node.directives ?? []), ...(onType.get(node.name.value) ?? [])] }),
  });
  return print({ ...withHints, definitions: [...withHints.definitions, ...definitions] });
}

/** The committed federation files, by path under schema/published/: the supergraph and each subgraph's SDL. */
export function federationFiles(composition: Composition = compose()): Map<string, string> {
  const files = new Map([['supergraph.graphql', composition.supergraphSdl]]);
  for (const s of composition.subgraphs) files.set(`subgraphs/${s.name}.graphql`, `${print(s.typeDefs)}\n`);
  return files;
}
