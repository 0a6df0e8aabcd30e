import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { recordAudit } from '../audit/audit.ts';
import { check, invalid } from '../kernel/errors.ts';
import { textProblem } from '../kernel/text.ts';
import { batchFileName, clearBatchFile, maskCreditorAccounts } from '../payouts/files.ts';
import { batchesByIds, batchFiles } from '../payouts/store/batches.ts';
import { BATCH_READERS, FILE_REVEALERS } from '../payouts/model.ts';
import { ATTACHMENT_READERS } from '../attachments/model.ts';
import { attachmentForDownload } from '../attachments/service.ts';
import { NOTICE_READERS } from '../notices/model.ts';
import { noticeForDownload } from '../notices/issue.ts';
import { FIGURES_READERS } from '../figures/model.ts';
import { yearlyReportForDownload } from '../figures/download.ts';
import { reportSettings } from '../figures/settings.ts';
import { UNSCOPED, type Scope } from '../kernel/scope.ts';
import type { Role } from './auth.ts';
import { scopeOf, type Context, type Services } from './context.ts';
import { sendGraphQLError } from './limits.ts';

/**
 * Files as files: a file travels as raw bytes to or from a short-lived signed URL under `/files`,
 * never as a string inside JSON.
 *
 * A URL carries a token (in its query string, which the request log leaves out): its claims (purpose, the subject and role it was issued to, the object,
 * the expiry) and their HMAC-SHA256 under FILE_URL_KEY. A token is checked before anything else,
 * is good for FILE_URL_TTL_SECONDS and for one use (the first use is recorded in Redis, shared by
 * every gateway instance).
 *
 * Uploads: `requestUpload` issues an upload id and a URL; the client PUTs the bytes there; the route
 * streams them, encrypted, to FILE_UPLOAD_DIR with FILE_UPLOAD_MAX_BYTES as its own limit (a body
 * declared or found larger is refused and nothing is kept). The mutation the purpose names then
 * takes `uploadId`: only the subject and role the URL was issued to, for that purpose, within
 * UPLOAD_KEPT_MS of the upload. It is removed once the mutation has used it, and kept for another
 * try when the mutation refuses.
 *
 * Downloads: a payout batch's file (masked for batch readers, in clear for FINANCE after the
 * audited `revealPayoutBatchFile`) and its seal. The role in the token is checked again when the
 * file is fetched, and fetching the clear file is audited under the subject it was issued to.
 * A member's document (`Attachment.downloadUrl`, purpose ATTACHMENT_FILE) also carries the scope it
 * was issued for (a member's own): role and scope are checked again at fetch time, and the fetch audited.
 */

/** The purposes of `requestUpload`. */
export type UploadPurpose = 'ROSTER_IMPORT' | 'SETTLEMENTS' | 'BANK_STATEMENT';
/** Every upload purpose: `requestUpload`'s and a member's documents (`requestAttachmentUpload`). */
export type FileUploadPurpose = UploadPurpose | 'ATTACHMENT';
export type DownloadPurpose = 'PAYOUT_BATCH_FILE' | 'PAYOUT_BATCH_FILE_MASKED' | 'PAYOUT_BATCH_SEAL' | 'ATTACHMENT_FILE' | 'NOTICE' | 'YEARLY_REPORT';
type Purpose = FileUploadPurpose | DownloadPurpose;

const UPLOAD_PURPOSES: ReadonlySet<Purpose> = new Set<FileUploadPurpose>(['ROSTER_IMPORT', 'SETTLEMENTS', 'BANK_STATEMENT', 'ATTACHMENT']);
// The roles of the payouts' resolvers, checked again when a URL is used.
const DOWNLOAD_ROLES: Record<DownloadPurpose, readonly Role[]> = {
  PAYOUT_BATCH_FILE: FILE_REVEALERS,
  PAYOUT_BATCH_FILE_MASKED: BATCH_READERS,
  PAYOUT_BATCH_SEAL: BATCH_READERS,
  ATTACHMENT_FILE: ATTACHMENT_READERS,
  NOTICE: NOTICE_READERS,
  YEARLY_REPORT: FIGURES_READERS,
};
const isUploadPurpose = (purpose: Purpose): purpose is FileUploadPurpose => UPLOAD_PURPOSES.has(purpose);

/** How long an uploaded file waits for its mutation. */
const UPLOAD_KEPT_MS = 60 * 60 * 1000;

export interface FileClaims {
  purpose: Purpose;
  subject: string;
  role: Role;
  /** The upload id, or the batch's id. */
  objectId: string;
  /** Epoch ms. */
  expiresAt: number;
  /** The rows the subject could see when it was issued (an attachment's download), checked again at fetch time. */
  scope?: Scope;
}

export interface SignedUrl {
  url: string;
  expiresAt: Date;
}

const urlKey = (config: Config) => (config.FILE_URL_KEY
  ? Buffer.from(config.FILE_URL_KEY, 'base64')
  : Buffer.from(hkdfSync('sha256', Buffer.from(config.PII_KEY, 'base64'), Buffer.alloc(0), 'mutual-aid-hub file urls', 32)));

const mac = (config: Config, body: string) => createHmac('sha256', urlKey(config)).update(body).digest();

/** A token for `claims` (purpose, subject, role, object), valid FILE_URL_TTL_SECONDS from `now`. */
export function signFileToken(config: Config, claims: Omit<FileClaims, 'expiresAt'>, now = Date.now()): { token: string; expiresAt: Date } {
  const expiresAt = now + config.FILE_URL_TTL_SECONDS * 1000;
  const body = Buffer.from(JSON.stringify({ ...claims, expiresAt })).toString('base64url');
  return { token: `${body}.${mac(config, body).toString('base64url')}`, expiresAt: new Date(expiresAt) };
}

/** The claims of a token this gateway signed, or why it is refused. */
function verifyFileToken(config: Config, token: string, now = Date.now()): FileClaims | { refused: string } {
  const [body, signature, extra] = token.split('.');
  // The signature's text, not its decoding: a decoder also takes it with '=', stray characters or
  // other unused bits, and each spelling would be another first use.
  const given = Buffer.from(signature ?? '');
  const expected = Buffer.from(body ? mac(config, body).toString('base64url') : '');
  if (extra !== undefined || !body || given.length !== expected.length || !timingSafeEqual(given, expected)) return { refused: 'the URL is not valid' };
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as FileClaims;
  if (now >= claims.expiresAt) return { refused: 'the URL has expired: ask for a new one' };
  return claims;
}

/** A download URL of `purpose` for the batch, issued to the caller. */
export function downloadUrl(ctx: Pick<Context, 'config' | 'principal'>, purpose: DownloadPurpose, batchId: number): SignedUrl {
  const { token, expiresAt } = signFileToken(ctx.config, { purpose, subject: ctx.principal.subject, role: ctx.principal.role, objectId: String(batchId) });
  return { url: `/files/downloads?token=${token}`, expiresAt };
}

/** A download URL of a member's attachment, bound to the caller's scope as well (a member's own, a unit's). */
export function attachmentDownloadUrl(ctx: Pick<Context, 'config' | 'principal'>, attachmentId: number): SignedUrl {
  const { token, expiresAt } = signFileToken(ctx.config, {
    purpose: 'ATTACHMENT_FILE', subject: ctx.principal.subject, role: ctx.principal.role, objectId: String(attachmentId), scope: scopeOf(ctx.principal),
  });
  return { url: `/files/downloads?token=${token}`, expiresAt };
}

/** A download URL of a sealed notice's PDF, bound to the caller's scope (a member's own notices). */
export function noticeDownloadUrl(ctx: Pick<Context, 'config' | 'principal'>, noticeId: number): SignedUrl {
  const { token, expiresAt } = signFileToken(ctx.config, {
    purpose: 'NOTICE', subject: ctx.principal.subject, role: ctx.principal.role, objectId: String(noticeId), scope: scopeOf(ctx.principal),
  });
  return { url: `/files/downloads?token=${token}`, expiresAt };
}

/**
 * A download URL of a yearly report (`objectId`: organisation, year, format), bound to the caller's
 * scope: the figures are read at fetch time in that scope.
 */
export function yearlyReportDownloadUrl(ctx: Pick<Context, 'config' | 'principal'>, objectId: string): SignedUrl {
  const { token, expiresAt } = signFileToken(ctx.config, {
    purpose: 'YEARLY_REPORT', subject: ctx.principal.subject, role: ctx.principal.role, objectId, scope: scopeOf(ctx.principal),
  });
  return { url: `/files/downloads?token=${token}`, expiresAt };
}

/** A new upload id and the URL to PUT its bytes to, for the caller (whose role the purpose's resolver checked). */
export function uploadUrl(ctx: Pick<Context, 'config' | 'principal'>, purpose: FileUploadPurpose): SignedUrl & { uploadId: string; maxBytes: number } {
  const uploadId = randomBytes(16).toString('hex');
  const { token, expiresAt } = signFileToken(ctx.config, { purpose, subject: ctx.principal.subject, role: ctx.principal.role, objectId: uploadId });
  return { uploadId, url: `/files/uploads?token=${token}`, expiresAt, maxBytes: ctx.config.FILE_UPLOAD_MAX_BYTES };
}

/** What is kept beside an uploaded file's encrypted bytes. */
interface UploadRecord {
  purpose: FileUploadPurpose;
  subject: string;
  role: Role;
  bytes: number;
  sha256: string;
  iv: string;
  tag: string;
  keptUntil: number;
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;
const uploadPaths = (config: Config, uploadId: string) => {
  const base = path.join(config.FILE_UPLOAD_DIR, uploadId);
  return { data: `${base}.bin`, record: `${base}.json`, partial: `${base}.part` };
};

/** Uploaded files are encrypted at rest (rosters carry ID and card numbers) with a key of their own. */
const uploadKey = (ctx: Pick<Services, 'keys'>) =>
  Buffer.from(hkdfSync('sha256', ctx.keys.encryptionKey, Buffer.alloc(0), 'mutual-aid-hub uploads', 32));

/**
 * The bytes of an upload the caller sent for `purpose`, and `discard` to remove it once the
 * mutation has used it. Another subject's or role's upload, another purpose's, an expired or
 * unknown one: BAD_USER_INPUT on `field`, the same for each.
 */
export async function takeUpload(
  ctx: Pick<Context, 'config' | 'keys' | 'principal'>, field: string, uploadId: string, purpose: FileUploadPurpose,
): Promise<{ bytes: Buffer; discard(): Promise<void> }> {
  const refusal = invalid(field, `names no ${purpose} upload of yours that is waiting: upload again (requestUpload)`);
  if (!UPLOAD_ID.test(uploadId)) throw refusal;
  const paths = uploadPaths(ctx.config, uploadId);
  const record = await readFile(paths.record, 'utf8').then((text) => JSON.parse(text) as UploadRecord, () => null);
  if (!record || record.purpose !== purpose || record.subject !== ctx.principal.subject || record.role !== ctx.principal.role || Date.now() >= record.keptUntil) {
    throw refusal;
  }
  const decipher = createDecipheriv('aes-256-gcm', uploadKey(ctx), Buffer.from(record.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(record.tag, 'base64'));
  const bytes = Buffer.concat([decipher.update(await readFile(paths.data)), decipher.final()]);
  return { bytes, discard: () => removeUpload(paths) };
}

/**
 * An upload's bytes as the text a string argument would have given: UTF-8 (a byte-order mark kept,
 * so the text encodes back to the very bytes a seal covers) that the argument check would pass.
 * Otherwise BAD_USER_INPUT on `field`.
 */
export function uploadedText(field: string, bytes: Buffer): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw invalid(field, 'is not UTF-8 text');
  }
  check(field, textProblem(text));
  return text;
}

async function removeUpload(paths: ReturnType<typeof uploadPaths>): Promise<void> {
  await Promise.all(Object.values(paths).map((p) => rm(p, { force: true })));
}

/**
 * Removes uploads no mutation took in time. FILE_UPLOAD_DIR may hold an operator's other files: only
 * regular files named as uploadPaths names them are touched, never a folder, a link or another name.
 */
async function removeStaleUploads(config: Config): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(config.FILE_UPLOAD_DIR)) {
    const file = path.join(config.FILE_UPLOAD_DIR, name);
    const uploadId = name.split('.')[0]!;
    if (!UPLOAD_ID.test(uploadId) || !Object.values(uploadPaths(config, uploadId)).includes(file)) continue;
    const info = await lstat(file).catch(() => null);
    if (info?.isFile() && now - info.mtimeMs > UPLOAD_KEPT_MS) await rm(file, { force: true });
  }
}

class TooLarge extends Error {}

/** The `/files` routes: upload and download by signed URL. Mounted before any body parser. */
export function fileRoutes(services: Services, config: Config, log: Logger): express.Router {
  const router = express.Router();
  const refuse = (req: express.Request, res: express.Response, status: number, message: string, code: string, extensions: Record<string, unknown> = {}) => {
    // A body that follows is not read: the connection closes after the answer rather than drain it.
    if (!req.complete) res.setHeader('connection', 'close');
    sendGraphQLError(res, status, message, { code, ...extensions });
  };
  const used = (req: express.Request, res: express.Response) => refuse(req, res, 410, 'the URL has been used: ask for a new one', 'GONE');
  /** The token's claims when it is valid, of the wanted kind, and used now for the first time; else answered. */
  const firstUse = async (req: express.Request, res: express.Response, upload: boolean): Promise<FileClaims | null> => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const claims = verifyFileToken(config, token);
    if ('refused' in claims || isUploadPurpose(claims.purpose) !== upload) {
      refuse(req, res, 403, 'refused' in claims ? claims.refused : 'the URL is not valid', 'FORBIDDEN');
      return null;
    }
    // The signature as signed: verifyFileToken takes no other spelling.
    const signature = token.split('.')[1]!;
    const fresh = await services.redis.set(`${config.QUEUE_PREFIX}:file-url-used:${signature}`, '1', 'PX', Math.max(1, claims.expiresAt - Date.now()), 'NX');
    if (fresh !== 'OK') {
      used(req, res);
      return null;
    }
    return claims;
  };
  const internal = (res: express.Response, error: unknown) => {
    const reference = randomBytes(8).toString('hex');
    log.error({ err: error, reference }, 'internal error in a file route');
    if (!res.headersSent) sendGraphQLError(res, 500, `internal error (reference ${reference})`, { code: 'INTERNAL_SERVER_ERROR', reference });
  };

  router.put('/uploads', async (req, res) => {
    try {
      const declared = Number(req.headers['content-length'] ?? 0);
      // The token first, then the declared size: neither reads a byte of the body.
      const claims = await firstUse(req, res, true);
      if (!claims) return;
      // A member's document has its own, smaller limit, kept here too so nothing larger is stored.
      const [limit, limitName] = claims.purpose === 'ATTACHMENT' && config.ATTACHMENT_MAX_BYTES < config.FILE_UPLOAD_MAX_BYTES
        ? [config.ATTACHMENT_MAX_BYTES, 'ATTACHMENT_MAX_BYTES'] : [config.FILE_UPLOAD_MAX_BYTES, 'FILE_UPLOAD_MAX_BYTES'];
      const tooLarge = () => refuse(req, res, 413, `the file is larger than ${limit} bytes (${limitName})`, 'PAYLOAD_TOO_LARGE', { limit: limitName });
      if (declared > limit) return tooLarge();
      const paths = uploadPaths(config, claims.objectId);
      // An upload is stored once: nothing replaces it, nor removes it but its mutation.
      const stored = await Promise.all([paths.data, paths.record].map((p) => stat(p).then(() => true, () => false)));
      if (stored.includes(true)) return used(req, res);
      await mkdir(config.FILE_UPLOAD_DIR, { recursive: true, mode: 0o700 });
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', uploadKey(services), iv);
      const hash = createHash('sha256');
      let bytes = 0;
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          if (bytes > limit) return done(new TooLarge());
          hash.update(chunk);
          done(null, chunk);
        },
      });
      try {
        await pipeline(req, counted, cipher, createWriteStream(paths.partial, { mode: 0o600, flags: 'wx' }));
      } catch (error) {
        await rm(paths.partial, { force: true });
        if (error instanceof TooLarge) return tooLarge();
        throw error;
      }
      const record: UploadRecord = {
        purpose: claims.purpose as FileUploadPurpose, subject: claims.subject, role: claims.role, bytes, sha256: hash.digest('hex'),
        iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), keptUntil: Date.now() + UPLOAD_KEPT_MS,
      };
      await rename(paths.partial, paths.data);
      await writeFile(paths.record, JSON.stringify(record), { mode: 0o600 });
      // The upload is stored: a sweep that fails is logged, not answered as the upload's failure.
      await removeStaleUploads(config).catch((error: unknown) => log.warn({ err: error }, 'could not sweep stale uploads'));
      res.status(201).json({ uploadId: claims.objectId, bytes, sha256: record.sha256 });
    } catch (error) {
      internal(res, error);
    }
  });

  router.get('/downloads', async (req, res) => {
    try {
      const claims = await firstUse(req, res, false);
      if (!claims) return;
      const purpose = claims.purpose as DownloadPurpose;
      // The role may have been taken away from the subject since; the token's own role must still allow it.
      if (!DOWNLOAD_ROLES[purpose].includes(claims.role)) return refuse(req, res, 403, 'the URL is not valid', 'FORBIDDEN');
      if (purpose === 'ATTACHMENT_FILE') {
        const found = claims.scope && await attachmentForDownload(services.db, services.keys, { subject: claims.subject, role: claims.role }, claims.scope, Number(claims.objectId));
        if (!found) return refuse(req, res, 404, 'no such attachment of yours', 'NOT_FOUND');
        res.setHeader('cache-control', 'no-store');
        // Served as a download of its checked type, never rendered in the API's origin (nor run if opened there).
        res.setHeader('x-content-type-options', 'nosniff');
        res.setHeader('content-security-policy', "default-src 'none'; sandbox");
        res.attachment(found.attachment.fileName).type(found.attachment.contentType).send(found.bytes);
        return;
      }
      if (purpose === 'NOTICE') {
        const found = claims.scope && await noticeForDownload(services.db, services.keys, { subject: claims.subject, role: claims.role }, claims.scope, Number(claims.objectId));
        if (!found) return refuse(req, res, 404, 'no such notice of yours', 'NOT_FOUND');
        res.setHeader('cache-control', 'no-store');
        res.setHeader('x-content-type-options', 'nosniff');
        res.attachment(`${found.notice.number}.pdf`).type('application/pdf').send(found.pdf);
        return;
      }
      if (purpose === 'YEARLY_REPORT') {
        const found = claims.scope && await yearlyReportForDownload(services.db, reportSettings(config), { subject: claims.subject, role: claims.role }, claims.scope, claims.objectId);
        if (!found) return refuse(req, res, 404, 'no such report of yours', 'NOT_FOUND');
        res.setHeader('cache-control', 'no-store');
        res.setHeader('x-content-type-options', 'nosniff');
        res.attachment(found.fileName).type(found.contentType).send(found.bytes);
        return;
      }
      const batchId = Number(claims.objectId);
      // Batch URLs are issued only with a batch the caller could read in its scope.
      const [batch] = await batchesByIds(services.db, [batchId], UNSCOPED);
      const [stored] = await batchFiles(services.db, [batchId]);
      if (!batch || !stored) return refuse(req, res, 404, 'the batch has no sealed file', 'NOT_FOUND');
      const name = batchFileName(batch.msgId);
      res.setHeader('cache-control', 'no-store');
      if (purpose === 'PAYOUT_BATCH_SEAL') {
        res.attachment(`${name}.p7s`).type('application/pkcs7-signature').send(stored.seal);
        return;
      }
      const clear = clearBatchFile(services.keys, stored)!;
      if (purpose === 'PAYOUT_BATCH_FILE_MASKED') {
        res.attachment(name).type('application/xml; charset=utf-8').send(maskCreditorAccounts(clear));
        return;
      }
      if (!createHash('sha256').update(clear).digest().equals(stored.sha256)) throw new Error(`payout batch ${batch.msgId}: its stored file does not match its sealed hash`);
      await recordAudit(services.db, { subject: claims.subject, role: claims.role }, {
        action: 'payout.batch.download', targetType: 'PayoutBatch', targetId: batch.msgId,
        details: { batchId, sha256: stored.sha256.toString('hex') },
      });
      res.attachment(name).type('application/xml; charset=utf-8').send(clear);
    } catch (error) {
      internal(res, error);
    }
  });
  return router;
}
