import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importRoster } from '../../src/members/rosterImport.ts';
import { registerUnits } from '../support/units.ts';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers, sampleUnits } from '../../src/demo/sampleData.ts';
import { countQueries, freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * A roster row asking for cover (a targeted group in a plan year that has begun, the special-disease
 * add-on in one that has ended) may add it to an enrolment dated long before, which back-dating
 * refuses: the enrolments
 * such rows may touch are read a batch of rows at a time, so an import's statements do not grow with
 * its rows (one lookup a row made a mid-year city roster 130,000 statements longer).
 */
const keys = personalDataKeys(Buffer.alloc(32, 7).toString('base64'));
const units = sampleUnits(3, 5);
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
  await registerUnits(db.pool, units);
});
afterAll(async () => { await db?.drop(); });

async function newImport(): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('t.csv', '\\x', 'test') RETURNING id`);
  return rows[0]!.id;
}

describe('cover asked by roster rows in a year begun', () => {
  it('is checked against the enrolments in statements that do not grow with the rows, and refused from each enrolment\'s date', async () => {
    const members = [...sampleMembers(240, units, 9)];
    const roster = (n: number, categories: string[]) => ROSTER_HEADER + members.slice(0, n).map((m) => rosterLine(m, 2025, false, categories)).join('');
    // Enrolled in January without a targeted group.
    expect(await importRoster(db.pool, keys, roster(240, []), { importId: await newImport(), today: '2025-01-05' })).toMatchObject({ rowsRejected: 0 });

    const statements = [];
    for (const n of [20, 240]) {
      const { result, queries } = await countQueries(async () => importRoster(db.pool, keys, roster(n, ['HARDSHIP']), { importId: await newImport(), today: '2025-12-01', checkThreads: 0 }));
      // Every row adds a group to an enrolment of 5 January: 330 days back, refused.
      expect(result).toMatchObject({ rowsRejected: n });
      statements.push(queries);
    }
    expect(statements[1]).toBe(statements[0]);
  });
});
