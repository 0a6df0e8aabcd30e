import { GraphQLScalarType, Kind } from 'graphql';
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

export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize: (value) => (value instanceof Date ? value : new Date(String(value))).toISOString(),
  parseValue(value) {
    const date = new Date(String(value));
    if (typeof value !== 'string' || Number.isNaN(date.getTime())) throw new TypeError('DateTime must be ISO 8601');
    return date;
  },
  parseLiteral(ast) {
    const date = ast.kind === Kind.STRING ? new Date(ast.value) : new Date(NaN);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime must be ISO 8601');
    return date;
  },
});
