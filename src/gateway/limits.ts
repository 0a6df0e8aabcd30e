import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError, Kind, getNamedType, isInterfaceType, isObjectType, valueFromAST,
  type DocumentNode, type FragmentDefinitionNode, type ValidationContext, type GraphQLNamedType, type GraphQLSchema, type SelectionSetNode, type ValidationRule,
} from 'graphql';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type express from 'express';
import type { Config } from '../config.ts';
import { DEFAULT_PAGE_SIZE } from './connection.ts';

/**
 * Abuse limits of the gateway, each configurable (src/config.ts) and each refused with an error
 * naming the limit: tokens (parser), depth, cost, aliases and directives (validation rules, shared by
 * HTTP and WebSocket), objects per request (after variables are known), body size, time per
 * operation and requests per client.
 */

/** Validation rules of graphql-armor; the token limit is the parser's own (`parseOptions.maxTokens`). */
export function limitRules(config: Config): ValidationRule[] {
  // Armor words its refusals as "Syntax Error: …"; ours name the setting that bounds them.
  const refuse = (setting: string) => ({
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(
      new GraphQLError(`${error.message.replace(/^Syntax Error: /, '')} (${setting})`, { extensions: { limit: setting } }),
    )],
  });
  const { validationRules } = new ApolloArmor({
    maxDepth: { n: config.GRAPHQL_MAX_DEPTH, ...refuse('GRAPHQL_MAX_DEPTH') },
    costLimit: { maxCost: config.GRAPHQL_MAX_COST, ...refuse('GRAPHQL_MAX_COST') },
    maxAliases: { n: config.GRAPHQL_MAX_ALIASES, ...refuse('GRAPHQL_MAX_ALIASES') },
    maxDirectives: { n: config.GRAPHQL_MAX_DIRECTIVES, ...refuse('GRAPHQL_MAX_DIRECTIVES') },
    maxTokens: { enabled: false },
    // Suggestions are hidden in production by Apollo's hideSchemaDetailsFromClientErrors (and in subscriptions).
    blockFieldSuggestion: { enabled: false },
  }).protect();
  return validationRules as ValidationRule[];
}

/**
 * Objects an operation may ask for: each connection field counts `first` (its default when left
 * out) times the connections around it, so `members(first: 100) { claims(first: 100) }` asks for
 * 10,100. The per-field bound (1–100) stays with the connection code (connection.ts).
 */
export function requestedObjects(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName));
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return 0;

  const walk = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined, multiplier: number): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const field = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[selection.name.value] : undefined;
        if (!field) continue;
        let inner = multiplier;
        const first = field.args.find((a) => a.name === 'first');
        if (first) {
          const given = selection.arguments?.find((a) => a.name.value === 'first');
          const value = given ? valueFromAST(given.value, first.type, variables) : first.defaultValue;
          inner = multiplier * (typeof value === 'number' ? value : DEFAULT_PAGE_SIZE);
          total += inner;
        }
        if (selection.selectionSet) total += walk(selection.selectionSet, getNamedType(field.type), inner);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += walk(selection.selectionSet, selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent, multiplier);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment) total += walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), multiplier);
      }
    }
    return total;
  };
  const root = operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  return walk(operation.selectionSet, root ?? undefined, 1);
}

export function objectLimitError(max: number, asked: number): GraphQLError {
  return new GraphQLError(
    `the operation asks for up to ${asked} objects (connection pages multiplied along their nesting); the limit is ${max} (GRAPHQL_MAX_NODES)`,
    { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_NODES', http: { status: 400 } } },
  );
}

/** The object limit, checked once variables are known. */
export function objectLimitPlugin<C extends object>(max: number): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operationName, request }) {
          const asked = requestedObjects(schema, document, operationName, request.variables ?? {});
          if (asked > max) throw objectLimitError(max, asked);
        },
      };
    },
  };
}

/** A GraphQL-shaped error response for refusals made outside Apollo (body size, timeout). */
export function sendGraphQLError(res: express.Response, status: number, message: string, extensions: Record<string, unknown>): void {
  res.status(status).json({ errors: [{ message, extensions }] });
}

/** Body-parser failures (too large, not JSON) as GraphQL errors rather than an HTML page. */
export const bodyErrors: express.ErrorRequestHandler = (error: { type?: string; status?: number; limit?: number }, _req, res, next) => {
  if (error.type === 'entity.too.large') {
    sendGraphQLError(res, 413, `the request body is larger than ${error.limit} bytes (GRAPHQL_MAX_BODY_BYTES)`, { code: 'PAYLOAD_TOO_LARGE', limit: 'GRAPHQL_MAX_BODY_BYTES' });
  } else if (error.type === 'entity.parse.failed') {
    sendGraphQLError(res, 400, 'the request body is not valid JSON', { code: 'BAD_REQUEST' });
  } else {
    next(error);
  }
};

/**
 * Answers OPERATION_TIMEOUT when an operation is still running after `ms`. The work still running
 * ends on its own (its SQL is bounded by the pool); what Apollo writes afterwards is dropped.
 */
export function operationTimeout(ms: number): { start: express.RequestHandler; afterwards: express.ErrorRequestHandler } {
  return {
    start(_req, res, next) {
      const timer = setTimeout(() => {
        if (res.headersSent) return;
        res.locals.timedOut = true;
        res.setHeader('retry-after', '1');
        sendGraphQLError(res, 503, `the operation did not finish within ${ms} ms (GRAPHQL_TIMEOUT_MS)`, { code: 'OPERATION_TIMEOUT', limit: 'GRAPHQL_TIMEOUT_MS' });
      }, ms);
      res.on('close', () => clearTimeout(timer));
      next();
    },
    afterwards(error, _req, res, next) {
      // Apollo finishing after the timeout answered cannot write its response: nothing to report.
      if (res.locals.timedOut) return;
      next(error);
    },
  };
}

/**
 * Requests per client (token subject) per window, counted in Redis so the limit holds across
 * gateway instances; while Redis is unreachable each instance counts in memory instead.
 */
export function createRateLimiter(config: Config, redis: Redis): ((client: string) => Promise<void>) | null {
  if (config.RATE_LIMIT_POINTS === 0) return null;
  const options = { points: config.RATE_LIMIT_POINTS, duration: config.RATE_LIMIT_WINDOW_SECONDS };
  const limiter = new RateLimiterRedis({
    ...options, storeClient: redis, keyPrefix: `${config.QUEUE_PREFIX}:rate-limit`, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(options),
  });
  return async (client) => {
    try {
      await limiter.consume(client);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new GraphQLError(
        `rate limit: at most ${options.points} requests per ${options.duration} s for this client (RATE_LIMIT_POINTS); retry in ${retryAfter} s`,
        { extensions: { code: 'RATE_LIMITED', retryAfterSeconds: retryAfter, http: { status: 429, headers: new Map([['retry-after', String(retryAfter)]]) } } },
      );
    }
  };
}
