import { pino, type DestinationStream, type Logger } from 'pino';
import { LOG_LEVELS } from './config.ts';

/**
 * Structured JSON logs on stderr (stdout stays free for command output such as
 * `hub benefits preview`). Personal data never belongs in a log line; `redactPersonalData` is the
 * safety net, at any depth of what is logged (job data, errors and their causes, variables).
 */

// Field names (compared lower-case, without `_` and `-`) whose values are personal data, secrets or file contents.
const SECRET_FIELDS = new Set([
  'idnumber', 'idno', 'certno', 'bankcard', 'cardno', 'cardnumber', 'phone', 'mobile', 'telephone', 'tel',
  'name', 'fullname', 'membername', 'psnname', 'holdername', 'accountname', 'nm',
  'authorization', 'token', 'accesstoken', 'bearer', 'jwt', 'password', 'passphrase', 'secret', 'piikey',
  'csv', 'content', 'xml', 'body', 'file', 'rawbody', 'openid', 'wechatopenid', 'touser',
]);
// The same data inside free text (error messages, PostgreSQL's `detail`, a bank's or provider's
// answer): ID numbers and bank accounts (any run of 12 digits or more, an ID may end in X: a longer
// run must not hide one), mainland mobile and landline numbers as the hub accepts them, JWTs. A
// UUID (request ids, error references) is kept whole: its last group may be 12 digits.
const SECRET_TEXT = /(?<![0-9A-Za-z])(?:([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})|\d{12,}[Xx]?|1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?![0-9A-Za-z])|eyJ[\w-]+\.[\w-]+\.[\w-]*/g;
const CENSOR = '[redacted]';
const MAX_DEPTH = 12;

const isSecretField = (key: string) => SECRET_FIELDS.has(key.replace(/[-_]/g, '').toLowerCase());

/** A copy of `value` with personal data replaced by `[redacted]`; errors become pino's serialized form first. */
export function redactPersonalData(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(SECRET_TEXT, (_found, uuid?: string) => uuid ?? CENSOR);
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || value instanceof Date) return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Error) return redactPersonalData(pino.stdSerializers.err(value), depth);
  if (Array.isArray(value)) return value.map((item) => redactPersonalData(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) copy[key] = isSecretField(key) ? CENSOR : redactPersonalData(field, depth + 1);
  return copy;
}

/** The hub's logger writing to `destination` (tests capture its lines this way). */
export function createLog(destination: DestinationStream, level = process.env.LOG_LEVEL): Logger {
  return pino(
    {
      // Read here rather than through config(): importing the logger must not need a valid configuration,
      // whose problems are reported by the command that reads it. An unknown level is reported there too.
      level: LOG_LEVELS.find((l) => l === level) ?? 'info',
      base: { service: 'mutual-aid-hub' },
      formatters: { log: (object) => redactPersonalData(object) as Record<string, unknown> },
      // Errors were serialized (pino's way) by the redaction, which sees their messages, causes and fields.
      serializers: { err: (error: unknown) => error },
    },
    destination,
  );
}

export const log: Logger = createLog(pino.destination(2));
