import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedBatch, approvedClaims, keys, type ApprovedClaim } from '../payouts/support.ts';
import { seedUnit } from '../benefits/seed.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { markBatchSealed } from '../../src/payouts/store/batches.ts';
import { fileToKeep } from '../../src/payouts/files.ts';
import { signFileToken } from '../../src/gateway/files.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { rosterImportProcessor } from '../../jobs/members.ts';
import type { RosterImportJob } from '../../src/members/queue.ts';
import { log } from '../../src/log.ts';

/**
 * Files as files (issue 16): a roster PUT as raw bytes to a signed upload URL and imported by
 * `uploadId`; a batch file and its seal fetched from signed download URLs, once each, masked for
 * readers and in clear for FINANCE after the audited reveal.
 */
let db: TestDatabase;
let gw: TestGateway;
let uploadDir: string;
let origin: string;

beforeAll(async () => {
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

const idNumber = (n: number) => withResidentIdCheck(`35052119800101${String(n).padStart(3, '0')}`);

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
});

/** A sealed batch of two payouts whose file names the creditors' cards (the seal is not checked here: any bytes). */
async function sealedBatch(): Promise<{ id: number; msgId: string; claims: ApprovedClaim[]; xml: string; seal: Buffer }> {
  const claims = await approvedClaims(db.pool, 2);
  const batch = await approvedBatch(db.pool);
  const xml = `<Document>${claims.map((c) => `<CdtTrfTxInf><CdtrAcct><Id><Othr><Id>${c.card}</Id></Othr></Id></CdtrAcct></CdtTrfTxInf>`).join('')}</Document>`;
  const seal = randomBytes(64);
  await inTransaction(db.pool, (tx) => markBatchSealed(tx, batch.id, { ...fileToKeep(gw.keys, xml, Buffer.from(xml)), seal, sealedAt: new Date() }));
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
