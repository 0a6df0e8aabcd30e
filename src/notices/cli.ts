import path from 'node:path';
import type { Command } from 'commander';
import { jsonOption, result, say } from '../cliOutput.ts';
import { config } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { parseGlobalId } from '../gateway/globalId.ts';
import { invalid } from '../kernel/errors.ts';
import { personalDataKeys } from '../privacy/personalData.ts';
import { exportNotice, issuePendingNotices } from './issue.ts';
import { noticeSettings } from './settings.ts';

/** `hub notices issue|export`: sealed notices without the API (operators, the demo). */
export function registerNoticeCommands(program: Command): void {
  const notices = program.command('notices').description('sealed PDF notices of decisions and payments');
  notices
    .command('issue')
    .description('issue now the notices the notice worker has not issued yet (at most 100), sealed with the union seal')
    .option('--member <id>', 'only this member\'s (a number or a Member ID)')
    .addOption(jsonOption())
    .action(async (options: { member?: string }) => {
      const memberId = options.member === undefined ? null : idOf('--member', options.member, 'Member');
      const cfg = config();
      const db = createPool({ max: 2 });
      try {
        const ids = await issuePendingNotices(db, noticeSettings(cfg, personalDataKeys(cfg.PII_KEY, cfg.PII_HASH_KEY)), { memberId });
        say(`issued ${ids.length} notice(s)${ids.length ? `: ${ids.join(', ')}` : ''}`);
        result({ issued: ids });
      } finally {
        await db.end();
      }
    });
  notices
    .command('export <notice> <file>')
    .description('write a notice\'s sealed PDF (check it with `pdfsig FILE`); NOTICE is its id (a number) or Notice ID')
    .addOption(jsonOption())
    .action(async (notice: string, file: string) => {
      const cfg = config();
      const db = createPool({ max: 2 });
      try {
        const written = await exportNotice(db, personalDataKeys(cfg.PII_KEY, cfg.PII_HASH_KEY), idOf('<notice>', notice, 'Notice'), path.resolve(file));
        say(`wrote notice ${written.number} to ${written.path} (${written.bytes} bytes, sha256 ${written.sha256})`);
        result(written);
      } finally {
        await db.end();
      }
    });
}

/** A row id given as a number or as a global ID of `type`. */
function idOf(field: string, value: string, type: string): number {
  if (/^[1-9]\d{0,15}$/.test(value)) return Number(value);
  const parsed = parseGlobalId(value);
  if (parsed?.type === type) return parsed.id;
  throw invalid(field, `must be a number or a ${type} ID (got ${value})`);
}
