import { getNamedType, isObjectType, type GraphQLResolveInfo } from 'graphql';
import type { DomainErrorCode } from '../kernel/errors.ts';
import type { MutationResolvers, Resolver, Resolvers, UserError, UserErrorCode } from './generated/resolvers.ts';
import { domainErrorOf } from './errors.ts';

/**
 * Mutation payloads: what a mutation produced and `userErrors`. Resolvers return what they produced
 * (`{ member }`) and throw DomainError as everywhere; this is the one place a caller's mistake or a
 * refused decision becomes `userErrors` instead of a top-level error. FORBIDDEN (and anything not a
 * DomainError: authentication, limits, the unexpected) stays a top-level error, so a caller without
 * the right learns nothing from a payload. A refusal is thrown before or inside the mutation's
 * transaction, so a payload with `userErrors` reports a mutation that changed nothing.
 */

const USER_ERROR_CODE: Partial<Record<DomainErrorCode, UserErrorCode>> = { BAD_USER_INPUT: 'INVALID', NOT_FOUND: 'NOT_FOUND', CONFLICT: 'CONFLICT' };

/** The userErrors a thrown error stands for (every problem of a bad input), or null when it is to stay a top-level error. */
export function userErrorsOf(error: unknown): UserError[] | null {
  const domain = domainErrorOf(error);
  const code = domain && USER_ERROR_CODE[domain.code];
  if (!domain || !code) return null;
  if (domain.problems.length === 0) return [{ field: domain.field, code, message: domain.message }];
  return domain.problems.map((p) => ({ field: p.field, code, message: `${p.field}: ${p.reason}` }));
}

type Resolve = (root: unknown, args: Record<string, unknown>, ctx: unknown, info: GraphQLResolveInfo) => unknown;

const hasUserErrors = (info: GraphQLResolveInfo) => {
  const type = getNamedType(info.returnType);
  return isObjectType(type) && 'userErrors' in type.getFields();
};

const payload = (resolve: Resolve): Resolve => async (root, args, ctx, info) => {
  if (!hasUserErrors(info)) return resolve(root, args, ctx, info);
  try {
    return { userErrors: [], ...(await resolve(root, args, ctx, info)) as object };
  } catch (error) {
    const userErrors = userErrorsOf(error);
    if (!userErrors) throw error;
    return { userErrors };
  }
};

/** The merged resolvers, each Mutation whose type has `userErrors` answering a payload. Changes them in place. */
export function withPayloads<R>(resolvers: R): R {
  const mutations = (resolvers as { Mutation?: Record<string, unknown> }).Mutation ?? {};
  for (const [name, resolve] of Object.entries(mutations)) {
    if (typeof resolve === 'function') mutations[name] = payload(resolve as Resolve);
  }
  return resolvers;
}

/** What a mutation resolver returns: its payload without `userErrors`, which `withPayloads` adds. */
type Produced<T> = T extends { userErrors: unknown } ? Omit<T, 'userErrors'> : T;
type ProducingMutations = {
  [K in keyof MutationResolvers]-?: NonNullable<MutationResolvers[K]> extends Resolver<infer R, infer P, infer C, infer A>
    ? Resolver<Produced<Awaited<R>>, P, C, A>
    : never;
};

/** A domain's resolvers, its mutations returning what they produced (see `withPayloads`). */
export type DomainResolvers = Omit<Resolvers, 'Mutation'> & { Mutation?: Partial<ProducingMutations> };
