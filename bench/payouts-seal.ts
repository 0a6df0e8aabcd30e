/**
 * Sealing a payout batch (issue 5): 10,000 payouts written as pain.001 (and re-checked with
 * checkPain001), sealed and verified against an in-memory CA. The baseline is node-forge alone:
 * its pkcs7 hashing the content in JavaScript and its RSA signing, as seals were made before
 * sealDocument digested with node:crypto. For the batch (about 8 MB) the seal times of sealDocument
 * with the native signer, of sealDocument with node-forge's RSA, and of node-forge alone are taken
 * in interleaved rounds, so load from elsewhere falls on all three, and reported as medians; then
 * calls per second of the RSA signature alone and of a one-payout file's seal. Keys are 2048-bit
 * RSA, as a production seal's; making them is not timed. No database or Redis.
 * `npm run bench -- payouts-seal` (PAYOUTS=n, SEAL_ROUNDS=n, SEAL_SECONDS=s per rate).
 */
import type { KeyObject } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import forge from 'node-forge';
import { checkPain001, writePain001, type Pain001Transaction } from '../src/banks/iso20022/pain001.ts';
import { prng, sampleMembers, sampleUnits } from '../src/demo/sampleData.ts';
import { binary, toDer, toForgeCertificate } from '../src/seals/cms/asn1.ts';
import { parseCrl } from '../src/seals/cms/crl.ts';
import { sealDocument, type Seal } from '../src/seals/cms/seal.ts';
import { forgeSigner, nativeSigner, toForgePrivateKey, type SealSigner } from '../src/seals/cms/signers.ts';
import { verifySeal, type Trust } from '../src/seals/cms/verify.ts';
import { createCertificateAuthority, issueCertificate, issueCrl } from '../certs/devCa.ts';
import { reportFigures, rounded, type Figure } from './_report.ts';
import { chinaDateTime } from '../src/kernel/time.ts';
import { fenToCny } from '../src/kernel/money.ts';

const payouts = Number(process.env.PAYOUTS ?? 10_000);
const secondsPerRate = Number(process.env.SEAL_SECONDS ?? 2.5);
const rounds = Number(process.env.SEAL_ROUNDS ?? 7);
// A native batch seal takes a few milliseconds: several per round keep timer and GC noise down.
const NATIVE_CALLS_PER_ROUND = 5;
const MIN_FEN = 10_000; // 100.00 CNY
const MAX_FEN = 6_000_000; // 60,000.00 CNY

const ca = createCertificateAuthority({ commonName: 'Bench Union CA' });
const union = issueCertificate(ca, { commonName: 'Bench Union Seal' });
const trust: Trust = { anchors: [ca.certificate], crls: [parseCrl(issueCrl(ca))] };
const sealWith = (signerFor: (key: KeyObject) => SealSigner): Seal => ({ certificate: union.certificate, chain: [], signer: signerFor(union.key) });
const nativeSeal = sealWith(nativeSigner);
const forgeSeal = sealWith(forgeSigner);
const forgeKey = toForgePrivateKey(union.key);

/**
 * The seal as node-forge alone makes it: pkcs7 copies the content into a binary string, hashes it
 * in JavaScript and signs with forge's RSA. Checked below to give sealDocument's very bytes.
 */
function forgeAloneSeal(content: Buffer, signingTime: Date = new Date()): Buffer {
  const certificate = toForgeCertificate(union.certificate);
  const signedData = forge.pkcs7.createSignedData();
  signedData.content = forge.util.createBuffer(binary(content));
  signedData.addCertificate(certificate);
  signedData.addSigner({
    key: forgeKey,
    certificate,
    digestAlgorithm: forge.pki.oids.sha256!,
    authenticatedAttributes: [
      { type: forge.pki.oids.contentType!, value: forge.pki.oids.data },
      { type: forge.pki.oids.signingTime!, value: signingTime.toISOString() },
      { type: forge.pki.oids.messageDigest! },
    ],
  });
  signedData.sign({ detached: true });
  return toDer(signedData.toAsn1());
}

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

/** Milliseconds per call, over `calls` calls. */
function msPerCall(calls: number, work: () => unknown): number {
  const started = performance.now();
  for (let i = 0; i < calls; i++) work();
  return (performance.now() - started) / calls;
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

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
const ms = (value: number) => `${value.toFixed(1)} ms`;

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

// PKCS#1 v1.5 is deterministic: all three ways must give the same bytes, or the times compare unlike work.
const small = Buffer.from(payoutBatch(transactions.slice(0, 1)), 'utf8');
const at = new Date();
const p7s = sealDocument(xml, nativeSeal, at);
for (const [content, name] of [[small, 'one-payout file'], [xml, 'batch']] as const) {
  const native = sealDocument(content, nativeSeal, at);
  if (!sealDocument(content, forgeSeal, at).equals(native)) fail(`the ${name}'s seals by the native and the forge signer differ`);
  if (!forgeAloneSeal(content, at).equals(native)) fail(`the ${name}'s seals by sealDocument and by node-forge alone differ`);
}
const firstCheck = verifySeal(xml, p7s, trust);
if (!firstCheck.valid) fail(`the seal does not verify: ${firstCheck.reason}`);
console.log(`.p7s ${p7s.length} bytes, verifies, signed by ${firstCheck.signer}`);

const batchTimes = { native: [] as number[], forgeRsa: [] as number[], forgeAlone: [] as number[], verify: [] as number[] };
for (let round = 0; round < rounds; round++) {
  batchTimes.forgeAlone.push(msPerCall(1, () => forgeAloneSeal(xml)));
  batchTimes.forgeRsa.push(msPerCall(1, () => sealDocument(xml, forgeSeal)));
  batchTimes.native.push(msPerCall(NATIVE_CALLS_PER_ROUND, () => sealDocument(xml, nativeSeal)));
  batchTimes.verify.push(msPerCall(NATIVE_CALLS_PER_ROUND, () => verifySeal(xml, p7s, trust)));
}
const batch = {
  nativeMs: median(batchTimes.native), forgeRsaMs: median(batchTimes.forgeRsa), forgeAloneMs: median(batchTimes.forgeAlone), verifyMs: median(batchTimes.verify),
};
const forgeOverNative = batch.forgeAloneMs / batch.nativeMs;
console.log(
  `seal of the ${payouts}-payout pain.001 (${mb(xml.length)}), medians of ${rounds} rounds: native ${ms(batch.nativeMs)}, ` +
    `node:crypto digest with node-forge RSA ${ms(batch.forgeRsaMs)}, node-forge alone ${ms(batch.forgeAloneMs)}; native is ${forgeOverNative.toFixed(1)}x faster`,
);
console.log(`verifySeal of the batch: ${ms(batch.verifyMs)}`);

// The RSA operation alone, to tell the signer's share from sealDocument's own (ASN.1, SHA-256).
const digest = Buffer.alloc(32, 7);
const rsaNative = perSecond(() => nativeSeal.signer.signDigest(digest));
const rsaForge = perSecond(() => forgeSeal.signer.signDigest(digest));
console.log(`RSA signature alone: native ${rsaNative.toFixed(1)}/s, node-forge ${rsaForge.toFixed(1)}/s; native is ${(rsaNative / rsaForge).toFixed(1)}x faster`);
const smallNative = perSecond(() => sealDocument(small, nativeSeal));
const smallForgeRsa = perSecond(() => sealDocument(small, forgeSeal));
const smallForgeAlone = perSecond(() => forgeAloneSeal(small));
console.log(
  `seal of a ${small.length}-byte pain.001 (1 payout): native ${smallNative.toFixed(1)}/s, with node-forge RSA ${smallForgeRsa.toFixed(1)}/s, ` +
    `node-forge alone ${smallForgeAlone.toFixed(1)}/s; native is ${(smallNative / smallForgeAlone).toFixed(1)}x faster`,
);

const loadAverage = loadavg();
console.log(`load average ${loadAverage.map((load) => load.toFixed(2)).join(' ')}`);
const figures: Record<string, Figure> = {
  payouts, pain001Bytes: xml.length, onePayoutPain001Bytes: small.length, writeMs: rounded(built.ms), checkMs: rounded(checked.ms), p7sBytes: p7s.length,
  sealRounds: rounds, seal8mbNativeMs: rounded(batch.nativeMs, 1), seal8mbForgeRsaMs: rounded(batch.forgeRsaMs, 1), seal8mbForgeAloneMs: rounded(batch.forgeAloneMs, 1),
  seal8mb_forge_over_native: rounded(forgeOverNative, 1), verifyMs: rounded(batch.verifyMs, 1),
  rsaNativePerSecond: rounded(rsaNative, 1), rsaForgePerSecond: rounded(rsaForge, 1), rsaNativeOverForge: rounded(rsaNative / rsaForge, 1),
  sealOnePayoutNativePerSecond: rounded(smallNative, 1), sealOnePayoutForgeRsaPerSecond: rounded(smallForgeRsa, 1),
  sealOnePayoutForgeAlonePerSecond: rounded(smallForgeAlone, 1), sealOnePayoutNativeOverForgeAlone: rounded(smallNative / smallForgeAlone, 1),
  loadAverage: loadAverage.map((load) => rounded(load, 2)),
};
reportFigures(import.meta.url, figures);
