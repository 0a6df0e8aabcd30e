import type http from 'node:http';
import {
  GraphQLError, parse, specifiedRules, validate, type ExecutionArgs, type GraphQLFormattedError, type GraphQLSchema, type ValidationRule,
} from 'graphql';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Config } from '../config.ts';
import type { Authenticate } from './auth.ts';
import type { Context, Principal } from './context.ts';
import { objectLimitError, requestedObjects } from './limits.ts';
import type { TrustedDocuments } from './trustedDocuments.ts';

/**
 * GraphQL subscriptions over WebSocket (`graphql-transport-ws`, library graphql-ws) on the HTTP
 * server's `/graphql`. The same token check, rate limit, trusted documents and document limits as
 * HTTP apply: the token comes in the connection-init payload (`authorization`), each subscribe
 * message is parsed with the token limit and validated with the limit rules.
 */
export interface SubscriptionServerOptions {
  httpServer: http.Server;
  schema: GraphQLSchema;
  rules: ValidationRule[];
  config: Config;
  authenticate: Authenticate;
  rateLimit: ((client: string) => Promise<void>) | null;
  trusted: TrustedDocuments | null;
  contextFor(principal: Principal): Context;
  /** The gateway's error masking, applied to every event as to every HTTP response. */
  formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
}

export interface SubscriptionServer {
  /** Closes every socket (1001 going away) and stops accepting new ones. */
  close(): Promise<void>;
}

type Extra = { principal?: Principal };

export function startSubscriptions(options: SubscriptionServerOptions): SubscriptionServer {
  const { schema, rules, config, authenticate, rateLimit, trusted, contextFor, formatError } = options;
  const wsServer = new WebSocketServer({ server: options.httpServer, path: '/graphql', maxPayload: 64 * 1024 });
  const production = config.NODE_ENV === 'production';
  const cleanup = useServer<Record<string, unknown>, Extra>({
    // Refusing a token closes the socket with 4403 (graphql-ws); the reason is not echoed.
    async onConnect(ctx) {
      const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
      try {
        ctx.extra.principal = await authenticate(typeof authorization === 'string' ? authorization : undefined);
        return true;
      } catch {
        return false;
      }
    },
    async onSubscribe(ctx, _id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> {
      const principal = ctx.extra.principal!;
      try {
        await rateLimit?.(principal.subject);
      } catch (error) {
        return [error as GraphQLError];
      }
      const query = trusted ? trusted.resolve(payload) ?? payload.query : payload.query;
      if (query instanceof GraphQLError) return [query];
      let document;
      try {
        document = parse(query, { maxTokens: config.GRAPHQL_MAX_TOKENS });
      } catch (error) {
        return [error as GraphQLError];
      }
      const errors = validate(schema, document, [...specifiedRules, ...rules]);
      if (errors.length) return production ? errors.map((e) => new GraphQLError(e.message.replace(/ Did you mean .*$/, ''))) : errors;
      const variables = payload.variables ?? {};
      const asked = requestedObjects(schema, document, payload.operationName, variables);
      if (asked > config.GRAPHQL_MAX_NODES) return [objectLimitError(config.GRAPHQL_MAX_NODES, asked)];
      return { schema, document, variableValues: variables, operationName: payload.operationName, contextValue: contextFor(principal) };
    },
    onNext(_ctx, _id, _payload, _args, result) {
      if (result.errors) return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) };
    },
  }, wsServer);
  return {
    async close() {
      await cleanup.dispose();
    },
  };
}
