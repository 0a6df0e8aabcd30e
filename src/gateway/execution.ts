import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { execute, getVariableValues, GraphQLError, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { LRUCache } from 'lru-cache';

type ApolloGatewayInterface = ApolloServerOptionsWithGateway<object>['gateway'];
type Executor = NonNullable<Awaited<ReturnType<ApolloGatewayInterface['load']>>['executor']>;

export interface CompiledExecutionOptions {
  /** The schema Apollo validates against and graphql-js executes (Apollo may instrument its resolvers). */
  schema: GraphQLSchema;
  /** Another instance of the same schema, never instrumented: graphql-jit reads each field's resolver once, when compiling. */
  compiledSchema: GraphQLSchema;
  /** Distinct documents (and operations) kept compiled. */
  maxDocuments: number;
  /** Queries graphql-js executes anyway: those whose fields Apollo's plugins must see resolve (the response cache's cache hints). */
  interpreted?: (operation: OperationDefinitionNode) => boolean;
}

/**
 * Queries executed by graphql-jit instead of graphql-js, through Apollo Server's executor interface
 * (`gateway`): a 50-member page is ~1,100 fields, and graphql-js resolves each through its generic
 * machinery (a path, an info object and a completion per field), most of the time of an executed
 * page after SQL. graphql-jit turns each document into a function once; it is kept per document and
 * operation (Apollo's hash of the document), never per caller: the function holds no data, and every
 * execution gets its caller's context, so scope, role and masking are the resolvers' as before.
 * Everything before execution is Apollo's and unchanged (parsing, validation with the limit rules,
 * plugins). graphql-js still executes what graphql-jit would answer differently or Apollo's plugins
 * must see field by field: mutations (serial, rare), any variables graphql-js refuses (its errors are
 * the API's), documents graphql-jit cannot compile, and `interpreted` queries.
 */
export function compiledExecution(options: CompiledExecutionOptions): ApolloGatewayInterface {
  const { schema, compiledSchema, interpreted = () => false } = options;
  // A document graphql-jit cannot compile is kept as `false`: it is not tried again.
  const compiled = new LRUCache<string, CompiledQuery | false>({ max: options.maxDocuments });

  const executor: Executor = async (request) => {
    const { document, operation, operationName, context } = request;
    const variables = request.request.variables ?? {};
    const interpret = () => execute({ schema, document, contextValue: context, variableValues: variables, operationName }) as Promise<ExecutionResult>;
    if (operation.operation !== 'query' || interpreted(operation)) return interpret();
    const key = `${request.queryHash}:${operationName ?? ''}`;
    let query = compiled.get(key);
    if (query === undefined) {
      const result = compileQuery(compiledSchema, document, operationName ?? undefined);
      query = isCompiledQuery(result) && result;
      compiled.set(key, query);
    }
    if (!query) return interpret();
    if (operation.variableDefinitions?.length && getVariableValues(schema, operation.variableDefinitions, variables).errors) return interpret();
    const result = await query.query(undefined, context, variables);
    return result.errors ? { ...result, errors: result.errors.map(asGraphQLError) } : result;
  };

  return {
    async load() {
      return { executor };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => {};
    },
    async stop() {},
  };
}

/**
 * graphql-jit's error as graphql-js makes it: Apollo and `formatError` read `extensions` (graphql-jit
 * leaves it undefined when the thrown error has none) and `originalError` (a DomainError's code).
 */
function asGraphQLError(error: GraphQLError): GraphQLError {
  const { message, locations, path, originalError, extensions } = error;
  return Object.assign(new GraphQLError(message, { path, originalError, extensions }), { locations });
}
