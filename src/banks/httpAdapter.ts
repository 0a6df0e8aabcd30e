import {
  BankProtocolError, BankSealError, BankTimeoutError, checkSealedBy, SEAL_HEADER,
  type BankAdapter, type BankDocument, type BankDocumentPage, type BatchAcknowledgement, type BatchSubmission, type RefusedDocument, type SealedBy,
} from './adapter.ts';
import { parseCamt053, parseCamt054, type Camt053Message, type Camt054Message } from './iso20022/camt.ts';
import { parsePain002, type Pain002Parsed } from './iso20022/pain002.ts';

/**
 * The bank adapter over HTTP: the shape of a host-to-host channel (the simulator's routes are
 * documented in simulator/server.ts). Every answer must carry the bank's seal over its body
 * (`X-Seal`, base64 DER); the adapter checks it, that the signer is the configured bank
 * certificate, and that the answer is about what was asked, before anything is believed.
 */

export interface HttpBankAdapterOptions {
  /** Base URL of the bank's channel (BANK_URL). */
  url: string;
  /** Trust anchors and CRLs, and the bank's seal certificate(s) (BANK_CERT). */
  bank: SealedBy;
  /** Per request, connection to last byte (BANK_TIMEOUT_MS); default 30 s. */
  timeoutMs?: number;
}

interface Answer {
  status: number;
  body: Buffer;
  signer: string;
  signingTime: Date;
}

interface ListedDocument {
  xml: string;
  seal: string;
}

export class HttpBankAdapter implements BankAdapter {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: HttpBankAdapterOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async submitBatch({ msgId, xml, seal }: BatchSubmission): Promise<BatchAcknowledgement> {
    const answer = await this.call('POST', `/batches/${encodeURIComponent(msgId)}`, { body: xml, seal });
    // Only a sealed, readable refusal of this very file is a refusal; anything else proves nothing.
    const ack = this.json<Partial<BatchAcknowledgement>>(answer, 'acknowledgement');
    const expected = answer.status === 200 || (answer.status >= 400 && answer.status < 500);
    if (!expected || typeof ack.accepted !== 'boolean' || ack.accepted !== (answer.status === 200)) {
      throw new BankProtocolError(`the bank answered HTTP ${answer.status} with an acknowledgement that is not one: ${answer.body.toString('utf8').slice(0, 200)}`);
    }
    if (ack.msgId !== msgId) throw new BankProtocolError(`the acknowledgement is for MsgId ${String(ack.msgId)}, not ${msgId}`);
    return ack as BatchAcknowledgement;
  }

  async paymentStatus(msgId: string): Promise<BankDocument<Pain002Parsed> | null> {
    const answer = await this.call('GET', `/batches/${encodeURIComponent(msgId)}/status`);
    if (answer.status === 404) {
      const unknown = this.json<{ msgId?: unknown }>(answer, 'answer');
      if (unknown.msgId !== msgId) throw new BankProtocolError(`the bank's "not received" answer is about MsgId ${String(unknown.msgId)}, not ${msgId}`);
      return null;
    }
    const document = this.document(answer, parsePain002, 'pain.002');
    if (document.parsed.originalMsgId !== msgId) {
      throw new BankProtocolError(`the status report answers MsgId ${document.parsed.originalMsgId}, not ${msgId}`);
    }
    return document;
  }

  statusReports(since: string | null): Promise<BankDocumentPage<Pain002Parsed>> {
    return this.feed('/status-reports', since, parsePain002, 'pain.002');
  }

  async statement(accountId: string, date: string): Promise<BankDocument<Camt053Message> | null> {
    const answer = await this.call('GET', `/accounts/${encodeURIComponent(accountId)}/statements/${encodeURIComponent(date)}`);
    if (answer.status === 404) {
      const missing = this.json<{ account?: unknown; date?: unknown }>(answer, 'answer');
      if (missing.account !== accountId || missing.date !== date) throw new BankProtocolError(`the bank's "no statement" answer is not about ${accountId} on ${date}`);
      return null;
    }
    const document = this.document(answer, parseCamt053, 'camt.053');
    const other = document.parsed.statements.find((s) => s.account.id !== accountId || !statementCovers(s, date));
    if (other) throw new BankProtocolError(`the statement ${other.id} is not of account ${accountId} on ${date}`);
    return document;
  }

  notifications(since: string | null): Promise<BankDocumentPage<Camt054Message>> {
    return this.feed('/notifications', since, parseCamt054, 'camt.054');
  }

  private async feed<T>(route: string, since: string | null, parse: (xml: string) => T, name: string): Promise<BankDocumentPage<T>> {
    const answer = await this.call('GET', `${route}${since === null ? '' : `?since=${encodeURIComponent(since)}`}`);
    const page = this.json<{ documents?: ListedDocument[]; next?: unknown }>(answer, `${name} list`);
    if (!Array.isArray(page.documents) || typeof page.next !== 'string') throw new BankProtocolError(`the ${name} list has no documents or next cursor`);
    const documents: BankDocument<T>[] = [];
    const refused: RefusedDocument[] = [];
    page.documents.forEach((listed, i) => {
      if (typeof listed?.xml !== 'string' || typeof listed.seal !== 'string') throw new BankProtocolError(`${name} ${i + 1} of the list has no xml or seal`);
      const body = Buffer.from(listed.xml, 'utf8');
      const seal = Buffer.from(listed.seal, 'base64');
      const check = checkSealedBy(body, seal, this.options.bank);
      if (!check.valid) refused.push({ position: i + 1, xml: listed.xml, seal, reason: `${name} ${i + 1} of the list: its seal is refused: ${check.reason}` });
      else documents.push(this.document({ status: 200, body, signer: check.signer, signingTime: check.signingTime }, parse, name, seal));
    });
    return { documents, refused, nextCursor: page.next };
  }

  /**
   * One request. No answer, a reset or a 5xx: BankTimeoutError (outcome unknown). An answer whose
   * seal does not verify as the bank's: BankSealError. Otherwise the verified answer.
   */
  private async call(method: string, route: string, send?: { body: string; seal: Buffer }): Promise<Answer & { seal: Buffer }> {
    const what = `${method} ${route}`;
    let response: Response;
    let body: Buffer;
    try {
      response = await fetch(`${this.base}${route}`, {
        method,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(send && { body: send.body, headers: { 'content-type': 'application/xml; charset=utf-8', [SEAL_HEADER]: send.seal.toString('base64') } }),
      });
      body = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      throw new BankTimeoutError(`${what}: no answer from the bank (${describe(error)}); the outcome is unknown`, { cause: error });
    }
    if (response.status >= 500) {
      throw new BankTimeoutError(`${what}: the bank answered HTTP ${response.status}; the outcome is unknown`);
    }
    const header = response.headers.get(SEAL_HEADER);
    const seal = Buffer.from(header ?? '', 'base64');
    const check = checkSealedBy(body, seal, this.options.bank);
    if (!check.valid) throw new BankSealError(`${what}: the answer (HTTP ${response.status}) is not the bank's: ${check.reason}`);
    return { status: response.status, body, seal, signer: check.signer, signingTime: check.signingTime };
  }

  private document<T>(answer: Answer & { seal?: Buffer }, parse: (xml: string) => T, name: string, seal = answer.seal): BankDocument<T> {
    if (answer.status !== 200) throw new BankProtocolError(`expected a ${name}, the bank answered HTTP ${answer.status}`);
    const xml = answer.body.toString('utf8');
    try {
      return { xml, seal: seal!, parsed: parse(xml), sealedBy: answer.signer, sealedAt: answer.signingTime };
    } catch (error) {
      throw new BankProtocolError(`the bank's ${name} cannot be read: ${(error as Error).message}`, { cause: error });
    }
  }

  private json<T>(answer: Answer, name: string): T {
    try {
      const value: unknown = JSON.parse(answer.body.toString('utf8'));
      if (value !== null && typeof value === 'object') return value as T;
    } catch {
      // answered below
    }
    throw new BankProtocolError(`the bank's ${name} (HTTP ${answer.status}) is not a JSON object`);
  }
}

/** Whether a statement is the one of `date`: by its period, or else by its closing balance's date. */
function statementCovers(statement: Camt053Message['statements'][number], date: string): boolean {
  if (statement.fromToDate) return statement.fromToDate.from.startsWith(date);
  const closing = statement.balances.find((b) => b.type === 'CLBD');
  return closing === undefined || closing.date.startsWith(date);
}

/** fetch hides the network error in `cause` (ECONNRESET, ECONNREFUSED, UND_ERR_SOCKET ...). */
function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  return [e.message, e.cause?.code ?? e.cause?.message].filter(Boolean).join(': ') || String(error);
}
