import type { Actor } from '../audit/audit.ts';
import { recordAudit } from '../audit/audit.ts';
import { DomainError } from '../kernel/errors.ts';
import type { Scope } from '../kernel/scope.ts';
import type { Queryable } from '../kernel/transaction.ts';
import type { Seal } from '../seals/cms/seal.ts';
import { FIGURES_READERS } from './model.ts';
import { reportFile, type ReportFormat } from './report.ts';
import { figuresQuery, yearlyReport } from './service.ts';

/**
 * The yearly report behind a signed URL: what the URL names (organisation, year, format) travels in
 * it; the figures are read when it is fetched, again in the scope it was issued for, so a URL never
 * shows more than its holder could have read at that moment.
 */

export interface ReportSettings {
  /** The union's seal, loaded when a PDF is made (a workbook needs none). */
  seal: () => Seal;
  /** The union's name as the seal and the PDF's signature show it (NOTICE_UNION_NAME). */
  unionName: string;
  /** PROMISE_HOLIDAYS: working days of the turnaround figures. */
  holidays: readonly string[];
  /** FIGURES_MIN_CELL: fewest cases a breakdown row shows. */
  minCell: number;
}

/** What a report URL names: `<organisation id or 0>:<year>:<format>`. */
export const reportObjectId = (organisationId: number | null, planYear: number, format: ReportFormat) => `${organisationId ?? 0}:${planYear}:${format}`;

function parseObjectId(objectId: string): { organisationId: number | null; planYear: number; format: ReportFormat } | null {
  const match = /^(\d{1,15}):(\d{4}):(XLSX|PDF)$/.exec(objectId);
  if (!match) return null;
  const id = Number(match[1]);
  return { organisationId: id === 0 ? null : id, planYear: Number(match[2]), format: match[3] as ReportFormat };
}

/** The report file for `actor` in `scope`, audited; null when it names an organisation outside the scope (or nothing valid). */
export async function yearlyReportForDownload(
  db: Queryable, settings: ReportSettings, actor: Actor, scope: Scope, objectId: string,
): Promise<{ fileName: string; contentType: string; bytes: Buffer } | null> {
  const named = parseObjectId(objectId);
  if (!named || !(FIGURES_READERS as readonly string[]).includes(actor.role)) return null;
  let file;
  try {
    const q = await figuresQuery(db, scope, { organisationId: named.organisationId, planYear: named.planYear });
    file = await reportFile(await yearlyReport(db, scope, q, settings), named.format, settings);
  } catch (error) {
    if (error instanceof DomainError && error.code === 'NOT_FOUND') return null;
    throw error;
  }
  await recordAudit(db, actor, {
    action: 'figures.report.download', targetType: 'YearlyReport', targetId: objectId,
    details: { fileName: file.fileName, bytes: file.bytes.length },
  });
  return file;
}
