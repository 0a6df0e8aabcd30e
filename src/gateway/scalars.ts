import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { isIsoDate } from '../kernel/time.ts';

/** Whole fen as a JSON integer. Strings and floats are refused: money never passes through a float. */
export const Fen = new GraphQLScalarType<number, number>({
  name: 'Fen',
  serialize(value) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError(`Fen must be a whole number, got ${String(value)}`);
    return value;
  },
  parseValue(value) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError('Fen must be a whole number of fen (1 CNY = 100 fen)');
    return value;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.INT) throw new TypeError('Fen must be a whole number of fen (1 CNY = 100 fen)');
    const value = Number(ast.value);
    if (!Number.isSafeInteger(value)) throw new TypeError('Fen is out of range');
    return value;
  },
});

export const DateScalar = new GraphQLScalarType<string, string>({
  name: 'Date',
  serialize: (value) => String(value),
  parseValue(value) {
    if (typeof value !== 'string' || !isIsoDate(value)) throw new TypeError('Date must be yyyy-MM-dd');
    return value;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING || !isIsoDate(ast.value)) throw new TypeError('Date must be yyyy-MM-dd');
    return ast.value;
  },
});

/**
 * RFC 3339: a date, a time and its offset. Without the offset JavaScript reads a date-time as UTC
 * (and a bare date too): a payment policy FINANCE meant from 00:00 in China would start at 08:00.
 */
const DATE_TIME_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/i;

function parseDateTime(value: unknown): Date {
  // A real calendar date too: JavaScript rolls 2026-02-30 over into March.
  const written = typeof value === 'string' && DATE_TIME_WITH_OFFSET.test(value) && isIsoDate(value.slice(0, 10));
  const date = written ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new TypeError('DateTime must be ISO 8601 with its offset, e.g. 2026-01-01T00:00:00+08:00 or 2025-12-31T16:00:00Z');
  return date;
}

export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize: (value) => (value instanceof Date ? value : new Date(String(value))).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Deeper than any document the hub reads (rule sets, evidence, preview input); a guard for the stack, not a format rule. */
const MAX_JSON_DEPTH = 64;
/** Keys that would reach an object's prototype when a value is merged or spread later. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The value itself when it is JSON data, else a TypeError naming what is wrong (`at` a path like `a.b[2]`). */
function jsonValue(value: unknown, at = '', depth = 0): JsonValue {
  if (depth > MAX_JSON_DEPTH) throw new TypeError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels${at && ` at ${at}`}`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`JSON numbers are finite${at && ` (${at})`}`);
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => jsonValue(item, `${at}[${i}]`, depth + 1));
  if (typeof value === 'object' && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    const copy: Record<string, JsonValue> = {};
    for (const key of Object.keys(value)) {
      if (PROTOTYPE_KEYS.has(key)) throw new TypeError(`JSON key ${JSON.stringify(key)} is not accepted${at && ` (${at})`}`);
      copy[key] = jsonValue((value as Record<string, unknown>)[key], at ? `${at}.${key}` : key, depth + 1);
    }
    return copy;
  }
  throw new TypeError(`not a JSON value: ${typeof value}${at && ` at ${at}`}`);
}

function jsonLiteral(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.NULL: return null;
    case Kind.BOOLEAN: case Kind.STRING: case Kind.ENUM: return ast.value;
    case Kind.INT: case Kind.FLOAT: return Number(ast.value);
    case Kind.LIST: return ast.values.map((v) => jsonLiteral(v, variables));
    // Own properties only, defined (not assigned): a literal key "__proto__" is refused by jsonValue, never applied.
    case Kind.OBJECT: return Object.fromEntries(ast.fields.map((f) => [f.name.value, jsonLiteral(f.value, variables)]));
    case Kind.VARIABLE: return variables?.[ast.name.value];
  }
}

/** Any JSON value, as JSON itself; functions, undefined, non-finite numbers and prototype keys are refused. */
export const JsonScalar = new GraphQLScalarType<JsonValue, JsonValue>({
  name: 'JSON',
  serialize: (value) => jsonValue(value),
  parseValue: (value) => jsonValue(value),
  parseLiteral: (ast, variables) => jsonValue(jsonLiteral(ast, variables)),
});
