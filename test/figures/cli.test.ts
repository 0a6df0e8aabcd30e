import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readXlsxFile from 'read-excel-file/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDevCertificates } from '../../certs/devCa.ts';
import { DEV_SEAL_P12_PASSPHRASE } from '../../src/seals/settings.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { hub } from '../support/hub.ts';
import { poppler } from '../notices/support.ts';
import { rawRows, seedFigures, YEAR } from './support.ts';

/** `hub figures report` as an operator runs it: the workbook and the sealed PDF of an organisation's year. */
let db: TestDatabase;
let work: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await freshDatabase();
  await seedFigures(db.pool);
  work = mkdtempSync(path.join(tmpdir(), 'hub-figures-cli-'));
  writeDevCertificates(path.join(work, 'certs'), { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
  env = { DATABASE_URL: db.url, CERTS_DIR: path.join(work, 'certs'), LOG_LEVEL: 'silent', NOTICE_UNION_NAME: '福建省总工会' };
}, 120_000);
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await db?.drop();
});

describe('hub figures report', () => {
  it('writes the province\'s workbook; its member count is every 2026 enrolment; the export is audited', async () => {
    const run = await hub(['figures', 'report', '--org', 'FJ', '--year', String(YEAR), '--format', 'xlsx', '--out', path.join(work, 'out'), '--json'], env);
    expect(run.code).toBe(0);
    const written = JSON.parse(run.stdout);
    expect(written.path).toBe(path.join(work, 'out', `figures-FJ-${YEAR}.xlsx`));
    const [summary] = await readXlsxFile(readFileSync(written.path));
    const raw = await rawRows(db.pool);
    expect(summary!.data.find((r) => r[0] === '参保人数（人）')?.[1]).toBe(raw.enrolments.filter((e) => e.plan_year === YEAR).length);
    const audit = await db.pool.query(`SELECT details FROM audit_log WHERE action = 'figures.report.export'`);
    expect(audit.rows[0].details.sha256).toBe(written.sha256);
  });

  it('writes a sealed PDF that pdfsig verifies', async () => {
    const run = await hub(['figures', 'report', '--org', 'QZ', '--year', String(YEAR), '--format', 'pdf', '--out', work, '--json'], env);
    expect(run.code).toBe(0);
    const { path: file } = JSON.parse(run.stdout);
    expect(poppler('pdfsig', ['-no-ocsp', file]).output).toContain('Signature Validation: Signature is Valid.');
  });

  it('refuses an unknown organisation and a bad format, naming the option', async () => {
    const unknown = await hub(['figures', 'report', '--org', 'NOPE', '--year', String(YEAR), '--out', work], env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/organisation NOPE not found/);
    const format = await hub(['figures', 'report', '--year', String(YEAR), '--format', 'csv', '--out', work], env);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('--format');
  });
});
