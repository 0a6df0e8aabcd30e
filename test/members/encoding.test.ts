import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { importRoster, RosterFileError } from '../../src/members/rosterImport.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import type { TextEncodingName } from '../../src/csv.ts';
import { log } from '../../src/log.ts';
import { residentId } from '../badInput/support.ts';
import { hub } from '../support/hub.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { rosterImportProcessor } from '../../jobs/members.ts';
import type { RosterImportJob } from '../../src/members/queue.ts';

/**
 * Issue 14, rosters as people save them: Excel on Chinese Windows writes GBK / GB18030 (with or
 * without its byte-order mark), "CSV UTF-8" a UTF-8 BOM. Each imports with the names of the UTF-8
 * original; a declared or guessed encoding the file is not in is refused, never imported as
 * mojibake, and the refused import is kept with its reason. Fixtures come from glibc iconv.
 */

let db: TestDatabase;
let gw: TestGateway;
const dir = mkdtempSync(join(tmpdir(), 'roster-encoding-'));
const UTF8_BOM = Buffer.of(0xef, 0xbb, 0xbf);
const GB18030_BOM = Buffer.of(0x84, 0x31, 0x95, 0x33);
// Everyday names, a rare character (喆, 堃: outside GB2312, inside GBK) and a minority name with its middle dot.
const NAMES = ['张伟', '王芳', '李娜', '欧阳喆', '陈堃', '买买提·艾力', '刘洋', '赵丽颖'];
const ids = fc.sample(fc.uniqueArray(residentId, { minLength: 200, maxLength: 200 }), { numRuns: 1, seed: 14 })[0]!;
let nextId = 0;
let nextUnit = 0;

const iconv = (text: string, to: string) => execFileSync('iconv', ['-f', 'UTF-8', '-t', to], { input: text });
// The year of the imports' own today: an empty enrolled_on is that day, and must fall in the row's plan year.
const YEAR = chinaToday().slice(0, 4);
/** A roster of NAMES (or `names`) with fresh ID numbers, as UTF-8 text. */
const roster = (names = NAMES) => `name,id_number,plan_year\n${names.map((name) => `${name},${ids[nextId++]},${YEAR}`).join('\n')}\n`;
/** The bytes in pieces of 1 to 7 bytes: a BOM, a character and the guessing window all cross chunk boundaries. */
const trickle = (bytes: Buffer) => Readable.from((function* () {
  for (let i = 0, n = 1; i < bytes.length; i += n, n = (n % 7) + 1) yield bytes.subarray(i, i + n);
})());

async function newUnit(): Promise<{ id: number; code: string }> {
  const code = withCreditCodeCheck(`91350500MA${String(++nextUnit).padStart(7, '0')}`);
  const { rows } = await db.pool.query<{ id: number }>(`INSERT INTO units (credit_code, name, plan_type, terms_confirmed) VALUES ($1, '某公司', 'PRIVATE', true) RETURNING id`, [code]);
  return { id: rows[0]!.id, code };
}
async function newImport(): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('r.csv', '\\x', 'test') RETURNING id`);
  return rows[0]!.id;
}
const namesOf = async (unitId: number) =>
  (await db.pool.query<{ name: string }>('SELECT name FROM members WHERE unit_id = $1 ORDER BY id', [unitId])).rows.map((r) => r.name);
const memberCount = async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM members')).rows[0]!.n;
const refusal = (promise: Promise<unknown>) => promise.then(() => null, (e: unknown) => e as Error);

function runHub(name: string, content: Buffer, ...args: string[]) {
  const file = join(dir, name);
  writeFileSync(file, content);
  return hub(['members', 'import', file, ...args], { DATABASE_URL: db.url, LOG_LEVEL: 'silent' }).then(({ code, stdout, stderr }) => ({ status: code, stdout, stderr }));
}
const lastImport = async () =>
  (await db.pool.query<{ status: string; failure: string | null }>('SELECT status, failure FROM roster_imports ORDER BY id DESC LIMIT 1')).rows[0]!;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('a roster in the encoding Excel saved it in', () => {
  const variants: [string, (text: string) => Buffer, TextEncodingName?][] = [
    ['GBK without a byte-order mark', (text) => iconv(text, 'GB18030')],
    ['GB18030 with its byte-order mark', (text) => Buffer.concat([GB18030_BOM, iconv(text, 'GB18030')])],
    ['CSV UTF-8 (a UTF-8 byte-order mark)', (text) => Buffer.concat([UTF8_BOM, Buffer.from(text)])],
    ['UTF-8 without a byte-order mark', (text) => Buffer.from(text)],
    ['GBK declared gbk', (text) => iconv(text, 'GBK'), 'gbk'],
    ['GB18030 declared gb18030, with its byte-order mark', (text) => Buffer.concat([GB18030_BOM, iconv(text, 'GB18030')]), 'gb18030'],
  ];
  it.each(variants)('%s imports with the names of the UTF-8 original, read in pieces', async (_, encode, encoding) => {
    const unit = await newUnit();
    const result = await importRoster(db.pool, gw.keys, trickle(encode(roster())), { importId: await newImport(), defaultUnitId: unit.id, encoding });
    expect(result).toMatchObject({ rowsTotal: NAMES.length, rowsInserted: NAMES.length, rowsRejected: 0 });
    expect(await namesOf(unit.id)).toEqual(NAMES);
  });

  it('hub members import detects GBK by itself', async () => {
    const unit = await newUnit();
    const run = await runHub('gbk.csv', iconv(roster(), 'GB18030'), '--unit', unit.code);
    expect(run).toMatchObject({ status: 0, stdout: expect.stringContaining(`rows ${NAMES.length}: inserted ${NAMES.length}`) });
    expect(await namesOf(unit.id)).toEqual(NAMES);
  });
});

describe('a file not in the encoding declared or guessed is refused, nothing imported, the import kept FAILED with the reason', () => {
  it('--encoding utf-8 on a GBK file names the first byte that is not UTF-8 and its line', async () => {
    const unit = await newUnit();
    const before = await memberCount();
    const gbk = iconv(roster(), 'GB18030');
    const firstNonAscii = gbk.findIndex((b) => b >= 0x80);
    const error = await refusal(importRoster(db.pool, gw.keys, Readable.from([gbk]), { importId: await newImport(), defaultUnitId: unit.id, encoding: 'utf-8' }));
    expect(error).toBeInstanceOf(RosterFileError);
    expect(error!.message).toBe(
      `the file is not UTF-8 text: byte ${firstNonAscii} (line 2) is not UTF-8; save it as CSV UTF-8 (or use --encoding gb18030 for GBK from Excel)`,
    );

    const run = await runHub('declared.csv', gbk, '--unit', unit.code, '--encoding', 'utf-8');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`declared.csv: the file is not UTF-8 text: byte ${firstNonAscii} (line 2) is not UTF-8`);
    expect(run.stderr).toContain('nothing was imported');
    expect(await lastImport()).toMatchObject({ status: 'FAILED', failure: expect.stringMatching(/^the file is not UTF-8 text: byte \d+ \(line 2\)/) });
    expect(await memberCount()).toBe(before);
  });

  it('a Big5 or Latin-1 file is not taken for GB18030', async () => {
    const unit = await newUnit();
    const before = await memberCount();
    const big5 = iconv(roster(['張偉', '王芳', '李娜', '劉洋', '陳靜', '楊麗']), 'BIG5');
    const latin1 = iconv(roster(['José', 'Jürgen Müller', 'François']), 'LATIN1');
    const latin1Glued = iconv(roster(['Müller', 'Jürgen']), 'LATIN1'); // every é or ü right before a letter: valid GB18030 bytes
    for (const file of [big5, latin1, latin1Glued]) {
      const error = await refusal(importRoster(db.pool, gw.keys, Readable.from([file]), { importId: await newImport(), defaultUnitId: unit.id }));
      expect(error).toBeInstanceOf(RosterFileError);
      expect(error!.message).toMatch(/^the file is not UTF-8 or GB18030 text: .*line \d+.*; save it as CSV UTF-8 \(or use --encoding gb18030 if it is GB18030\)$/);
    }
    const run = await runHub('big5.csv', big5, '--unit', unit.code);
    expect(run).toMatchObject({ status: 2, stderr: expect.stringContaining('big5.csv: the file is not UTF-8 or GB18030 text: line 3 has U+E77B (a private-use character)') });
    expect(await lastImport()).toMatchObject({ status: 'FAILED', failure: expect.stringMatching(/^the file is not UTF-8 or GB18030 text: line 3 has U\+E77B/) });
    expect(await memberCount()).toBe(before);
  });

  it('Big5 without private-use or foreign characters is refused for its rare characters', async () => {
    // 眎岸, 糂瑅, 化経: what these Big5 names read as in GB18030, half of it outside GB2312.
    const error = await refusal(importRoster(db.pool, gw.keys, Readable.from([iconv(roster(['張偉', '劉洋', '趙磊']), 'BIG5')]), {
      importId: await newImport(), defaultUnitId: (await newUnit()).id,
    }));
    expect(error!.message).toMatch(/^the file is not UTF-8 or GB18030 text: 4 of its 6 Chinese characters are rare ones \(outside GB2312\), the first on line 2;/);
  });

  it('a header that reads as Chinese only in a GB18030 guess is blamed on the encoding', async () => {
    const error = await refusal(importRoster(db.pool, gw.keys, Readable.from([iconv('姓名,身份证号\n张伟,1\n', 'GB18030')]), {
      importId: await newImport(), defaultUnitId: (await newUnit()).id,
    }));
    expect(error!.message).toBe(
      'the file is not UTF-8 or GB18030 text: header: missing column name; missing column id_number; unknown column 姓名; unknown column 身份证号; ' +
        'save it as CSV UTF-8 (or use --encoding gb18030 if it is GB18030)',
    );
  });

  it('a byte-order mark that contradicts the declared encoding, or U+FFFD in UTF-8 text, is refused', async () => {
    const unit = await newUnit();
    const before = await memberCount();
    const cases: [Buffer, TextEncodingName | undefined, string][] = [
      [Buffer.concat([UTF8_BOM, Buffer.from(roster())]), 'gb18030', 'the file starts with the UTF-8 byte-order mark, yet --encoding gb18030 was given'],
      [Buffer.concat([GB18030_BOM, iconv(roster(), 'GB18030')]), 'utf-8', 'the file starts with the GB18030 byte-order mark, yet --encoding utf-8 was given'],
      [Buffer.from(`name,id_number\n张伟,${ids[nextId++]}\n\uFFFD\uFFFD,${ids[nextId++]}\n`), undefined,
        'the file is not UTF-8 text: line 3 has U+FFFD, the mark of text once read in the wrong encoding; save it as CSV UTF-8 (or use --encoding gb18030 for GBK from Excel)'],
    ];
    for (const [file, encoding, message] of cases) {
      await expect(importRoster(db.pool, gw.keys, Readable.from([file]), { importId: await newImport(), defaultUnitId: unit.id, encoding }))
        .rejects.toThrow(new RosterFileError(message));
    }
    expect(await memberCount()).toBe(before);
  });
});

describe('importRoster (GraphQL): the file as bytes', () => {
  const IMPORT = `mutation($input: ImportRosterInput!) { importRoster(input: $input) { rosterImport { id status failure } userErrors { message } } }`;
  const STATUS = `query($id: ID!) { rosterImport(id: $id) { status failure rowsInserted } }`;
  const processImport = async (globalId: string) => {
    const importId = Number(Buffer.from(globalId, 'base64url').toString().split(':')[1]);
    await rosterImportProcessor(db.pool, gw.keys, log)({ data: { importId } } as Job<RosterImportJob>);
  };

  it('contentBase64 of a GBK file imports with the right names, detected or declared', async () => {
    for (const encoding of [undefined, 'GB18030', 'GBK']) {
      const unit = await newUnit();
      const input = { fileName: 'gbk.csv', contentBase64: iconv(roster(), 'GB18030').toString('base64'), unitId: toGlobalId('Unit', unit.id), encoding };
      const queued = await gw.query({ role: 'ADMIN' }, IMPORT, { input });
      expect(queued.data.importRoster.userErrors).toEqual([]);
      expect(queued.data.importRoster.rosterImport).toMatchObject({ status: 'PENDING', failure: null });
      await processImport(queued.data.importRoster.rosterImport.id);
      expect((await gw.query({ role: 'ADMIN' }, STATUS, { id: queued.data.importRoster.rosterImport.id })).data.rosterImport).toMatchObject({ status: 'DONE', rowsInserted: NAMES.length });
      expect(await namesOf(unit.id)).toEqual(NAMES);
    }
  });

  it('a file that is not text ends FAILED at once with the reason, saying how to give the encoding', async () => {
    const before = await memberCount();
    const unitId = toGlobalId('Unit', (await newUnit()).id);
    const big5 = await gw.query({ role: 'ADMIN' }, IMPORT, { input: { fileName: 'big5.csv', contentBase64: iconv(roster(['王芳']), 'BIG5').toString('base64'), unitId } });
    expect(big5.data.importRoster.rosterImport).toEqual({
      id: expect.any(String), status: 'FAILED',
      failure: 'the file is not UTF-8 or GB18030 text: line 2 has U+E77B (a private-use character); save it as CSV UTF-8 (or use contentBase64 with encoding GB18030 if it is GB18030)',
    });
    const declared = await gw.query({ role: 'ADMIN' }, IMPORT, { input: { fileName: 'gbk.csv', contentBase64: iconv(roster(), 'GB18030').toString('base64'), encoding: 'UTF_8', unitId } });
    expect(declared.data.importRoster.rosterImport).toMatchObject({ status: 'FAILED', failure: expect.stringMatching(/^the file is not UTF-8 text: byte \d+ \(line 2\) is not UTF-8; .*contentBase64 with encoding GB18030/) });
    // What FileReader.readAsText makes of a GBK file.
    const misread = await gw.query({ role: 'ADMIN' }, IMPORT, { input: { fileName: 'r.csv', csv: new TextDecoder().decode(iconv(roster(), 'GB18030')), unitId } });
    expect(misread.data.importRoster.rosterImport).toMatchObject({ status: 'FAILED', failure: expect.stringMatching(/^the file is not UTF-8 text: line 2 has U\+FFFD/) });
    expect(await memberCount()).toBe(before);
  });
});
