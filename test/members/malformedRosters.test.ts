import { Readable } from 'node:stream';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { TestDatabase } from '../support/db.ts';
import { ensureUnit, lazyTestGateway } from '../support/gateway.ts';
import { fingerprints } from '../support/fingerprint.ts';
import { importRoster, RosterFileError } from '../../src/members/rosterImport.ts';
import type { RosterImportJob } from '../../src/members/queue.ts';
import { log } from '../../src/log.ts';
import { rosterImportProcessor } from '../../jobs/members.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';

/**
 * Roster CSVs the import must refuse (a file error: the import FAILED, nothing changed) or report
 * row by row, never with a database error or a retry without end: bugs the bad-input sweep
 * (issue 8) found and fixed; each comment says the exact input, what happened before the fix and
 * what happens now.
 */

const gateway = lazyTestGateway({ RATE_LIMIT_POINTS: '0' });

const CERTNO = withResidentIdCheck('35052119850312001');
const UNIT = withCreditCodeCheck('91350500MA0000001');

async function newImport(database: TestDatabase): Promise<number> {
  const { rows } = await database.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('bug.csv', '\\x', 'test') RETURNING id`);
  return rows[0]!.id;
}

describe('CSV rosters', () => {
  // BUG 4 (roster side; the settlements side: test/settlements/csvFiles.test.ts). Input: a roster
  // uploaded through importRoster(input: {csv}) with a quote
  // inside an unquoted field: 'name,id_number,unit_credit_code\n张"伟,<valid id>,<unit>\n'. Before the fix:
  // importRoster throws a raw CsvError (not RosterFileError), so the worker (jobs/members.ts)
  // rethrows it, BullMQ retries 5 times, the import stays RUNNING forever (the sweeper re-adds it)
  // and the API never shows a failure. Now: RosterFileError "CSV: Invalid Opening Quote: ...
  // line 2"; the import FAILED with that reason; nothing changed.
  it('refuses a roster with a quote inside a field as a file error: FAILED, not retried forever', async () => {
    const { db: database, gw: g } = await gateway();
    await ensureUnit(g, UNIT);
    const before = await fingerprints(database.pool, ['members', 'enrolments']);
    const csv = `name,id_number,unit_credit_code\n张"伟,${CERTNO},${UNIT}\n`;
    await expect(importRoster(database.pool, g.keys, csv, { importId: await newImport(database) })).rejects.toThrow(RosterFileError);
    const started = await g.query({ role: 'ADMIN' }, `mutation($csv: String!) { importRoster(input: { fileName: "r.csv", csv: $csv }) { rosterImport { id } } }`, { csv });
    const importId = Number(Buffer.from(started.data.importRoster.rosterImport.id, 'base64url').toString().split(':')[1]);
    await rosterImportProcessor(database.pool, g.keys, log)({ data: { importId } } as Job<RosterImportJob>);
    const row = await database.pool.query(`SELECT status, failure FROM roster_imports WHERE id = $1`, [importId]);
    expect(row.rows[0]).toMatchObject({ status: 'FAILED', failure: expect.stringMatching(/^CSV: .*line 2/) });
    expect(await fingerprints(database.pool, ['members', 'enrolments'])).toEqual(before);
  });

  // BUG 6. Input: a roster cell with U+0000, e.g. 'name,id_number,unit_credit_code\nA\u0000B,<valid id>,<unit>\n'.
  // Before the fix: the COPY into the staging table fails with PostgreSQL 'invalid byte sequence for encoding
  // "UTF8": 0x00' (a DatabaseError, not RosterFileError): `hub members import` prints that raw message
  // (exit 2), and through the API the worker retries forever (import stays RUNNING). Now: a row
  // error {row: 2, field: 'name', reason: ...} (or RosterFileError naming row 2); nothing changed.
  it('reports a U+0000 in a roster cell as a row error', async () => {
    const { db: database, gw: g } = await gateway();
    await ensureUnit(g, UNIT);
    const before = await fingerprints(database.pool, ['members', 'enrolments']);
    const result = await importRoster(database.pool, g.keys, `name,id_number,unit_credit_code\nA\u0000B,${CERTNO},${UNIT}\n`, { importId: await newImport(database) });
    expect(result.errors).toEqual([{ row: 2, field: 'name', reason: expect.any(String) }]);
    expect(await fingerprints(database.pool, ['members', 'enrolments'])).toEqual(before);
  });

  // BUG 7. Input: a roster file in GBK/GB18030 (what Excel writes on Chinese Windows), e.g. the bytes of
  // "name,id_number,unit_credit_code\n张伟,<valid id>,<unit>\n" encoded in GBK. Before the fix: decoded as UTF-8,
  // the name becomes "��ΰ" (U+FFFD replacement characters) and is imported; exit 0. Now: without a declared
  // encoding GBK is detected and imported (test/members/encoding.test.ts); declared UTF-8, the file is
  // refused (RosterFileError naming the first byte that is not UTF-8), nothing changed.
  it('refuses a roster declared UTF-8 that is not (GBK is detected and imported when no encoding is declared)', async () => {
    const { db: database, gw: g } = await gateway();
    await ensureUnit(g, UNIT);
    const before = await fingerprints(database.pool, ['members', 'enrolments']);
    const gbk = Buffer.concat([
      Buffer.from('name,id_number,unit_credit_code\n'),
      Buffer.from([0xd5, 0xc5, 0xce, 0xb0]), // 张伟 in GBK
      Buffer.from(`,${withResidentIdCheck('35052119850312002')},${UNIT}\n`),
    ]);
    await expect(importRoster(database.pool, g.keys, Readable.from([gbk]), { importId: await newImport(database), encoding: 'utf-8' })).rejects.toThrow(RosterFileError);
    expect(await fingerprints(database.pool, ['members', 'enrolments'])).toEqual(before);
  });

  // BUG 8. Input: a roster header with a repeated column: "name,id_number,unit_credit_code,name" and a
  // row "张三,<valid id>,<unit>,李四". Before the fix: accepted; the member is stored as "李四" (the last one wins),
  // silently. Now: RosterFileError "header: column name is repeated"; nothing changed. (The
  // settlement CSV reader had the same silent last-wins for "setl_id,setl_id": test/settlements/csvFiles.test.ts.)
  it('refuses a roster header with a repeated column', async () => {
    const { db: database, gw: g } = await gateway();
    await ensureUnit(g, UNIT);
    const before = await fingerprints(database.pool, ['members', 'enrolments']);
    const csv = `name,id_number,unit_credit_code,name\n张三,${withResidentIdCheck('35052119850312003')},${UNIT},李四\n`;
    await expect(importRoster(database.pool, g.keys, csv, { importId: await newImport(database) })).rejects.toThrow(/^header: .*name/);
    expect(await fingerprints(database.pool, ['members', 'enrolments'])).toEqual(before);
  });

  // BUG 9 (roster side; the API side: test/gateway/argumentValues.test.ts). src/members/rosterRow.ts
  // isIsoDate accepts year 0000 (JavaScript has a year 0,
  // PostgreSQL has not). Input: a roster row with plan_year 2025 and enrolled_on "0000-01-01". Before the fix:
  // DatabaseError 'date/time field value out of range: "0000-01-01"' (not a row error; API imports then
  // retry forever). Now: row error {row: 2, field: 'enrolled_on', reason: 'must be a date yyyy-MM-dd'}.
  it('reports enrolled_on 0000-01-01 as a row error', async () => {
    const { db: database, gw: g } = await gateway();
    await ensureUnit(g, UNIT);
    const result = await importRoster(database.pool, g.keys, `name,id_number,unit_credit_code,plan_year,enrolled_on\n周敏,${withResidentIdCheck('35052119850312004')},${UNIT},2025,0000-01-01\n`, { importId: await newImport(database) });
    expect(result.errors).toEqual([{ row: 2, field: 'enrolled_on', reason: 'must be a date yyyy-MM-dd' }]);
  });
});
