import { createHash, randomBytes } from 'node:crypto';
import { lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedBatch, approvedClaims, keys, type ApprovedClaim } from '../payouts/support.ts';
import { seedUnit } from '../benefits/seed.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { markBatchSealed } from '../../src/payouts/store/batches.ts';
import { fileToKeep } from '../../src/payouts/files.ts';
import { signFileToken } from '../../src/gateway/files.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { rosterImportProcessor } from '../../jobs/members.ts';
import type { RosterImportJob } from '../../src/members/queue.ts';
import { log } from '../../src/log.ts';
import { upsertSource } from '../../src/settlements/store.ts';
import { simulatorCertificates } from '../../src/banks/simulator/certificates.ts';
import { sealDocument } from '../../src/seals/cms/seal.ts';
import { testFilePki } from '../banks/simulator/support.ts';
import { bookedEntry, handStatement } from '../reconciliation/support.ts';

/**
 * Files as files (issue 16): a roster, a settlements file and a bank statement PUT as raw bytes to
 * a signed upload URL and taken by `uploadId`; a batch file and its seal fetched from signed download URLs, once each, masked for
 * readers and in clear for FINANCE after the audited reveal.
 */
let db: TestDatabase;
let gw: TestGateway;
let uploadDir: string;
let origin: string;
const pki = testFilePki();

beforeAll(async () => {
  // The gateway recognises the bank's seal: this file's development certificates.
  process.env.CERTS_DIR = pki.certsDir;
  db = await freshDatabase();
  uploadDir = mkdtempSync(path.join(tmpdir(), 'hub-uploads-'));
  // The gateway reads batch files the payouts' test key encrypted.
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64'), FILE_UPLOAD_DIR: uploadDir });
  origin = new URL(gw.url).origin;
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
  rmSync(uploadDir, { recursive: true, force: true });
});

const REQUEST_UPLOAD = 'mutation { requestUpload(input: { purpose: ROSTER_IMPORT }) { upload { uploadId url expiresAt maxBytes } userErrors { field message } } }';
const IMPORT = 'mutation($input: ImportRosterInput!) { importRoster(input: $input) { rosterImport { id status } userErrors { field code message } } }';
const UPLOAD_SETTLEMENTS = `mutation($input: UploadSettlementsInput!) { uploadSettlements(input: $input) {
  run { id status received newSettlements duplicates rejected } userErrors { field code message } } }`;
const UPLOAD_STATEMENT = `mutation($input: UploadBankStatementInput!) { uploadBankStatement(input: $input) {
  document { id kind status entries newEntries sealedBy } userErrors { field code message } } }`;

const idNumber = (n: number) => withResidentIdCheck(`35052119800101${String(n).padStart(3, '0')}`);
const filesOf = (uploadId: string) => readdirSync(uploadDir).filter((f) => f.startsWith(uploadId));

/** An upload id for `bytes`, PUT to the URL `who` was given for `purpose`. */
async function put(who: Parameters<TestGateway['query']>[0], purpose: string, bytes: string | Buffer): Promise<string> {
  const ticket = (await gw.query(who, 'mutation($p: UploadPurpose!) { requestUpload(input: { purpose: $p }) { upload { uploadId url } } }', { p: purpose })).data.requestUpload.upload;
  const sent = await fetch(origin + ticket.url, { method: 'PUT', body: typeof bytes === 'string' ? bytes : new Uint8Array(bytes) });
  expect(sent.status).toBe(201);
  return ticket.uploadId;
}

describe('uploads by URL', () => {
  it('imports a roster PUT to its URL as the same roster sent inline would be, and uses the upload once', async () => {
    const unit = await seedUnit(db.pool);
    const operator = { role: 'UNIT_OPERATOR' as const, unit: unit.creditCode, sub: 'operator-lin' };
    const ticket = (await gw.query(operator, REQUEST_UPLOAD)).data.requestUpload.upload;
    expect(ticket).toMatchObject({ uploadId: expect.stringMatching(/^[0-9a-f]{32}$/), url: expect.stringMatching(/^\/files\/uploads\?token=/), maxBytes: gw.config.FILE_UPLOAD_MAX_BYTES });
    expect(Date.parse(ticket.expiresAt) - Date.now()).toBeLessThanOrEqual(gw.config.FILE_URL_TTL_SECONDS * 1000);

    const bytes = Buffer.from(`name,id_number\n${[1, 2, 3].map((n) => `会员${n},${idNumber(n)}`).join('\n')}\n`);
    const put = await fetch(origin + ticket.url, { method: 'PUT', body: new Uint8Array(bytes) });
    expect(put.status).toBe(201);
    expect(await put.json()).toEqual({ uploadId: ticket.uploadId, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    // Kept encrypted while it waits: no ID number on disk.
    const waiting = readdirSync(uploadDir).filter((f) => f.startsWith(ticket.uploadId));
    expect(waiting.sort()).toEqual([`${ticket.uploadId}.bin`, `${ticket.uploadId}.json`]);
    for (const f of waiting) expect(readFileSync(path.join(uploadDir, f)).includes(idNumber(1))).toBe(false);

    const started = (await gw.query(operator, IMPORT, { input: { fileName: 'roster.csv', uploadId: ticket.uploadId } })).data.importRoster;
    expect(started.userErrors).toEqual([]);
    expect(readdirSync(uploadDir).filter((f) => f.startsWith(ticket.uploadId))).toEqual([]);
    await rosterImportProcessor(db.pool, gw.keys, log)({ data: { importId: localId('id', started.rosterImport.id, 'RosterImport') } } as Job<RosterImportJob>);
    const done = await gw.query(operator, 'query($id: ID!) { rosterImport(id: $id) { status rowsInserted rowsRejected } }', { id: started.rosterImport.id });
    expect(done.data.rosterImport).toEqual({ status: 'DONE', rowsInserted: 3, rowsRejected: 0 });
    const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM members WHERE unit_id = $1 ORDER BY name', [unit.id]);
    expect(rows.map((r) => r.name)).toEqual(['会员1', '会员2', '会员3']);

    const again = (await gw.query(operator, IMPORT, { input: { fileName: 'roster.csv', uploadId: ticket.uploadId } })).data.importRoster;
    expect(again).toMatchObject({ rosterImport: null, userErrors: [{ field: 'input.uploadId', code: 'INVALID' }] });
  });

  it('takes exactly one of csv, contentBase64 and uploadId', async () => {
    const result = await gw.query({ role: 'ADMIN' }, IMPORT, { input: { fileName: 'r.csv', csv: 'name,id_number\n', uploadId: 'f'.repeat(32) } });
    expect(result.data.importRoster.userErrors).toEqual([expect.objectContaining({ code: 'INVALID', message: expect.stringMatching(/exactly one of csv, contentBase64 and uploadId/) })]);
  });

  it('stores a settlements file PUT to its URL as the same file sent inline, and keeps it for another try after a refusal', async () => {
    const service = { role: 'SERVICE' as const, sub: 'platform-feed' };
    const record = (setlId: string, total: string) => ({
      setl_id: setlId, mdtrt_id: `M-${setlId}`, psn_no: 'P9', psn_name: '会员九', certno: idNumber(9), insutype: '310',
      med_type: '11', setl_time: '2025-05-05 08:30:00', medfee_sumamt: total, fulamt_ownpay_amt: '0', overlmt_selfpay: '0',
      fund_pay_sumamt: '60.00', psn_part_amt: '40.00', acct_pay: '40.00', psn_cash_pay: '0.00',
    });
    // 60 + 40 = 100: the third record's 99.00 is rejected.
    const content = [record('URL-1', '100.00'), record('URL-2', '100.00'), record('URL-3', '99.00')].map((r) => JSON.stringify(r)).join('\n');
    const uploadId = await put(service, 'SETTLEMENTS', content);

    // Refused after the upload was taken (a pulled source takes no file): it waits for another try.
    await upsertSource(db.pool, { name: 'pulled', kind: 'PLATFORM', endpoint: 'http://127.0.0.1:9/none', pageSize: 10 });
    const refused = (await gw.query(service, UPLOAD_SETTLEMENTS, { input: { fileName: 'h.jsonl', uploadId, source: 'pulled' } })).data.uploadSettlements;
    expect(refused).toMatchObject({ run: null, userErrors: [{ field: 'input.source', code: 'INVALID' }] });
    expect(filesOf(uploadId)).toHaveLength(2);

    const byUrl = (await gw.query(service, UPLOAD_SETTLEMENTS, { input: { fileName: 'h.jsonl', uploadId, source: 'by-url' } })).data.uploadSettlements;
    expect(byUrl.userErrors).toEqual([]);
    expect(byUrl.run).toMatchObject({ status: 'DONE', received: 3, newSettlements: 2, duplicates: 0, rejected: 1 });
    expect(filesOf(uploadId)).toEqual([]);
    // The same file inline, under another source, is read alike; under the same source it is the same records again.
    const counts = (r: { run: Record<string, unknown> }) => ({ status: r.run.status, received: r.run.received, newSettlements: r.run.newSettlements, rejected: r.run.rejected });
    const inline = (await gw.query(service, UPLOAD_SETTLEMENTS, { input: { fileName: 'h.jsonl', content, source: 'inline' } })).data.uploadSettlements;
    expect(counts(inline)).toEqual(counts(byUrl));
    const again = (await gw.query(service, UPLOAD_SETTLEMENTS, { input: { fileName: 'h.jsonl', content, source: 'by-url' } })).data.uploadSettlements;
    expect(again.run).toMatchObject({ received: 3, newSettlements: 0, duplicates: 3, rejected: 0 });

    const spent = (await gw.query(service, UPLOAD_SETTLEMENTS, { input: { fileName: 'h.jsonl', uploadId, source: 'by-url' } })).data.uploadSettlements;
    expect(spent).toMatchObject({ run: null, userErrors: [{ field: 'input.uploadId', code: 'INVALID' }] });
  });

  it('takes a camt.053 PUT to its URL as the same document sent inline, the seal checked over the bytes PUT', async () => {
    const finance = { role: 'FINANCE' as const, sub: 'finance-wang' };
    const unsealed = handStatement('2025-08-01', 0, [bookedEntry('CRDT', 700, '2025-08-01')]);
    const uploadId = await put(finance, 'BANK_STATEMENT', unsealed);
    const byUrl = (await gw.query(finance, UPLOAD_STATEMENT, { input: { fileName: 'aug.xml', uploadId } })).data.uploadBankStatement;
    expect(byUrl).toMatchObject({ userErrors: [], document: { kind: 'CAMT_053', status: 'AWAITING_CONFIRMATION', entries: 1, newEntries: 0, sealedBy: null } });
    expect(filesOf(uploadId)).toEqual([]);
    // One document per SHA-256 of its bytes: the same text inline is that document.
    const inline = (await gw.query(finance, UPLOAD_STATEMENT, { input: { fileName: 'aug.xml', content: unsealed } })).data.uploadBankStatement;
    expect(inline.document).toEqual(byUrl.document);

    // The bank's seal over the very bytes PUT, byte-order mark included: verified, accepted at once.
    const bytes = Buffer.from(`\uFEFF${handStatement('2025-08-02', 0, [bookedEntry('CRDT', 800, '2025-08-02')])}`, 'utf8');
    const seal = sealDocument(bytes, simulatorCertificates(pki.certsDir).bankSeal).toString('base64');
    const sealed = (await gw.query(finance, UPLOAD_STATEMENT, { input: { fileName: 'aug2.xml', uploadId: await put(finance, 'BANK_STATEMENT', bytes), sealBase64: seal } })).data.uploadBankStatement;
    expect(sealed).toMatchObject({ userErrors: [], document: { status: 'ACCEPTED', entries: 1, newEntries: 1, sealedBy: expect.any(String) } });
  });

  it('takes exactly one of content and uploadId for settlements and statements, and only UTF-8 text by URL', async () => {
    const admin = { role: 'ADMIN' as const, sub: 'admin-he' };
    for (const input of [{ fileName: 'a.jsonl' }, { fileName: 'a.jsonl', content: '{}', uploadId: 'f'.repeat(32) }]) {
      expect((await gw.query(admin, UPLOAD_SETTLEMENTS, { input })).data.uploadSettlements)
        .toMatchObject({ run: null, userErrors: [{ code: 'INVALID', message: expect.stringMatching(/: give exactly one of content and uploadId$/) }] });
      expect((await gw.query(admin, UPLOAD_STATEMENT, { input })).data.uploadBankStatement)
        .toMatchObject({ document: null, userErrors: [{ code: 'INVALID', message: expect.stringMatching(/: give exactly one of content and uploadId$/) }] });
    }
    // GB18030 text, and a NUL no string argument may carry: refused by name, kept for the caller to see.
    const notUtf8 = await put(admin, 'SETTLEMENTS', Buffer.from([0x7b, 0xbb, 0xe1, 0x7d]));
    expect((await gw.query(admin, UPLOAD_SETTLEMENTS, { input: { fileName: 'a.jsonl', uploadId: notUtf8 } })).data.uploadSettlements)
      .toEqual({ run: null, userErrors: [{ field: 'input.uploadId', code: 'INVALID', message: 'input.uploadId: is not UTF-8 text' }] });
    const withNul = await put(admin, 'BANK_STATEMENT', '<Document>\u0000</Document>');
    expect((await gw.query(admin, UPLOAD_STATEMENT, { input: { fileName: 'a.xml', uploadId: withNul } })).data.uploadBankStatement)
      .toEqual({ document: null, userErrors: [{ field: 'input.uploadId', code: 'INVALID', message: 'input.uploadId: must not contain U+0000 (NUL)' }] });
    expect(filesOf(notUtf8)).toHaveLength(2);
  });
});

/**
 * The sweep each upload makes of FILE_UPLOAD_DIR, a folder an operator may share: it removes the hub's
 * own uploads left longer than an hour, and refuses to touch anything else there (another file, a
 * folder, a link, a name that only looks like an upload's) or to fail the upload it follows.
 */
describe('the upload folder', () => {
  it('sweeps only its own stale uploads, and a folder there does not fail an upload', async () => {
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    const aged = (name: string) => utimesSync(path.join(uploadDir, name), twoHoursAgo, twoHoursAgo);
    const abandoned = randomBytes(16).toString('hex');
    const ours = [`${abandoned}.bin`, `${abandoned}.json`, `${randomBytes(16).toString('hex')}.part`];
    const others = ['seal.p12', 'MAH-20261201-B7-0A1B2C.xml', `${abandoned}.bin.bak`, `${abandoned.toUpperCase()}.bin`, `x${abandoned}.json`];
    for (const name of [...ours, ...others]) {
      writeFileSync(path.join(uploadDir, name), 'bytes');
      aged(name);
    }
    const folders = ['certs', `${randomBytes(16).toString('hex')}.bin`];
    for (const name of folders) {
      mkdirSync(path.join(uploadDir, name));
      aged(name);
    }
    const link = `${randomBytes(16).toString('hex')}.json`;
    symlinkSync(path.join(uploadDir, 'seal.p12'), path.join(uploadDir, link));
    lutimesSync(path.join(uploadDir, link), twoHoursAgo, twoHoursAgo);

    const uploadId = await put({ role: 'ADMIN', sub: 'admin-he' }, 'ROSTER_IMPORT', 'name,id_number\n');
    const left = readdirSync(uploadDir);
    expect(left).toEqual(expect.arrayContaining([...others, ...folders, link, `${uploadId}.bin`, `${uploadId}.json`]));
    expect(left.filter((name) => ours.includes(name))).toEqual([]);
  });
});

/** A sealed batch of two payouts whose file names the creditors' cards (the seal is not checked here: any bytes). */
async function sealedBatch(): Promise<{ id: number; msgId: string; claims: ApprovedClaim[]; xml: string; seal: Buffer }> {
  const claims = await approvedClaims(db.pool, 2);
  const batch = await approvedBatch(db.pool);
  const xml = `<Document>${claims.map((c) => `<CdtTrfTxInf><CdtrAcct><Id><Othr><Id>${c.card}</Id></Othr></Id></CdtrAcct></CdtTrfTxInf>`).join('')}</Document>`;
  const seal = randomBytes(64);
  await inTransaction(db.pool, (tx) => markBatchSealed(tx, batch.id, { ...fileToKeep(gw.keys, xml, Buffer.from(xml)), seal, sealedAt: new Date(), requestedExecutionDate: chinaToday() }));
  return { ...batch, claims, xml, seal };
}

const FINANCE = { role: 'FINANCE' as const, sub: 'finance-wang' };
const AUDITOR = { role: 'AUDITOR' as const, sub: 'auditor-chen' };
const URLS = 'query($id: ID!) { payoutBatch(id: $id) { fileUrl { url expiresAt } sealUrl { url expiresAt } } }';
const REVEAL = `mutation($id: ID!) { revealPayoutBatchFile(input: { batchId: $id, reason: "the bank asked for the file" }) { file { sha256 fileUrl { url expiresAt } } userErrors { message } } }`;

describe('downloads by URL', () => {
  it('serves a batch file masked to its readers and its seal, each URL once', async () => {
    const batch = await sealedBatch();
    const urls = (await gw.query(AUDITOR, URLS, { id: toGlobalId('PayoutBatch', batch.id) })).data.payoutBatch;
    const file = await fetch(origin + urls.fileUrl.url);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-disposition')).toContain(`${batch.msgId}.xml`);
    expect(file.headers.get('cache-control')).toBe('no-store');
    const text = await file.text();
    for (const c of batch.claims) {
      expect(text).not.toContain(c.card);
      expect(text).toContain(`${c.card.slice(0, 4)} **** **** ${c.card.slice(-4)}`);
    }
    const seal = await fetch(origin + urls.sealUrl.url);
    expect(Buffer.from(await seal.arrayBuffer()).equals(batch.seal)).toBe(true);

    const twice = await fetch(origin + urls.fileUrl.url);
    expect(twice.status).toBe(410);
  });

  it('gives FINANCE the clear file after the audited reveal, and audits the download too', async () => {
    const batch = await sealedBatch();
    const result = await gw.query(FINANCE, REVEAL, { id: toGlobalId('PayoutBatch', batch.id) });
    expect(result.errors).toBeUndefined();
    const revealed = result.data.revealPayoutBatchFile;
    expect(revealed.userErrors).toEqual([]);
    const download = await fetch(origin + revealed.file.fileUrl.url);
    expect(download.status).toBe(200);
    expect(await download.text()).toBe(batch.xml);
    const { rows } = await db.pool.query(
      `SELECT actor, role, action, reason FROM audit_log WHERE target_id = $1 AND action IN ('payout.batch.reveal', 'payout.batch.download') ORDER BY seq`, [batch.msgId]);
    expect(rows).toEqual([
      { actor: 'finance-wang', role: 'FINANCE', action: 'payout.batch.reveal', reason: 'the bank asked for the file' },
      { actor: 'finance-wang', role: 'FINANCE', action: 'payout.batch.download', reason: null },
    ]);
  });

  it('refuses a URL once it has expired (the clock moved past it, not waited for)', async () => {
    const batch = await sealedBatch();
    const issuedLongAgo = Date.now() - gw.config.FILE_URL_TTL_SECONDS * 1000 - 1;
    const { token, expiresAt } = signFileToken(gw.config, { purpose: 'PAYOUT_BATCH_FILE_MASKED', subject: AUDITOR.sub, role: 'AUDITOR', objectId: String(batch.id) }, issuedLongAgo);
    expect(expiresAt.getTime()).toBeLessThan(Date.now());
    const expired = await fetch(`${origin}/files/downloads?token=${token}`);
    expect(expired.status).toBe(403);
    expect((await expired.json()).errors[0].message).toMatch(/expired/);
    const fresh = signFileToken(gw.config, { purpose: 'PAYOUT_BATCH_FILE_MASKED', subject: AUDITOR.sub, role: 'AUDITOR', objectId: String(batch.id) });
    expect((await fetch(`${origin}/files/downloads?token=${fresh.token}`)).status).toBe(200);
  });
});
