import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers, sampleUnits, type SampleMember } from '../../src/demo/sampleData.ts';
import { registerUnits } from '../support/units.ts';

/**
 * A large roster streams through the import: Node holds the chunk it reads, not the file. The file
 * is generated while it is read, so the test holds none of it either. Its rows are checked in the
 * import's own thread: with check threads, how many answered batches wait to be staged (up to
 * 16 MB) depends on the threads' pace and would drown the 24 bytes a row this measures; that
 * number is bounded (rosterImport.ts), not per row.
 */
const keys = personalDataKeys(Buffer.alloc(32, 7).toString('base64'));
const ROWS = 160_000;
const QUARTER = ROWS / 4;
const units = sampleUnits(40, 3);
// Far apart, so the rows lie in different chunks (the import stages 20,000 lines at a time).
const DUPLICATE_ROW = ROWS - 10; // a file row number (the header is row 1)

let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
  await registerUnits(db.pool, units);
});
afterAll(() => db.drop());

/** The roster, generated line by line while it is read: row DUPLICATE_ROW repeats row 2's ID number under another name. */
function roster(): Readable {
  return Readable.from((function* () {
    yield ROSTER_HEADER;
    let first: SampleMember | null = null;
    let row = 1;
    for (const m of sampleMembers(ROWS, units, 5)) {
      row += 1;
      first ??= m;
      yield rosterLine(row === DUPLICATE_ROW ? { ...m, idNumber: first.idNumber, name: `${m.name}乙` } : m, 2025, false);
    }
  })(), { objectMode: false });
}

describe('a large roster', () => {
  it('is imported in bounded memory, a duplicate ID number found across chunks and named by row', { timeout: 600_000 }, async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Heap left after a full collection: what the import retains, not what it has yet to collect.
    const retained = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('big.csv', '\\x', 'test') RETURNING id`,
    );
    // The least retained in the second quarter of the file and in the last: each is the import's
    // own state at a quiet moment (no chunk being copied), plus whatever it keeps per row read. The
    // first quarter is left out: it allocates the buffers every later chunk reuses.
    let floorEarly = Infinity;
    let floorLate = Infinity;
    const result = await importRoster(db.pool, keys, roster(), {
      importId: rows[0]!.id, today: '2025-01-10', checkThreads: 0,
      onProgress: (rowsRead) => {
        if (rowsRead >= ROWS) return; // the final call: after the file
        if (rowsRead > QUARTER && rowsRead <= 2 * QUARTER) floorEarly = Math.min(floorEarly, retained());
        else if (rowsRead > 3 * QUARTER) floorLate = Math.min(floorLate, retained());
      },
    });

    expect(result).toMatchObject({ rowsTotal: ROWS, rowsInserted: ROWS - 1, rowsRejected: 1, enrolmentsCreated: ROWS - 1, errorCount: 1 });
    expect(result.errors).toEqual([{ row: DUPLICATE_ROW, field: 'id_number', reason: 'duplicate of row 2' }]);
    // Half the file later the import keeps under 24 bytes a row more: an ID number kept per row (a
    // string and a map entry) alone takes several times that.
    expect(floorLate - floorEarly).toBeLessThan(2 * QUARTER * 24);
  });
});
