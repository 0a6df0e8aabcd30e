import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { createTokenVerifier, type TokenClaims } from './auth.ts';
import type { Context, Principal, Services } from './context.ts';
import { scopeOf } from './context.ts';
import { parseGlobalId } from './globalId.ts';
import { allResolvers } from './resolvers.ts';
import { createMemberLoaders } from '../members/loaders.ts';
import { createSettlementLoaders } from '../settlements/loaders.ts';
import { createBenefitLoaders } from '../benefits/loaders.ts';
import { unitByCreditCode } from '../members/store.ts';

const schemaDir = fileURLToPath(new URL('../../schema', import.meta.url));

/** The SDL front-end teams read: every schema/*.graphql file, in name order. */
export function loadTypeDefs(): string {
  return readdirSync(schemaDir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(`${schemaDir}/${f}`, 'utf8'))
    .join('\n');
}

const KNOWN_CODES = new Set([
  'BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE',
]);

export interface Gateway {
  app: express.Express;
  httpServer: http.Server;
  /** Starts listening; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  stop(): Promise<void>;
}

export async function createGateway(services: Services, config: Config, log: Logger): Promise<Gateway> {
  const app = express();
  const httpServer = http.createServer(app);
  const verifier = await createTokenVerifier(config);

  const apollo = new ApolloServer<Context>({
    typeDefs: loadTypeDefs(),
    resolvers: allResolvers() as never,
    includeStacktraceInErrorResponses: false,
    introspection: config.NODE_ENV !== 'production',
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer })],
    // Unexpected errors are logged in full and shown only as an internal error with a reference.
    formatError(formatted, error): GraphQLFormattedError {
      const code = formatted.extensions?.code;
      if (typeof code === 'string' && KNOWN_CODES.has(code)) return formatted;
      const reference = randomUUID();
      log.error({ err: (error as GraphQLError).originalError ?? error, reference }, 'internal error in a GraphQL operation');
      return { message: `internal error (reference ${reference})`, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR', reference } };
    },
  });
  await apollo.start();

  async function principalOf(claims: TokenClaims): Promise<Principal> {
    let unitId: number | null = null;
    if (claims.unit) {
      const unit = await unitByCreditCode(services.db, claims.unit);
      if (!unit) throw unauthenticatedError(`the token's unit ${claims.unit} is not registered`);
      unitId = unit.id;
    }
    let memberId: number | null = null;
    if (claims.member) {
      const parsed = parseGlobalId(claims.member);
      if (!parsed || parsed.type !== 'Member') throw unauthenticatedError('the token\'s member claim is not a Member ID');
      memberId = parsed.id;
    }
    return { subject: claims.sub, role: claims.role, unitId, memberId };
  }

  app.use(
    '/graphql',
    express.json({ limit: '20mb' }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const header = req.headers.authorization ?? '';
        const match = /^Bearer\s+(\S+)$/i.exec(header);
        if (!match) throw unauthenticatedError('send a bearer token: Authorization: Bearer <token>');
        const principal = await principalOf(await verifier.verify(match[1]!).catch((error: GraphQLError) => {
          throw unauthenticatedError(error.message);
        }));
        const scope = scopeOf(principal);
        return { ...services, principal, loaders: { ...createMemberLoaders(services.db, scope), ...createSettlementLoaders(services.db, scope), ...createBenefitLoaders(services.db, scope) } };
      },
    }),
  );

  return {
    app,
    httpServer,
    listen: (port, host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => resolve((httpServer.address() as { port: number }).port));
      }),
    stop: () => apollo.stop(),
  };
}

function unauthenticatedError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}
