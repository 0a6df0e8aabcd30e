import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { addMocksToSchema } from '@graphql-tools/mock';
import type { IMocks, IMockStore, Ref } from '@graphql-tools/mock';
import {
  GraphQLError, buildSchema, execute, getNamedType, isAbstractType, isEnumType, isListType, isNonNullType, isObjectType, isScalarType,
  parse, specifiedRules, validate,
  type DocumentNode, type GraphQLField, type GraphQLFormattedError, type GraphQLNamedType, type GraphQLObjectType, type GraphQLSchema,
} from 'graphql';
import type { Config } from '../config.ts';
import { invalid } from '../kernel/errors.ts';
import { withCreditCodeCheck, withLuhnCheck, withResidentIdCheck } from '../kernel/identifiers.ts';
import { addDays, dateOfDayNumber, dayNumber } from '../kernel/time.ts';
import { maskBankCard, maskIdNumber } from '../privacy/personalData.ts';
import { maskName } from '../settlements/protect.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './connection.ts';
import { domainErrorOf, formatDomainError } from './errors.ts';
import { parseGlobalId, toGlobalId } from './globalId.ts';
import { limitRules, requestedObjectsError } from './limits.ts';

/**
 * `hub mock`: the published schema answered with realistic made-up data, for front-end work without a
 * database: Chinese names, ID numbers and bank cards masked as the API masks them, whole fen, dates
 * in the plan years, global IDs of the right type (a lookup by id answers that object), pages that
 * follow `first/after` and `last/before`. Same seed, same requests: same answers. Plain POST
 * /graphql with the gateway's own limits; no explorer, no token, loopback by default.
 */

export const PUBLISHED_SCHEMA = new URL('../../schema/published/schema.graphql', import.meta.url);

/** mulberry32: small, seedable, good enough for sample data. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const SURNAMES = [...'王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓冯韩曹彭'];
const GIVEN = [...'伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红梅鑫宇浩然欣怡子涵'];
const DISTRICTS = ['鼓楼区', '台江区', '仓山区', '晋安区', '马尾区', '长乐区', '闽侯县', '福清市'];
const EMPLOYERS = ['第一建筑工程有限公司', '机电设备厂', '市政工程公司', '纺织有限公司', '人民医院', '公交集团', '自来水公司', '第三中学'];
const DIVISIONS = ['350102', '350103', '350104', '350111', '350121', '350181', '350203', '350521'];
const SENTENCES = ['按互助方案规定比例核定', '超出年度封顶线部分不予补助', '住院自付部分已扣除起付线', '材料齐全，同意给付', '银行账户信息已核对'];

/** Mock values for one seed: each call draws the next value. */
function generators(next: () => number) {
  const int = (low: number, high: number) => low + Math.floor(next() * (high - low + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const digits = (n: number) => Array.from({ length: n }, () => int(0, 9)).join('');
  const dateBetween = (from: string, to: string) => dateOfDayNumber(int(dayNumber(from), dayNumber(to)));
  const personName = () => pick(SURNAMES) + pick(GIVEN) + (next() < 0.6 ? pick(GIVEN) : '');
  const idNumber = () => withResidentIdCheck(pick(DIVISIONS) + dateBetween('1962-01-01', '2004-12-31').replaceAll('-', '') + digits(3));
  const bankCard = () => withLuhnCheck(`6222${digits(14)}`);
  return {
    int, pick, personName, digits,
    unitName: () => `${pick(DISTRICTS)}${pick(EMPLOYERS)}工会`,
    idNumberMasked: () => maskIdNumber(idNumber()),
    bankCardMasked: () => maskBankCard(bankCard()),
    creditCode: () => withCreditCodeCheck(`913501${digits(11)}`),
    date: () => dateBetween('2025-01-01', '2026-12-31'),
    birthDate: () => dateBetween('1962-01-01', '2004-12-31'),
    dateTime: () => new Date(`${addDays('2025-01-01', int(0, 729))}T${String(int(0, 23)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}:00+08:00`).toISOString(),
    fen: () => int(0, 300_000) * 10,
    sentence: () => pick(SENTENCES),
  };
}
type Generators = ReturnType<typeof generators>;

/** A value for a scalar field by its name, where the name says more than the type. */
function fieldValue(g: Generators, typeName: string, field: string, scalar: string): (() => unknown) | undefined {
  if (scalar === 'String') {
    if (field === 'name') return /Unit/.test(typeName) ? g.unitName : /Member|Viewer/.test(typeName) ? g.personName : undefined;
    if (/^(creditor|debtor|counterparty)Name$/.test(field)) return g.personName;
    if (field === 'personNameMasked') return () => maskName(g.personName());
    if (field === 'idNumberMasked') return g.idNumberMasked;
    if (/(card|account)(Number)?Masked$/i.test(field)) return g.bankCardMasked;
    if (field === 'idNumber') return () => g.idNumberMasked().replaceAll('*', '0');
    if (field === 'phone') return () => `13${g.digits(9)}`;
    if (field === 'creditCode') return g.creditCode;
    if (field === 'bankCode') return () => `102391${g.digits(6)}`;
    if (field === 'sha256') return () => Array.from({ length: 64 }, () => g.pick([...'0123456789abcdef'])).join('');
    if (/(By|^subject|^actor)$/.test(field)) return () => `${g.pick(['admin', 'reviewer', 'finance', 'operator'])}-${g.int(1, 9)}`;
    if (/(reason|Reason|explanation|description|note)$/.test(field)) return g.sentence;
  }
  if (scalar === 'Int') {
    if (/planYear/.test(field)) return () => g.int(2025, 2026);
    if (field === 'version' || field === 'attemptNo') return () => g.int(1, 4);
    if (field === 'ratioBasisPoints') return () => g.int(10, 90) * 100;
  }
  if (scalar === 'Date' && field === 'birthDate') return g.birthDate;
  return undefined;
}

/** A value for each scalar of the schema; one it does not know gets a labelled string. */
function scalarValue(g: Generators, scalar: string): () => unknown {
  switch (scalar) {
    case 'Fen': return g.fen;
    case 'Date': return g.date;
    case 'DateTime': return g.dateTime;
    case 'Int': return () => g.int(0, 60);
    case 'Float': return () => g.int(0, 10_000) / 100;
    case 'Boolean': return () => g.int(0, 1) === 1;
    case 'ID': return () => toGlobalId('Mock', g.int(1, 999_999));
    case 'JSON': return () => ({ sample: g.sentence() });
    case 'String': return () => `示例${g.int(1, 999)}`;
    default: return () => `${scalar}-${g.int(1, 999)}`;
  }
}

const withId = (type: GraphQLNamedType): boolean => isObjectType(type) && 'id' in type.getFields();

function mocksOf(schema: GraphQLSchema, g: Generators, nextId: (type: string) => number): IMocks {
  const mocks: Record<string, unknown> = {};
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isScalarType(type)) mocks[type.name] = scalarValue(g, type.name);
    else if (isEnumType(type)) mocks[type.name] = () => g.pick(type.getValues()).value;
    else if (isAbstractType(type)) mocks[type.name] = () => ({ __typename: g.pick(schema.getPossibleTypes(type)).name });
    else if (isObjectType(type)) {
      const fields: Record<string, () => unknown> = {};
      for (const field of Object.values(type.getFields())) {
        const named = getNamedType(field.type);
        if (!isScalarType(named) || isListType(isNonNullType(field.type) ? field.type.ofType : field.type)) continue;
        if (field.name === 'id' && withId(type)) fields.id = () => toGlobalId(type.name, nextId(type.name));
        else {
          const value = fieldValue(g, type.name, field.name, named.name);
          if (value) fields[field.name] = value;
        }
      }
      mocks[type.name] = fields;
    }
  }
  return mocks as IMocks;
}

interface PageArguments { first?: number | null; after?: string | null; last?: number | null; before?: string | null }

const cursorAt = (offset: number) => Buffer.from(`mock:${offset}`).toString('base64url');
function offsetOf(field: string, cursor: string): number {
  const match = /^mock:(\d{1,6})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw invalid(field, 'is not a cursor returned by this connection');
  return Number(match[1]);
}

function pageSize(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) throw invalid(field, `must be between 1 and ${MAX_PAGE_SIZE}`);
  return value;
}

/** Resolvers that make the mock behave: pages over a fixed total per connection, lookups that answer the id asked for. */
function behaviour(schema: GraphQLSchema, g: Generators, nextId: (type: string) => number) {
  return (store: IMockStore) => {
    // Per connection (parent object and field): its total and its nodes, so paging is stable.
    const totals = new Map<string, number>();
    const nodes = new Map<string, Ref>();
    const concrete = (type: GraphQLNamedType): GraphQLObjectType => (isAbstractType(type) ? g.pick(schema.getPossibleTypes(type)) : type as GraphQLObjectType);
    const nodeOf = (key: string, type: GraphQLNamedType): Ref => {
      let ref = nodes.get(key);
      if (!ref) {
        const objectType = concrete(type);
        ref = withId(objectType) ? store.get(objectType.name, toGlobalId(objectType.name, nextId(objectType.name))) as Ref : store.get(objectType.name, {}) as Ref;
        nodes.set(key, ref);
      }
      return ref;
    };
    const connection = (typeName: string, field: GraphQLField<unknown, unknown>) => (parent: unknown, args: PageArguments) => {
      const owner = `${typeName}:${(parent as Partial<Ref> | undefined)?.$ref?.key ?? 'ROOT'}:${field.name}`;
      const total = totals.get(owner) ?? g.int(3, 45);
      totals.set(owner, total);
      const edgeType = getNamedType((getNamedType(field.type) as GraphQLObjectType).getFields().edges!.type) as GraphQLObjectType;
      const nodeType = getNamedType(edgeType.getFields().node!.type);
      let start = args.after ? offsetOf('after', args.after) + 1 : 0;
      let end = args.before ? Math.min(offsetOf('before', args.before), total) : total;
      if (args.last != null && args.first == null) start = Math.max(start, end - pageSize('last', args.last));
      else end = Math.min(end, start + pageSize('first', args.first ?? DEFAULT_PAGE_SIZE));
      const edges = [];
      for (let i = start; i < end; i++) edges.push({ cursor: cursorAt(i), node: nodeOf(`${owner}:${i}`, nodeType) });
      return {
        edges, totalCount: total,
        pageInfo: { hasNextPage: end < total, hasPreviousPage: start > 0, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
      };
    };
    // node(id:), member(id:)…: the object the id names, when it names one of the field's type; null otherwise, as the API answers.
    const lookup = (type: GraphQLNamedType) => (_parent: unknown, args: { id: string }) => {
      const parsed = parseGlobalId(args.id);
      if (!parsed) throw invalid('id', 'is not an ID of this API');
      const target = schema.getType(parsed.type);
      if (!target || !isObjectType(target)) return null;
      return target === type || (isAbstractType(type) && schema.isSubType(type, target)) ? store.get(target.name, args.id) : null;
    };
    const resolvers: Record<string, Record<string, unknown>> = {};
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        const named = getNamedType(field.type);
        const onPage = isObjectType(named) && named.name.endsWith('Connection') && 'edges' in named.getFields();
        const byId = type === schema.getQueryType() && field.args.length === 1 && field.args[0]!.name === 'id' && !isListType(field.type);
        if (onPage) (resolvers[type.name] ??= {})[field.name] = connection(type.name, field);
        else if (byId && (withId(named) || isAbstractType(named))) (resolvers[type.name] ??= {})[field.name] = lookup(named);
      }
    }
    return resolvers;
  };
}

/** The schema with mocks for a seed; each call starts a fresh store. */
export function mockSchema(sdl: string, seed: number): GraphQLSchema {
  const schema = buildSchema(sdl);
  const g = generators(random(seed));
  const ids = new Map<string, number>();
  const nextId = (type: string) => {
    const id = (ids.get(type) ?? 1000) + g.int(1, 9);
    ids.set(type, id);
    return id;
  };
  return addMocksToSchema({ schema, mocks: mocksOf(schema, g, nextId), resolvers: behaviour(schema, g, nextId) as never, preserveResolvers: false });
}

export interface MockServerOptions {
  seed: number;
  /** The gateway's limits (depth, cost, aliases, tokens, objects, body size) apply here too. */
  config: Config;
  sdl?: string;
}

type Reply = { status: number; body: { data?: unknown; errors?: GraphQLFormattedError[] } };

const refusal = (status: number, message: string, code: string): Reply => ({ status, body: { errors: [{ message, extensions: { code } }] } });

/** An HTTP server answering POST /graphql from the mocked schema. */
export function createMockServer({ seed, config, sdl = readFileSync(PUBLISHED_SCHEMA, 'utf8') }: MockServerOptions): Server {
  const schema = mockSchema(sdl, seed);
  const rules = [...specifiedRules, ...limitRules(config)];

  async function answer(request: IncomingMessage): Promise<Reply> {
    if (new URL(request.url ?? '/', 'http://mock').pathname !== '/graphql') return refusal(404, 'not found: POST /graphql', 'NOT_FOUND');
    if (request.method !== 'POST') return refusal(405, 'only POST /graphql is served', 'BAD_REQUEST');
    if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) return refusal(415, 'send application/json', 'BAD_REQUEST');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > config.GRAPHQL_MAX_BODY_BYTES) return refusal(413, `the body is larger than ${config.GRAPHQL_MAX_BODY_BYTES} bytes (GRAPHQL_MAX_BODY_BYTES)`, 'BAD_REQUEST');
      chunks.push(chunk);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return refusal(400, 'the body is not JSON', 'BAD_REQUEST');
    }
    const { query, variables, operationName } = (body ?? {}) as Record<string, unknown>;
    if (typeof query !== 'string') return refusal(400, 'query must be a string', 'BAD_REQUEST');
    if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return refusal(400, 'variables must be an object', 'BAD_REQUEST');
    if (operationName != null && typeof operationName !== 'string') return refusal(400, 'operationName must be a string', 'BAD_REQUEST');
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: config.GRAPHQL_MAX_TOKENS });
    } catch (error) {
      return refusal(400, (error as Error).message, 'GRAPHQL_PARSE_FAILED');
    }
    const invalidErrors = validate(schema, document, rules);
    if (invalidErrors.length > 0) return { status: 400, body: { errors: invalidErrors.map((e) => ({ ...e.toJSON(), extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...e.extensions } })) } };
    const vars = (variables ?? {}) as Record<string, unknown>;
    const tooMany = requestedObjectsError(schema, document, operationName as string | undefined, vars, config.GRAPHQL_MAX_NODES);
    if (tooMany) return { status: 400, body: { errors: [tooMany.toJSON()] } };
    const result = await execute({ schema, document, variableValues: vars, operationName: operationName as string | undefined });
    const errors = result.errors?.map((error: GraphQLError) => {
      const domain = domainErrorOf(error);
      return domain ? formatDomainError(domain, error.toJSON()) : error.toJSON();
    });
    return { status: 200, body: { ...(errors ? { errors } : {}), ...('data' in result ? { data: result.data } : {}) } };
  }

  return createServer((request: IncomingMessage, response: ServerResponse) => {
    answer(request).then(
      ({ status, body }) => response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body)),
      () => response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(refusal(500, 'internal error', 'INTERNAL_SERVER_ERROR').body)),
    );
  });
}

/** Starts the mock; resolves with its /graphql URL and a close function. */
export async function serveMock(options: MockServerOptions & { port: number; host?: string }): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createMockServer(options);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/graphql`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
