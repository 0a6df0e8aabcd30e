import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { lowBitFlipped, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { decidedClaim, FILE_APPEAL, jpeg, memberToken, pdf, png, uploadAttachment } from '../appeals/support.ts';
import { signFileToken } from '../../src/gateway/files.ts';
import { localId } from '../../src/gateway/globalId.ts';
import { attachmentsFromUploads } from '../../src/attachments/resolvers.ts';

/**
 * Members' documents as an attacker tries them: the type is the content's, never the name's; the
 * size is capped; an upload serves only whoever sent it; a document is served only to its member
 * and to the staff who decide or audit, by a one-use URL re-checked at fetch time.
 */
let db: TestDatabase;
let gw: TestGateway;
let origin: string;
let uploadDir: string;
const MAX = 2_048;

beforeAll(async () => {
  db = await freshDatabase();
  uploadDir = mkdtempSync(path.join(tmpdir(), 'hub-attachments-'));
  gw = await startTestGateway(db, { ATTACHMENT_MAX_BYTES: String(MAX), FILE_UPLOAD_DIR: uploadDir });
  origin = new URL(gw.url).origin;
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
  rmSync(uploadDir, { recursive: true, force: true });
});

const reason = '请复核 please reconsider';
const fileWith = (who: Parameters<TestGateway['query']>[0], claimId: string, attachments: unknown[]) =>
  gw.query(who, FILE_APPEAL, { input: { claimId, reason, attachments } });

describe('attaching', () => {
  it('refuses a PNG named .pdf by its content, and a text file whatever its name; the upload is kept for another try', async () => {
    const { member, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    const who = memberToken(member);
    const pngUpload = await uploadAttachment(gw, who, png(400));
    const textUpload = await uploadAttachment(gw, who, Buffer.from('%PD not really a pdf, just text\n'.repeat(5)));
    const refused = await fileWith(who, claimGid, [
      { uploadId: pngUpload, kind: 'INVOICE', fileName: 'invoice.pdf' },
      { uploadId: textUpload, kind: 'INVOICE', fileName: 'invoice2.pdf' },
    ]);
    expect(refused.data.fileAppeal.appeal).toBeNull();
    expect(refused.data.fileAppeal.userErrors).toEqual([
      expect.objectContaining({ field: 'input.attachments.0.fileName', code: 'INVALID', message: expect.stringContaining('content is image/png') }),
      expect.objectContaining({ field: 'input.attachments.1.uploadId', code: 'INVALID', message: expect.stringContaining('not a PDF, JPEG or PNG') }),
    ]);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM appeals WHERE member_id = $1', [member.memberId]);
    expect(rows[0].n).toBe(0);

    const again = await fileWith(who, claimGid, [{ uploadId: pngUpload, kind: 'INVOICE', fileName: 'invoice.png' }]);
    expect(again.data.fileAppeal.userErrors).toEqual([]);
    expect(again.data.fileAppeal.appeal.attachments).toEqual([expect.objectContaining({ contentType: 'image/png', fileName: 'invoice.png' })]);
    // Used: gone.
    const reused = await gw.query(who, FILE_APPEAL, { input: { claimId: claimGid, reason, attachments: [{ uploadId: pngUpload, kind: 'INVOICE' }] } });
    expect(reused.data.fileAppeal.userErrors[0]).toMatchObject({ field: 'input.attachments.0.uploadId' });
  });

  it('refuses a file over ATTACHMENT_MAX_BYTES at the upload URL, and tells the limit with it', async () => {
    const { member, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    const who = memberToken(member);
    const ticket = (await gw.query(who, 'mutation { requestAttachmentUpload { upload { url maxBytes } } }')).data.requestAttachmentUpload.upload;
    expect(ticket.maxBytes).toBe(MAX);
    const refused = await fetch(origin + ticket.url, { method: 'PUT', body: new Uint8Array(jpeg(MAX + 1)) });
    expect(refused.status).toBe(413);
    expect((await refused.json()).errors[0].extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', limit: 'ATTACHMENT_MAX_BYTES' });
    const fits = await uploadAttachment(gw, who, jpeg(MAX));
    expect((await fileWith(who, claimGid, [{ uploadId: fits, kind: 'SETTLEMENT_SHEET' }])).data.fileAppeal.userErrors).toEqual([]);
  });

  it('checks the size again when the document is attached (the limit may have been lowered since the upload)', async () => {
    const { member } = await decidedClaim(db.pool, gw, 'REJECTED');
    const who = memberToken(member);
    const uploadId = await uploadAttachment(gw, who, png(MAX));
    const principal = { subject: who.sub, role: 'MEMBER' as const, unitId: null, memberId: member.memberId, expiresAt: Date.now() + 60_000 };
    const lowered = { config: { ...gw.config, ATTACHMENT_MAX_BYTES: MAX - 1 }, keys: gw.keys, principal };
    await expect(attachmentsFromUploads(lowered, 'input.attachments', [{ uploadId, kind: 'INVOICE' }]))
      .rejects.toMatchObject({ field: 'input.attachments.0.uploadId', reason: expect.stringContaining('ATTACHMENT_MAX_BYTES') });
    const [item] = await attachmentsFromUploads({ ...lowered, config: gw.config }, 'input.attachments', [{ uploadId, kind: 'INVOICE' }]);
    expect(item).toMatchObject({ contentType: 'image/png', fileName: 'invoice.png' });
  });

  it('refuses more than 10 documents at once, and a path or control characters in a name', async () => {
    const { member, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    const who = memberToken(member);
    const eleven = Array.from({ length: 11 }, (_, i) => ({ uploadId: `${i}`.padStart(32, '0'), kind: 'OTHER' }));
    const many = await fileWith(who, claimGid, eleven);
    expect(many.data.fileAppeal.userErrors).toEqual([expect.objectContaining({ field: 'input.attachments', message: expect.stringContaining('at most 10') })]);
    const upload = await uploadAttachment(gw, who, pdf());
    for (const fileName of ['../../etc/passwd.pdf', 'a\r\nx-header: 1.pdf', '.pdf']) {
      const refused = await fileWith(who, claimGid, [{ uploadId: upload, kind: 'OTHER', fileName }]);
      expect(refused.data.fileAppeal.userErrors).toEqual([expect.objectContaining({ field: 'input.attachments.0.fileName' })]);
    }
  });

  it('takes only the caller\'s own uploads: another member\'s upload id is refused like an unknown one', async () => {
    const a = await decidedClaim(db.pool, gw, 'REJECTED');
    const b = await decidedClaim(db.pool, gw, 'REJECTED');
    const aUpload = await uploadAttachment(gw, memberToken(a.member), png());
    const stolen = await fileWith(memberToken(b.member), b.claimGid, [{ uploadId: aUpload, kind: 'INVOICE' }]);
    expect(stolen.data.fileAppeal.userErrors).toEqual([expect.objectContaining({ field: 'input.attachments.0.uploadId', message: expect.stringContaining('names no ATTACHMENT upload of yours') })]);
    // Still A's.
    expect((await fileWith(memberToken(a.member), a.claimGid, [{ uploadId: aUpload, kind: 'INVOICE' }])).data.fileAppeal.userErrors).toEqual([]);
  });

  it('upload URLs are for those who file: not REVIEWER, FINANCE or AUDITOR', async () => {
    for (const role of ['REVIEWER', 'FINANCE', 'AUDITOR'] as const) {
      const answer = await gw.query({ role }, 'mutation { requestAttachmentUpload { upload { uploadId } } }');
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });
});

describe('serving', () => {
  async function filedDocument() {
    const { member, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    const bytes = pdf(900);
    const uploadId = await uploadAttachment(gw, memberToken(member), bytes);
    const filed = await fileWith(memberToken(member), claimGid, [{ uploadId, kind: 'DISCHARGE_SUMMARY', fileName: 'summary.pdf' }]);
    return { member, claimGid, bytes, attachmentId: filed.data.fileAppeal.appeal.attachments[0].id as string };
  }
  const DOCUMENT = 'query($id: ID!) { node(id: $id) { ... on Attachment { fileName downloadUrl { url } } } }';

  it('gives the member a one-use URL of its own document, in the content\'s type, as a download', async () => {
    const { member, bytes, attachmentId } = await filedDocument();
    const { url } = (await gw.query(memberToken(member), DOCUMENT, { id: attachmentId })).data.node.downloadUrl;
    const response = await fetch(origin + url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="?summary\.pdf"?$/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toContain('sandbox');
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
    expect((await fetch(origin + url)).status).toBe(410);
  });

  it('takes a used URL back in no other spelling of its signature: a trailing "=", a stray "!", the last character\'s unused bit', async () => {
    const { member, attachmentId } = await filedDocument();
    const { url } = (await gw.query(memberToken(member), DOCUMENT, { id: attachmentId })).data.node.downloadUrl;
    expect((await fetch(origin + url)).status).toBe(200);
    expect((await fetch(origin + url)).status).toBe(410);
    // A lenient base64url decoder reads each as the same HMAC; each would count as a first use.
    for (const respelled of [`${url}=`, `${url}!`, lowBitFlipped(url)]) expect((await fetch(origin + respelled)).status, respelled).toBe(403);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'attachment.download' AND target_id = $1`, [String(localId('id', attachmentId, 'Attachment'))]);
    expect(rows[0].n).toBe(1);
  });

  it('never shows another member\'s document, nor its appeal', async () => {
    const a = await filedDocument();
    const b = await decidedClaim(db.pool, gw, 'REJECTED');
    expect((await gw.query(memberToken(b.member), DOCUMENT, { id: a.attachmentId })).data.node).toBeNull();
    const claim = await gw.query(memberToken(b.member), 'query($id: ID!) { node(id: $id) { ... on Claim { appeals { id } } } }', { id: a.claimGid });
    expect(claim.data.node).toBeNull();
  });

  it('shows a unit operator that a document exists, never its content; auditors and reviewers may fetch it', async () => {
    const { member, attachmentId, bytes } = await filedDocument();
    const operator = await gw.query({ role: 'UNIT_OPERATOR', unit: member.creditCode }, DOCUMENT, { id: attachmentId });
    expect(operator.data.node).toEqual({ fileName: 'summary.pdf', downloadUrl: null });
    for (const role of ['AUDITOR', 'REVIEWER'] as const) {
      const { url } = (await gw.query({ role, sub: `${role}-1` }, DOCUMENT, { id: attachmentId })).data.node.downloadUrl;
      expect(Buffer.from(await (await fetch(origin + url)).arrayBuffer()).equals(bytes)).toBe(true);
    }
    const { rows } = await db.pool.query(`SELECT actor, role FROM audit_log WHERE action = 'attachment.download' AND target_id = $1 ORDER BY seq`, [String(localId('id', attachmentId, 'Attachment'))]);
    expect(rows).toEqual([{ actor: 'AUDITOR-1', role: 'AUDITOR' }, { actor: 'REVIEWER-1', role: 'REVIEWER' }]);
    expect((await gw.query({ role: 'FINANCE' }, DOCUMENT, { id: attachmentId })).data.node).toBeNull();
  });

  it('re-checks the role and the member when a URL is fetched; an edited URL is refused', async () => {
    const a = await filedDocument();
    const b = await decidedClaim(db.pool, gw, 'REJECTED');
    const id = String(localId('id', a.attachmentId, 'Attachment'));
    const fetchToken = (claims: Parameters<typeof signFileToken>[1]) => fetch(`${origin}/files/downloads?token=${signFileToken(gw.config, claims).token}`);
    // Signed tokens (as if issued): B's scope on A's document, a role that may not read, no scope at all.
    expect((await fetchToken({ purpose: 'ATTACHMENT_FILE', subject: 'b', role: 'MEMBER', objectId: id, scope: { unitId: null, memberId: b.member.memberId, organisationId: null } })).status).toBe(404);
    expect((await fetchToken({ purpose: 'ATTACHMENT_FILE', subject: 'f', role: 'FINANCE', objectId: id, scope: { unitId: null, memberId: null, organisationId: null } })).status).toBe(403);
    expect((await fetchToken({ purpose: 'ATTACHMENT_FILE', subject: 'o', role: 'UNIT_OPERATOR', objectId: id, scope: { unitId: a.member.unitId, memberId: null, organisationId: null } })).status).toBe(403);
    expect((await fetchToken({ purpose: 'ATTACHMENT_FILE', subject: 'a', role: 'MEMBER', objectId: id })).status).toBe(404);
    // A's real URL with B's member put in: the signature no longer holds.
    const { url } = (await gw.query(memberToken(a.member), DOCUMENT, { id: a.attachmentId })).data.node.downloadUrl;
    const token = url.slice(url.indexOf('=') + 1);
    const [body, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    const edited = Buffer.from(JSON.stringify({ ...claims, objectId: String(Number(id) + 1) })).toString('base64url');
    expect((await fetch(`${origin}/files/downloads?token=${edited}.${signature}`)).status).toBe(403);
  });
});
