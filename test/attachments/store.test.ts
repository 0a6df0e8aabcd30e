import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { seedEnrolledMember } from '../benefits/seed.ts';
import { png, pdf } from '../appeals/support.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import { attachmentBytes, attachmentForDownload, storeAttachments } from '../../src/attachments/service.ts';
import type { NewAttachment } from '../../src/attachments/model.ts';

/** Attachments at rest: content-addressed, encrypted, one row per member and use, audited, read back only in scope. */
let db: TestDatabase;
const keys = personalDataKeys(Buffer.alloc(32, 0x42).toString('base64'));
const actor = { subject: 'clerk', role: 'ADMIN' };

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

const item = (bytes: Buffer, contentType: NewAttachment['contentType'] = 'image/png', fileName = 'scan.png'): NewAttachment =>
  ({ kind: 'INVOICE', contentType, fileName, bytes, discard: async () => {} });

describe('storeAttachments', () => {
  it('keeps the same content once, encrypted under its SHA-256, with a row per member', async () => {
    const a = await seedEnrolledMember(db.pool);
    const b = await seedEnrolledMember(db.pool);
    const bytes = png(500);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const [first] = await inTransaction(db.pool, (tx) => storeAttachments(tx, keys, { memberId: a.memberId }, [item(bytes)], actor));
    const [second] = await inTransaction(db.pool, (tx) => storeAttachments(tx, keys, { memberId: b.memberId }, [item(bytes)], actor));
    expect(first).toMatchObject({ memberId: a.memberId, sha256, sizeBytes: 500, contentType: 'image/png', fileName: 'scan.png', uploadedBy: 'clerk' });
    expect(second!.id).not.toBe(first!.id);

    const { rows: blobs } = await db.pool.query<{ sealed: Buffer }>(`SELECT sealed FROM attachment_blobs WHERE sha256 = decode($1, 'hex')`, [sha256]);
    expect(blobs).toHaveLength(1);
    // Not the plain bytes, nor any run of them long enough to recognise the file.
    expect(blobs[0]!.sealed.includes(bytes.subarray(0, 16))).toBe(false);

    expect((await attachmentBytes(db.pool, keys, first!.id))!.bytes.equals(bytes)).toBe(true);
    const { rows: audit } = await db.pool.query(`SELECT action, details ->> 'memberId' AS member FROM audit_log WHERE target_type = 'Attachment' AND target_id = ANY($1) ORDER BY seq`, [[String(first!.id), String(second!.id)]]);
    expect(audit).toEqual([{ action: 'attachment.store', member: String(a.memberId) }, { action: 'attachment.store', member: String(b.memberId) }]);
  });

  it('stores nothing when the caller\'s transaction is undone', async () => {
    const a = await seedEnrolledMember(db.pool);
    const bytes = pdf(777);
    await expect(inTransaction(db.pool, async (tx) => {
      await storeAttachments(tx, keys, { memberId: a.memberId }, [item(bytes, 'application/pdf', 'a.pdf')], actor);
      throw new Error('the application was refused');
    })).rejects.toThrow('refused');
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM attachments WHERE member_id = $1', [a.memberId]);
    expect(rows[0].n).toBe(0);
    const { rows: blobs } = await db.pool.query(`SELECT count(*)::int AS n FROM attachment_blobs WHERE sha256 = $1`, [createHash('sha256').update(bytes).digest()]);
    expect(blobs[0].n).toBe(0);
  });

  it('refuses to serve bytes it cannot authenticate', async () => {
    const a = await seedEnrolledMember(db.pool);
    const [row] = await inTransaction(db.pool, (tx) => storeAttachments(tx, keys, { memberId: a.memberId }, [item(png(333))], actor));
    // Read under another key: the authentication tag fails rather than serve garbage.
    await expect(attachmentBytes(db.pool, personalDataKeys(Buffer.alloc(32, 0x43).toString('base64')), row!.id)).rejects.toThrow();
  });
});

describe('attachmentForDownload', () => {
  it('serves the member its own and readers any, nobody else; audits each fetch', async () => {
    const a = await seedEnrolledMember(db.pool);
    const b = await seedEnrolledMember(db.pool);
    const [row] = await inTransaction(db.pool, (tx) => storeAttachments(tx, keys, { memberId: a.memberId }, [item(png(256))], actor));
    const id = row!.id;
    const own = await attachmentForDownload(db.pool, keys, { subject: 'm-a', role: 'MEMBER' }, { unitId: null, memberId: a.memberId, organisationId: null }, id);
    expect(own!.bytes.equals(png(256))).toBe(true);
    expect(await attachmentForDownload(db.pool, keys, { subject: 'm-b', role: 'MEMBER' }, { unitId: null, memberId: b.memberId, organisationId: null }, id)).toBeNull();
    expect(await attachmentForDownload(db.pool, keys, { subject: 'm-x', role: 'MEMBER' }, { unitId: null, memberId: null, organisationId: null }, id)).toBeNull();
    expect(await attachmentForDownload(db.pool, keys, { subject: 'op', role: 'UNIT_OPERATOR' }, { unitId: a.unitId, memberId: null, organisationId: null }, id)).toBeNull();
    expect(await attachmentForDownload(db.pool, keys, { subject: 'fin', role: 'FINANCE' }, { unitId: null, memberId: null, organisationId: null }, id)).toBeNull();
    expect(await attachmentForDownload(db.pool, keys, { subject: 'aud', role: 'AUDITOR' }, { unitId: null, memberId: null, organisationId: null }, id)).not.toBeNull();
    const { rows } = await db.pool.query(`SELECT actor FROM audit_log WHERE action = 'attachment.download' AND target_id = $1 ORDER BY seq`, [String(id)]);
    expect(rows).toEqual([{ actor: 'm-a' }, { actor: 'aud' }]);
  });
});
