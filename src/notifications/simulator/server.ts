import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * `hub sim notify`: a simulated SMS provider and WeChat message API in one HTTP server, for tests,
 * the demo and operators. It records every message a handset would receive, keeps the first answer
 * for each idempotency key (a key sent twice is delivered once), answers status queries by key, and
 * can be told to fail.
 *
 * Channel (what src/notifications/channels.ts calls; the key is the `idempotency-key` header):
 *   POST /sms/send  {PhoneNumbers, SignName, TemplateCode, TemplateParam, OutId}
 *                   -> 200 {Code: 'OK', BizId, RequestId} | 200 {Code: 'isv.MOBILE_NUMBER_ILLEGAL', ...}
 *                   | 400 {Code: 'MissingIdempotencyKey'} | 503 (a fault)
 *   GET  /sms/status/{key}  -> 200 {key, Code: 'OK', BizId, SendStatus: 3} | 404 {key, Code: 'NotFound'}
 *   POST /wechat/message/send  {touser, template_id, page, data, client_msg_id}
 *                   -> 200 {errcode: 0, errmsg: 'ok', msgid} | 200 {errcode: 40003, errmsg: 'invalid openid'}
 *   GET  /wechat/message/status/{key} -> 200 {key, errcode: 0, msgid} | 404 {key, errcode: 404}
 * Oracle and administration:
 *   GET  /admin/messages          -> {messages: [{channel, key, messageId, to, request, receivedAt}], sendRequests: {key: n}}
 *   GET|POST|DELETE /admin/faults    {failNext, hangNext, acceptThenHangNext, queryHangNext}: POST sets the
 *                                    fields given, DELETE clears all
 */

export interface NotifyFaults {
  /** The next n sends are answered 503 before anything is taken. */
  failNext: number;
  /** The next n sends are never answered and nothing is taken (the client times out). */
  hangNext: number;
  /** The next n sends are taken (the handset gets the message), then never answered. */
  acceptThenHangNext: number;
  /** The next n status queries are never answered. */
  queryHangNext: number;
}

const NO_FAULTS: NotifyFaults = { failNext: 0, hangNext: 0, acceptThenHangNext: 0, queryHangNext: 0 };

export interface SimulatedMessage {
  channel: 'SMS' | 'WECHAT';
  key: string;
  messageId: string;
  /** The phone number or openid it went to. */
  to: string;
  /** The request body exactly as received. */
  request: Record<string, unknown>;
  receivedAt: string;
}

export interface NotifySimulator {
  url: string;
  /** Every message delivered, once per key, in order. */
  messages(): SimulatedMessage[];
  /** Send requests received per key (duplicates included). */
  sendRequests(): Record<string, number>;
  faults(): NotifyFaults;
  setFaults(faults: Partial<NotifyFaults>): NotifyFaults;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const PHONE = /^1\d{10}$/;
const OPENID = /^[A-Za-z0-9_-]{16,64}$/;

type Answer = { status: number; body: unknown } | 'hang';

export async function startNotifySimulator(options: { port?: number; host?: string } = {}): Promise<NotifySimulator> {
  let faults = { ...NO_FAULTS };
  const byKey = new Map<string, SimulatedMessage>();
  const requests: Record<string, number> = {};
  let nextId = 1;

  const take = (fault: keyof NotifyFaults) => {
    if (faults[fault] <= 0) return false;
    faults = { ...faults, [fault]: faults[fault] - 1 };
    return true;
  };

  function send(channel: 'SMS' | 'WECHAT', key: string | undefined, body: Record<string, unknown>): Answer {
    if (!key) return { status: 400, body: channel === 'SMS' ? { Code: 'MissingIdempotencyKey', Message: 'idempotency-key header required' } : { errcode: 40001, errmsg: 'idempotency-key header required' } };
    requests[key] = (requests[key] ?? 0) + 1;
    const earlier = byKey.get(key);
    // The same key again: the first answer, nothing delivered twice.
    if (earlier) return accepted(earlier);
    if (take('hangNext')) return 'hang';
    if (take('failNext')) return { status: 503, body: { message: 'service unavailable (simulated)' } };
    const to = String(channel === 'SMS' ? body.PhoneNumbers ?? '' : body.touser ?? '');
    if (channel === 'SMS' && !PHONE.test(to)) return { status: 200, body: { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: 'illegal mobile number' } };
    if (channel === 'WECHAT' && !OPENID.test(to)) return { status: 200, body: { errcode: 40003, errmsg: 'invalid openid' } };
    const message: SimulatedMessage = { channel, key, messageId: channel === 'SMS' ? `BIZ${String(nextId++).padStart(10, '0')}` : String(100_000 + nextId++), to, request: body, receivedAt: new Date().toISOString() };
    byKey.set(key, message);
    if (take('acceptThenHangNext')) return 'hang';
    return accepted(message);
  }

  const accepted = (m: SimulatedMessage): Answer => ({
    status: 200,
    body: m.channel === 'SMS' ? { Code: 'OK', Message: 'OK', BizId: m.messageId, RequestId: `REQ-${m.key}` } : { errcode: 0, errmsg: 'ok', msgid: Number(m.messageId) },
  });

  function status(channel: 'SMS' | 'WECHAT', key: string): Answer {
    if (take('queryHangNext')) return 'hang';
    const m = byKey.get(key);
    if (!m || m.channel !== channel) return { status: 404, body: channel === 'SMS' ? { key, Code: 'NotFound' } : { key, errcode: 404 } };
    return { status: 200, body: channel === 'SMS' ? { key, Code: 'OK', BizId: m.messageId, SendStatus: 3 } : { key, errcode: 0, msgid: Number(m.messageId) } };
  }

  function route(method: string, path: string, key: string | undefined, body: Record<string, unknown>): Answer {
    if (method === 'POST' && path === '/sms/send') return send('SMS', key, body);
    if (method === 'POST' && path === '/wechat/message/send') return send('WECHAT', key, body);
    const sms = /^\/sms\/status\/([^/]+)$/.exec(path);
    if (method === 'GET' && sms) return status('SMS', decodeURIComponent(sms[1]!));
    const wechat = /^\/wechat\/message\/status\/([^/]+)$/.exec(path);
    if (method === 'GET' && wechat) return status('WECHAT', decodeURIComponent(wechat[1]!));
    if (method === 'GET' && path === '/admin/messages') return { status: 200, body: { messages: [...byKey.values()], sendRequests: requests } };
    if (path === '/admin/faults') {
      if (method === 'POST') faults = { ...faults, ...pickFaults(body) };
      if (method === 'DELETE') faults = { ...NO_FAULTS };
      return { status: 200, body: faults };
    }
    return { status: 404, body: { error: `no route ${method} ${path}` } };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        const parsed: unknown = text ? JSON.parse(text) : {};
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'the body is not JSON' }));
        return;
      }
      const key = req.headers['idempotency-key'];
      const answer = route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://x').pathname, typeof key === 'string' && key ? key : undefined, body);
      if (answer === 'hang') return; // left open: the client's timeout decides
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    messages: () => [...byKey.values()],
    sendRequests: () => ({ ...requests }),
    faults: () => ({ ...faults }),
    setFaults: (given) => (faults = { ...faults, ...given }),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function pickFaults(body: Record<string, unknown>): Partial<NotifyFaults> {
  const picked: Partial<NotifyFaults> = {};
  for (const name of Object.keys(NO_FAULTS) as (keyof NotifyFaults)[]) {
    const value = body[name];
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) picked[name] = value;
  }
  return picked;
}
