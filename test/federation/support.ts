import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { parseConfig, type Config } from '../../src/config.ts';
import { log } from '../../src/log.ts';
import { createGateway, type GatewayOptions } from '../../src/gateway/server.ts';
import { signDevelopmentToken, type TokenClaims } from '../../src/gateway/auth.ts';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import { closeQueues, createQueues } from '../../src/queues.ts';
import { hubComposition } from '../../src/gateway/federation/compose.ts';
import { remoteGateway } from '../../src/gateway/federation/remote.ts';
import { SUBGRAPHS } from '../../src/gateway/federation/subgraphs.ts';
import type { TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL, type GraphQLResult } from '../support/gateway.ts';

export type Caller = Partial<TokenClaims> & Pick<TokenClaims, 'role'>;

export interface Server {
  url: string;
  config: Config;
  /** POSTs an operation with the caller's token (a string is sent as the bearer token as is; null sends none). */
  query<T = any>(caller: Caller | string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/** A hub gateway (whole API, one subgraph or gateway mode by `options`) on a loopback port, over `db`. */
export async function startServer(db: TestDatabase, env: Record<string, string>, options: GatewayOptions = {}): Promise<Server> {
  const config = parseConfig({
    NODE_ENV: 'test', DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`, LOG_LEVEL: 'silent', ...env,
  });
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const queues = createQueues(redis, config.QUEUE_PREFIX);
  const gateway = await createGateway({ db: db.pool, keys: personalDataKeys(config.PII_KEY), queues, redis }, config, log, options);
  const url = `http://127.0.0.1:${await gateway.listen(0)}/graphql`;
  return {
    url,
    config,
    async query(caller, query, variables) {
      const bearer = caller === null || typeof caller === 'string' ? caller : await signDevelopmentToken(config, { sub: caller.sub ?? `test-${caller.role.toLowerCase()}`, ...caller });
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }) },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as GraphQLResult;
    },
    async close() {
      await gateway.stop();
      await closeQueues(queues);
      redis.disconnect();
    },
  };
}

/**
 * Another organisation's subgraph: the member portal's own field on the hub's Member. It answers
 * only with the caller's token (forwarded by the gateway) and records the ones it saw.
 */
export async function startMemberPortal(): Promise<{ url: string; sdl: string; authorizations: string[]; close(): Promise<void> }> {
  const sdl = `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
    type Member @key(fields: "id") {
      id: ID!
      "The nickname the member chose on the portal."
      portalNickname: String
    }
  `;
  const authorizations: string[] = [];
  const server = new ApolloServer<{ authorization?: string }>({
    schema: buildSubgraphSchema({
      typeDefs: parse(sdl),
      resolvers: {
        Member: {
          __resolveReference: (member: { id: string }) => member,
          portalNickname: (member: { id: string }, _args: unknown, ctx: { authorization?: string }) => {
            if (!ctx.authorization) throw new Error('no token');
            authorizations.push(ctx.authorization);
            return `portal-${member.id}`;
          },
        },
      } as never,
    }),
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' }, context: async ({ req }) => ({ authorization: req.headers.authorization }) });
  return { url, sdl, authorizations, close: () => server.stop() };
}

export interface Federation {
  subgraphs: Record<string, Server>;
  portal: Awaited<ReturnType<typeof startMemberPortal>>;
  /** Gateway mode over the hub's subgraphs and the portal's. */
  gateway: Server;
  close(): Promise<void>;
}

/** Every hub subgraph served alone, the member portal, and a gateway-mode hub composing them. */
export async function startFederation(db: TestDatabase, env: Record<string, string>): Promise<Federation> {
  const subgraphs: Record<string, Server> = {};
  for (const { name } of SUBGRAPHS) subgraphs[name] = await startServer(db, env, { subgraph: name });
  const portal = await startMemberPortal();
  const composed = composeServices([
    ...hubComposition().subgraphs.map((s) => ({ name: s.name, typeDefs: s.typeDefs, url: subgraphs[s.name]!.url })),
    { name: 'memberPortal', typeDefs: parse(portal.sdl), url: portal.url },
  ]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  const urls = Object.fromEntries([...Object.entries(subgraphs).map(([name, s]) => [name, s.url]), ['memberPortal', portal.url]]);
  const gateway = await startServer(db, env, { remote: remoteGateway({ supergraphSdl: composed.supergraphSdl, urls }) });
  return {
    subgraphs, portal, gateway,
    async close() {
      await gateway.close();
      await portal.close();
      for (const s of Object.values(subgraphs)) await s.close();
    },
  };
}
