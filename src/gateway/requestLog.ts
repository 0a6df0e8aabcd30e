import { randomUUID } from 'node:crypto';
import type express from 'express';
import type { Logger } from 'pino';

/**
 * Request ids and one structured log line per request. The id comes from `X-Request-Id` when a
 * proxy set a sane one, else a new UUID; it is echoed in the response, kept in `res.locals` and
 * named by error logs. A line holds method, path without query string, status, duration,
 * operation name and role: never bodies, variables, query strings or token subjects, which can
 * carry personal data. (No AsyncLocalStorage: on Node 20 its promise hooks cost the gateway a
 * large share of its throughput.)
 */
export interface RequestInfo {
  requestId: string;
  operation?: string;
  role?: string;
}

const SANE_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The request's info, set by `requestLog` for every request. */
export const requestInfo = (res: express.Response): RequestInfo => res.locals.request as RequestInfo;

/** An operation name fit for a log line (client-chosen text otherwise). */
export const loggableOperation = (name: string | null | undefined): string | undefined => (name && OPERATION_NAME.test(name) ? name : undefined);

export function requestLog(log: Logger): express.RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const info: RequestInfo = { requestId: typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID() };
    res.locals.request = info;
    res.setHeader('x-request-id', info.requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      log.info({
        requestId: info.requestId, method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode,
        ms: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10, operation: info.operation, role: info.role,
      }, 'request');
    });
    next();
  };
}
