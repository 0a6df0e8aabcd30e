import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { composeServices } from '@apollo/composition';
import { GraphQLSchema, isObjectType, lexicographicSortSchema, parse, printSchema, visit } from 'graphql';
import { compose, CompositionError, federationFiles } from '../../src/gateway/federation/compose.ts';
import { buildSubgraphs, schemaDir, SUBGRAPHS } from '../../src/gateway/federation/subgraphs.ts';
import { hubSchema, subgraphSchema } from '../../src/gateway/federation/schema.ts';

const published = fileURLToPath(new URL('../../schema/published/', import.meta.url));
const composition = compose();

/** `Type.field@directive(args)` for every application of @cacheControl on an object/interface type or field. */
function cacheHints(schema: GraphQLSchema): string[] {
  const hints: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type)) continue;
    const onType = type.astNode?.directives?.filter((d) => d.name.value === 'cacheControl') ?? [];
    for (const d of onType) hints.push(`${type.name}@${JSON.stringify(d.arguments?.map((a) => [a.name.value, (a.value as { value: unknown }).value]))}`);
    for (const field of Object.values(type.getFields())) {
      for (const d of field.astNode?.directives?.filter((x) => x.name.value === 'cacheControl') ?? []) {
        hints.push(`${type.name}.${field.name}@${JSON.stringify(d.arguments?.map((a) => [a.name.value, (a.value as { value: unknown }).value]))}`);
      }
    }
  }
  return hints.sort();
}

describe('the supergraph', () => {
  it('composes, and the committed supergraph and subgraph SDL are fresh (run npm run schema:compose)', () => {
    const files = federationFiles(composition);
    for (const [path, sdl] of files) {
      expect(readFileSync(`${published}${path}`, 'utf8'), `schema/published/${path} is stale: run npm run schema:compose and commit it`).toBe(sdl);
    }
    const committedSubgraphs = readdirSync(`${published}subgraphs`).map((f) => `subgraphs/${f}`);
    expect(committedSubgraphs.sort(), 'schema/published/subgraphs holds a file of no subgraph').toEqual([...files.keys()].filter((p) => p.startsWith('subgraphs/')).sort());
  });

  it('is executed in-process as its API schema, cache hints included', () => {
    const api = composeServices(composition.subgraphs.map((s) => ({ name: s.name, typeDefs: s.typeDefs, url: 'http://x.invalid' }))).schema!.toAPISchema().toGraphQLJSSchema();
    const inProcess = hubSchema();
    // The API schema drops @cacheControl, which the in-process schema keeps for the response cache.
    const withoutHints = new GraphQLSchema({ ...inProcess.toConfig(), directives: inProcess.getDirectives().filter((d) => d.name !== 'cacheControl') });
    expect(printSchema(lexicographicSortSchema(withoutHints))).toBe(printSchema(lexicographicSortSchema(api)));
    // Every hint written in the schema files reaches the executed schema, where the response cache reads it.
    const written: string[] = [];
    for (const file of readdirSync(schemaDir).filter((f) => f.endsWith('.graphql'))) {
      let type = '';
      visit(parse(readFileSync(`${schemaDir}/${file}`, 'utf8')), {
        ObjectTypeDefinition: { enter: (n) => void (type = n.name.value) },
        ObjectTypeExtension: { enter: (n) => void (type = n.name.value) },
        Directive(d, _key, _parent, _path, ancestors) {
          if (d.name.value !== 'cacheControl') return;
          const owner = ancestors[ancestors.length - 1] as { kind: string; name: { value: string } };
          const args = JSON.stringify(d.arguments?.map((a) => [a.name.value, (a.value as { value: unknown }).value]));
          written.push(owner.kind === 'FieldDefinition' ? `${type}.${owner.name.value}@${args}` : `${type}@${args}`);
        },
      });
    }
    expect(written.length).toBeGreaterThan(10);
    expect(cacheHints(inProcess)).toEqual(written.sort());
  });

  it('has every Node type as an entity keyed by id, resolvable by reference in every subgraph that knows it', () => {
    const entities = Object.values(hubSchema().getTypeMap()).filter((t) => isObjectType(t) && t.getInterfaces().some((i) => i.name === 'Node')).map((t) => t.name);
    expect(entities).toEqual(expect.arrayContaining(['Unit', 'Member', 'Enrolment', 'Claim', 'Payout', 'PayoutBatch', 'Settlement', 'BankDocument']));
    for (const { name } of SUBGRAPHS) {
      const schema = subgraphSchema(name);
      const keyed = Object.values(schema.getTypeMap()).filter((t) => isObjectType(t) && t.astNode?.directives?.some((d) => d.name.value === 'key'));
      for (const type of keyed) {
        expect((type.extensions as { apollo?: { subgraph?: { resolveReference?: unknown } } }).apollo?.subgraph?.resolveReference, `${name}: ${type.name}`).toBeTypeOf('function');
      }
      if (name === 'hub') expect(keyed.map((t) => t.name).sort()).toEqual([...entities].sort());
    }
  });

  it('fails with every composition error when subgraphs disagree', () => {
    const dir = mkdtempSync(`${tmpdir()}/hub-schema-`);
    try {
      cpSync(schemaDir, dir, { recursive: true });
      // Payouts claiming a field members already resolves, with another type: two conflicts.
      writeFileSync(`${dir}/payouts.graphql`, `${readFileSync(`${dir}/payouts.graphql`, 'utf8')}\nextend type Member { name: Int }\nextend type Unit { name: Int }\n`);
      const failure = (() => { try { compose(buildSubgraphs(dir)); } catch (error) { return error; } })();
      expect(failure).toBeInstanceOf(CompositionError);
      expect((failure as CompositionError).message).toMatch(/Member\.name/);
      expect((failure as CompositionError).message).toMatch(/Unit\.name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a schema file that belongs to no subgraph', () => {
    const dir = mkdtempSync(`${tmpdir()}/hub-schema-`);
    try {
      cpSync(schemaDir, dir, { recursive: true });
      writeFileSync(`${dir}/orphans.graphql`, 'type Orphan { name: String }\n');
      expect(() => buildSubgraphs(dir)).toThrow(/orphans\.graphql/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
