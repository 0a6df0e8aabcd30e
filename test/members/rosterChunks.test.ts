import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { REGISTERED_ELSEWHERE } from '../../src/members/memberFields.ts';
import { lookupHash, personalDataKeys } from '../../src/privacy/personalData.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers, sampleUnits } from '../../src/demo/sampleData.ts';
import { registerUnits } from '../support/units.ts';

/**
 * Refusals and merges across the chunks an import stages (20,000 lines each): a row is refused as a
 * duplicate of a row in an earlier chunk, a row refused before the duplicate check does not count
 * as the first, and a member changed in a later chunk is written and logged once.
 */
const keys = personalDataKeys(Buffer.alloc(32, 7).toString('base64'));
const ROWS = 45_000;
const units = sampleUnits(2, 4);
const [elsewhere, renamed, late, ...fresh] = [...sampleMembers(ROWS, units, 11)];
// File row numbers (the header is row 1): chunks start at rows 2, 20,002 and 40,002.
const ELSEWHERE_ROW = 2;
const BAD_PHONE_ROW = 3;
const ELSEWHERE_AGAIN_ROW = 25_002;
const LATE_ROW = 25_003;
const RENAMED_ROW = 30_000;
const LATE_AGAIN_ROW = 44_000;

let db: TestDatabase;

async function newImport(): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('chunks.csv', '\\x', 'test') RETURNING id`,
  );
  return rows[0]!.id;
}

/** The file: `elsewhere` under the other unit twice, `late` first refused for its phone, `renamed` under a new name. */
function roster(): string {
  const special = new Map([
    [ELSEWHERE_ROW, { ...elsewhere!, unitCreditCode: units[1]!.creditCode }],
    [BAD_PHONE_ROW, { ...late!, phone: '12345' }],
    [ELSEWHERE_AGAIN_ROW, { ...elsewhere!, unitCreditCode: units[1]!.creditCode }],
    [LATE_ROW, late!],
    [RENAMED_ROW, { ...renamed!, name: `${renamed!.name}乙` }],
    [LATE_AGAIN_ROW, late!],
  ]);
  const lines = [ROSTER_HEADER];
  let next = 0;
  for (let row = 2; row <= ROWS + 1; row++) lines.push(rosterLine(special.get(row) ?? fresh[next++]!, 2025, false));
  return lines.join('');
}

beforeAll(async () => {
  db = await freshDatabase();
  await registerUnits(db.pool, units);
  const known = ROSTER_HEADER + rosterLine({ ...elsewhere!, unitCreditCode: units[0]!.creditCode }, 2025, false) + rosterLine(renamed!, 2025, false);
  await importRoster(db.pool, keys, known, { importId: await newImport(), today: '2025-01-10' });
});
afterAll(() => db.drop());

describe('a roster of several chunks', () => {
  const errors = [
    { row: ELSEWHERE_ROW, field: 'id_number', reason: REGISTERED_ELSEWHERE },
    { row: BAD_PHONE_ROW, field: 'phone', reason: 'must be a mobile number (11 digits) or a landline with area code' },
    { row: ELSEWHERE_AGAIN_ROW, field: 'id_number', reason: `duplicate of row ${ELSEWHERE_ROW}` },
    { row: LATE_AGAIN_ROW, field: 'id_number', reason: `duplicate of row ${LATE_ROW}` },
  ];

  it('refuses duplicates of earlier chunks\' rows, merges the rest and counts over all chunks', { timeout: 300_000 }, async () => {
    const importId = await newImport();
    const result = await importRoster(db.pool, keys, roster(), { importId, today: '2025-01-10' });
    expect(result).toMatchObject({
      rowsTotal: ROWS, rowsInserted: ROWS - 5, rowsUpdated: 1, rowsUnchanged: 0, rowsRejected: 4,
      enrolmentsCreated: ROWS - 5, errorCount: 4,
    });
    expect(result.errors).toEqual(errors);
    const { rows: changes } = await db.pool.query(`SELECT field, before, after FROM member_changes WHERE import_id = $1`, [importId]);
    expect(changes).toEqual([{ field: 'NAME', before: renamed!.name, after: `${renamed!.name}乙` }]);
    const { rows: audit } = await db.pool.query(`SELECT details FROM audit_log WHERE action = 'roster.import' AND target_id = $1`, [String(importId)]);
    expect(audit[0].details.changedFields).toEqual({ NAME: 1 });
    // The other unit's member stays where it was; the row refused for its phone left the later one first.
    const { rows: [kept] } = await db.pool.query(`SELECT unit_id FROM members WHERE id_number_hash = $1`, [lookupHash(keys, elsewhere!.idNumber)]);
    const { rows: [unit] } = await db.pool.query(`SELECT id FROM units WHERE credit_code = $1`, [units[0]!.creditCode]);
    expect(kept.unit_id).toBe(unit.id);
    const { rows: [stored] } = await db.pool.query(`SELECT count(*)::int AS n FROM roster_import_errors WHERE import_id = $1`, [importId]);
    expect(stored.n).toBe(4);
  });

  it('changes nothing when the same file is imported again', { timeout: 300_000 }, async () => {
    const importId = await newImport();
    const result = await importRoster(db.pool, keys, roster(), { importId, today: '2025-01-10' });
    expect(result).toMatchObject({ rowsInserted: 0, rowsUpdated: 0, rowsUnchanged: ROWS - 4, rowsRejected: 4, enrolmentsCreated: 0 });
    expect(result.errors).toEqual(errors);
    const { rows: [logged] } = await db.pool.query(`SELECT count(*)::int AS n FROM member_changes WHERE import_id = $1`, [importId]);
    expect(logged.n).toBe(0);
  });
});
