import { randomUUID } from 'node:crypto';
import http from 'node:http';
import express from 'express';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import type { ApolloGateway } from '@apollo/gateway';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { createAuthenticator } from './auth.ts';
import type { Principal } from './auth.ts';
import type { Context, Services } from './context.ts';
import { scopeOf } from './context.ts';
import { uploadRules } from './resolvers.ts';
import { createMemberLoaders } from '../members/loaders.ts';
import { lazyLoaders } from './loaders.ts';
import { createSettlementLoaders } from '../settlements/loaders.ts';
import { createBenefitLoaders } from '../benefits/loaders.ts';
import { RuleSetCache } from '../benefits/catalogue.ts';
import { createPayoutLoaders } from '../payouts/loaders.ts';
import { createReconciliationLoaders } from '../reconciliation/loaders.ts';
import { createStatusFeed, publishStatusChanges } from '../events/statusEvents.ts';
import { bodyErrors, createRateLimiter, jsonBody, limitRules, objectLimitPlugin, operationTimeout, sendGraphQLError } from './limits.ts';
import { loadTrustedDocuments, trustedDocumentsMiddleware } from './trustedDocuments.ts';
import { createMetrics, metricsAccess, type HubMetrics } from './metrics.ts';
import { healthz, readyz } from './health.ts';
import { graphiql, GRAPHIQL_PATH } from './graphiql.ts';
import { queueDashboard, QUEUE_DASHBOARD_PATH } from './queueDashboard.ts';
import { dashboard, DASHBOARD_DOCUMENTS, DASHBOARD_PATH } from './dashboard.ts';
import { startSubscriptions } from './subscriptions.ts';
import { fileRoutes } from './files.ts';
import { keepableOperations, responseCachePlugins, stringifyResult } from './responseCache.ts';
import { compiledExecution } from './execution.ts';
import { createRosterEpoch } from '../members/rosterEpoch.ts';
import { loggableOperation, requestInfo, requestLog, type RequestInfo } from './requestLog.ts';
import { domainErrorOf, errorCodeOf, formatDomainError } from './errors.ts';
import { type Scope, UNSCOPED } from '../kernel/scope.ts';
import type { Reads } from '../kernel/transaction.ts';
import { pipelinedPool } from '../db/pool.ts';
import { readsTogether } from '../db/reads.ts';
import { hubComposition } from './federation/compose.ts';
import { hubSchema, noServiceSdl, subgraphSchema } from './federation/schema.ts';

/** What a request's loaders are made of: its reads and the caller's scope. */
type LoaderBasis = { reads: Reads; scope: Scope };

/**
 * The SDL clients see: the API schema composed from the subgraphs (schema/*.graphql, see
 * src/gateway/federation), with its `@cacheControl` hints.
 */
export function loadTypeDefs(): string {
  return hubComposition().apiSdl;
}

const KNOWN_CODES = new Set([
  'BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE',
  'RATE_LIMITED',
]);

export interface Gateway {
  app: express.Express;
  httpServer: http.Server;
  metrics: HubMetrics;
  /** Starts listening; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** Graceful: readiness turns false, subscriptions close, in-flight requests finish, then the server closes. */
  stop(): Promise<void>;
}

export interface GatewayOptions {
  /** The process's metrics, when the workers run in the same process (`hub demo`). */
  metrics?: HubMetrics;
  /** Serve one subgraph (`hub serve --subgraph NAME`, with `_entities`) instead of the whole API. */
  subgraph?: string;
  /**
   * Gateway mode (`hub serve --gateway`): each operation is planned by @apollo/gateway over remote
   * subgraphs (federation/remote.ts) instead of executed here. No subscriptions, no response cache:
   * the subgraphs keep theirs.
   */
  remote?: ApolloGateway;
}

export async function createGateway(services: Services, config: Config, log: Logger, options: GatewayOptions = {}): Promise<Gateway> {
  const production = config.NODE_ENV === 'production';
  const app = express();
  app.disable('x-powered-by');
  // No ETag: answers are POSTed, carry personal data and must not be cached by clients; hashing
  // each response body for one cost a kept 50-member page ~3% of its time.
  app.disable('etag');
  const httpServer = http.createServer(app);
  const authenticate = await createAuthenticator(config, services.db);
  const buildSchema = () => (options.subgraph ? subgraphSchema(options.subgraph) : hubSchema());
  const schema = options.remote ? null : buildSchema();
  const responseCacheBytes = schema ? config.RESPONSE_CACHE_MB * 2 ** 20 : 0;
  const rules = [...limitRules(config), ...(options.subgraph && production ? [noServiceSdl] : [])];
  const trusted = loadTrustedDocuments(config.TRUSTED_DOCUMENTS, production, DASHBOARD_DOCUMENTS);
  const rateLimit = createRateLimiter(config, services.redis);
  const metrics = options.metrics ?? createMetrics();
  const queues = Object.values(services.queues);
  metrics.watchQueues(queues);
  metrics.watchOperations(services.db, config);
  const statusFeed = createStatusFeed(services.redis, config.QUEUE_PREFIX);
  let draining = false;

  // Rule sets are parsed once per gateway (and the shipped ones stored once), not per request.
  const ruleSets = new RuleSetCache();
  // Each request's reads go out together on one of these connections (src/db/reads.ts).
  const pipelined = pipelinedPool(services.db);
  const loadersFor = lazyLoaders<LoaderBasis, Context['loaders']>([
    ({ reads, scope }) => createMemberLoaders(reads, scope), ({ reads, scope }) => createSettlementLoaders(reads, scope),
    ({ reads, scope }) => createBenefitLoaders(reads, scope, ruleSets), ({ reads, scope }) => createPayoutLoaders(reads, scope),
    ({ reads }) => createReconciliationLoaders(reads),
  ], { reads: services.db, scope: UNSCOPED });
  const contextFor = (principal: Principal): Context => {
    const basis = { reads: readsTogether(pipelined), scope: scopeOf(principal) };
    const newLoaders = () => loadersFor(basis);
    return {
      ...services, reads: basis.reads, config, principal, loaders: newLoaders(), newLoaders, statusFeed,
      publishStatusChanges: (changes) => publishStatusChanges(services.redis, config.QUEUE_PREFIX, changes),
    };
  };

  // Unexpected errors are logged in full (with the request id, by `requestLogPlugin`) and shown only
  // as an internal error with a reference.
  const references = new WeakMap<object, string>();
  const unexpected = (error: GraphQLError) => !KNOWN_CODES.has(errorCodeOf(error));
  const logUnexpected = (error: GraphQLError, requestId?: string) => {
    const reference = randomUUID();
    references.set(error, reference);
    log.error({ err: error.originalError ?? error, reference, requestId }, 'internal error in a GraphQL operation');
    return reference;
  };
  const formatError = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    // Gateway mode: a subgraph's error names the subgraph; clients are not shown the topology.
    if (formatted.extensions?.serviceName !== undefined) {
      const { serviceName: _, ...extensions } = formatted.extensions;
      formatted = { ...formatted, extensions };
    }
    const domainError = domainErrorOf(error);
    if (domainError) return formatDomainError(domainError, formatted);
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && KNOWN_CODES.has(code)) return formatted;
    const reference = references.get(error as object) ?? logUnexpected(error as GraphQLError);
    return { message: `internal error (reference ${reference})`, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR', reference } };
  };
  // The request each context serves, for its log line (operation, role) and error logs (request id).
  // Keyed by the principal, which is new per request: Apollo hands plugins a shallow copy of the context.
  const requests = new WeakMap<Principal, RequestInfo>();
  const requestLogPlugin: ApolloServerPlugin<Context> = {
    async requestDidStart({ contextValue }) {
      const info = requests.get(contextValue.principal);
      return {
        async didResolveOperation({ operationName }) {
          if (info) info.operation = loggableOperation(operationName);
        },
        async didEncounterErrors({ errors }) {
          for (const error of errors) if (unexpected(error)) logUnexpected(error, info?.requestId);
        },
      };
    },
  };

  const subscriptions = schema ? startSubscriptions({ httpServer, schema, rules, config, authenticate, rateLimit, trusted, contextFor, formatError }) : null;

  const apollo = new ApolloServer<Context>({
    // Queries compiled by graphql-jit (execution.ts); answers the response cache may keep are executed by graphql-js, under its cache hints.
    ...(!schema ? { gateway: options.remote! } : config.GRAPHQL_COMPILED_DOCUMENTS === 0 ? { schema } : {
      gateway: compiledExecution({
        schema, compiledSchema: buildSchema(), maxDocuments: config.GRAPHQL_COMPILED_DOCUMENTS, interpreted: responseCacheBytes ? keepableOperations(schema) : undefined,
      }),
    }),
    validationRules: rules,
    parseOptions: { maxTokens: config.GRAPHQL_MAX_TOKENS },
    introspection: !production,
    // Production shows no "Did you mean …" field suggestions.
    hideSchemaDetailsFromClientErrors: production,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // Automatic persisted queries would let any client register documents: trusted documents replace them.
    persistedQueries: false,
    includeStacktraceInErrorResponses: false,
    // The process's own signal handling (closeOnSignal in jobs/serve.ts, the demo) stops the gateway with
    // everything else; Apollo's would stop only itself and then kill the process before the rest closed.
    stopOnTerminationSignals: false,
    // Compact JSON (Apollo indents by default): a 50-member page is a third smaller and quicker to write.
    stringifyResult,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Apollo's own landing page loads from a CDN; the explorer is GraphiQL at /graphiql.
      ApolloServerPluginLandingPageDisabled(),
      ...responseCachePlugins(createRosterEpoch(services.db), responseCacheBytes),
      objectLimitPlugin(config.GRAPHQL_MAX_NODES),
      metrics.apolloPlugin(),
      requestLogPlugin,
    ],
    formatError,
  });
  await apollo.start();

  const timeout = operationTimeout(config.GRAPHQL_TIMEOUT_MS);
  const body = jsonBody(config, uploadRules);
  // The token (and the rate limit) are checked before any byte of the body is read: an
  // unauthenticated client gets its 401 without the gateway reading, let alone parsing, its body.
  const authenticateFirst: express.RequestHandler = async (req, res, next) => {
    try {
      const principal = await authenticate(req.headers.authorization);
      requestInfo(res).role = principal.role;
      await rateLimit?.(principal.subject);
      res.locals.principal = principal;
      next();
    } catch (error) {
      // Whatever body follows is not read: the connection closes after the answer rather than drain it.
      if (!req.complete) res.setHeader('connection', 'close');
      if (!(error instanceof GraphQLError)) {
        const reference = logUnexpected(error as GraphQLError, requestInfo(res).requestId);
        sendGraphQLError(res, 500, `internal error (reference ${reference})`, { code: 'INTERNAL_SERVER_ERROR', reference });
        return;
      }
      const { http: head, ...extensions } = error.extensions as { http?: { status?: number; headers?: Map<string, string> } };
      for (const [name, value] of head?.headers ?? []) res.setHeader(name, value);
      sendGraphQLError(res, head?.status ?? 401, error.message, extensions);
    }
  };
  app.use(requestLog(log));
  app.get('/healthz', healthz);
  app.get('/readyz', readyz({ db: services.db, redis: services.redis, queues, draining: () => draining, config, log }));
  app.get('/metrics', metricsAccess(config), metrics.handler);
  app.use('/files', fileRoutes(services, config, log));
  if (!production) app.use(GRAPHIQL_PATH, graphiql());
  // The staff dashboard holds no data (it reads /graphql with the caller's token): served in production too.
  app.use(DASHBOARD_PATH, dashboard());
  app.use(QUEUE_DASHBOARD_PATH, queueDashboard(queues, authenticate, production));
  app.use(
    '/graphql',
    timeout.start,
    authenticateFirst,
    body.parse,
    (req: express.Request, _res: express.Response, next: express.NextFunction) => {
      // A body of another content type stays unparsed: Apollo then answers it (400/415), not the integration (500).
      req.body ??= undefined;
      next();
    },
    ...(trusted ? [trustedDocumentsMiddleware(trusted)] : []),
    body.onlyUploadsAreLarge,
    expressMiddleware(apollo, {
      context: async ({ res }) => {
        const principal = res.locals.principal as Principal;
        requests.set(principal, requestInfo(res));
        return contextFor(principal);
      },
    }),
    timeout.afterwards,
    bodyErrors,
  );

  return {
    app,
    httpServer,
    metrics,
    listen: (port, host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => resolve((httpServer.address() as { port: number }).port));
      }),
    async stop() {
      draining = true;
      await subscriptions?.close();
      await apollo.stop();
      await statusFeed.close();
      await pipelined.end();
    },
  };
}
