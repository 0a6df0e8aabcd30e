import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { recordAudit } from '../audit/audit.ts';
import { jsonOption, result, say } from '../cliOutput.ts';
import { config } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { invalid, notFound } from '../kernel/errors.ts';
import { UNSCOPED } from '../kernel/scope.ts';
import { organisationByCode } from '../organisations/store.ts';
import { reportFile, type ReportFormat } from './report.ts';
import { figuresQuery, yearlyReport } from './service.ts';
import { reportSettings } from './settings.ts';

const OPERATOR = { subject: 'hub figures', role: 'SERVICE' } as const;

/** `hub figures report`: the yearly report (年度数据公布) as a workbook or a sealed PDF, for operators. */
export function registerFiguresCommands(program: Command): void {
  const figures = program.command('figures').description('published figures: enrolment, funds raised, cases and payments');
  figures
    .command('report')
    .description('write the yearly report of an organisation (and everything below it) as .xlsx or a sealed .pdf (check it with `pdfsig FILE`)')
    .option('--org <code>', 'the organisation\'s code (default: the whole hub)')
    .requiredOption('--year <year>', 'the plan year')
    .option('--format <format>', 'xlsx or pdf', 'xlsx')
    .requiredOption('--out <dir>', 'the folder to write the file to (created when missing)')
    .addOption(jsonOption())
    .action(async (options: { org?: string; year: string; format: string; out: string }) => {
      const format = options.format.toUpperCase();
      if (format !== 'XLSX' && format !== 'PDF') throw invalid('--format', `must be xlsx or pdf (got ${options.format})`);
      if (!/^\d{4}$/.test(options.year)) throw invalid('--year', `must be a year such as 2026 (got ${options.year})`);
      const cfg = config();
      const db = createPool({ max: 4 });
      try {
        const organisation = options.org === undefined ? null : await organisationByCode(db, options.org);
        if (options.org !== undefined && !organisation) throw notFound(`organisation ${options.org}`, '--org');
        const q = await figuresQuery(db, UNSCOPED, { organisationId: organisation?.id ?? null, planYear: Number(options.year) }, '--year');
        const settings = reportSettings(cfg);
        const file = await reportFile(await yearlyReport(db, UNSCOPED, q, settings), format as ReportFormat, settings);
        const out = path.resolve(options.out, file.fileName);
        await mkdir(path.dirname(out), { recursive: true });
        await writeFile(out, file.bytes);
        const sha256 = createHash('sha256').update(file.bytes).digest('hex');
        await recordAudit(db, OPERATOR, {
          action: 'figures.report.export', targetType: 'YearlyReport', targetId: `${organisation?.code ?? 'HUB'}:${q.planYear}:${format}`,
          details: { path: out, sha256, bytes: file.bytes.length },
        });
        say(`wrote ${out} (${file.bytes.length} bytes, sha256 ${sha256})`);
        result({ path: out, bytes: file.bytes.length, sha256 });
      } finally {
        await db.end();
      }
    });
}
