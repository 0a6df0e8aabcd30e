import type http from 'node:http';
import {
  GraphQLError, NoSchemaIntrospectionCustomRule, getOperationAST, parse, specifiedRules, validate,
  type ExecutionArgs, type GraphQLFormattedError, type GraphQLSchema, type ValidationRule,
} from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Config } from '../config.ts';
import type { Authenticate } from './auth.ts';
import type { Principal } from './auth.ts';
import type { Context } from './context.ts';
import { requestedObjectsError } from './limits.ts';
import type { TrustedDocuments } from './trustedDocuments.ts';

/**
 * GraphQL subscriptions over WebSocket (`graphql-transport-ws`, library graphql-ws) on the HTTP
 * server's `/graphql`. Subscriptions only: queries and mutations go over HTTP, where body limits,
 * timeouts and request logs apply. The same token check, rate limit, trusted documents and
 * document limits as HTTP apply: the token comes in the connection-init payload (`authorization`),
 * each subscribe message is parsed with the token limit and validated with the limit rules (and,
 * in production, without introspection). A socket holds at most SUBSCRIPTIONS_PER_SOCKET
 * subscriptions at once, a client (token subject) at most SOCKETS_PER_CLIENT sockets on one gateway
 * (4429 past it), and what fails while one runs is masked and logged as on HTTP. A socket lives
 * no longer than its token: it is closed with 4401 when the token expires, and nothing runs or is
 * sent on it after that.
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
  /** The gateway's error masking, applied to every event and error as to every HTTP response. */
  formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
}

export interface SubscriptionServer {
  /** Closes every socket (1001 going away) and stops accepting new ones. */
  close(): Promise<void>;
}

type Extra = { principal?: Principal };

/** Close code of a socket whose token expired (graphql-ws clients treat 4401 as final: connect again with a new token). */
export const TOKEN_EXPIRED_CLOSE = 4401;
/** Close code of a socket over SOCKETS_PER_CLIENT (graphql-ws clients treat 4429 as final: close another socket first). */
export const TOO_MANY_SOCKETS_CLOSE = 4429;
// setTimeout's longest delay; a longer wait (TOKEN_MAX_LIFETIME_HOURS allows 31 days) is taken in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A refusal under the code HTTP (Apollo) gives it: the error masking in onError lets it through as it is. */
const refusal = (error: GraphQLError, code: string, message = error.message) =>
  new GraphQLError(message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { ...error.extensions, code } });

export function startSubscriptions(options: SubscriptionServerOptions): SubscriptionServer {
  const { schema, config, authenticate, rateLimit, trusted, contextFor, formatError } = options;
  const wsServer = new WebSocketServer({ server: options.httpServer, path: '/graphql', maxPayload: 64 * 1024 });
  const production = config.NODE_ENV === 'production';
  // HTTP turns introspection off in production through Apollo's `introspection: false`; the same here.
  const rules = [...specifiedRules, ...options.rules, ...(production ? [NoSchemaIntrospectionCustomRule] : [])];
  /** Closes the socket once its token has expired; true when it did. */
  const closeIfExpired = (socket: WebSocket, principal: Principal) => {
    if (Date.now() < principal.expiresAt) return false;
    socket.close(TOKEN_EXPIRED_CLOSE, 'token expired');
    return true;
  };
  // Sockets each client holds open on this gateway: the subscriptions of one socket are bounded,
  // so a client opening socket after socket (each paid for by nothing but its token) is bounded here.
  const openSockets = new Map<string, number>();
  const cleanup = useServer<Record<string, unknown>, Extra>({
    // Refusing a token closes the socket with 4403 (graphql-ws); the reason is not echoed.
    async onConnect(ctx) {
      const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
      let principal: Principal;
      try {
        principal = await authenticate(typeof authorization === 'string' ? authorization : undefined);
      } catch {
        return false;
      }
      ctx.extra.principal = principal;
      const { socket } = ctx.extra;
      // Closed while the token was checked: no 'close' event is left to give its place back.
      if (socket.readyState !== socket.OPEN) return false;
      const open = openSockets.get(principal.subject) ?? 0;
      if (open >= config.SOCKETS_PER_CLIENT) {
        socket.close(TOO_MANY_SOCKETS_CLOSE, `at most ${config.SOCKETS_PER_CLIENT} sockets per client at once (SOCKETS_PER_CLIENT)`);
        return false;
      }
      openSockets.set(principal.subject, open + 1);
      socket.once('close', () => {
        const left = openSockets.get(principal.subject)! - 1;
        if (left === 0) openSockets.delete(principal.subject);
        else openSockets.set(principal.subject, left);
      });
      let timer: NodeJS.Timeout;
      const closeAtExpiry = () => {
        if (!closeIfExpired(socket, principal)) timer = setTimeout(closeAtExpiry, Math.min(principal.expiresAt - Date.now(), MAX_TIMER_MS));
      };
      closeAtExpiry();
      socket.once('close', () => clearTimeout(timer));
      return true;
    },
    async onSubscribe(ctx, _id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> {
      const principal = ctx.extra.principal!;
      // The timer closes the socket at expiry; a message already on its way is refused here.
      if (closeIfExpired(ctx.extra.socket, principal)) return [new GraphQLError('the token has expired', { extensions: { code: 'UNAUTHENTICATED' } })];
      // graphql-ws holds each operation of the socket, this one included, until it completes (either
      // side), fails, or the socket closes. Counted before the rate limit: a refusal here costs nothing.
      if (Object.keys(ctx.subscriptions).length > config.SUBSCRIPTIONS_PER_SOCKET) {
        return [new GraphQLError(
          `at most ${config.SUBSCRIPTIONS_PER_SOCKET} subscriptions at once on one socket (SUBSCRIPTIONS_PER_SOCKET); complete one before starting another`,
          { extensions: { code: 'RATE_LIMITED', limit: 'SUBSCRIPTIONS_PER_SOCKET' } },
        )];
      }
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
        return [refusal(error as GraphQLError, 'GRAPHQL_PARSE_FAILED')];
      }
      const errors = validate(schema, document, rules);
      if (errors.length) return errors.map((e) => refusal(e, 'GRAPHQL_VALIDATION_FAILED', production ? e.message.replace(/ Did you mean .*$/, '') : e.message));
      if (getOperationAST(document, payload.operationName)?.operation !== 'subscription') {
        return [new GraphQLError('this socket serves subscriptions only: send queries and mutations over HTTP (POST /graphql)', { extensions: { code: 'BAD_REQUEST' } })];
      }
      const variables = payload.variables ?? {};
      const tooMany = requestedObjectsError(schema, document, payload.operationName, variables, config.GRAPHQL_MAX_NODES);
      if (tooMany) return [tooMany];
      return { schema, document, variableValues: variables, operationName: payload.operationName, contextValue: contextFor(principal) };
    },
    onNext(ctx, _id, _payload, _args, result) {
      // An event after expiry is not sent: the socket is closing, and graphql-ws sends nothing on it.
      closeIfExpired(ctx.extra.socket, ctx.extra.principal!);
      if (result.errors) return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) };
    },
    // Refusals above, and what failed while running (an event that could not be read again: a statement
    // cancelled, the pool exhausted), which graphql-ws would otherwise send as its raw message, unlogged.
    onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatError(e.toJSON(), e)),
  }, wsServer);
  return {
    async close() {
      await cleanup.dispose();
    },
  };
}
