import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  Kind, buildSchema, getNullableType, getOperationAST, isEnumType, isListType, isNonNullType, isObjectType, isAbstractType, isScalarType,
  type GraphQLOutputType, type GraphQLSchema, type SelectionSetNode,
} from 'graphql';
import { hubClient } from '../../examples/client.ts';
import { ApproveClaimMutation, ApproveClaimsMutation, MemberClaimsQuery, MembersPageQuery, ViewerQuery } from '../../examples/operations.ts';
import { parseConfig } from '../../src/config.ts';
import { parseGlobalId } from '../../src/gateway/globalId.ts';
import { PUBLISHED_SCHEMA, serveMock } from '../../src/gateway/mock.ts';
import { isIsoDate } from '../../src/kernel/time.ts';

/**
 * `hub mock`: the example front-end's operations run against made-up data that has the API's
 * shapes: whole fen, masked ID numbers, dates in the plan years, global IDs of the right type.
 */
const HUB = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
const schema = buildSchema(readFileSync(PUBLISHED_SCHEMA, 'utf8'));
const config = parseConfig({ NODE_ENV: 'test' });

/** Every value of `data` checked against the schema type the operation selected it as; problems as `path: what`. */
function shapeProblems(schema: GraphQLSchema, document: TypedDocumentNode<unknown, never>, data: unknown): string[] {
  const operation = getOperationAST(document)!;
  const root = operation.operation === 'mutation' ? schema.getMutationType()! : schema.getQueryType()!;
  const problems: string[] = [];
  const check = (value: unknown, type: GraphQLOutputType, selections: SelectionSetNode | undefined, path: string, field: string) => {
    if (value === null) {
      if (isNonNullType(type)) problems.push(`${path}: null for ${String(type)}`);
      return;
    }
    const nullable = getNullableType(type);
    if (isListType(nullable)) {
      if (!Array.isArray(value)) return problems.push(`${path}: not a list`);
      return value.forEach((item, i) => check(item, nullable.ofType, selections, `${path}[${i}]`, field));
    }
    if (isEnumType(nullable)) {
      if (!nullable.getValues().some((v) => v.name === value)) problems.push(`${path}: ${String(value)} is not a ${nullable.name}`);
      return;
    }
    if (isScalarType(nullable)) {
      const ok: Record<string, (v: unknown) => boolean> = {
        Fen: (v) => Number.isSafeInteger(v),
        Int: (v) => Number.isSafeInteger(v),
        Boolean: (v) => typeof v === 'boolean',
        Date: (v) => typeof v === 'string' && isIsoDate(v) && v >= '1950-01-01' && v <= '2026-12-31',
        DateTime: (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && v >= '2025' && v < '2027',
        ID: (v) => typeof v === 'string' && parseGlobalId(v) !== null,
        String: (v) => typeof v === 'string',
      };
      if (ok[nullable.name] && !ok[nullable.name]!(value)) problems.push(`${path}: ${JSON.stringify(value)} is not a ${nullable.name}`);
      if (field === 'idNumberMasked' && !/^[1-9]\d{3}\*{10}\d{3}[\dX]$/.test(String(value))) problems.push(`${path}: ${String(value)} is not masked as the API masks`);
      return;
    }
    const record = value as Record<string, unknown>;
    const objectType = isAbstractType(nullable) ? schema.getType(String(record.__typename)) : nullable;
    if (!objectType || !isObjectType(objectType)) return problems.push(`${path}: no __typename to check ${nullable.name} by`);
    for (const selection of selections?.selections ?? []) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (!selection.typeCondition || selection.typeCondition.name.value === objectType.name) check(value, objectType, selection.selectionSet, path, field);
        continue;
      }
      if (selection.kind !== Kind.FIELD || selection.name.value === '__typename') continue;
      const key = selection.alias?.value ?? selection.name.value;
      const definition = objectType.getFields()[selection.name.value]!;
      if (!(key in record)) problems.push(`${path}.${key}: missing`);
      else check(record[key], definition.type, selection.selectionSet, `${path}.${key}`, selection.name.value);
    }
    if ('id' in record && objectType.getFields().id && typeof record.id === 'string') {
      const id = parseGlobalId(record.id);
      if (id?.type !== objectType.name) problems.push(`${path}.id: ${record.id} is an ID of ${id?.type ?? 'nothing'}, not of ${objectType.name}`);
    }
  };
  check(data, root, operation.selectionSet, root.name, '');
  return problems;
}

/** The example front-end's session: its operations in order, each checked; the answers, to compare runs. */
async function session(url: string): Promise<unknown[]> {
  const request = hubClient({ url, token: 'the mock reads no token' });
  const answers: unknown[] = [];
  const run = async <R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> => {
    const data = await request(document, variables);
    expect(shapeProblems(schema, document as TypedDocumentNode<unknown, never>, data), JSON.stringify(data)).toEqual([]);
    answers.push(data);
    return data;
  };
  await run(ViewerQuery, {});
  const page = await run(MembersPageQuery, { first: 3 });
  expect(page.members.edges).toHaveLength(3);
  expect(page.members.totalCount).toBeGreaterThanOrEqual(3);
  // Pages follow the cursor: the next page starts after the last one seen, with nothing repeated.
  if (page.members.pageInfo.hasNextPage) {
    const next = await run(MembersPageQuery, { first: 3, after: page.members.pageInfo.endCursor });
    const seen = new Set(page.members.edges.map((e) => e.node.id));
    expect(next.members.edges.length).toBeGreaterThan(0);
    for (const edge of next.members.edges) expect(seen.has(edge.node.id)).toBe(false);
  }
  const member = page.members.edges[0]!.node;
  const claims = await run(MemberClaimsQuery, { memberId: member.id, first: 2 });
  // A lookup answers the object its id names.
  expect(claims.member).toMatchObject({ id: member.id, name: member.name });
  const claim = claims.member!.claims.edges[0]!.node;
  // A reviewer approves the total the screen showed.
  await run(ApproveClaimMutation, { claimId: claim.id, checkedTotalFen: claim.totalFen, note: '同意' });
  await run(ApproveClaimsMutation, { claimIds: [claim.id], checkedTotalsFen: [claim.totalFen], note: '同意' });
  return answers;
}

describe('hub mock', () => {
  let child: ChildProcess;
  let url: string;

  beforeAll(async () => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent' };
    child = spawn(process.execPath, [HUB, 'mock', '--port', '0', '--seed', '42'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (chunk) => {
        out += chunk;
        const found = /POST (http:\/\/127\.0\.0\.1:\d+\/graphql)/.exec(out);
        if (found) resolve(found[1]!);
      });
      child.stderr!.on('data', (chunk) => (err += chunk));
      child.on('exit', (code) => reject(new Error(`hub mock exited ${code}: ${err}`)));
    });
  });
  afterAll(() => {
    child.kill();
  });

  it('serves the example front-end\'s operations with data of the API\'s shapes', async () => {
    await session(url);
  });

  it('makes realistic members: Chinese names, masked valid ID numbers, their unit with a credit code', async () => {
    const page = await hubClient({ url, token: '' })(MembersPageQuery, { first: 10 });
    for (const { node } of page.members.edges) {
      expect(node.name).toMatch(/^[\u4e00-\u9fff]{2,3}$/);
      expect(node.idNumberMasked).toMatch(/^35\d{2}\*{10}\d{3}[\dX]$/);
      expect(node.unit.name).toMatch(/工会$/);
      expect(node.unit.creditCode).toMatch(/^[0-9A-Z]{18}$/);
      for (const { node: enrolment } of node.enrolments.edges) expect([2025, 2026]).toContain(enrolment.planYear);
    }
  });
});

describe('the mock\'s data', () => {
  it('is the same for the same seed and differs for another', async () => {
    const mocks = await Promise.all([7, 7, 8].map((seed) => serveMock({ seed, port: 0, config })));
    try {
      const [first, again, other] = await Promise.all(mocks.map((mock) => session(mock.url)));
      expect(again).toEqual(first);
      expect(other).not.toEqual(first);
    } finally {
      await Promise.all(mocks.map((mock) => mock.close()));
    }
  });

});
