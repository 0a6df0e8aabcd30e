/**
 * Sealing a payout batch (issue 5): 10,000 payouts written as pain.001 (and re-checked with
 * checkPain001), sealed with the native signer and verified against an in-memory CA; then seals
 * per second, node:crypto signer against node-forge's pure-JS RSA, for a one-payout file and for
 * the whole batch. Keys are 2048-bit RSA, as a production seal's; making them is not timed.
 * No database or Redis. `npm run bench -- payouts-seal` (PAYOUTS=n, SEAL_SECONDS=s per rate).
 */
import type { KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { checkPain001, writePain001, type Pain001Transaction } from '../src/banks/iso20022/pain001.ts';
import { prng, sampleMembers, sampleUnits } from '../src/demo/sampleData.ts';
import { parseCrl } from '../src/seals/cms/crl.ts';
import { sealDocument, type Seal } from '../src/seals/cms/seal.ts';
import { forgeSigner, nativeSigner, type SealSigner } from '../src/seals/cms/signers.ts';
import { verifySeal, type Trust } from '../src/seals/cms/verify.ts';
import { createCertificateAuthority, issueCertificate, issueCrl } from '../certs/devCa.ts';
import { reportFigures, rounded, type Figure } from './_report.ts';
import { chinaDateTime } from '../src/kernel/time.ts';
import { fenToCny } from '../src/kernel/money.ts';

const payouts = Number(process.env.PAYOUTS ?? 10_000);
const secondsPerRate = Number(process.env.SEAL_SECONDS ?? 2.5);
const MIN_FEN = 10_000; // 100.00 CNY
const MAX_FEN = 6_000_000; // 60,000.00 CNY

const ca = createCertificateAuthority({ commonName: 'Bench Union CA' });
const union = issueCertificate(ca, { commonName: 'Bench Union Seal' });
const trust: Trust = { anchors: [ca.certificate], crls: [parseCrl(issueCrl(ca))] };
const sealWith = (signerFor: (key: KeyObject) => SealSigner): Seal => ({ certificate: union.certificate, chain: [], signer: signerFor(union.key) });
const nativeSeal = sealWith(nativeSigner);
const forgeSeal = sealWith(forgeSigner);

/** Payouts to sample members (Luhn-valid 19-digit cards, CNAPS codes, Chinese names), 100.00 to 60,000.00 CNY. */
function payoutTransactions(count: number): Pain001Transaction[] {
  const amount = prng(5);
  return [...sampleMembers(count, sampleUnits(1))].map((member, i) => {
    const endToEndId = `MAH-P-20250603-${String(i + 1).padStart(6, '0')}`;
    return {
      endToEndId,
      amountFen: MIN_FEN + Math.floor(amount() * (MAX_FEN - MIN_FEN + 1)),
      creditor: { name: member.name, account: member.bankCard },
      creditorAgent: member.bankCode,
      remittanceInfo: `2025年住院医疗互助金 ${endToEndId}`,
    };
  });
}

/** One batch from the union's account. */
function payoutBatch(transactions: Pain001Transaction[]): string {
  return writePain001({
    msgId: 'MAH-20250603-0001',
    createdAt: chinaDateTime(new Date()),
    initiatingParty: { name: '泉州市总工会', id: '81350500MA34567890' },
    paymentInfo: {
      pmtInfId: 'MAH-20250603-0001-P1',
      requestedExecutionDate: '2025-06-04',
      debtor: { name: '泉州市总工会', account: '1408010109024561234', agent: '102397000015' },
      chargeBearer: 'SLEV',
      batchBooking: true,
    },
    transactions,
  });
}

function timed<T>(work: () => T): { result: T; ms: number } {
  const started = performance.now();
  const result = work();
  return { result, ms: performance.now() - started };
}

/** Calls per second over about `secondsPerRate`, after one untimed call (JIT warm-up). */
function perSecond(work: () => unknown): number {
  work();
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    work();
    calls += 1;
    elapsed = performance.now() - started;
  } while (elapsed < secondsPerRate * 1000);
  return (calls * 1000) / elapsed;
}

function fail(message: string): never {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const ms = (value: number) => `${value.toFixed(0)} ms`;

const transactions = payoutTransactions(payouts);
const expectedFen = transactions.reduce((sum, tx) => sum + tx.amountFen, 0);
const built = timed(() => payoutBatch(transactions));
const xml = Buffer.from(built.result, 'utf8');
console.log(`writePain001, ${payouts} payouts: ${ms(built.ms)}, ${mb(xml.length)}`);

const checked = timed(() => checkPain001(built.result));
const { nbOfTxs, ctrlSumFen, problems } = checked.result;
if (nbOfTxs !== payouts || ctrlSumFen !== expectedFen || problems.length > 0) {
  fail(`checkPain001 read ${nbOfTxs} transactions summing to ${ctrlSumFen} fen, problems ${JSON.stringify(problems.slice(0, 3))}`);
}
console.log(`checkPain001: ${ms(checked.ms)}, NbOfTxs ${nbOfTxs}, CtrlSum ${fenToCny(ctrlSumFen!)} CNY agree`);

const sealed = timed(() => sealDocument(xml, nativeSeal));
console.log(`seal (native signer): ${ms(sealed.ms)}, .p7s ${sealed.result.length} bytes`);
const verified = timed(() => verifySeal(xml, sealed.result, trust));
if (!verified.result.valid) fail(`the seal does not verify: ${verified.result.reason}`);
console.log(`verifySeal: ${ms(verified.ms)}, valid, signed by ${verified.result.signer}`);

// PKCS#1 v1.5 is deterministic: both signers must give the same bytes, or the rates compare unlike work.
const small = Buffer.from(payoutBatch(transactions.slice(0, 1)), 'utf8');
const at = new Date();
if (!sealDocument(small, forgeSeal, at).equals(sealDocument(small, nativeSeal, at))) fail('forge and native seals differ');

// The RSA operation alone, to tell the signer's share from sealDocument's own (forge ASN.1, SHA-256).
const digest = Buffer.alloc(32, 7);
const rates: Array<[string, string, (seal: Seal) => number]> = [
  ['rsa', 'RSA signature alone', (seal) => perSecond(() => seal.signer.signDigest(digest))],
  ['sealOnePayout', `seal of a ${small.length}-byte pain.001 (1 payout)`, (seal) => perSecond(() => sealDocument(small, seal))],
  ['sealBatch', `seal of the ${payouts}-payout pain.001 (${mb(xml.length)})`, (seal) => perSecond(() => sealDocument(xml, seal))],
];
const rateFigures: Record<string, Figure> = {};
for (const [key, label, rate] of rates) {
  const nativeRate = rate(nativeSeal);
  const forgeRate = rate(forgeSeal);
  console.log(`${label}: native ${nativeRate.toFixed(1)}/s, node-forge ${forgeRate.toFixed(1)}/s; native is ${(nativeRate / forgeRate).toFixed(1)}x faster`);
  rateFigures[`${key}NativePerSecond`] = rounded(nativeRate, 1);
  rateFigures[`${key}ForgePerSecond`] = rounded(forgeRate, 1);
  rateFigures[`${key}NativeOverForge`] = rounded(nativeRate / forgeRate, 1);
}
reportFigures(import.meta.url, {
  payouts, pain001Bytes: xml.length, onePayoutPain001Bytes: small.length, writeMs: rounded(built.ms), checkMs: rounded(checked.ms), sealMs: rounded(sealed.ms),
  p7sBytes: sealed.result.length, verifyMs: rounded(verified.ms), ...rateFigures,
});
