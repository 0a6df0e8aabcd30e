import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { Redis } from 'ioredis';
import { parseConfig, type Config } from '../../src/config.ts';
import { log } from '../../src/log.ts';
import { createGateway } from '../../src/gateway/server.ts';
import { signDevelopmentToken, type TokenClaims } from '../../src/gateway/auth.ts';
import { personalDataKeys, type PersonalDataKeys } from '../../src/privacy/personalData.ts';
import { createQueues, closeQueues, type Queues } from '../../src/queues.ts';
import { countQueries, freshDatabase, type TestDatabase } from './db.ts';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface GraphQLResult<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown>; path?: (string | number)[] }[];
}

export interface TestGateway {
  url: string;
  config: Config;
  keys: PersonalDataKeys;
  redis: Redis;
  queues: Queues;
  /** Unique BullMQ prefix of this test file. */
  prefix: string;
  token(claims: Partial<TokenClaims> & Pick<TokenClaims, 'role'>): Promise<string>;
  /** POSTs a GraphQL operation with the given role's token (or a raw token string). */
  query<T = any>(auth: string | (Partial<TokenClaims> & Pick<TokenClaims, 'role'>), query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/**
 * A real gateway on a random loopback port, over the test schema and a private queue prefix;
 * `env` overrides configuration (limits, NODE_ENV, the prefix to share with another instance).
 */
export async function startTestGateway(db: TestDatabase, env: Record<string, string> = {}): Promise<TestGateway> {
  const config = parseConfig({
    NODE_ENV: 'test', DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`, LOG_LEVEL: 'silent', ...env,
  });
  const prefix = config.QUEUE_PREFIX;
  const keys = personalDataKeys(config.PII_KEY);
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const queues = createQueues(redis, prefix);
  const gateway = await createGateway({ db: db.pool, keys, queues, redis }, config, log);
  const port = await gateway.listen(0);
  const url = `http://127.0.0.1:${port}/graphql`;
  const token = (claims: Partial<TokenClaims> & Pick<TokenClaims, 'role'>) =>
    signDevelopmentToken(config, { sub: claims.sub ?? `test-${claims.role.toLowerCase()}`, ...claims });
  return {
    url, config, keys, redis, queues, prefix, token,
    async query(auth, query, variables) {
      const bearer = typeof auth === 'string' ? auth : await token(auth);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as GraphQLResult;
    },
    async close() {
      await gateway.stop();
      await closeQueues(queues);
      const keysLeft = await redis.keys(`${prefix}:*`);
      if (keysLeft.length) await redis.del(...keysLeft);
      redis.disconnect();
    },
  };
}

/**
 * A database and gateway for a test file whose tests need them only some of the time: started by
 * the first test that asks (the others run without them), closed when the file is done.
 */
export function lazyTestGateway(env: Record<string, string> = {}): () => Promise<{ db: TestDatabase; gw: TestGateway }> {
  let started: Promise<{ db: TestDatabase; gw: TestGateway }> | undefined;
  afterAll(async () => {
    if (!started) return;
    const { db, gw } = await started;
    await gw.close();
    await db.drop();
  });
  return () => (started ??= (async () => {
    const db = await freshDatabase();
    try {
      return { db, gw: await startTestGateway(db, env) };
    } catch (error) {
      await db.drop();
      throw error;
    }
  })());
}

/** A second ADMIN of the whole hub: confirms what another ADMIN proposed (`test-admin`, an ADMIN token's default subject). */
export const SECOND_ADMIN = { role: 'ADMIN', sub: 'test-admin-2' } as const;

/**
 * Confirms the unit's waiting terms (a new unit's first terms, from `createUnit`) as `admin`, who did
 * not propose them: as a test that only needs a unit to enrol members in does. Throws on a refusal.
 */
export async function confirmUnitTerms(gw: TestGateway, unitId: string, admin: Partial<TokenClaims> & Pick<TokenClaims, 'role'> = SECOND_ADMIN): Promise<void> {
  const read = await gw.query(admin, `query($id: ID!) { unit(id: $id) { pendingTermsChange { proposedAt } } }`, { id: unitId });
  const proposedAt = read.data?.unit?.pendingTermsChange?.proposedAt;
  if (!proposedAt) throw new Error(`no terms of unit ${unitId} wait for confirmation: ${JSON.stringify(read)}`);
  const confirmed = await gw.query(admin, `mutation($input: ConfirmUnitTermsChangeInput!) {
    confirmUnitTermsChange(input: $input) { unit { termsConfirmed } userErrors { field message } } }`, { input: { unitId, proposedAt } });
  if (!confirmed.data?.confirmUnitTermsChange.unit?.termsConfirmed) throw new Error(`unit ${unitId}'s terms not confirmed: ${JSON.stringify(confirmed)}`);
}

/**
 * The global ID of the unit with `creditCode`, created through the API (as ADMIN) the first time, its
 * terms confirmed by a second ADMIN (confirmUnitTerms).
 */
export async function ensureUnit(gw: TestGateway, creditCode: string, name = '晋江某纺织有限公司'): Promise<string> {
  const created = await gw.query({ role: 'ADMIN' }, `mutation($c: String!, $n: String!) { createUnit(input: { creditCode: $c, name: $n, planType: PRIVATE }) { unit { id } } }`, { c: creditCode, n: name });
  if (created.data?.createUnit.unit) {
    await confirmUnitTerms(gw, created.data.createUnit.unit.id);
    return created.data.createUnit.unit.id;
  }
  const listed = await gw.query({ role: 'ADMIN' }, `query($c: String) { units(first: 1, filter: { creditCode: $c }) { edges { node { id } } } }`, { c: creditCode });
  return listed.data.units.edges[0].node.id;
}

/**
 * The SQL statements the gateway runs to answer `query` (an ADMIN's), and the round trips they take,
 * once per page size given as the variable `n`, after one unmeasured request (reads made once per
 * process are not counted). A connection whose nested fields are read through DataLoaders costs the
 * same for 5 items as for 50.
 */
export async function queriesPerPageSize(gw: TestGateway, query: string, sizes: readonly number[]): Promise<{ n: number; queries: number; roundTrips: number; result: GraphQLResult }[]> {
  await gw.query({ role: 'ADMIN' }, query, { n: sizes[0] });
  const measured = [];
  for (const n of sizes) {
    const { result, queries, roundTrips } = await countQueries(() => gw.query({ role: 'ADMIN' }, query, { n }));
    measured.push({ n, queries, roundTrips, result });
  }
  return measured;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A signed file URL whose signature's last character has its unused low bit flipped: a lenient
 * base64url decoder reads it as the same HMAC, so it is the same URL spelled otherwise.
 */
export const lowBitFlipped = (url: string): string => url.slice(0, -1) + BASE64URL[BASE64URL.indexOf(url.at(-1)!) ^ 1];
