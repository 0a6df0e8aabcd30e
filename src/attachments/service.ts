import { createHash } from 'node:crypto';
import type { Queryable, Tx } from '../kernel/transaction.ts';
import { UNSCOPED, type Scope } from '../kernel/scope.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { decryptBytes, encryptBytes, type PersonalDataKeys } from '../privacy/personalData.ts';
import { ATTACHMENT_READERS, type AttachmentRow, type NewAttachment } from './model.ts';
import * as store from './store.ts';

/**
 * Storing and reading attachments. `storeAttachments` runs in the caller's transaction (the
 * application or appeal the documents support), so documents exist exactly when that decision
 * commits. The caller has already checked that `owner.memberId` is in its caller's scope.
 */
export async function storeAttachments(
  tx: Tx, keys: PersonalDataKeys, owner: { memberId: number }, items: readonly NewAttachment[], actor: Actor,
): Promise<AttachmentRow[]> {
  const rows: AttachmentRow[] = [];
  for (const item of items) {
    const sha256 = createHash('sha256').update(item.bytes).digest();
    // The same content is stored once, whoever sends it; each use is its own row.
    await store.insertBlob(tx, sha256, item.bytes.length, encryptBytes(keys, item.bytes));
    const row = await store.insertAttachment(tx, {
      memberId: owner.memberId, kind: item.kind, contentType: item.contentType, sizeBytes: item.bytes.length,
      sha256, fileName: item.fileName, uploadedBy: actor.subject,
    });
    await recordAudit(tx, actor, {
      action: 'attachment.store', targetType: 'Attachment', targetId: String(row.id),
      details: { memberId: owner.memberId, kind: row.kind, contentType: row.contentType, sizeBytes: row.sizeBytes, sha256: row.sha256 },
    });
    rows.push(row);
  }
  return rows;
}

/** An attachment and its plain bytes, when `scope` may see it; null otherwise. The bytes are checked against their address. */
export async function attachmentBytes(
  db: Queryable, keys: PersonalDataKeys, attachmentId: number, scope: Scope = UNSCOPED,
): Promise<{ attachment: AttachmentRow; bytes: Buffer } | null> {
  const found = await store.attachmentWithBlob(db, attachmentId, scope);
  if (!found) return null;
  const { sealed, ...attachment } = found;
  const bytes = decryptBytes(keys, sealed);
  if (createHash('sha256').update(bytes).digest('hex') !== attachment.sha256) {
    throw new Error(`attachment ${attachmentId}: its stored bytes do not match their SHA-256`);
  }
  return { attachment, bytes };
}

/**
 * What a signed download URL serves, checked again when it is fetched: the role it was issued to
 * must still be a reader's, and the attachment must still be in the scope it was issued for (a
 * member's own; a moved member's no longer). The fetch is audited. Null: nothing to serve.
 */
export async function attachmentForDownload(
  db: Queryable, keys: PersonalDataKeys, actor: Actor, scope: Scope, attachmentId: number,
): Promise<{ attachment: AttachmentRow; bytes: Buffer } | null> {
  if (!(ATTACHMENT_READERS as readonly string[]).includes(actor.role)) return null;
  // A member's token always carries its member: without it nothing is theirs.
  if (actor.role === 'MEMBER' && scope.memberId === null) return null;
  const found = await attachmentBytes(db, keys, attachmentId, scope);
  if (!found) return null;
  await recordAudit(db, actor, {
    action: 'attachment.download', targetType: 'Attachment', targetId: String(attachmentId),
    details: { memberId: found.attachment.memberId, sha256: found.attachment.sha256 },
  });
  return found;
}
