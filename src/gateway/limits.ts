import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError, GraphQLID, Kind, getNamedType, getNullableType, getOperationAST, isInputObjectType, isInterfaceType, isListType, isObjectType, parse, valueFromAST,
  type ArgumentNode, type DocumentNode, type FragmentDefinitionNode, type GraphQLField, type ValidationContext, type GraphQLNamedType, type GraphQLSchema, type SelectionSetNode, type ValidationRule,
} from 'graphql';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import express from 'express';
import type { Config } from '../config.ts';
import type { Principal } from './auth.ts';
import { DEFAULT_PAGE_SIZE } from './connection.ts';

/**
 * Abuse limits of the gateway, each configurable (src/config.ts) and each refused with an error
 * naming the limit: tokens (parser), depth, cost, aliases and directives (validation rules, shared by
 * HTTP and WebSocket), objects per request (after variables are known), body size, time per
 * operation and requests per client.
 *
 * Bodies: the token is checked before any byte of the body is read (server.ts). A body is then read
 * up to GRAPHQL_MAX_BODY_BYTES, or up to GRAPHQL_MAX_UPLOAD_BYTES when an upload operation would
 * accept the caller (uploadRules); a body over GRAPHQL_MAX_BODY_BYTES must be such operations only.
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

/** IDs one list may hold (`nodes(ids:)`, `approveClaims(input: { claimIds })`, a subgraph's `_entities(representations:)`), as `first` may ask for at most 100 (connection.ts). */
export const MAX_IDS = 100;

/**
 * Objects an operation may ask for: each connection field counts `first` or `last` (the default
 * page size when neither is given) times the connections around it, so `members(first: 100) { claims(first: 100) }` asks for
 * 10,100; a list of IDs (`nodes(ids:)`, `approveClaims(input: { claimIds })`, `_entities(representations:)`)
 * counts its length the same way. Refused (as a GraphQLError naming the limit) over GRAPHQL_MAX_NODES, or when a list of
 * IDs is longer than MAX_IDS.
 */
export function requestedObjectsError(
  schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>, max: number,
): GraphQLError | null {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName));
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return null;
  let tooManyIds: { field: string; count: number } | undefined;

  // How many objects a field multiplies what it contains by: its page size or its number of IDs.
  const fanOut = (field: GraphQLField<unknown, unknown>, args: readonly ArgumentNode[] | undefined, name: string): number | null => {
    const sizes = field.args.filter((a) => a.name === 'first' || a.name === 'last');
    if (sizes.length) {
      // A page backward is as large as one forward: `last` counts like `first` (the larger when both are given).
      const asked = sizes.map((size) => {
        const given = args?.find((a) => a.name.value === size.name);
        const value = given ? valueFromAST(given.value, size.type, variables) : size.defaultValue;
        return typeof value === 'number' ? value : 0;
      });
      return Math.max(...asked) || DEFAULT_PAGE_SIZE;
    }
    const ids = idList(field, args, variables);
    if (!ids) return null;
    const count = Array.isArray(ids.value) ? ids.value.length : 1;
    if (count > MAX_IDS) tooManyIds ??= { field: `${name}(${ids.argument})`, count };
    return count;
  };
  const walk = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined, multiplier: number): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const field = fieldOf(parent, selection.name.value);
        if (!field) continue;
        let inner = multiplier;
        const factor = fanOut(field, selection.arguments, selection.name.value);
        if (factor !== null) {
          inner = multiplier * factor;
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
  const asked = walk(operation.selectionSet, root ?? undefined, 1);
  const refuse = (message: string) => new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_NODES', http: { status: 400 } } });
  if (tooManyIds) return refuse(`${tooManyIds.field} lists ${tooManyIds.count} IDs; at most ${MAX_IDS} per request field`);
  if (asked > max) return refuse(`the operation asks for up to ${asked} objects (connection pages and ID lists multiplied along their nesting); the limit is ${max} (GRAPHQL_MAX_NODES)`);
  return null;
}

/**
 * A field's list of IDs, as given: its `ids` argument (`nodes(ids:)`), a subgraph's `representations`
 * (`_entities`: each names one object by its ID), or a list of IDs named `ids` or `…Ids` in its
 * `input` (`approveClaims(input: { claimIds })`). Null when it has none.
 */
function idList(field: GraphQLField<unknown, unknown>, args: readonly ArgumentNode[] | undefined, variables: Record<string, unknown>): { argument: string; value: unknown } | null {
  const ids = field.args.find((a) => (a.name === 'ids' || a.name === 'representations') && isListType(getNullableType(a.type)));
  const givenIds = ids && args?.find((a) => a.name.value === ids.name);
  if (ids && givenIds) return { argument: `${ids.name}:`, value: valueFromAST(givenIds.value, ids.type, variables) };
  const input = field.args.find((a) => a.name === 'input');
  const inputType = input && getNullableType(input.type);
  const givenInput = args?.find((a) => a.name.value === 'input');
  if (!input || !isInputObjectType(inputType) || !givenInput) return null;
  const list = Object.values(inputType.getFields())
    .find((f) => /^ids$|Ids$/.test(f.name) && isListType(getNullableType(f.type)) && getNamedType(f.type) === GraphQLID);
  if (!list) return null;
  const value = valueFromAST(givenInput.value, input.type, variables) as Record<string, unknown> | undefined;
  return { argument: `input.${list.name}`, value: value?.[list.name] };
}

const fieldOf = (parent: GraphQLNamedType | undefined, name: string) =>
  parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;

/** The object limit, checked once variables are known. */
export function objectLimitPlugin<C extends object>(max: number): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operationName, request }) {
          const error = requestedObjectsError(schema, document, operationName, request.variables ?? {}, max);
          if (error) throw error;
        },
      };
    },
  };
}

/**
 * Mutations that carry a file (schema: ImportRosterInput.csv or .contentBase64, UploadSettlementsInput.content,
 * UploadBankStatementInput.content), each with whether a caller may call it (its resolver's rule).
 */
export type UploadRules = Readonly<Record<'importRoster' | 'uploadSettlements' | 'uploadBankStatement', (principal: Principal) => boolean>>;

/**
 * The JSON body of an authenticated request (`res.locals.principal`), bounded by what the caller may
 * call: GRAPHQL_MAX_UPLOAD_BYTES when an upload operation would accept it (`uploadRules`),
 * GRAPHQL_MAX_BODY_BYTES otherwise. A body over GRAPHQL_MAX_BODY_BYTES is then let through only when
 * its operation is made of uploads the caller may call (413 otherwise): `onlyUploadsAreLarge` runs
 * once trusted documents have put the document's text in the body.
 */
export function jsonBody(config: Config, uploadRules: UploadRules): { parse: express.RequestHandler; onlyUploadsAreLarge: express.RequestHandler } {
  const operations = Object.keys(uploadRules);
  const small = express.json({ limit: config.GRAPHQL_MAX_BODY_BYTES });
  const large = express.json({
    limit: Math.max(config.GRAPHQL_MAX_UPLOAD_BYTES, config.GRAPHQL_MAX_BODY_BYTES),
    verify: (_req, res, buffer) => {
      (res as express.Response).locals.bodyBytes = buffer.length;
    },
  });
  const parseBody: express.RequestHandler = (req, res, next) => {
    const principal = res.locals.principal as Principal;
    const mayUpload = Object.values(uploadRules).some((mayCall) => mayCall(principal));
    res.locals.bodyLimit = mayUpload ? 'GRAPHQL_MAX_UPLOAD_BYTES' : 'GRAPHQL_MAX_BODY_BYTES';
    (mayUpload ? large : small)(req, res, next);
  };
  const onlyUploadsAreLarge: express.RequestHandler = (req, res, next) => {
    const bytes = res.locals.bodyBytes as number | undefined;
    const principal = res.locals.principal as Principal;
    const mayCall = (field: string) => Object.hasOwn(uploadRules, field) && uploadRules[field as keyof UploadRules](principal);
    if (bytes === undefined || bytes <= config.GRAPHQL_MAX_BODY_BYTES || isUpload(req.body, config.GRAPHQL_MAX_TOKENS, mayCall)) return next();
    sendGraphQLError(res, 413,
      `the request body is larger than ${config.GRAPHQL_MAX_BODY_BYTES} bytes (GRAPHQL_MAX_BODY_BYTES); only ${operations.join(', ')}, by a caller they accept, may send up to ${config.GRAPHQL_MAX_UPLOAD_BYTES} bytes (GRAPHQL_MAX_UPLOAD_BYTES)`,
      { code: 'PAYLOAD_TOO_LARGE', limit: 'GRAPHQL_MAX_BODY_BYTES' });
  };
  return { parse: parseBody, onlyUploadsAreLarge };
}

/** Whether a request body's operation is a mutation of upload fields the caller may call only (parsed once more: large bodies are rare). */
function isUpload(body: { query?: unknown; operationName?: unknown } | undefined, maxTokens: number, mayCall: (field: string) => boolean): boolean {
  if (typeof body?.query !== 'string') return false;
  let document: DocumentNode;
  try {
    document = parse(body.query, { maxTokens });
  } catch {
    return false;
  }
  const operation = getOperationAST(document, typeof body.operationName === 'string' ? body.operationName : undefined);
  return operation?.operation === 'mutation'
    && operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && mayCall(s.name.value));
}

/** A GraphQL-shaped error response for refusals made outside Apollo (body size, timeout). */
export function sendGraphQLError(res: express.Response, status: number, message: string, extensions: Record<string, unknown>): void {
  res.status(status).json({ errors: [{ message, extensions }] });
}

/** Body-parser failures (too large, not JSON) as GraphQL errors rather than an HTML page. */
export const bodyErrors: express.ErrorRequestHandler = (error: { type?: string; status?: number; limit?: number }, _req, res, next) => {
  if (error.type === 'entity.too.large') {
    const setting = (res.locals.bodyLimit as string | undefined) ?? 'GRAPHQL_MAX_BODY_BYTES';
    sendGraphQLError(res, 413, `the request body is larger than ${error.limit} bytes (${setting})`, { code: 'PAYLOAD_TOO_LARGE', limit: setting });
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
