import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { personalDataKeys, decrypt, lookupHash } from '../../src/privacy/personalData.ts';
import { withCreditCodeCheck, withLuhnCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { chinaToday } from '../../src/kernel/time.ts';

const keys = personalDataKeys(Buffer.alloc(32, 7).toString('base64'));
const UNIT_A = withCreditCodeCheck('91350500MA0000001');
const UNIT_B = withCreditCodeCheck('12350500MB0000002');
const ID_1 = withResidentIdCheck('35052119850312001');
const ID_2 = withResidentIdCheck('35058219920707002');
const ID_3 = withResidentIdCheck('35050319780101003');
const CARD = withLuhnCheck('622202123456789012');

let db: TestDatabase;
let unitA: number;

async function newImport(): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('t.csv', '\\x', 'test') RETURNING id`,
  );
  return rows[0]!.id;
}

async function memberCount(): Promise<number> {
  return (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM members')).rows[0]!.n;
}

beforeAll(async () => {
  db = await freshDatabase();
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO units (credit_code, name, plan_type, terms_confirmed) VALUES ($1, '晋江某纺织有限公司', 'PRIVATE', true), ($2, '泉州市某中学', 'PUBLIC', true) RETURNING id`,
    [UNIT_A, UNIT_B],
  );
  unitA = rows[0]!.id;
});
afterAll(() => db.drop());

describe('roster import', () => {
  const header = 'name,id_number,phone,bank_card,bank_code,unit_credit_code,plan_year,special_disease\n';
  const good = [
    `张伟,${ID_1},13800000001,${CARD},102397000011,${UNIT_A},2025,true`,
    `李娜,${ID_2},,,,${UNIT_B},2025,false`,
  ];
  const bad = [
    `王芳,350521198503120011,13800000003,,,${UNIT_A},2025,false`, // row 4: wrong check digit
    `赵强,${ID_3},12345,,,${UNIT_A},2025,false`, // row 5: bad phone
    `陈杰,${withResidentIdCheck('35052119900230004')},,,,${UNIT_A},2025,false`, // row 6: 30 February
    `刘洋,${withResidentIdCheck('35052119900101005')},,${CARD},,${UNIT_A},2025,false`, // row 7: card without bank code
    `周敏,${withResidentIdCheck('35052119900101006')},,,,${withCreditCodeCheck('91350500MA9999999')},2025,false`, // row 8: unknown unit
    `吴静,${ID_1},,,,${UNIT_A},2025,false`, // row 9: duplicate of row 2
    `,${withResidentIdCheck('35052119900101007')},,,,${UNIT_A},2025,maybe`, // row 10: no name, bad flag
  ];
  const csv = header + [...good, ...bad].join('\n') + '\n';

  it('keeps good rows and reports each bad row with row number, field and reason', async () => {
    const importId = await newImport();
    const result = await importRoster(db.pool, keys, csv, { importId, today: '2025-01-10' });
    expect(result).toMatchObject({ rowsTotal: 9, rowsInserted: 2, rowsUpdated: 0, rowsUnchanged: 0, rowsRejected: 7, enrolmentsCreated: 2 });
    expect(result.errors).toEqual([
      { row: 4, field: 'id_number', reason: `check digit is 1, expected ${withResidentIdCheck('35052119850312001').at(-1)}` },
      { row: 5, field: 'phone', reason: 'must be a mobile number (11 digits) or a landline with area code' },
      { row: 6, field: 'id_number', reason: 'birth date 19900230 is not a valid date' },
      { row: 7, field: 'bank_code', reason: 'bank card and bank code go together: both or neither' },
      { row: 8, field: 'unit_credit_code', reason: `no unit is registered with code ${withCreditCodeCheck('91350500MA9999999')}` },
      { row: 9, field: 'id_number', reason: 'duplicate of row 2' },
      { row: 10, field: 'name', reason: 'is required' },
      { row: 10, field: 'special_disease', reason: 'must be true or false' },
    ]);
    const stored = await db.pool.query(`SELECT * FROM roster_imports WHERE id = $1`, [importId]);
    expect(stored.rows[0]).toMatchObject({ status: 'DONE', rows_total: 9, rows_rejected: 7 });
    const errors = await db.pool.query(`SELECT count(*)::int AS n FROM roster_import_errors WHERE import_id = $1`, [importId]);
    expect(errors.rows[0].n).toBe(8);

    // Personal data is only stored encrypted, findable by keyed hash, shown masked.
    const { rows } = await db.pool.query(`SELECT * FROM members WHERE id_number_hash = $1`, [lookupHash(keys, ID_1)]);
    expect(rows).toHaveLength(1);
    expect(decrypt(keys, rows[0].id_number_enc)).toBe(ID_1);
    expect(decrypt(keys, rows[0].bank_card_enc)).toBe(CARD);
    expect(rows[0].id_number_masked).toBe(`${ID_1.slice(0, 4)}**********${ID_1.slice(-4)}`);
    expect(rows[0]).toMatchObject({ birth_date: '1985-03-12', gender: 'M', unit_id: unitA });
    const raw = await db.pool.query(`SELECT row_to_json(m)::text AS t FROM members m`);
    for (const r of raw.rows) expect(r.t).not.toContain(ID_1);
  });

  it('changes nothing when the same file is imported again', async () => {
    const before = await db.pool.query(`SELECT id, updated_at FROM members ORDER BY id`);
    const enrolmentsBefore = await db.pool.query(`SELECT id, updated_at FROM enrolments ORDER BY id`);
    const result = await importRoster(db.pool, keys, csv, { importId: await newImport(), today: '2025-02-01' });
    expect(result).toMatchObject({ rowsTotal: 9, rowsInserted: 0, rowsUpdated: 0, rowsUnchanged: 2, rowsRejected: 7, enrolmentsCreated: 0 });
    expect((await db.pool.query(`SELECT id, updated_at FROM members ORDER BY id`)).rows).toEqual(before.rows);
    expect((await db.pool.query(`SELECT id, updated_at FROM enrolments ORDER BY id`)).rows).toEqual(enrolmentsBefore.rows);
  });

  it('updates a changed row and keeps the waiting-period chain for a renewal without a gap', async () => {
    const renewal = header + `张伟,${ID_1},13900000009,${CARD},102397000011,${UNIT_A},2026,true\n`;
    const result = await importRoster(db.pool, keys, renewal, { importId: await newImport(), today: '2026-01-03' });
    expect(result).toMatchObject({ rowsInserted: 0, rowsUpdated: 1, enrolmentsCreated: 1 });
    const { rows } = await db.pool.query(
      `SELECT e.plan_year, e.enrolled_on, e.first_enrolled_on, e.plan FROM enrolments e JOIN members m ON m.id = e.member_id
        WHERE m.id_number_hash = $1 ORDER BY plan_year`,
      [lookupHash(keys, ID_1)],
    );
    expect(rows).toEqual([
      { plan_year: 2025, enrolled_on: '2025-01-10', first_enrolled_on: '2025-01-10', plan: 'PRIVATE' },
      { plan_year: 2026, enrolled_on: '2026-01-03', first_enrolled_on: '2025-01-10', plan: 'PRIVATE' },
    ]);
    // A return after a gap year starts a new chain (a new waiting period).
    const afterGap = header + `李娜,${ID_2},,,,${UNIT_B},2027,false\n`;
    await importRoster(db.pool, keys, afterGap, { importId: await newImport(), today: '2027-01-04' });
    const lina = await db.pool.query(
      `SELECT e.first_enrolled_on FROM enrolments e JOIN members m ON m.id = e.member_id WHERE m.id_number_hash = $1 AND plan_year = 2027`,
      [lookupHash(keys, ID_2)],
    );
    expect(lina.rows[0].first_enrolled_on).toBe('2027-01-04');
  });

  it('refuses an enrolment in a plan year that has ended: its date must fall in the year, and a new one there is BACKDATED however near the year end', async () => {
    // Enrolled for 2023 (its chain starts 2023-01-05); a 2024 enrolment made after 2024 would inherit that start and pay the whole year.
    const R = withResidentIdCheck('35052119860606011');
    const row = (planYear: number, enrolledOn: string) => `name,id_number,unit_credit_code,plan_year,enrolled_on\n任远,${R},${UNIT_A},${planYear},${enrolledOn}\n`;
    expect(await importRoster(db.pool, keys, row(2023, ''), { importId: await newImport(), today: '2023-01-05' })).toMatchObject({ enrolmentsCreated: 1 });
    const late = [
      [row(2024, ''), '2025-06-15', 'must fall in the plan year 2024 (2024-01-01 to 2024-12-31); empty, it is the day of the import, 2025-06-15'],
      [row(2024, '2025-06-15'), '2025-06-15', 'must fall in the plan year 2024 (2024-01-01 to 2024-12-31)'],
      [row(2024, '2024-12-31'), '2025-06-15', 'BACKDATED: 2024-12-31 is 166 days before 2025-06-15, more than the 30 days allowed (入会日期2024-12-31早于录入日2025-06-15共166天，超过30天)'],
      [row(2024, '2024-12-20'), '2025-01-10', 'BACKDATED: the plan year 2024 ended on 2024-12-31, before 2025-01-10: a new enrolment in it is back-dated (2024年度已于2024-12-31结束，录入日2025-01-10不能再新增该年度入会)'],
    ] as const;
    for (const [csv, today, reason] of late) {
      const result = await importRoster(db.pool, keys, csv, { importId: await newImport(), today });
      expect(result, csv).toMatchObject({ rowsRejected: 1, enrolmentsCreated: 0, errors: [{ row: 2, field: 'enrolled_on', reason }] });
    }
    const years = await db.pool.query(`SELECT e.plan_year FROM enrolments e JOIN members m ON m.id = e.member_id WHERE m.id_number_hash = $1`, [lookupHash(keys, R)]);
    expect(years.rows).toEqual([{ plan_year: 2023 }]);

    // A date before the chain's start (next year's roster given early) is a refused row, not a database error failing the whole file.
    const S = withResidentIdCheck('35052119870707021');
    await importRoster(db.pool, keys, `name,id_number,unit_credit_code,plan_year,enrolled_on\n孙悦,${S},${UNIT_A},2025,2025-03-01\n`, { importId: await newImport(), today: '2025-03-01' });
    const early = await importRoster(db.pool, keys, `name,id_number,unit_credit_code,plan_year,enrolled_on\n孙悦,${S},${UNIT_A},2026,2025-02-20\n`, { importId: await newImport(), today: '2025-03-05' });
    expect(early).toMatchObject({ rowsRejected: 1, enrolmentsCreated: 0, errors: [{ row: 2, field: 'enrolled_on', reason: 'must fall in the plan year 2026 (2026-01-01 to 2026-12-31)' }] });
  });

  it('takes next year\'s roster sent in December, an empty enrolled_on being the plan year\'s first day', async () => {
    const T = withResidentIdCheck('35052119880808031');
    const result = await importRoster(db.pool, keys, `name,id_number,unit_credit_code,plan_year\n唐宁,${T},${UNIT_A},2026\n`, { importId: await newImport(), today: '2025-12-10' });
    expect(result).toMatchObject({ rowsRejected: 0, enrolmentsCreated: 1 });
    const { rows } = await db.pool.query(
      `SELECT to_char(e.enrolled_on, 'YYYY-MM-DD') AS "enrolledOn" FROM enrolments e JOIN members m ON m.id = e.member_id WHERE m.id_number_hash = $1 AND e.plan_year = 2026`,
      [lookupHash(keys, T)]);
    expect(rows).toEqual([{ enrolledOn: '2026-01-01' }]);
  });

  it('refuses a name the bank\'s payment file cannot carry on name: over 140 bytes, a control character, U+FFFF; a registered member keeps the name', async () => {
    const U = withResidentIdCheck('35052119890909041');
    const rows = [
      `${'泉'.repeat(47)},${U},${UNIT_A}`, // 141 bytes in UTF-8
      `李\t娜,${ID_2},${UNIT_B}`, // a registered member renamed
      `许三\uFFFF,${withResidentIdCheck('35052119890909042')},${UNIT_A}`,
    ];
    const result = await importRoster(db.pool, keys, `name,id_number,unit_credit_code\n${rows.join('\n')}\n`, { importId: await newImport(), today: '2025-03-01' });
    expect(result).toMatchObject({ rowsInserted: 0, rowsUpdated: 0, rowsRejected: 3 });
    expect(result.errors).toEqual([
      { row: 2, field: 'name', reason: 'is 141 bytes (utf8), the bank accepts at most 140' },
      { row: 3, field: 'name', reason: 'must not contain control characters or line breaks' },
      { row: 4, field: 'name', reason: 'must not contain U+FFFF: XML 1.0 does not allow it' },
    ]);
    const { rows: [lina] } = await db.pool.query(`SELECT name FROM members WHERE id_number_hash = $1`, [lookupHash(keys, ID_2)]);
    expect(lina).toEqual({ name: '李娜' });
  });

  it('refuses a file with a wrong header as a whole, changing nothing', async () => {
    const count = await memberCount();
    const importId = await newImport();
    await expect(importRoster(db.pool, keys, 'name,idnumber\n张三,1\n', { importId })).rejects.toThrow(
      'header: missing column id_number; missing column unit_credit_code (or give a default unit); unknown column idnumber',
    );
    expect(await memberCount()).toBe(count);
  });

  it('imports with the CLI and reports counts and row errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-'));
    const file = join(dir, 'roster.csv');
    const year = chinaToday().slice(0, 4); // the CLI's today: an empty enrolled_on must fall in the plan year
    writeFileSync(file, `name,id_number,plan_year\n黄磊,${withResidentIdCheck('35052119800101008')},${year}\n何洁,123,${year}\n`);
    const hub = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [hub, 'members', 'import', file, '--unit', UNIT_A], {
      encoding: 'utf8', env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' },
    });
    expect(run.stdout).toContain('row 3: id_number: must be 17 digits followed by a digit or X (18 characters)');
    expect(run.stdout).toContain('rows 2: inserted 1, updated 0, unchanged 0, rejected 1; enrolments created 1');
    expect(run.status).toBe(1);
  });
});
