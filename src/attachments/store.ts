import type { Queryable, Tx } from '../kernel/transaction.ts';
import { UNSCOPED, type Scope } from '../kernel/scope.ts';
import { Params } from '../db/sql.ts';
import { memberRowScopeSql } from '../db/scope.ts';
import type { AttachmentContentType, AttachmentKind, AttachmentRow } from './model.ts';

/** SQL of the attachments domain: attachment_blobs (the encrypted bytes, once per content) and attachments. */

const COLUMNS = `a.id, a.member_id AS "memberId", a.kind, a.content_type AS "contentType", a.size_bytes AS "sizeBytes",
  encode(a.sha256, 'hex') AS sha256, a.file_name AS "fileName", a.uploaded_by AS "uploadedBy", a.uploaded_at AS "uploadedAt"`;

/** Keeps the sealed bytes under their plain SHA-256; the same content stored before is kept as it is. */
export async function insertBlob(tx: Tx, sha256: Buffer, sizeBytes: number, sealed: Buffer): Promise<void> {
  await tx.query(
    `INSERT INTO attachment_blobs (sha256, size_bytes, sealed) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING`,
    [sha256, sizeBytes, sealed],
  );
}

export interface NewAttachmentRow {
  memberId: number;
  kind: AttachmentKind;
  contentType: AttachmentContentType;
  sizeBytes: number;
  sha256: Buffer;
  fileName: string;
  uploadedBy: string;
}

export async function insertAttachment(tx: Tx, row: NewAttachmentRow): Promise<AttachmentRow> {
  const { rows } = await tx.query<AttachmentRow>(
    `INSERT INTO attachments AS a (member_id, kind, content_type, size_bytes, sha256, file_name, uploaded_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [row.memberId, row.kind, row.contentType, row.sizeBytes, row.sha256, row.fileName, row.uploadedBy],
  );
  return rows[0]!;
}

/** The attachments with these ids that `scope` may see, in no particular order. */
export async function attachmentsByIds(db: Queryable, ids: readonly number[], scope: Scope = UNSCOPED): Promise<AttachmentRow[]> {
  if (!ids.length) return [];
  const p = new Params();
  const { rows } = await db.query<AttachmentRow>(
    `SELECT ${COLUMNS} FROM attachments a WHERE a.id = ANY(${p.add(ids)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'a')} ORDER BY a.id`,
    p.values,
  );
  return rows;
}

/** An attachment in `scope` with its sealed bytes, or null. */
export async function attachmentWithBlob(db: Queryable, id: number, scope: Scope): Promise<(AttachmentRow & { sealed: Buffer }) | null> {
  const p = new Params();
  const { rows } = await db.query<AttachmentRow & { sealed: Buffer }>(
    `SELECT ${COLUMNS}, b.sealed FROM attachments a JOIN attachment_blobs b ON b.sha256 = a.sha256
      WHERE a.id = ${p.add(id)} AND ${memberRowScopeSql(p, scope, 'a')}`,
    p.values,
  );
  return rows[0] ?? null;
}
