import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { serveMock } from '../../src/gateway/mock.ts';
import { hub } from '../support/hub.ts';

/**
 * `hub mock` is a development server: loopback only, never in production, and held to the
 * gateway's own limits so a front-end's runaway query is refused here as it would be there.
 */
let mock: Awaited<ReturnType<typeof serveMock>>;

beforeAll(async () => {
  const config = parseConfig({ NODE_ENV: 'test', GRAPHQL_MAX_BODY_BYTES: '2048', GRAPHQL_MAX_DEPTH: '6', GRAPHQL_MAX_NODES: '50' });
  mock = await serveMock({ seed: 1, port: 0, config });
});
afterAll(() => mock.close());

const post = async (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
  const response = await fetch(mock.url, { method: 'POST', headers, body });
  return { status: response.status, body: await response.json() as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] } }; // eslint-disable-line @typescript-eslint/no-explicit-any
};
const query = (text: string, variables?: unknown) => post(JSON.stringify({ query: text, variables }));

describe('hub mock', () => {
  it('listens on loopback and refuses to start in production', async () => {
    expect(new URL(mock.url).hostname).toBe('127.0.0.1');
    const run = await hub(['mock', '--port', '0'], { NODE_ENV: 'production' });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/hub mock is a development helper/);
  });

  it('answers POST /graphql with JSON only', async () => {
    expect((await fetch(mock.url)).status).toBe(405);
    expect((await fetch(mock.url.replace('/graphql', '/graphiql'))).status).toBe(404);
    expect((await post('{"query":"{ viewer { role } }"}', { 'content-type': 'text/plain' })).status).toBe(415);
    expect(await post('{"query": ')).toMatchObject({ status: 400, body: { errors: [{ message: 'the body is not JSON' }] } });
    expect((await post(JSON.stringify({ query: 42 }))).status).toBe(400);
    expect((await post(JSON.stringify({ query: '{ viewer { role } }', variables: [1] }))).status).toBe(400);
    expect((await post(JSON.stringify(['{ viewer { role } }']))).status).toBe(400);
  });

  it('refuses a body over GRAPHQL_MAX_BODY_BYTES', async () => {
    const big = await query(`{ viewer { role } } # ${'x'.repeat(4096)}`);
    expect(big.status).toBe(413);
    expect(big.body.errors![0]!.message).toMatch(/GRAPHQL_MAX_BODY_BYTES/);
  });

  it('refuses a query deeper than GRAPHQL_MAX_DEPTH and one asking for more than GRAPHQL_MAX_NODES objects', async () => {
    const deep = await query('{ members(first: 1) { edges { node { unit { members(first: 1) { edges { node { unit { name } } } } } } } } }');
    expect(deep.status).toBe(400);
    expect(deep.body.errors![0]!.message).toMatch(/GRAPHQL_MAX_DEPTH/);
    const many = await query('{ members(first: 100) { edges { node { id } } } }');
    expect(many.status).toBe(400);
    expect(many.body.errors![0]!.message).toMatch(/GRAPHQL_MAX_NODES/);
  });

  it('checks page sizes and cursors as the API does', async () => {
    const tooSmall = await query('{ members(first: 0) { totalCount } }');
    expect(tooSmall.body.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'first' } });
    const forged = await query('query($after: String) { members(first: 2, after: $after) { totalCount } }', { after: 'bm90LWEtY3Vyc29y' });
    expect(forged.body.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
  });

  it('answers null for ids of another type or of no type, and refuses what is not an id', async () => {
    const lookup = (id: string) => query('query($id: ID!) { member(id: $id) { id } node(id: $id) { id } }', { id });
    for (const type of ['constructor', 'proto', 'Unit', 'Query']) {
      const answer = await lookup(toGlobalId(type, 1));
      expect(answer.body.errors, type).toBeUndefined();
      expect(answer.body.data.member, type).toBeNull();
    }
    expect((await lookup(toGlobalId('constructor', 1))).body.data.node).toBeNull();
    expect((await lookup(toGlobalId('Unit', 1))).body.data.node).toEqual({ id: toGlobalId('Unit', 1) });
    const notAnId = await lookup(Buffer.from('__proto__:1').toString('base64url'));
    expect(notAnId.body.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'id' } });
  });
});
