import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { lowBitFlipped, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedBatch, approvedClaims, keys } from '../payouts/support.ts';
import { seedUnit } from '../benefits/seed.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { markBatchSealed } from '../../src/payouts/store/batches.ts';
import { fileToKeep } from '../../src/payouts/files.ts';
import { signFileToken } from '../../src/gateway/files.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { simulatorCertificates } from '../../src/banks/simulator/certificates.ts';
import { sealDocument } from '../../src/seals/cms/seal.ts';
import { testFilePki } from '../banks/simulator/support.ts';
import { bookedEntry, handStatement } from '../reconciliation/support.ts';

/**
 * Signed file URLs (issue 16) as an attacker tries them: a URL is bound to its purpose, subject,
 * role and object, expires, works once, and cannot be edited; the upload route refuses an oversize
 * body without keeping any of it; only the roles of a purpose's mutation get an upload URL; an
 * upload serves its own purpose only; a statement by URL is no more trusted than one inline.
 */
let db: TestDatabase;
let gw: TestGateway;
let uploadDir: string;
let origin: string;
const MAX = 4_096;
const pki = testFilePki();

beforeAll(async () => {
  // The gateway recognises the bank's seal: this file's development certificates.
  process.env.CERTS_DIR = pki.certsDir;
  db = await freshDatabase();
  uploadDir = mkdtempSync(path.join(tmpdir(), 'hub-uploads-'));
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64'), FILE_UPLOAD_DIR: uploadDir, FILE_UPLOAD_MAX_BYTES: String(MAX) });
  origin = new URL(gw.url).origin;
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
  rmSync(uploadDir, { recursive: true, force: true });
});

const REQUEST_UPLOAD = 'mutation { requestUpload(input: { purpose: ROSTER_IMPORT }) { upload { uploadId url } userErrors { message } } }';
const IMPORT = 'mutation($input: ImportRosterInput!) { importRoster(input: $input) { rosterImport { id } userErrors { field code message } } }';
const ROSTER = 'name,id_number\n会员,350521198001010011\n';

async function uploaded(who: Parameters<TestGateway['query']>[0], body = ROSTER): Promise<{ uploadId: string; url: string }> {
  const { upload } = (await gw.query(who, REQUEST_UPLOAD)).data.requestUpload;
  expect((await fetch(origin + upload.url, { method: 'PUT', body })).status).toBe(201);
  return upload;
}

/** The token of a signed URL, its claims decoded, and the URL rebuilt with claims changed but the signature kept. */
function tampered(url: string, change: Record<string, unknown>): string {
  const [prefix, token] = [url.slice(0, url.indexOf('=') + 1), url.slice(url.indexOf('=') + 1)];
  const [body, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8'));
  return `${prefix}${Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url')}.${signature}`;
}

const filesOf = (uploadId: string) => readdirSync(uploadDir).filter((f) => f.startsWith(uploadId));

const REQUEST = 'mutation($p: UploadPurpose!) { requestUpload(input: { purpose: $p }) { upload { uploadId url } userErrors { message } } }';
const UPLOAD_STATEMENT = `mutation($input: UploadBankStatementInput!) { uploadBankStatement(input: $input) {
  document { id status entries newEntries sealedBy sealProblem problems { field reason } } userErrors { field code } } }`;
const UPLOAD_SETTLEMENTS = 'mutation($input: UploadSettlementsInput!) { uploadSettlements(input: $input) { run { id } userErrors { field code } } }';

/** An upload id for `body`, PUT to the URL `who` was given for `purpose`. */
async function put(who: Parameters<TestGateway['query']>[0], purpose: string, body: string | Buffer): Promise<string> {
  const { upload } = (await gw.query(who, REQUEST, { p: purpose })).data.requestUpload;
  expect((await fetch(origin + upload.url, { method: 'PUT', body: typeof body === 'string' ? body : new Uint8Array(body) })).status).toBe(201);
  return upload.uploadId;
}

describe('upload URLs', () => {
  it('are not issued to roles that may not import rosters', async () => {
    for (const role of ['MEMBER', 'FINANCE', 'AUDITOR', 'REVIEWER'] as const) {
      const refused = await gw.query({ role, ...(role === 'MEMBER' ? { member: toGlobalId('Member', 1) } : {}) }, REQUEST_UPLOAD);
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(refused.data?.requestUpload ?? null).toBeNull();
    }
  });

  it('give an upload only to the subject and role it was issued to', async () => {
    const unit = await seedUnit(db.pool);
    const owner = { role: 'UNIT_OPERATOR' as const, unit: unit.creditCode, sub: 'operator-lin' };
    const upload = await uploaded(owner);
    const others = [
      { role: 'UNIT_OPERATOR' as const, unit: unit.creditCode, sub: 'operator-wu' },
      { role: 'ADMIN' as const, sub: 'operator-lin' },
      { role: 'ADMIN' as const },
    ];
    for (const other of others) {
      const refused = (await gw.query(other, IMPORT, { input: { fileName: 'r.csv', uploadId: upload.uploadId } })).data.importRoster;
      expect(refused).toMatchObject({ rosterImport: null, userErrors: [{ field: 'input.uploadId', code: 'INVALID' }] });
    }
    // Still there for its owner: a refusal to someone else does not spend it.
    expect(filesOf(upload.uploadId)).toHaveLength(2);
    const own = (await gw.query(owner, IMPORT, { input: { fileName: 'r.csv', uploadId: upload.uploadId } })).data.importRoster;
    expect(own.userErrors).toEqual([]);
  });

  it('take one upload, before they expire, for their own purpose and upload id only', async () => {
    const admin = { role: 'ADMIN' as const, sub: 'admin-he' };
    const { upload } = (await gw.query(admin, REQUEST_UPLOAD)).data.requestUpload;
    const first = await fetch(origin + upload.url, { method: 'PUT', body: ROSTER });
    expect(first.status).toBe(201);
    const again = await fetch(origin + upload.url, { method: 'PUT', body: 'name,id_number\n' });
    expect(again.status).toBe(410);

    const other = (await gw.query(admin, REQUEST_UPLOAD)).data.requestUpload.upload;
    // Its upload id swapped for the first's (to overwrite it), or its purpose for a download's: the signature no longer matches.
    for (const url of [tampered(other.url, { objectId: upload.uploadId }), tampered(other.url, { purpose: 'PAYOUT_BATCH_FILE' }), `${other.url.slice(0, -2)}xx`]) {
      const refused = await fetch(origin + url, { method: 'PUT', body: 'x' });
      expect(refused.status).toBe(403);
    }
    // A download URL is not an upload URL, even signed.
    const download = signFileToken(gw.config, { purpose: 'PAYOUT_BATCH_FILE_MASKED', subject: 'admin-he', role: 'ADMIN', objectId: upload.uploadId });
    expect((await fetch(`${origin}/files/uploads?token=${download.token}`, { method: 'PUT', body: 'x' })).status).toBe(403);
    const expired = signFileToken(gw.config, { purpose: 'ROSTER_IMPORT', subject: 'admin-he', role: 'ADMIN', objectId: 'e'.repeat(32) }, Date.now() - gw.config.FILE_URL_TTL_SECONDS * 1000 - 1);
    expect((await fetch(`${origin}/files/uploads?token=${expired.token}`, { method: 'PUT', body: ROSTER })).status).toBe(403);
    expect(filesOf('e'.repeat(32))).toEqual([]);
    expect(filesOf(other.uploadId)).toEqual([]);
  });

  it('take one upload in the one spelling of their signature, and never replace nor remove the upload stored', async () => {
    const admin = { role: 'ADMIN' as const, sub: 'admin-he' };
    const stored = (uploadId: string) => filesOf(uploadId).sort().map((f) => readFileSync(path.join(uploadDir, f)));
    for (const purpose of ['ROSTER_IMPORT', 'SETTLEMENTS', 'BANK_STATEMENT'] as const) {
      const { upload } = (await gw.query(admin, REQUEST, { p: purpose })).data.requestUpload;
      expect((await fetch(origin + upload.url, { method: 'PUT', body: ROSTER })).status).toBe(201);
      const first = stored(upload.uploadId);
      expect(first).toHaveLength(2);
      // A lenient base64url decoder reads each as the same HMAC: a trailing '=', the last character's unused low bit flipped.
      for (const respelled of [`${upload.url}=`, lowBitFlipped(upload.url)]) {
        expect((await fetch(origin + respelled, { method: 'PUT', body: 'name,id_number\n' })).status, `${purpose} ${respelled}`).toBe(403);
      }
      // Even a second URL signed for the same upload id stores nothing over it, and an oversize body removes nothing of it.
      // (Signed at two instants: two tokens, each used for the first time.)
      const [twice, oversize] = [0, 1].map((ms) => signFileToken(gw.config, { purpose, subject: 'admin-he', role: 'ADMIN', objectId: upload.uploadId }, Date.now() - ms));
      expect((await fetch(`${origin}/files/uploads?token=${twice!.token}`, { method: 'PUT', body: 'name,id_number\n' })).status).toBe(410);
      const chunks = Readable.from((function* () {
        for (let i = 0; i < 8; i += 1) yield Buffer.alloc(1_024, 0x61);
      })());
      const streamed = await fetch(`${origin}/files/uploads?token=${oversize!.token}`, { method: 'PUT', body: Readable.toWeb(chunks) as ReadableStream, duplex: 'half' } as RequestInit);
      expect(streamed.status).toBe(410);
      expect(stored(upload.uploadId)).toEqual(first);
    }
  });

  it('refuse a body over FILE_UPLOAD_MAX_BYTES, declared or streamed, and keep nothing of it', async () => {
    const admin = { role: 'ADMIN' as const, sub: 'admin-he' };
    const declared = (await gw.query(admin, REQUEST_UPLOAD)).data.requestUpload.upload;
    const tooLarge = await fetch(origin + declared.url, { method: 'PUT', body: 'x'.repeat(MAX + 1) });
    expect(tooLarge.status).toBe(413);
    expect((await tooLarge.json()).errors[0].extensions).toEqual({ code: 'PAYLOAD_TOO_LARGE', limit: 'FILE_UPLOAD_MAX_BYTES' });

    // No length announced: counted as it streams.
    const streamed = (await gw.query(admin, REQUEST_UPLOAD)).data.requestUpload.upload;
    const chunks = Readable.from((function* () {
      for (let i = 0; i < 8; i += 1) yield Buffer.alloc(1_024, 0x61);
    })());
    const refused = await fetch(origin + streamed.url, { method: 'PUT', body: Readable.toWeb(chunks) as ReadableStream, duplex: 'half' } as RequestInit);
    expect(refused.status).toBe(413);

    for (const u of [declared, streamed]) {
      expect(filesOf(u.uploadId)).toEqual([]);
      const imported = (await gw.query(admin, IMPORT, { input: { fileName: 'r.csv', uploadId: u.uploadId } })).data.importRoster;
      expect(imported.userErrors).toMatchObject([{ field: 'input.uploadId', code: 'INVALID' }]);
    }
  });
});

describe('settlement and statement uploads', () => {
  it('are issued only to the roles of uploadSettlements (ADMIN, SERVICE) and uploadBankStatement (ADMIN, FINANCE)', async () => {
    const unit = await seedUnit(db.pool);
    const asRole = (role: string) => ({
      role: role as 'ADMIN', sub: `${role.toLowerCase()}-1`,
      ...(role === 'MEMBER' ? { member: toGlobalId('Member', 1) } : {}), ...(role === 'UNIT_OPERATOR' ? { unit: unit.creditCode } : {}),
    });
    const allowed = { SETTLEMENTS: ['ADMIN', 'SERVICE'], BANK_STATEMENT: ['ADMIN', 'FINANCE'] };
    for (const [purpose, roles] of Object.entries(allowed)) {
      for (const role of ['ADMIN', 'SERVICE', 'FINANCE', 'UNIT_OPERATOR', 'AUDITOR', 'REVIEWER', 'MEMBER']) {
        const result = await gw.query(asRole(role), REQUEST, { p: purpose });
        if (roles.includes(role)) expect(result.data.requestUpload.upload, `${role} ${purpose}`).toMatchObject({ url: expect.stringMatching(/^\/files\/uploads\?token=/) });
        else {
          expect(result.errors?.[0]?.extensions?.code, `${role} ${purpose}`).toBe('FORBIDDEN');
          expect(result.data?.requestUpload ?? null).toBeNull();
        }
      }
    }
  });

  it('serve their own purpose only: a roster is not a statement nor a settlements file, and is kept for its own mutation', async () => {
    const admin = { role: 'ADMIN' as const, sub: 'admin-he' };
    const roster = await put(admin, 'ROSTER_IMPORT', ROSTER);
    const statement = await put(admin, 'BANK_STATEMENT', handStatement('2025-09-01', 0, [bookedEntry('CRDT', 100, '2025-09-01')]));
    const refusals = [
      (await gw.query(admin, UPLOAD_STATEMENT, { input: { fileName: 'r.xml', uploadId: roster } })).data.uploadBankStatement,
      (await gw.query(admin, UPLOAD_SETTLEMENTS, { input: { fileName: 'r.csv', uploadId: roster } })).data.uploadSettlements,
      (await gw.query(admin, UPLOAD_SETTLEMENTS, { input: { fileName: 's.csv', uploadId: statement } })).data.uploadSettlements,
      (await gw.query(admin, IMPORT, { input: { fileName: 's.csv', uploadId: statement } })).data.importRoster,
    ];
    for (const refused of refusals) expect(refused.userErrors).toMatchObject([{ field: 'input.uploadId', code: 'INVALID' }]);
    // Nor is a token signed for one purpose good for another's upload: the purpose is in the signature.
    const ticket = (await gw.query({ role: 'FINANCE', sub: 'finance-wang' }, REQUEST, { p: 'BANK_STATEMENT' })).data.requestUpload.upload;
    expect((await fetch(origin + tampered(ticket.url, { purpose: 'SETTLEMENTS' }), { method: 'PUT', body: '{}' })).status).toBe(403);

    expect(filesOf(roster)).toHaveLength(2);
    expect(filesOf(statement)).toHaveLength(2);
    expect((await gw.query(admin, IMPORT, { input: { fileName: 'r.csv', uploadId: roster } })).data.importRoster.userErrors).toEqual([]);
    expect((await gw.query(admin, UPLOAD_STATEMENT, { input: { fileName: 's.xml', uploadId: statement } })).data.uploadBankStatement.userErrors).toEqual([]);
  });

  it('leave a forged statement by URL waiting for a second person unless the bank sealed the bytes PUT', async () => {
    const finance = { role: 'FINANCE' as const, sub: 'finance-wang' };
    // Statements crediting a large sum nobody paid: with no seal, with the union's own seal, with the bank's seal over other bytes.
    const forged = (day: number) => handStatement(`2025-09-1${day}`, 0, [bookedEntry('CRDT', 99_000_000, `2025-09-1${day}`)]);
    const genuine = handStatement('2025-09-03', 0, [bookedEntry('CRDT', 100, '2025-09-03')]);
    const seals = [
      undefined,
      sealDocument(Buffer.from(forged(1), 'utf8'), pki.union).toString('base64'),
      sealDocument(Buffer.from(genuine, 'utf8'), simulatorCertificates(pki.certsDir).bankSeal).toString('base64'),
    ];
    for (const [day, sealBase64] of seals.entries()) {
      const uploadId = await put(finance, 'BANK_STATEMENT', forged(day));
      const { document } = (await gw.query(finance, UPLOAD_STATEMENT, { input: { fileName: 'forged.xml', uploadId, sealBase64 } })).data.uploadBankStatement;
      expect(document).toMatchObject({ status: 'AWAITING_CONFIRMATION', entries: 1, newEntries: 0, sealedBy: null });
      expect(document.sealProblem === null).toBe(sealBase64 === undefined);
    }
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM statement_entries WHERE amount_fen = 99000000`);
    expect(rows[0].n).toBe(0);
  });

  it('refuse a DOCTYPE by URL as inline, and a statement in another encoding (where "<!DOCTYPE" is not ASCII) before any parser', async () => {
    const finance = { role: 'FINANCE' as const, sub: 'finance-wang' };
    const statement = handStatement('2025-09-04', 0, [bookedEntry('CRDT', 100, '2025-09-04')]);
    const withDoctype = statement.replace('<Document', '<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<Document').replace(/<MsgId>[^<]*<\/MsgId>/, '<MsgId>&xxe;</MsgId>');
    const byUrl = (await gw.query(finance, UPLOAD_STATEMENT, { input: { fileName: 'x.xml', uploadId: await put(finance, 'BANK_STATEMENT', withDoctype) } })).data.uploadBankStatement.document;
    expect(byUrl).toMatchObject({ status: 'REJECTED', entries: 0, newEntries: 0, problems: [{ field: 'Document', reason: expect.stringMatching(/^must not declare a DOCTYPE or an ENTITY/) }] });
    const inline = (await gw.query(finance, UPLOAD_STATEMENT, { input: { fileName: 'x.xml', content: withDoctype } })).data.uploadBankStatement.document;
    expect(inline).toEqual(byUrl);

    const utf16 = Buffer.concat([Buffer.of(0xff, 0xfe), Buffer.from(withDoctype.replace('UTF-8', 'UTF-16'), 'utf16le')]);
    const uploadId = await put(finance, 'BANK_STATEMENT', utf16.subarray(0, MAX));
    expect((await gw.query(finance, UPLOAD_STATEMENT, { input: { fileName: 'x.xml', uploadId } })).data.uploadBankStatement)
      .toEqual({ document: null, userErrors: [{ field: 'input.uploadId', code: 'INVALID' }] });
  });
});

describe('download URLs', () => {
  it('fetch only the batch and the form they were issued for, for a role that may still have it', async () => {
    const batches = [];
    for (let i = 0; i < 2; i += 1) {
      await approvedClaims(db.pool, 1);
      const batch = await approvedBatch(db.pool);
      const xml = `<Document><MsgId>${batch.msgId}</MsgId></Document>`;
      await inTransaction(db.pool, (tx) => markBatchSealed(tx, batch.id, { ...fileToKeep(gw.keys, xml, Buffer.from(xml)), seal: Buffer.from(batch.msgId), sealedAt: new Date(), requestedExecutionDate: chinaToday() }));
      batches.push(batch);
    }
    const [one, two] = batches as [typeof batches[number], typeof batches[number]];
    const urls = (await gw.query({ role: 'AUDITOR', sub: 'auditor-chen' }, 'query($id: ID!) { payoutBatch(id: $id) { fileUrl { url } sealUrl { url } } }', { id: toGlobalId('PayoutBatch', one.id) })).data.payoutBatch;

    // Batch one's masked-file URL edited to batch two, or to the clear file: refused.
    for (const url of [tampered(urls.fileUrl.url, { objectId: String(two.id) }), tampered(urls.fileUrl.url, { purpose: 'PAYOUT_BATCH_FILE' }), tampered(urls.sealUrl.url, { expiresAt: Date.now() + 86_400_000 })]) {
      expect((await fetch(origin + url)).status).toBe(403);
    }
    // An upload URL is not a download URL.
    const upload = signFileToken(gw.config, { purpose: 'ROSTER_IMPORT', subject: 'auditor-chen', role: 'AUDITOR', objectId: String(one.id) });
    expect((await fetch(`${origin}/files/downloads?token=${upload.token}`)).status).toBe(403);
    // Even signed with the key, the clear file for a role that may not reveal it is refused when fetched.
    const clearForAuditor = signFileToken(gw.config, { purpose: 'PAYOUT_BATCH_FILE', subject: 'auditor-chen', role: 'AUDITOR', objectId: String(one.id) });
    expect((await fetch(`${origin}/files/downloads?token=${clearForAuditor.token}`)).status).toBe(403);

    // The untouched URLs still fetch batch one, and only it.
    const file = await fetch(origin + urls.fileUrl.url);
    expect(file.status).toBe(200);
    expect(await file.text()).toContain(one.msgId);
    expect(Buffer.from(await (await fetch(origin + urls.sealUrl.url)).arrayBuffer()).toString()).toBe(one.msgId);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'payout.batch.download'`);
    expect(rows[0].n).toBe(0);
  });
});
