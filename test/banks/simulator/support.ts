import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { afterAll, afterEach } from 'vitest';
import path from 'node:path';
import { writeDevCertificates } from '../../../certs/devCa.ts';
import { SEAL_HEADER, type BatchSubmission, type SealedBy } from '../../../src/banks/adapter.ts';
import { HttpBankAdapter } from '../../../src/banks/httpAdapter.ts';
import { writePain001, type Pain001Transaction } from '../../../src/banks/iso20022/pain001.ts';
import type { LedgerCredit } from '../../../src/banks/simulator/books.ts';
import { simulatorCertificates } from '../../../src/banks/simulator/certificates.ts';
import { startBankSimulator, type BankSimulator, type BankSimulatorOptions } from '../../../src/banks/simulator/server.ts';
import { certificatesFromPem, sealFromPem } from '../../../src/seals/cms/keys.ts';
import { parseCrlsPem } from '../../../src/seals/cms/crl.ts';
import { sealDocument, type Seal } from '../../../src/seals/cms/seal.ts';
import { devCertificateFiles } from '../../../src/seals/settings.ts';

export const UNION_ACCOUNT = '1408010109024561234';
export const UNION_BANK = '102397000015';
export const PAYEE_BANK = '102397000023';

/** Development certificates in a directory of this test file's own, as `hub certs dev` writes them. */
export function devPki() {
  const dir = mkdtempSync(path.join(tmpdir(), 'hub-bank-sim-'));
  const certsDir = path.join(dir, 'certs');
  writeDevCertificates(certsDir, { p12Passphrase: 'test-only' });
  const files = devCertificateFiles(certsDir);
  const read = (file: string) => readFileSync(file, 'utf8');
  const union: Seal = sealFromPem(read(files.seal), read(files.sealKey));
  /** What the hub trusts: the dev CA and CRL, and the bank certificate as the bank's sealer. */
  const bank: SealedBy = {
    trust: { anchors: certificatesFromPem(read(files.ca)), crls: parseCrlsPem(read(files.crl)) },
    certificates: certificatesFromPem(read(files.bank)),
  };
  // The bank's own key, for a test standing in the middle that must seal as the bank does.
  const bankSeal: Seal = sealFromPem(read(files.bank), read(files.bankKey));
  return { dir, certsDir, files, union, bank, bankSeal, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export type Pki = ReturnType<typeof devPki>;

/** For a test file: its certificates, removed at the end, and its simulators, stopped after each test. */
export function testFilePki(): Pki {
  const pki = devPki();
  afterEach(stopAll);
  afterAll(() => pki.remove());
  return pki;
}

export interface RunningBank {
  simulator: BankSimulator;
  adapter: HttpBankAdapter;
  ledger(): Promise<LedgerCredit[]>;
  admin(route: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** A fresh simulator on a free port, with an HTTP adapter pointed at it; closed by `stopAll`. */
export async function startBank(pki: Pki, options: Partial<BankSimulatorOptions> & { timeoutMs?: number } = {}): Promise<RunningBank> {
  const simulator = await startBankSimulator({ ...simulatorCertificates(pki.certsDir), ...options });
  running.push(simulator);
  const adapter = new HttpBankAdapter({ url: simulator.url, bank: pki.bank, timeoutMs: options.timeoutMs ?? 5_000 });
  return {
    simulator,
    adapter,
    ledger: async () => ((await (await fetch(`${simulator.url}/ledger`)).json()) as { credits: LedgerCredit[] }).credits,
    admin: async (route, body) => {
      const response = await fetch(`${simulator.url}${route}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
  };
}

const running: BankSimulator[] = [];

export async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((s) => s.close()));
}

export interface Payout {
  endToEndId: string;
  account: string;
  amountFen: number;
  name?: string;
}

let counter = 0;

/** A payee account ending in 5 so the closed/wrong suffix rules (0004, 0001) leave it open. */
export function openAccount(): string {
  counter += 1;
  return `62220214080${String(counter).padStart(7, '0')}5`;
}

export function payout(endToEndId: string, amountFen: number, account = openAccount()): Payout {
  return { endToEndId, account, amountFen };
}

export function pain001(msgId: string, payouts: Payout[], debtorAccount = UNION_ACCOUNT): string {
  const transactions: Pain001Transaction[] = payouts.map((p, i) => ({
    endToEndId: p.endToEndId,
    instructionId: `${msgId}-${i + 1}`,
    amountFen: p.amountFen,
    creditor: { name: p.name ?? `会员${i + 1}`, account: p.account },
    creditorAgent: PAYEE_BANK,
    remittanceInfo: `住院医疗互助金 ${p.endToEndId}`,
  }));
  return writePain001({
    msgId,
    createdAt: '2025-06-03T09:30:00+08:00',
    initiatingParty: { name: '泉州市总工会', id: '81350500MA34567890' },
    paymentInfo: {
      pmtInfId: `${msgId}-P1`,
      requestedExecutionDate: '2025-06-04',
      debtor: { name: '泉州市总工会', account: debtorAccount, agent: UNION_BANK },
      chargeBearer: 'SLEV',
    },
    transactions,
  });
}

/** A pain.001 sealed with the union seal, ready for `submitBatch`. */
export function sealedBatch(pki: Pki, msgId: string, payouts: Payout[], debtorAccount?: string): BatchSubmission {
  const xml = pain001(msgId, payouts, debtorAccount);
  return { msgId, xml, seal: sealDocument(Buffer.from(xml, 'utf8'), pki.union) };
}

/** China date of now, as the simulator books. */
export function chinaToday(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

export interface Relayed {
  route: string;
  status: number;
  body: Buffer;
  seal: Buffer;
}

/** A man in the middle: relays to the bank and lets the test change the answer (body, status, seal). */
export async function middleman(pki: Pki, target: string, change: (answer: Relayed) => Relayed): Promise<{ adapter: HttpBankAdapter; close: () => Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const forwarded = await fetch(`${target}${req.url}`, {
      method: req.method,
      ...(chunks.length > 0 && { body: Buffer.concat(chunks).toString('utf8') }),
      headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k === SEAL_HEADER || k === 'content-type')) as Record<string, string>,
    });
    const answer = change({
      route: req.url ?? '/',
      status: forwarded.status,
      body: Buffer.from(await forwarded.arrayBuffer()),
      seal: Buffer.from(forwarded.headers.get(SEAL_HEADER) ?? '', 'base64'),
    });
    res.writeHead(answer.status, answer.seal.length > 0 ? { [SEAL_HEADER]: answer.seal.toString('base64') } : {}).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    adapter: new HttpBankAdapter({ url, bank: pki.bank, timeoutMs: 5_000 }),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * For `middleman`: the bank's feed at `route` lists its first document with a seal the bank made
 * four days ago (past the signing window), the page itself sealed by the bank now.
 */
export function staleFirstDocument(pki: Pki, route: string): (answer: Relayed) => Relayed {
  const fourDaysAgo = new Date(Date.now() - 96 * 3_600_000);
  return (a) => {
    if (!a.route.startsWith(route)) return a;
    const page = JSON.parse(a.body.toString('utf8')) as { documents: { xml: string; seal: string }[] };
    if (page.documents.length === 0) return a;
    page.documents[0]!.seal = sealDocument(Buffer.from(page.documents[0]!.xml, 'utf8'), pki.bankSeal, fourDaysAgo).toString('base64');
    const body = Buffer.from(JSON.stringify(page));
    return { ...a, body, seal: sealDocument(body, pki.bankSeal) };
  };
}
