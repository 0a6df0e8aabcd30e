import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lazyTestGateway, TEST_REDIS_URL } from '../support/gateway.ts';
import { hub } from '../support/hub.ts';
import { readSettlementFile, SettlementFileError } from '../../src/settlements/records.ts';

/**
 * Settlement CSV files the reader must refuse as a whole, clearly (BAD_USER_INPUT naming
 * input.content through the API, exit 2 from the CLI): bugs the bad-input sweep (issue 8) found and
 * fixed; each comment says the exact input, what happened before the fix and what happens now.
 */

const gateway = lazyTestGateway({ RATE_LIMIT_POINTS: '0' });

describe('settlement CSV files', () => {
  // BUG 4 (settlements side). src/settlements/records.ts and src/members/rosterImport.ts turn only
  // csv-parse errors whose code starts with "CSV_" into file errors, but csv-parse also throws
  // INVALID_OPENING_QUOTE (and others without the prefix). Input: a CSV settlement file
  // "setl_id,psn_name\nS1,A\"B\n" (a quote inside an unquoted field). Before the fix: uploadSettlements answers
  // INTERNAL_SERVER_ERROR; `hub settlements import` crashes with a stack trace instead of exit 2.
  // Now: BAD_USER_INPUT on input.content ("CSV: Invalid Opening Quote: ... line 2") / exit 2.
  // (The roster side: test/members/malformedRosters.test.ts.)
  it('refuses a CSV settlement file with a quote inside a field as a userError / exit 2', async () => {
    const { db: database, gw: g } = await gateway();
    const content = 'setl_id,psn_name\nS1,A"B\n';
    const result = await g.query({ role: 'ADMIN' }, `mutation($c: String!) { uploadSettlements(input: { fileName: "bad.csv", content: $c }) { run { id } userErrors { field code message } } }`, { c: content });
    expect(result.data.uploadSettlements).toEqual({ run: null, userErrors: [{ field: 'input.content', code: 'INVALID', message: expect.stringMatching(/^input\.content: CSV: .*line 2/) }] });

    const dir = mkdtempSync(join(tmpdir(), 'found-bugs-'));
    writeFileSync(join(dir, 'bad.csv'), content);
    const run = await hub(['settlements', 'import', join(dir, 'bad.csv')], {
      DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`, LOG_LEVEL: 'silent',
    });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/bad\.csv: CSV: .*line 2/);
  });

  // BUG 8 (settlements side). The settlement CSV reader took "setl_id,setl_id" silently, the last one
  // winning (the roster side: test/members/malformedRosters.test.ts). Now: SettlementFileError
  // "header: column setl_id is repeated"; blank column names (Excel's trailing columns) still pass.
  it('refuses a settlement CSV header with a repeated column (blank names, Excel\'s trailing columns, pass)', async () => {
    const read = async (csv: string) => {
      const records = [];
      for await (const r of readSettlementFile(Readable.from([csv]), 'csv')) records.push(r);
      return records;
    };
    await expect(read('setl_id,psn_name,SETL_ID\nS1,A,S2\n')).rejects.toThrow(SettlementFileError);
    await expect(read('setl_id,psn_name,SETL_ID\nS1,A,S2\n')).rejects.toThrow(/^header: column setl_id is repeated$/);
    expect((await read('setl_id,psn_name,,\nS1,A,,\n')).map((r) => r.fields)).toEqual([{ setl_id: 'S1', psn_name: 'A' }]);
  });
});
