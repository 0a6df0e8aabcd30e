import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  Kind, parse, visit,
  type ConstDirectiveNode, type DefinitionNode, type DocumentNode, type FieldDefinitionNode, type ObjectTypeDefinitionNode,
} from 'graphql';

/**
 * The hub's subgraphs, built from schema/*.graphql: each domain file is one subgraph, the shared file
 * (common.graphql: the federation header, scalars, Node, PageInfo…) is part of every one. What
 * federation needs beyond the files is added here, by rule rather than by hand in each file:
 * - every type implementing `Node` is an entity, `@key(fields: "id")` (its global ID);
 * - a subgraph that uses or extends another domain's entity gets a stub of it (`id` only);
 * - a subgraph that uses another domain's value type (no `id`) gets a copy of it, and object types
 *   resolved in several subgraphs (the shared file's, copied ones) are `@shareable`;
 * - the hub subgraph (`node`, `nodes`) has a stub of every entity, so it can return any of them.
 */
export interface SubgraphSpec {
  name: string;
  files: string[];
  /** Returns any Node (`node`, `nodes`): knows every entity. */
  everyEntity?: boolean;
}

export const SHARED_FILE = 'common.graphql';

export const SUBGRAPHS: readonly SubgraphSpec[] = [
  { name: 'hub', files: ['hub.graphql'], everyEntity: true },
  { name: 'members', files: ['members.graphql'] },
  { name: 'settlements', files: ['settlements.graphql'] },
  // The subscription root and claim status changes live with claims; payouts adds its own field.
  { name: 'benefits', files: ['benefits.graphql', 'subscriptions.graphql'] },
  { name: 'payouts', files: ['payouts.graphql'] },
  { name: 'reconciliation', files: ['reconciliation.graphql'] },
  { name: 'notifications', files: ['notifications.graphql'] },
  { name: 'attachments', files: ['attachments.graphql'] },
  { name: 'notices', files: ['notices.graphql'] },
  { name: 'appeals', files: ['appeals.graphql'] },
  { name: 'applications', files: ['applications.graphql'] },
  { name: 'condolences', files: ['condolences.graphql'] },
  { name: 'organisations', files: ['organisations.graphql'] },
  { name: 'figures', files: ['figures.graphql'] },
];

export const schemaDir = fileURLToPath(new URL('../../../schema', import.meta.url));

export interface Subgraph {
  name: string;
  typeDefs: DocumentNode;
}

// Each subgraph has its own root types: extending them borrows nothing.
const ROOTS = new Set(['Query', 'Mutation', 'Subscription']);

type TypeDefinition = Extract<DefinitionNode, { name: { value: string } }> & { kind: `${string}Definition` };

const directive = (name: string, fields?: string): ConstDirectiveNode => ({
  kind: Kind.DIRECTIVE,
  name: { kind: Kind.NAME, value: name },
  arguments: fields === undefined ? [] : [{ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'fields' }, value: { kind: Kind.STRING, value: fields } }],
});

function isTypeDefinition(node: DefinitionNode): node is TypeDefinition {
  return node.kind.endsWith('TypeDefinition');
}

const implementsNode = (node: TypeDefinition) =>
  node.kind === Kind.OBJECT_TYPE_DEFINITION && (node.interfaces ?? []).some((i) => i.name.value === 'Node');

/** Names of the types a set of definitions mentions (field, argument and interface types, extended types). */
function typesUsedBy(definitions: readonly DefinitionNode[]): Set<string> {
  const used = new Set<string>();
  visit({ kind: Kind.DOCUMENT, definitions }, { NamedType: (node) => void used.add(node.name.value) });
  for (const d of definitions) if (d.kind.endsWith('Extension') && 'name' in d && d.name) used.add(d.name.value);
  return used;
}

function withDirectives<T extends TypeDefinition>(node: T, added: ConstDirectiveNode[]): T {
  const present = new Set((node.directives ?? []).map((d) => d.name.value));
  const missing = added.filter((d) => !present.has(d.name.value));
  return missing.length === 0 ? node : { ...node, directives: [...(node.directives ?? []), ...missing] };
}

/** The subgraphs' SDL documents, from the schema files in `dir`. */
export function buildSubgraphs(dir = schemaDir): Subgraph[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
  const assigned = new Set([SHARED_FILE, ...SUBGRAPHS.flatMap((s) => s.files)]);
  const unassigned = files.filter((f) => !assigned.has(f));
  if (unassigned.length > 0) throw new Error(`schema file(s) in no subgraph: ${unassigned.join(', ')} (add them to SUBGRAPHS in src/gateway/federation/subgraphs.ts)`);
  const read = (file: string) => parse(readFileSync(`${dir}/${file}`, 'utf8')).definitions;

  const shared = read(SHARED_FILE);
  const sharedNames = new Set(shared.filter(isTypeDefinition).map((d) => d.name.value));
  const own = new Map(SUBGRAPHS.map((s) => [s.name, s.files.flatMap(read)]));

  // Where each type is defined (its owner), and which of them are entities.
  const owner = new Map<string, { subgraph: string; node: TypeDefinition }>();
  for (const [subgraph, definitions] of own) {
    for (const d of definitions.filter(isTypeDefinition)) {
      const previous = owner.get(d.name.value);
      if (previous) throw new Error(`type ${d.name.value} is defined in both ${previous.subgraph} and ${subgraph}`);
      owner.set(d.name.value, { subgraph, node: d });
    }
  }
  const entities = [...owner.values()].filter((o) => implementsNode(o.node)).map((o) => o.node as ObjectTypeDefinitionNode);
  const isEntity = new Set(entities.map((e) => e.name.value));

  // Other domains' types each subgraph needs: entities as stubs, value types copied with what they use.
  const borrowed = new Map<string, Set<string>>();
  for (const spec of SUBGRAPHS) {
    const needed = new Set<string>(spec.everyEntity ? isEntity : []);
    const queue = [...typesUsedBy(own.get(spec.name)!)];
    for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
      const o = owner.get(name);
      if (!o || o.subgraph === spec.name || ROOTS.has(name) || needed.has(name)) continue;
      needed.add(name);
      if (!isEntity.has(name)) queue.push(...typesUsedBy([o.node]));
    }
    borrowed.set(spec.name, needed);
  }
  const copiedValueTypes = new Set([...borrowed.values()].flatMap((names) => [...names].filter((n) => !isEntity.has(n))));

  const shareable = directive('shareable');
  const federated = (d: DefinitionNode): DefinitionNode => {
    if (!isTypeDefinition(d) || d.kind !== Kind.OBJECT_TYPE_DEFINITION) return d;
    if (isEntity.has(d.name.value)) return withDirectives(d, [directive('key', 'id')]);
    if (sharedNames.has(d.name.value) || copiedValueTypes.has(d.name.value)) return withDirectives(d, [shareable]);
    return d;
  };
  const stub = (entity: ObjectTypeDefinitionNode): ObjectTypeDefinitionNode => ({
    kind: Kind.OBJECT_TYPE_DEFINITION,
    name: entity.name,
    interfaces: entity.interfaces?.filter((i) => i.name.value === 'Node'),
    directives: [directive('key', 'id')],
    fields: entity.fields?.filter((f) => f.name.value === 'id').map((f): FieldDefinitionNode => ({ ...f, description: undefined, directives: [] })),
  });

  return SUBGRAPHS.map((spec) => {
    const extra = [...borrowed.get(spec.name)!].sort().map((name) => {
      const o = owner.get(name)!;
      return isEntity.has(name) ? stub(o.node as ObjectTypeDefinitionNode) : o.node;
    });
    return { name: spec.name, typeDefs: { kind: Kind.DOCUMENT, definitions: [...shared, ...own.get(spec.name)!, ...extra].map(federated) } };
  });
}
