import http from 'node:http';
import { SEAL_HEADER } from '../adapter.ts';
import { BankRequestError, SimulatedBank, type AccountRequest, type CreditRequest, type ReturnRequest, type SimulatedBankOptions } from './bank.ts';
import type { IssuedDocument } from './books.ts';

/**
 * `hub sim bank`: the simulated bank as a real HTTP server, shaped like a host-to-host channel.
 *
 * Seals. Every answer carries the bank's detached CMS seal over the exact body bytes, base64 DER,
 * in the `X-Seal` header; a submitted file carries ours the same way. Documents in a JSON list
 * carry their own seal (`seal`, base64 DER) beside their `xml`. Anyone can check one:
 *   curl -sD h.txt -o r.xml URL; grep -i x-seal h.txt | cut -d' ' -f2 | base64 -d > r.p7s
 *   openssl cms -verify -binary -inform DER -in r.p7s -content r.xml -CAfile ca.pem -purpose any
 *
 * Channel (what the hub's HTTP adapter calls):
 *   POST /batches/{MsgId}        body: the pain.001 (application/xml), X-Seal: our seal.
 *                                -> 200 {accepted: true, msgId, bankReference, receivedAt}
 *                                -> 400 (unsealed DS0A, unreadable FF01), 403 (seal refused DS0B),
 *                                   409 (MsgId reused for another file DU01): nothing recorded;
 *                                   422 (counts/sums wrong: AM18/AM10/FF01): recorded, pain.002 RJCT.
 *                                   All {accepted: false, msgId, code, reason}. The same file again: the first answer.
 *   GET  /batches/{MsgId}/status -> 200 the latest pain.002 | 404 {error, msgId} (never received)
 *   GET  /status-reports?since=N -> 200 {documents: [{id, about (MsgId), xml, seal}], next} (pain.002 in issue order)
 *   GET  /accounts/{account}/statements/{yyyy-MM-dd} -> 200 camt.053 | 404 {error, account, date}
 *   GET  /notifications?since=N  -> 200 {documents: [{id, about (account), xml, seal}], next} (camt.054)
 * Oracle and administration (for tests, the fault harness and the demo):
 *   GET  /ledger                 -> {credits: [{endToEndId, msgId, pmtInfId, debtorAccount, account, amountFen,
 *                                    creditedAt, bankReference, returned?: {at, reasonCode, bankReference}}, ...]}
 *   GET|POST|DELETE /admin/faults   {timeoutNext, dropAfterAccept, dropBeforeAccept, queryTimeoutNext,
 *                                    delayMs, answerTwice, outOfOrder}: POST sets the fields given, DELETE clears all
 *   POST /admin/accounts  {account, status?: OPEN|CLOSED|INVALID, initialFen?}
 *   POST /admin/credits   {payerName, payerAccount, payerAgent?, amountFen, reference, account?, date?}
 *   POST /admin/returns   {endToEndId, reason? (default AC04), additionalInfo?, date?}
 */

export interface BankFaults {
  /** The next n submissions are executed (credited) but never answered: the client times out. */
  timeoutNext: number;
  /** The next n submissions are executed, then the connection is reset. */
  dropAfterAccept: number;
  /** The next n submissions are cut off before the bank reads them: nothing is executed. */
  dropBeforeAccept: number;
  /** The next n channel queries (status, reports, statements, notifications) are never answered. */
  queryTimeoutNext: number;
  /** Every channel answer waits this long, after the bank acted. */
  delayMs: number;
  answerTwice: boolean;
  outOfOrder: boolean;
}

export const NO_FAULTS: BankFaults = {
  timeoutNext: 0, dropAfterAccept: 0, dropBeforeAccept: 0, queryTimeoutNext: 0, delayMs: 0, answerTwice: false, outOfOrder: false,
};

export interface BankSimulatorOptions extends SimulatedBankOptions {
  port?: number;
  host?: string;
  /** Our account credited by `POST /admin/credits` without `account`. */
  defaultAccount?: string;
}

export interface BankSimulator {
  /** Base URL of the channel (BANK_URL). */
  url: string;
  bank: SimulatedBank;
  faults(): BankFaults;
  setFaults(faults: Partial<BankFaults>): BankFaults;
  close(): Promise<void>;
}

export const DEFAULT_UNION_ACCOUNT = '1408010109024561234';
const MAX_FILE_BYTES = 200_000_000;
const MAX_ADMIN_BYTES = 1_000_000;
const PAGE_SIZE = 500;

/** What a route answers: a body to seal and send, or a transport fault. */
type Answer =
  | { status: number; body: string; type: 'json' | 'xml'; seal?: Buffer }
  | { fault: 'hang' | 'reset' };

export async function startBankSimulator(options: BankSimulatorOptions): Promise<BankSimulator> {
  const bank = new SimulatedBank(options);
  let faults: BankFaults = { ...NO_FAULTS };
  const defaultAccount = options.defaultAccount ?? DEFAULT_UNION_ACCOUNT;

  const json = (status: number, value: unknown): Answer => ({ status, body: JSON.stringify(value), type: 'json' });
  const documents = (list: { documents: IssuedDocument[]; next: number }) => json(200, { documents: list.documents, next: String(list.next) });
  /** Takes one from a fault counter; true when it was set. */
  const take = (key: 'timeoutNext' | 'dropAfterAccept' | 'dropBeforeAccept' | 'queryTimeoutNext'): boolean => {
    if (faults[key] <= 0) return false;
    faults = { ...faults, [key]: faults[key] - 1 };
    return true;
  };

  async function route(req: http.IncomingMessage, segments: string[], query: URLSearchParams): Promise<Answer> {
    const method = req.method ?? 'GET';
    const [first, second, third, fourth] = segments;

    if (method === 'POST' && first === 'batches' && second !== undefined && third === undefined) {
      if (take('dropBeforeAccept')) return { fault: 'reset' };
      const file = await readBody(req, MAX_FILE_BYTES);
      const seal = headerSeal(req);
      const receipt = bank.receive(second, file, seal, { answerTwice: faults.answerTwice, outOfOrder: faults.outOfOrder });
      if (take('timeoutNext')) return { fault: 'hang' };
      if (take('dropAfterAccept')) return { fault: 'reset' };
      return json(receipt.httpStatus, receipt.ack);
    }
    if (method === 'GET' && ['batches', 'status-reports', 'accounts', 'notifications'].includes(first ?? '') && take('queryTimeoutNext')) {
      return { fault: 'hang' };
    }
    if (method === 'GET' && first === 'batches' && second !== undefined && third === 'status' && fourth === undefined) {
      const report = bank.statusReport(second);
      return report
        ? { status: 200, body: report.xml, type: 'xml', seal: Buffer.from(report.seal, 'base64') }
        : json(404, { error: 'no file with this MsgId was received', msgId: second });
    }
    if (method === 'GET' && first === 'status-reports' && second === undefined) return documents(bank.reportsSince(cursor(query), PAGE_SIZE));
    if (method === 'GET' && first === 'notifications' && second === undefined) return documents(bank.notificationsSince(cursor(query), PAGE_SIZE));
    if (method === 'GET' && first === 'accounts' && second !== undefined && third === 'statements' && fourth !== undefined && segments.length === 4) {
      const xml = bank.statement(second, fourth);
      return xml === null ? json(404, { error: 'no statement for this account and day', account: second, date: fourth }) : { status: 200, body: xml, type: 'xml' };
    }
    if (method === 'GET' && first === 'ledger' && second === undefined) return json(200, { credits: bank.ledger() });
    if (first === 'admin' && third === undefined) return admin(method, second, req);
    return json(404, { error: `no route ${method} /${segments.join('/')}` });
  }

  async function admin(method: string, what: string | undefined, req: http.IncomingMessage): Promise<Answer> {
    if (what === 'faults' && method === 'GET') return json(200, faults);
    if (what === 'faults' && method === 'DELETE') return json(200, (faults = { ...NO_FAULTS }));
    if (method !== 'POST') return json(404, { error: `no route ${method} /admin/${what ?? ''}` });
    const body = await readJson(req);
    switch (what) {
      case 'faults':
        return json(200, setFaults(body as Partial<BankFaults>));
      case 'accounts':
        bank.setAccount(body as AccountRequest);
        return json(200, { ok: true });
      case 'credits': {
        return json(200, bank.credit({ account: defaultAccount, ...body } as CreditRequest));
      }
      case 'returns':
        return json(200, bank.returnPayment(body as ReturnRequest));
      default:
        return json(404, { error: `no route POST /admin/${what ?? ''}` });
    }
  }

  function setFaults(update: Partial<BankFaults>): BankFaults {
    const next = { ...faults };
    for (const key of Object.keys(NO_FAULTS) as (keyof BankFaults)[]) {
      const value = update[key];
      if (value === undefined) continue;
      if (typeof NO_FAULTS[key] === 'boolean' ? typeof value !== 'boolean' : !(Number.isSafeInteger(value) && (value as number) >= 0)) {
        throw new BankRequestError(400, `${key} must be ${typeof NO_FAULTS[key] === 'boolean' ? 'true or false' : 'a whole number, 0 or more'}`);
      }
      (next as Record<string, unknown>)[key] = value;
    }
    faults = next;
    return faults;
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://bank');
    let segments: string[];
    try {
      segments = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    } catch {
      segments = ['?'];
    }
    const channel = segments[0] !== 'admin' && segments[0] !== 'ledger';
    route(req, segments, url.searchParams)
      .catch((error: unknown): Answer => {
        if (error instanceof BankRequestError) return json(error.httpStatus, { error: error.message });
        return json(500, { error: `the bank failed: ${(error as Error).message}` });
      })
      .then(async (answer) => {
        if ('fault' in answer) {
          // A hung request stays open until the client gives up (or the server closes).
          if (answer.fault === 'reset') req.socket.destroy();
          return;
        }
        if (channel && faults.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.delayMs));
        const body = Buffer.from(answer.body, 'utf8');
        res.writeHead(answer.status, {
          'content-type': answer.type === 'json' ? 'application/json; charset=utf-8' : 'application/xml; charset=utf-8',
          [SEAL_HEADER]: (answer.seal ?? bank.seal(body)).toString('base64'),
        });
        res.end(body);
      })
      .catch(() => req.socket.destroy());
  });

  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve((server.address() as { port: number }).port));
  });
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    bank,
    faults: () => faults,
    setFaults,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function headerSeal(req: http.IncomingMessage): Buffer | undefined {
  const value = req.headers[SEAL_HEADER];
  return typeof value === 'string' && value.length > 0 ? Buffer.from(value, 'base64') : undefined;
}

function cursor(query: URLSearchParams): number {
  const since = query.get('since');
  if (since === null || since === '') return 0;
  if (!/^\d{1,15}$/.test(since)) throw new BankRequestError(400, `since must be a cursor from an earlier answer, not ${JSON.stringify(since)}`);
  return Number(since);
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BankRequestError(413, `the request is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A JSON object, checked field by field by the bank. */
async function readJson(req: http.IncomingMessage): Promise<object> {
  const text = (await readBody(req, MAX_ADMIN_BYTES)).toString('utf8');
  try {
    const value: unknown = JSON.parse(text || '{}');
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch {
    // answered below
  }
  throw new BankRequestError(400, 'the request body must be a JSON object');
}
