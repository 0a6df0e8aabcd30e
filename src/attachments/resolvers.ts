import { fileTypeFromBuffer } from 'file-type';
import type { Context } from '../gateway/context.ts';
import { actorView, hasRole, requireRole, scopeOf } from '../gateway/context.ts';
import { attachmentDownloadUrl, takeUpload, uploadUrl } from '../gateway/files.ts';
import { toGlobalId } from '../gateway/globalId.ts';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { DomainError, invalid, invalidFields } from '../kernel/errors.ts';
import type { FieldProblem } from '../kernel/problems.ts';
import { textProblem } from '../kernel/text.ts';
import {
  ATTACHMENT_CONTENT_TYPES, ATTACHMENT_READERS, ATTACHMENT_UPLOADERS, ATTACHMENT_VIEWERS, MAX_ATTACHMENTS_PER_REQUEST,
  type AttachmentContentType, type AttachmentKind, type AttachmentRow, type NewAttachment,
} from './model.ts';
import { attachmentsByIds } from './store.ts';

/** The file name extensions each content type may carry. */
const EXTENSIONS: Record<AttachmentContentType, readonly string[]> = {
  'application/pdf': ['pdf'],
  'image/jpeg': ['jpg', 'jpeg'],
  'image/png': ['png'],
};

const FILE_NAME_MAX = 200;

/** Why a shown file name cannot be kept (path parts, control characters, length, an extension other than the content's), or null. */
function fileNameProblem(name: string, contentType: AttachmentContentType): string | null {
  if (name.length === 0 || name.length > FILE_NAME_MAX) return `must be 1 to ${FILE_NAME_MAX} characters`;
  const text = textProblem(name);
  if (text) return text;
  // A download's name: no directories, no control characters (headers), no leading dot.
  if (/[/\\\p{Cc}]/u.test(name) || name.startsWith('.')) return 'must be a plain file name (no /, \\, control characters or leading dot)';
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  if (extension && !EXTENSIONS[contentType].includes(extension)) {
    return `ends in .${extension}, but the file's content is ${contentType} (.${EXTENSIONS[contentType].join(' or .')})`;
  }
  return null;
}

/**
 * The caller's uploads (purpose ATTACHMENT, `requestAttachmentUpload`), checked and ready for
 * `storeAttachments`: at most MAX_ATTACHMENTS_PER_REQUEST, each at most ATTACHMENT_MAX_BYTES, each a
 * PDF, JPEG or PNG by its bytes (never by its name), its name's extension matching. Every problem at
 * once, on `${field}.${i}.uploadId` / `.fileName`. Call it before the deciding transaction; after the
 * commit, `discardUploads` removes the waiting files (kept for another try when refused).
 */
export async function attachmentsFromUploads(
  ctx: Pick<Context, 'config' | 'keys' | 'principal'>, field: string,
  refs: readonly { uploadId: string; kind: AttachmentKind; fileName?: string | null }[],
): Promise<NewAttachment[]> {
  if (refs.length > MAX_ATTACHMENTS_PER_REQUEST) throw invalid(field, `at most ${MAX_ATTACHMENTS_PER_REQUEST} attachments at once (${refs.length} given)`);
  const problems: FieldProblem[] = [];
  const items: NewAttachment[] = [];
  const seen = new Set<string>();
  for (const [i, ref] of refs.entries()) {
    const at = `${field}.${i}`;
    if (seen.has(ref.uploadId)) {
      problems.push({ field: `${at}.uploadId`, reason: 'names an upload already given above' });
      continue;
    }
    seen.add(ref.uploadId);
    let upload: Awaited<ReturnType<typeof takeUpload>>;
    try {
      upload = await takeUpload(ctx, `${at}.uploadId`, ref.uploadId, 'ATTACHMENT');
    } catch (error) {
      if (!(error instanceof DomainError) || !error.field) throw error;
      problems.push({ field: error.field, reason: error.reason ?? error.message });
      continue;
    }
    const { bytes } = upload;
    if (bytes.length === 0) {
      problems.push({ field: `${at}.uploadId`, reason: 'is an empty file' });
      continue;
    }
    if (bytes.length > ctx.config.ATTACHMENT_MAX_BYTES) {
      problems.push({ field: `${at}.uploadId`, reason: `is ${bytes.length} bytes, more than ${ctx.config.ATTACHMENT_MAX_BYTES} (ATTACHMENT_MAX_BYTES)` });
      continue;
    }
    const detected = await fileTypeFromBuffer(bytes);
    const contentType = ATTACHMENT_CONTENT_TYPES.find((t) => t === detected?.mime);
    if (!contentType) {
      problems.push({ field: `${at}.uploadId`, reason: `is not a PDF, JPEG or PNG file by its content (${detected ? detected.mime : 'unrecognised'})` });
      continue;
    }
    const fileName = ref.fileName == null ? `${ref.kind.toLowerCase()}.${EXTENSIONS[contentType][0]}` : ref.fileName.trim();
    const nameProblem = fileNameProblem(fileName, contentType);
    if (nameProblem) {
      problems.push({ field: `${at}.fileName`, reason: nameProblem });
      continue;
    }
    items.push({ kind: ref.kind, contentType, fileName, bytes, discard: upload.discard });
  }
  if (problems.length) throw invalidFields(problems);
  return items;
}

/** Removes the uploads of stored attachments: call once their transaction has committed. */
export async function discardUploads(items: readonly NewAttachment[]): Promise<void> {
  await Promise.all(items.map((item) => item.discard()));
}

/** Attachments with these ids the caller may see (ATTACHMENT_VIEWERS, in scope), in id order. */
export async function visibleAttachments(ctx: Context, ids: readonly number[]): Promise<AttachmentRow[]> {
  if (!hasRole(ctx, ATTACHMENT_VIEWERS)) return [];
  return attachmentsByIds(ctx.reads, ids, scopeOf(ctx.principal));
}

export const attachmentNodes = {
  Attachment: async (ctx: Context, id: number) => (await visibleAttachments(ctx, [id]))[0] ?? null,
};

export const attachmentResolvers: DomainResolvers = {
  Mutation: {
    requestAttachmentUpload: (_root, _args, ctx) => {
      requireRole(ctx, ATTACHMENT_UPLOADERS, 'requestAttachmentUpload');
      const upload = uploadUrl(ctx, 'ATTACHMENT');
      // The URL's route takes up to FILE_UPLOAD_MAX_BYTES; more than ATTACHMENT_MAX_BYTES is refused when attached.
      return { upload: { ...upload, maxBytes: Math.min(upload.maxBytes, ctx.config.ATTACHMENT_MAX_BYTES) } };
    },
  },
  Attachment: {
    id: (row) => toGlobalId('Attachment', row.id),
    uploadedBy: (row, _args, ctx) => actorView(ctx, row.uploadedBy),
    downloadUrl: (row, _args, ctx) => {
      if (!hasRole(ctx, ATTACHMENT_READERS)) return null;
      if (ctx.principal.role === 'MEMBER' && ctx.principal.memberId !== row.memberId) return null;
      return attachmentDownloadUrl(ctx, row.id);
    },
  },
};
