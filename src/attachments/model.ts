/**
 * Attachments (附件): a member's documents — settlement sheet (结算单), invoice (发票), discharge
 * summary (出院小结), appeal evidence — PDF, JPEG or PNG, checked by their bytes, stored
 * content-addressed and encrypted (attachment_blobs), one `attachments` row per member and use.
 *
 * HOW ANOTHER DOMAIN USES THEM (applications, appeals):
 * 1. Its GraphQL input takes `attachments: [AttachmentInput!]` (schema/attachments.graphql); the client
 *    got each `uploadId` from `requestAttachmentUpload` and PUT the bytes to its URL.
 * 2. Its resolver, BEFORE the transaction: `const items = await attachmentsFromUploads(ctx, 'input.attachments', input.attachments ?? [])`
 *    (src/attachments/resolvers.ts): takes the caller's uploads, checks type by content, size, count.
 * 3. Its service, INSIDE its deciding transaction, once it knows the member:
 *    `const rows = await storeAttachments(tx, keys, { memberId }, items, actor)` (src/attachments/service.ts),
 *    then inserts its own link rows, e.g. `application_attachments (application_id, attachment_id)`, in
 *    ITS OWN migration and store: `attachment_id bigint NOT NULL REFERENCES attachments (id)`,
 *    PRIMARY KEY (application_id, attachment_id). After the commit the resolver calls
 *    `discardUploads(items)` so the waiting upload files are removed (kept for another try on refusal).
 * 4. Reading: its GraphQL field `attachments: [Attachment!]!` reads its link table for the ids and returns
 *    `visibleAttachments(ctx, ids)` (src/attachments/resolvers.ts: ATTACHMENT_VIEWERS, in the caller's
 *    scope), or in a DataLoader `attachmentsByIds(db, ids, scope)` (src/attachments/store.ts), as
 *    `Attachment` (AttachmentRow is the codegen mapper). `Attachment.downloadUrl` then decides who may
 *    fetch the bytes, and the download route checks it again when the URL is used.
 */

export type AttachmentKind = 'SETTLEMENT_SHEET' | 'INVOICE' | 'DISCHARGE_SUMMARY' | 'APPEAL_EVIDENCE' | 'OTHER';

export type AttachmentContentType = 'application/pdf' | 'image/jpeg' | 'image/png';

export const ATTACHMENT_CONTENT_TYPES: readonly AttachmentContentType[] = ['application/pdf', 'image/jpeg', 'image/png'];

export interface AttachmentRow {
  id: number;
  memberId: number;
  kind: AttachmentKind;
  contentType: AttachmentContentType;
  sizeBytes: number;
  /** Hex SHA-256 of the plain bytes (the blob's address). */
  sha256: string;
  fileName: string;
  uploadedBy: string;
  uploadedAt: Date;
}

/** An upload checked and ready to store (attachmentsFromUploads), not yet in the database. */
export interface NewAttachment {
  kind: AttachmentKind;
  contentType: AttachmentContentType;
  fileName: string;
  bytes: Buffer;
  /** Removes the waiting upload: call after the transaction that stored it committed. */
  discard(): Promise<void>;
}

/** Most attachments one request may carry. */
export const MAX_ATTACHMENTS_PER_REQUEST = 10;

/**
 * Who may upload and attach documents: the member, and staff who file for members (a unit operator
 * for its own unit's members, ADMIN, SERVICE). Not REVIEWER: a reviewer does not shape the evidence
 * they decide on.
 */
export const ATTACHMENT_UPLOADERS = ['MEMBER', 'UNIT_OPERATOR', 'ADMIN', 'SERVICE'] as const;

/**
 * Who may fetch an attachment's bytes: its member, and staff who decide on or audit claims. A unit
 * operator (the employer's side) sees that a document exists (kind, size, name) but never its
 * medical content; another member never sees it at all.
 */
export const ATTACHMENT_READERS = ['MEMBER', 'REVIEWER', 'ADMIN', 'AUDITOR'] as const;

/** Who may see that attachments exist (kind, size, name): the readers, and a unit operator for its unit's members. */
export const ATTACHMENT_VIEWERS = [...ATTACHMENT_READERS, 'UNIT_OPERATOR'] as const;
