import type { NotificationChannel } from './model.ts';
import type { RenderedMessage } from './messages.ts';

/**
 * Channel adapters: a template SMS (Aliyun/Tencent shape) and a WeChat template/subscribe message,
 * over HTTP. Every send carries the delivery's idempotency key (the provider keeps the first answer
 * for a key and never delivers a key twice); `query` asks what the provider did with a key. An
 * outcome says what is known, so the worker never resends what may have gone:
 *   ACCEPTED  taken, with the provider's message id
 *   RETRY     certainly not taken (connection refused, 5xx before acceptance, 429): try again later
 *   REFUSED   certainly not taken, and never will be (4xx: a bad number, an unknown template)
 *   UNKNOWN   may have been taken (timeout, connection lost after the request went, 504)
 * Simulator routes: src/notifications/simulator/server.ts.
 */
export type SendOutcome =
  | { kind: 'ACCEPTED'; messageId: string }
  | { kind: 'RETRY' | 'REFUSED' | 'UNKNOWN'; error: string };

export type QueryOutcome =
  | { kind: 'ACCEPTED'; messageId: string }
  | { kind: 'NOT_RECEIVED' }
  | { kind: 'UNKNOWN'; error: string };

/** The one address a channel needs (phone or openid, in clear only for the call) and the message. */
export interface ChannelMessage {
  /** The phone number (SMS) or the openid (WeChat). */
  to: string;
  templateCode: string;
  message: RenderedMessage;
}

export interface ChannelAdapter {
  readonly channel: NotificationChannel;
  send(key: string, message: ChannelMessage): Promise<SendOutcome>;
  query(key: string): Promise<QueryOutcome>;
}

export interface HttpChannelOptions {
  /** Base URL of the provider (NOTIFY_SMS_URL, NOTIFY_WECHAT_URL). */
  url: string;
  /** Per request, connection to last byte (NOTIFY_TIMEOUT_MS). */
  timeoutMs: number;
}

export interface SmsChannelOptions extends HttpChannelOptions {
  /** The registered SMS signature (签名), NOTIFY_SMS_SIGN. */
  signName: string;
}

export interface WechatChannelOptions extends HttpChannelOptions {
  /** The mini-program page a tap opens (NOTIFY_WECHAT_PAGE). */
  page: string;
}

/** The Aliyun-style SendSms body: phone, signature, template and its parameters; OutId is our key. */
export function smsRequest(options: Pick<SmsChannelOptions, 'signName'>, key: string, m: ChannelMessage) {
  return { PhoneNumbers: m.to, SignName: options.signName, TemplateCode: m.templateCode, TemplateParam: JSON.stringify(m.message.params), OutId: key };
}

/** The WeChat template message body: openid, template, page and the keyword values (20 characters for thing*). */
export function wechatRequest(options: Pick<WechatChannelOptions, 'page'>, key: string, m: ChannelMessage) {
  const { title, amount, status, reference } = m.message.params;
  const data: Record<string, { value: string }> = { thing1: { value: title.slice(0, 20) }, character_string3: { value: reference } };
  if (amount) data.amount2 = { value: `${amount}元` };
  if (status) data.phrase4 = { value: status.slice(0, 5) };
  return { touser: m.to, template_id: m.templateCode, page: options.page, data, client_msg_id: key };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One HTTP call, its failure classified: refused connections never reached the provider. */
async function call(url: string, timeoutMs: number, init: { method: 'GET' | 'POST'; key: string; body?: unknown }): Promise<Answer | { failure: 'RETRY' | 'UNKNOWN'; error: string }> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      headers: { 'content-type': 'application/json', 'idempotency-key': init.key },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    // Nothing was sent when the connection was refused or the name did not resolve.
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND') return { failure: 'RETRY', error: `${code}: the channel was not reached` };
    return { failure: 'UNKNOWN', error: `no answer: ${(error as Error).name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (code ?? (error as Error).message)}` };
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    return { failure: 'UNKNOWN', error: `the answer was cut off: ${(error as Error).message}` };
  }
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // a proxy's HTML page: classified by status below
  }
  return { status: response.status, body };
}

const short = (body: Record<string, unknown>) => JSON.stringify(body).slice(0, 200);

/** A send's HTTP answer as an outcome; `messageId` reads the provider's id from a 200 body. */
function sendOutcome(answer: Awaited<ReturnType<typeof call>>, messageId: (body: Record<string, unknown>) => unknown): SendOutcome {
  if ('failure' in answer) return { kind: answer.failure, error: answer.error };
  const { status, body } = answer;
  if (status === 200) {
    const id = messageId(body);
    return typeof id === 'string' && id ? { kind: 'ACCEPTED', messageId: id } : { kind: 'UNKNOWN', error: `HTTP 200 without a message id: ${short(body)}` };
  }
  if (status === 504) return { kind: 'UNKNOWN', error: `HTTP 504: ${short(body)}` };
  if (status >= 500 || status === 429) return { kind: 'RETRY', error: `HTTP ${status}: ${short(body)}` };
  return { kind: 'REFUSED', error: `HTTP ${status}: ${short(body)}` };
}

function queryOutcome(answer: Awaited<ReturnType<typeof call>>, key: string, messageId: (body: Record<string, unknown>) => unknown): QueryOutcome {
  if ('failure' in answer) return { kind: 'UNKNOWN', error: answer.error };
  const { status, body } = answer;
  // Believed only when the answer is about the key asked.
  if (body.key !== key) return { kind: 'UNKNOWN', error: `HTTP ${status}: an answer not about ${key}: ${short(body)}` };
  if (status === 404) return { kind: 'NOT_RECEIVED' };
  const id = messageId(body);
  if (status === 200 && typeof id === 'string' && id) return { kind: 'ACCEPTED', messageId: id };
  return { kind: 'UNKNOWN', error: `HTTP ${status}: ${short(body)}` };
}

export class HttpSmsChannel implements ChannelAdapter {
  readonly channel = 'SMS' as const;
  private readonly base: string;
  constructor(private readonly options: SmsChannelOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  async send(key: string, message: ChannelMessage): Promise<SendOutcome> {
    const answer = await call(`${this.base}/sms/send`, this.options.timeoutMs, { method: 'POST', key, body: smsRequest(this.options, key, message) });
    // Aliyun answers 200 with Code OK and a BizId; another Code in a 200 is a refusal of this message.
    if (!('failure' in answer) && answer.status === 200 && answer.body.Code !== 'OK') return { kind: 'REFUSED', error: `refused: ${short(answer.body)}` };
    return sendOutcome(answer, (b) => b.BizId);
  }

  async query(key: string): Promise<QueryOutcome> {
    return queryOutcome(await call(`${this.base}/sms/status/${encodeURIComponent(key)}`, this.options.timeoutMs, { method: 'GET', key }), key, (b) => b.BizId);
  }
}

export class HttpWechatChannel implements ChannelAdapter {
  readonly channel = 'WECHAT' as const;
  private readonly base: string;
  constructor(private readonly options: WechatChannelOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  async send(key: string, message: ChannelMessage): Promise<SendOutcome> {
    const answer = await call(`${this.base}/wechat/message/send`, this.options.timeoutMs, { method: 'POST', key, body: wechatRequest(this.options, key, message) });
    // WeChat answers 200 with errcode 0 and a msgid; another errcode (40003 bad openid, 43101 not subscribed) refuses it.
    if (!('failure' in answer) && answer.status === 200 && answer.body.errcode !== 0) {
      // -1: the system is busy, try later
      return answer.body.errcode === -1 ? { kind: 'RETRY', error: `busy: ${short(answer.body)}` } : { kind: 'REFUSED', error: `refused: ${short(answer.body)}` };
    }
    return sendOutcome(answer, (b) => (b.msgid === undefined ? undefined : String(b.msgid)));
  }

  async query(key: string): Promise<QueryOutcome> {
    const answer = await call(`${this.base}/wechat/message/status/${encodeURIComponent(key)}`, this.options.timeoutMs, { method: 'GET', key });
    return queryOutcome(answer, key, (b) => (b.msgid === undefined ? undefined : String(b.msgid)));
  }
}
