import http from 'node:http';
import { errorEnvelope, readFeedRequest, responseEnvelope, type RequestEnvelope } from '../envelope.ts';
import { itemAppearsAt, itemsAppeared, simulatedItem, simulatedItems, type FeedSchedule, type SimMember, type SimulatorData } from './generate.ts';

/**
 * `hub sim insurance`: a real HTTP server speaking the platform's envelope, serving the
 * simulated settlement feed page by page (cursor = position in the feed). The member list comes
 * with the options or later by `POST /sim/members` `{"members": [{"idNumber", "name"}]}`.
 * With a steady feed (`feed`) a page holds only the items that have appeared by then, and
 * `GET /sim/appeared` answers `{"appeared": [{"setlId", "appearedAt"}]}` for them (the oracle of
 * when each settlement appeared on the platform).
 */
export const PLATFORM_PATH = '/fsi/api/rsfComIfsService/callService';
const MAX_BODY = 1_000_000;
const MAX_MEMBERS_BODY = 200_000_000;

export interface SimulatorOptions extends SimulatorData {
  port?: number;
  host?: string;
  /** The feed's transaction number (INSURANCE_FEED_INFNO). */
  infno: string;
  /** Delay before each feed answer (ms), like a remote platform's. */
  latencyMs?: number;
  /** A steady feed: items appear over time instead of all being there from the start. */
  feed?: FeedSchedule;
  /** The simulator's clock (tests set it). */
  clock?: () => Date;
}

export interface InsuranceSimulator {
  /** The interface URL to configure as a PLATFORM source. */
  url: string;
  data(): SimulatorData;
  /** The next `n` feed requests answer HTTP 503 with infcode -1 (an outage, for tests). */
  failNext(n: number): void;
  /** The cursor of every feed request answered so far, in order (null: from the start). */
  requested(): (string | null)[];
  close(): Promise<void>;
}

export async function startInsuranceSimulator(options: SimulatorOptions): Promise<InsuranceSimulator> {
  let data: SimulatorData = { seed: options.seed, count: options.count, members: options.members, today: options.today };
  let failures = 0;
  const served: (string | null)[] = [];
  const clock = options.clock ?? (() => new Date());
  const appeared = (now: Date) => (options.feed ? itemsAppeared(options.feed, data.count, now) : data.count);

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const limit = req.url === '/sim/members' ? MAX_MEMBERS_BODY : MAX_BODY;
    readBody(req, limit).then((text) => {
      const now = clock();
      if (req.method === 'GET' && req.url === '/sim/appeared') {
        const schedule = options.feed;
        if (!schedule) return send(404, { error: 'the feed is not steady: every item is there from the start' });
        return send(200, {
          appeared: Array.from({ length: appeared(now) }, (_, i) => ({
            setlId: String(simulatedItem(data, i).item.setlinfo.setl_id), appearedAt: itemAppearsAt(schedule, i).toISOString(),
          })),
        });
      }
      if (req.method === 'POST' && req.url === '/sim/members') {
        const members = readMembers(text);
        if (typeof members === 'string') return send(400, { error: members });
        data = { ...data, members };
        return send(200, { members: members.length, count: data.count });
      }
      if (req.method !== 'POST' || (req.url !== PLATFORM_PATH && req.url !== '/')) return send(404, errorEnvelope(null, `no interface at ${req.method} ${req.url}`, now));
      let request: RequestEnvelope;
      try {
        request = JSON.parse(text) as RequestEnvelope;
      } catch {
        return send(400, errorEnvelope(null, 'the request body is not JSON', now));
      }
      if (failures > 0) {
        failures -= 1;
        return send(503, errorEnvelope(request, 'service temporarily unavailable (simulated outage)', now));
      }
      const problem = envelopeProblem(request, options.infno);
      const feed = problem ?? readFeedRequest(request.input);
      if (typeof feed === 'string') return send(200, errorEnvelope(request, feed, now));
      const from = feed.cursor === null ? 0 : Number(feed.cursor);
      if (!Number.isInteger(from) || from < 0) return send(200, errorEnvelope(request, `unknown cursor ${JSON.stringify(feed.cursor)}`, now));
      const available = appeared(now);
      const to = Math.min(available, from + feed.page_size);
      served.push(feed.cursor);
      const items = [...simulatedItems(data, from, to)].map((s) => s.item);
      const answer = responseEnvelope(request, {
        data: items, next_cursor: String(Math.max(from, to)), has_more: to < available, remaining: Math.max(0, available - to),
      }, now);
      if (options.latencyMs) setTimeout(() => send(200, answer), options.latencyMs);
      else send(200, answer);
    }).catch((error: Error) => send(413, errorEnvelope(null, error.message, new Date())));
  });

  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve((server.address() as { port: number }).port));
  });
  return {
    url: `http://${host}:${port}${PLATFORM_PATH}`,
    data: () => data,
    failNext: (n) => void (failures = n),
    requested: () => [...served],
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function envelopeProblem(request: Partial<RequestEnvelope>, infno: string): string | null {
  if (typeof request !== 'object' || request === null) return 'the request is not an envelope';
  if (request.infno !== infno) return `unknown infno ${JSON.stringify(request.infno)} (the settlement feed is ${infno})`;
  if (typeof request.msgid !== 'string' || request.msgid.length !== 30) return 'msgid must be 30 characters';
  if (!('input' in request)) return 'input is required';
  return null;
}

function readMembers(text: string): SimMember[] | string {
  try {
    const body = JSON.parse(text) as { members?: unknown };
    if (!Array.isArray(body.members)) return 'expected {"members": [{"idNumber", "name"}]}';
    const members = body.members.filter((m): m is SimMember => typeof m?.idNumber === 'string' && typeof m?.name === 'string');
    return members.length === body.members.length ? members : 'every member needs idNumber and name';
  } catch {
    return 'the request body is not JSON';
  }
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`request body above ${limit} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
