import {
  getNullableType, GraphQLID, GraphQLScalarType, isInputObjectType, isListType,
  type GraphQLArgument, type GraphQLInputType, type GraphQLResolveInfo,
} from 'graphql';
import { textProblem } from '../kernel/text.ts';
import { invalid } from '../kernel/errors.ts';

/**
 * PostgreSQL refuses U+0000 in text (and jsonb also unpaired surrogates), so a string argument
 * holding one would fail deep in SQL as INTERNAL_SERVER_ERROR. One guard for every field instead of
 * a check per resolver: the arguments are checked before the resolver runs, and such a string is
 * BAD_USER_INPUT naming the argument (`filter.name`, `input.corrections[0].value`). IDs are left to
 * their own check: they are opaque, decoded (parseGlobalId), never stored as sent, and a malformed
 * one is "not a Member ID" (or node = null) like any other.
 */
export function checkArgumentText(value: unknown, type: GraphQLInputType, path: string): void {
  if (value === null || value === undefined) return;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    if (Array.isArray(value)) value.forEach((item, i) => checkArgumentText(item, nullable.ofType, `${path}[${i}]`));
    else checkArgumentText(value, nullable.ofType, path); // a single value given for a list
  } else if (isInputObjectType(nullable)) {
    for (const field of Object.values(nullable.getFields())) {
      checkArgumentText((value as Record<string, unknown>)[field.name], field.type, `${path}.${field.name}`);
    }
  } else if (typeof value === 'string' && nullable !== GraphQLID) {
    const problem = textProblem(value);
    if (problem) throw invalid(path, problem);
  }
}

type Resolve = (root: unknown, args: Record<string, unknown>, ctx: unknown, info: GraphQLResolveInfo) => unknown;

/**
 * `resolve` with its field's arguments checked. The field's arguments are looked up on its first
 * call (a wrapper serves one field of one type); a field without any then costs one comparison:
 * resolvers of nested fields (a member's unit, a claim's lines) run once per row of a page.
 */
const guarded = (resolve: Resolve): Resolve => {
  let args: readonly GraphQLArgument[] | undefined;
  return (root, values, ctx, info) => {
    args ??= info.parentType.getFields()[info.fieldName]?.args ?? [];
    for (const arg of args) checkArgumentText(values[arg.name], arg.type, arg.name);
    return resolve(root, values, ctx, info);
  };
};

/** The merged resolvers, each field's (or subscription's) arguments checked first. Changes them in place. */
export function withArgumentTextCheck<R>(resolvers: R): R {
  for (const fields of Object.values(resolvers as Record<string, Record<string, unknown>>)) {
    if (fields instanceof GraphQLScalarType) continue;
    for (const [name, field] of Object.entries(fields)) {
      if (name.startsWith('__')) continue; // __resolveType, __isTypeOf: no arguments
      if (typeof field === 'function') fields[name] = guarded(field as Resolve);
      else if (typeof field === 'object' && field !== null) {
        const { subscribe, resolve } = field as { subscribe?: unknown; resolve?: unknown };
        if (typeof subscribe === 'function') fields[name] = { ...field, subscribe: guarded(subscribe as Resolve) };
        else if (typeof resolve === 'function') fields[name] = { ...field, resolve: guarded(resolve as Resolve) };
      }
    }
  }
  return resolvers;
}
