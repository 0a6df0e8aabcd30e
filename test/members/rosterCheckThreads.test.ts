import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { importRoster, type RosterImportResult } from '../../src/members/rosterImport.ts';
import { rosterCheckers } from '../../src/members/rosterCheckers.ts';
import { decrypt, personalDataKeys } from '../../src/privacy/personalData.ts';
import { sampleMembers, sampleUnits, type SampleMember } from '../../src/demo/sampleData.ts';
import { registerUnits } from '../support/units.ts';

/**
 * A big roster's rows are checked and encrypted on threads (rosterCheckers.ts), 2,000 rows a
 * batch, the last partial batch in the import's own thread. The same file imported with threads
 * and without gives the same result and the same members, and each refusal keeps its own row
 * number whichever batch, thread or step refused it.
 */
const keys = personalDataKeys(Buffer.alloc(32, 9).toString('base64'));
const ROWS = 7_000;
const units = sampleUnits(2, 5);
const members = [...sampleMembers(ROWS, units, 13)];
const HEADER = 'name,id_number,phone,bank_card,bank_code,unit_credit_code,plan_year,in_service\n';
// File rows (the header is row 1): batches start at rows 2, 2,002, 4,002 and 6,002 (the partial one).
const BAD_PHONE_ROW = 3;
const NOT_IN_SERVICE_ROW = 2_002;
const BAD_CARD_ROW = 4_001;
const DUPLICATE_ROW = 5_000;
const DUPLICATED_ROW = 10;
const NOT_IN_SERVICE_AGAIN_ROW = 6_500;

function roster(): string {
  const lines = [HEADER];
  for (let row = 2; row <= ROWS + 1; row++) {
    const m: SampleMember = row === DUPLICATE_ROW ? members[DUPLICATED_ROW - 2]! : members[row - 2]!;
    const phone = row === BAD_PHONE_ROW ? '12345' : m.phone;
    const card = row === BAD_CARD_ROW ? `${m.bankCard.slice(0, -1)}${(Number(m.bankCard.at(-1)) + 1) % 10}` : m.bankCard;
    const inService = row === NOT_IN_SERVICE_ROW || row === NOT_IN_SERVICE_AGAIN_ROW ? 'false' : 'true';
    lines.push(`${m.name},${m.idNumber},${phone},${card},${m.bankCode},${m.unitCreditCode},2025,${inService}\n`);
  }
  return lines.join('');
}

let threaded: TestDatabase;
let here: TestDatabase;

async function importInto(db: TestDatabase, checkThreads: number): Promise<RosterImportResult> {
  await registerUnits(db.pool, units);
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('threads.csv', '\\x', 'test') RETURNING id`,
  );
  return importRoster(db.pool, keys, roster(), { importId: rows[0]!.id, today: '2025-01-10', checkThreads });
}

/** The members as stored, ID numbers decrypted (ciphertexts differ by their random IVs). */
async function storedMembers(db: TestDatabase) {
  const { rows } = await db.pool.query<{ id_number_enc: Buffer; [column: string]: unknown }>(
    `SELECT m.id, m.unit_id, m.name, m.id_number_enc, m.id_number_hash, m.id_number_masked, m.birth_date, m.gender, m.phone,
            m.bank_card_enc, m.bank_card_hash, m.bank_card_masked, m.bank_code, e.plan_year, e.plan, e.enrolled_on
       FROM members m LEFT JOIN enrolments e ON e.member_id = m.id ORDER BY m.id`,
  );
  return rows.map(({ id_number_enc, bank_card_enc, ...row }) => ({
    ...row, idNumber: decrypt(keys, id_number_enc), bankCard: bank_card_enc ? decrypt(keys, bank_card_enc as Buffer) : null,
  }));
}

beforeAll(async () => {
  [threaded, here] = await Promise.all([freshDatabase(), freshDatabase()]);
});
afterAll(async () => {
  await Promise.all([threaded?.drop(), here?.drop()]);
});

describe('a roster checked on threads', () => {
  it('imports as one checked in the import\'s own thread, each refusal at its row', { timeout: 300_000 }, async () => {
    const withThreads = await importInto(threaded, 2);
    const withoutThreads = await importInto(here, 0);

    expect(withThreads.errors.map((e) => [e.row, e.field])).toEqual([
      [BAD_PHONE_ROW, 'phone'], [NOT_IN_SERVICE_ROW, 'in_service'], [BAD_CARD_ROW, 'bank_card'],
      [DUPLICATE_ROW, 'id_number'], [NOT_IN_SERVICE_AGAIN_ROW, 'in_service'],
    ]);
    expect(withThreads.errors.find((e) => e.row === DUPLICATE_ROW)?.reason).toBe(`duplicate of row ${DUPLICATED_ROW}`);
    expect(withThreads).toMatchObject({ rowsTotal: ROWS, rowsInserted: ROWS - 5, rowsRejected: 5, enrolmentsCreated: ROWS - 5 });
    const { timings: _a, ...threadedResult } = withThreads;
    const { timings: _b, ...hereResult } = withoutThreads;
    expect(threadedResult).toEqual(hereResult);

    const [threadedMembers, hereMembers] = await Promise.all([storedMembers(threaded), storedMembers(here)]);
    expect(threadedMembers).toHaveLength(ROWS - 5);
    expect(threadedMembers).toEqual(hereMembers);
    // In the file's order: the first member is row 2's, the last row 7,001's.
    expect(threadedMembers[0]!.idNumber).toBe(members[0]!.idNumber);
    expect(threadedMembers.at(-1)!.idNumber).toBe(members[ROWS - 1]!.idNumber);
  });
});

describe('a check thread that fails', () => {
  const ctx = { unitsByCode: new Map(), defaultUnit: null, onlyUnitId: null, today: '2025-01-10' };

  it('fails the batch it was checking and every batch after it, and stops', { timeout: 60_000 }, async () => {
    const checkers = rosterCheckers(1, ctx, keys);
    try {
      const columns = ['name', 'id_number', 'unit_credit_code'] as const;
      // Unknown unit: refused, so the thread is up and answering.
      const [checked] = await checkers.check({ columns, rows: [['张三', members[0]!.idNumber, 'X']], firstRowNumber: 2 });
      expect(checked).toMatchObject({ rowNumber: 2, problems: [{ field: 'unit_credit_code' }] });
      // A cell no CSV parser makes (a number) throws inside the thread.
      await expect(checkers.check({ columns, rows: [[42 as unknown as string]], firstRowNumber: 3 })).rejects.toThrow();
      await expect(checkers.check({ columns, rows: [['李四']], firstRowNumber: 4 })).rejects.toThrow();
    } finally {
      await checkers.close();
    }
  });
});
