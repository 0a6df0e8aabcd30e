import { GraphQLError } from 'graphql';

/** Errors the API shows to callers, each with a stable `extensions.code`. */

/** Bad input: names the field (path in the input, e.g. `input.idNumber`) and the reason. */
export class FieldError extends GraphQLError {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`, { extensions: { code: 'BAD_USER_INPUT', field, reason } });
  }
}

export const unauthenticated = (message = 'a valid bearer token is required') =>
  new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED' } });

export const forbidden = (message: string) => new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });

export const notFound = (what: string) => new GraphQLError(`${what} not found`, { extensions: { code: 'NOT_FOUND' } });

export const conflict = (message: string, field?: string) =>
  new GraphQLError(message, { extensions: { code: 'CONFLICT', ...(field ? { field } : {}) } });

/** Throws a FieldError when `problem` (from a validator) is not null. */
export function check(field: string, problem: string | null): void {
  if (problem) throw new FieldError(field, problem);
}

/** A person's reason for a decision (audited), trimmed: at least 4 characters, else a FieldError on `field`. */
export function reasonOf(field: string, text: string): string {
  const reason = text.trim();
  check(field, reason.length >= 4 ? null : 'say why (at least 4 characters)');
  return reason;
}
