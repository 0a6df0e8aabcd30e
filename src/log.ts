import { pino, type Logger } from 'pino';
import { config } from './config.ts';

/**
 * Structured JSON logs on stderr (stdout stays free for command output such as
 * `hub benefits preview`). Personal data never belongs in a log line; the redaction
 * list is a safety net for the field names that could carry it.
 */
export const log: Logger = pino(
  {
    level: process.env.LOG_LEVEL ?? config().LOG_LEVEL,
    base: { service: 'mutual-aid-hub' },
    redact: {
      paths: ['*.idNumber', '*.bankCard', '*.certno', '*.password', 'req.headers.authorization', '*.authorization'],
      censor: '[redacted]',
    },
  },
  pino.destination(2),
);
