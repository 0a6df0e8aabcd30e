import { formatChinaTime } from '../kernel/time.ts';

/**
 * The national platform's message envelope, pure: request `{infno, msgid, ..., input}`, response
 * `{infcode (0 ok, -1 error), err_msg, output}`. The hub's client and the simulator share it.
 */
export interface RequestEnvelope {
  infno: string;
  /** 报文ID: institution code (12) + yyyyMMddHHmmss (14) + sequence (4), 30 characters. */
  msgid: string;
  mdtrtarea_admvs: string;
  insuplc_admdvs: string;
  recer_sys_code: string;
  dev_no: string;
  dev_safe_info: string;
  cainfo: string;
  signtype: string;
  infver: string;
  opter_type: string;
  opter: string;
  opter_name: string;
  inf_time: string;
  fixmedins_code: string;
  fixmedins_name: string;
  sign_no: string;
  input: unknown;
}

export interface ResponseEnvelope {
  infcode: 0 | -1;
  inf_refmsgid: string;
  refmsg_time: string;
  respond_time: string;
  err_msg: string | null;
  output: unknown;
}

export interface PlatformClient {
  /** fixmedins_code: our code on the platform, 12 characters. */
  code: string;
  name: string;
  /** 6-digit administrative division of the platform we talk to (mdtrtarea_admvs). */
  area: string;
}

export function requestEnvelope(infno: string, input: unknown, client: PlatformClient, now: Date, sequence: number): RequestEnvelope {
  const time = formatChinaTime(now);
  return {
    infno,
    msgid: `${client.code}${time.replace(/\D/g, '')}${String(sequence % 10_000).padStart(4, '0')}`,
    mdtrtarea_admvs: client.area, insuplc_admdvs: '', recer_sys_code: 'MAH', dev_no: '', dev_safe_info: '',
    cainfo: '', signtype: '', infver: 'V1.0', opter_type: '3', opter: 'hub', opter_name: client.name, inf_time: time,
    fixmedins_code: client.code, fixmedins_name: client.name, sign_no: '', input,
  };
}

export function responseEnvelope(request: Pick<RequestEnvelope, 'msgid' | 'inf_time'> | null, output: unknown, now: Date): ResponseEnvelope {
  return { infcode: 0, inf_refmsgid: request?.msgid ?? '', refmsg_time: request?.inf_time ?? '', respond_time: formatChinaTime(now), err_msg: null, output };
}

export function errorEnvelope(request: Pick<RequestEnvelope, 'msgid' | 'inf_time'> | null, message: string, now: Date): ResponseEnvelope {
  return { infcode: -1, inf_refmsgid: request?.msgid ?? '', refmsg_time: request?.inf_time ?? '', respond_time: formatChinaTime(now), err_msg: message, output: null };
}

/** The platform refused or answered something that is not an envelope; worth retrying later. */
export class PlatformError extends Error {}

/** The output of a successful response; a PlatformError for infcode -1 or a malformed body. */
export function readResponse(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || !('infcode' in body)) throw new PlatformError('the answer is not a platform envelope (no infcode)');
  const envelope = body as Partial<ResponseEnvelope>;
  // Only 0 (or "0") is success: Number() would also read null, "", " ", false and [] as 0.
  if (envelope.infcode !== 0 && (envelope.infcode as unknown) !== '0') throw new PlatformError(`infcode ${String(envelope.infcode)}: ${envelope.err_msg || 'no err_msg given'}`);
  return envelope.output;
}

/**
 * The settlement feed under the hub's data-sharing agreement: `input.data = {cursor, page_size}`;
 * `output = {data: [{infno, setlinfo, diseinfo}], next_cursor, has_more, remaining}` where each item is
 * the output of one 2207 / 2304 / 2208 / 2305 as the platform recorded it.
 */
export interface FeedRequest {
  cursor: string | null;
  page_size: number;
}

export interface FeedOutput {
  data: unknown[];
  next_cursor: string | null;
  has_more: boolean;
  /** Items after this page, when the platform says. */
  remaining: number | null;
}

export function readFeedRequest(input: unknown): FeedRequest | string {
  const data = (input as { data?: unknown } | null)?.data as Partial<FeedRequest> | undefined;
  if (typeof data !== 'object' || data === null) return 'input.data is required';
  if (data.cursor !== undefined && data.cursor !== null && typeof data.cursor !== 'string') return 'input.data.cursor must be a string';
  if (!Number.isInteger(data.page_size) || data.page_size! < 1 || data.page_size! > 10_000) return 'input.data.page_size must be 1 to 10000';
  return { cursor: data.cursor ?? null, page_size: data.page_size! };
}

export function readFeedOutput(output: unknown): FeedOutput {
  const o = output as Partial<FeedOutput> | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.data)) throw new PlatformError('the feed output has no data list');
  if (typeof o.has_more !== 'boolean') throw new PlatformError('the feed output has no has_more flag');
  if (o.next_cursor !== null && typeof o.next_cursor !== 'string') throw new PlatformError('the feed output has no next_cursor');
  return { data: o.data, next_cursor: o.next_cursor, has_more: o.has_more, remaining: typeof o.remaining === 'number' ? o.remaining : null };
}
