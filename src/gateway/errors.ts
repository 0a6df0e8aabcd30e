import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError } from '../kernel/errors.ts';

/**
 * Errors as the API shows them. Domain code throws the kernel's `DomainError`; this is the one place
 * it becomes what a caller reads: its message and a stable `extensions.code` (with `field` and
 * `reason` for bad input, `field` for a conflict that names one).
 */

/** The DomainError a resolver threw, when it was one (graphql-js wraps it with the path). */
export function domainErrorOf(error: unknown): DomainError | null {
  const original = error instanceof GraphQLError ? error.originalError : error;
  return original instanceof DomainError ? original : null;
}

export function formatDomainError(error: DomainError, formatted: GraphQLFormattedError): GraphQLFormattedError {
  const extensions: Record<string, unknown> = { code: error.code };
  if (error.field !== null) extensions.field = error.field;
  if (error.reason !== null) extensions.reason = error.reason;
  return { message: error.message, locations: formatted.locations, path: formatted.path, extensions };
}

/** No or a bad token: said before any resolver runs (transport, not domain). */
export const unauthenticated = (message = 'a valid bearer token is required') =>
  new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED' } });

/** The `extensions.code` a caller will read for this error (metrics count errors by it). */
export function errorCodeOf(error: GraphQLError): string {
  const code = domainErrorOf(error)?.code ?? error.extensions?.code;
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}
