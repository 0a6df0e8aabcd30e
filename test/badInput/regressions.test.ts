import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, TEST_REDIS_URL, type TestGateway } from '../support/gateway.ts';
import { signDevelopmentToken } from '../../src/gateway/auth.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { importRoster, RosterFileError } from '../../src/members/rosterImport.ts';
import { validateSettlement } from '../../src/settlements/validation.ts';
import { PlatformError, readResponse } from '../../src/settlements/envelope.ts';
import { importFromSource } from '../../src/settlements/ingest.ts';
import { fileSource } from '../../src/settlements/sources/files.ts';
import { readSettlementFile, SettlementFileError } from '../../src/settlements/records.ts';
import { fileSourceNamed } from '../../src/settlements/store.ts';
import { parseCamt053, parseCamt054 } from '../../src/banks/iso20022/camt.ts';
import { parsePain002, writePain002 } from '../../src/banks/iso20022/pain002.ts';
import { Iso20022Error, NAMESPACES, parseXml } from '../../src/banks/iso20022/xml.ts';
import { log } from '../../src/log.ts';
import { rosterImportProcessor } from '../../jobs/rosterImport.ts';
import type { RosterImportJob } from '../../jobs/queues.ts';
import { fingerprint, fingerprints } from './support.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { parseFen } from '../../src/kernel/money.ts';

/**
 * Bugs the bad-input sweep (issue 8) found in src/, now fixed: one regression test each. Each comment
 * says the exact input, what happened before the fix and what happens now. None is open (a newly
 * found one goes to a FOUND_BUGS.test.ts, skipped, until it is fixed). Setup is lazy: only the tests
 * that need the database or the gateway start them.
 */

let db: TestDatabase | undefined;
let gw: TestGateway | undefined;
async function gateway(): Promise<{ db: TestDatabase; gw: TestGateway }> {
  db ??= await freshDatabase();
  gw ??= await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  return { db, gw };
}
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const CERTNO = withResidentIdCheck('35052119850312001');
const UNIT = withCreditCodeCheck('91350500MA0000001');
const settlement = (extra: Record<string, unknown> = {}) => ({
  infno: '2304', setl_id: 'S1', mdtrt_id: 'M1', psn_no: 'P1', psn_name: '张伟', certno: CERTNO, insutype: '310',
  med_type: '21', setl_time: '2025-06-01 10:00:00', medfee_sumamt: '243200.00', fulamt_ownpay_amt: '52700.00',
  overlmt_selfpay: '0.00', fund_pay_sumamt: '106500.00', psn_part_amt: '136700.00', acct_pay: '700.00',
  psn_cash_pay: '136000.00', diagnoses: ['I34.0'], ...extra,
});

async function importLines(lines: string[], source = 'found-bugs') {
  const { db: database, gw: g } = await gateway();
  await fileSourceNamed(database.pool, source);
  return importFromSource(database.pool, g.keys, fileSource(Readable.from([lines.join('\n') + '\n']), 'jsonl'), { source, fileName: 'f.jsonl', startedBy: 'test', pageSize: 500 });
}

async function unit(): Promise<string> {
  const { gw: g } = await gateway();
  const created = await g.query({ role: 'ADMIN' }, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "晋江某纺织有限公司", planType: PRIVATE }) { id } }`, { c: UNIT });
  if (created.data?.createUnit) return created.data.createUnit.id;
  const listed = await g.query({ role: 'ADMIN' }, `query($c: String) { units(first: 1, filter: { creditCode: $c }) { edges { node { id } } } }`, { c: UNIT });
  return listed.data.units.edges[0].node.id;
}

// ================================================================ settlements

describe('settlement payloads', () => {
  // BUG 1. src/settlements/validation.ts: `infnoText in SETTLEMENT_INFNOS` also finds Object.prototype
  // members. Input: a record with "infno": "toString" (or "constructor", "__proto__", "hasOwnProperty",
  // "valueOf"). Before the fix: validateSettlement accepts it (value.infno = "toString", value.kind = a function);
  // storing it then fails the whole page with PostgreSQL 'null value in column "kind" of relation
  // "settlements" violates not-null constraint' (run FAILED, the other records of the page not stored;
  // uploadSettlements answers INTERNAL_SERVER_ERROR). Now: a problem
  // {field: 'infno', reason: 'must be 2207 or 2304 (settlement), 2208 or 2305 (reversal)'}, kept as a rejection.
  it('refuses Object.prototype names as infno, and stores the rest of the page', async () => {
    for (const infno of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect(validateSettlement(settlement({ infno })).problems)
        .toEqual([{ field: 'infno', reason: 'must be 2207 or 2304 (settlement), 2208 or 2305 (reversal)' }]);
    }
    const outcome = await importLines([JSON.stringify(settlement({ setl_id: 'B1-OK' })), JSON.stringify(settlement({ setl_id: 'B1-BAD', infno: 'toString' }))]);
    expect(outcome).toMatchObject({ received: 2, inserted: 1, rejected: 1 });
  });

  // BUG 2. src/settlements/validation.ts parseDiagnoses: `String(c)` throws on a JSON object whose own
  // "toString" is not a function. Input: a JSON line with "diagnoses": [{"toString": 1}]. Before the fix: TypeError
  // "Cannot convert object to primitive value" escapes validateSettlement; the file run FAILS with that
  // message and uploadSettlements answers INTERNAL_SERVER_ERROR. Now: a problem on field
  // "diagnoses" (e.g. 'must be a list of ICD-10 codes'), the record kept as a rejection.
  it('refuses a diagnoses list holding objects, without throwing', async () => {
    const { value, problems } = validateSettlement(settlement({ diagnoses: [{ toString: 1 }] }));
    expect(value).toBeNull();
    expect(problems.map((p) => p.field)).toEqual(['diagnoses']);
    const outcome = await importLines([JSON.stringify(settlement({ setl_id: 'B2-BAD', diagnoses: [{ toString: 1 }] }))]);
    expect(outcome).toMatchObject({ received: 1, inserted: 0, rejected: 1 });
  });

  // BUG 3. src/settlements/store.ts pageInsert: records travel to PostgreSQL as one jsonb document, and
  // jsonb refuses U+0000 ("unsupported Unicode escape sequence") and lone surrogates ("invalid input
  // syntax for type json"). Input: a JSON line with "\u0000" or "\ud800" in any field or key, valid or not,
  // e.g. {"setl_id":"B3","psn_no":"P\u0000", ...valid fields}. Before the fix: the whole page fails with that
  // PostgreSQL message, the run is FAILED, no record of the page is stored (good ones included), and
  // uploadSettlements answers INTERNAL_SERVER_ERROR. Now: that record rejected with a field and
  // reason (e.g. psn_no: 'must not contain control characters'), the others stored.
  it('keeps a record with U+0000 or a lone surrogate as a rejection, storing the rest of the page', async () => {
    const before = await fingerprint((await gateway()).db.pool, 'settlements');
    const lines = [
      JSON.stringify(settlement({ setl_id: 'B3-OK' })),
      JSON.stringify(settlement({ setl_id: 'B3-NUL', psn_no: 'P\u0000' })),
      JSON.stringify({ setl_id: 'B3-NUL-REJECTED', note: 'a\u0000' }),
      JSON.stringify(settlement({ setl_id: 'B3-SURROGATE', mdtrt_id: 'M\ud800' })),
    ];
    const outcome = await importLines(lines);
    expect(outcome).toMatchObject({ received: 4, inserted: 1, rejected: 3 });
    expect((await fingerprint((await gateway()).db.pool, 'settlements')).rows).toBe(before.rows + 1);
  });

  // BUG 4 (settlements side). src/settlements/records.ts and src/members/rosterImport.ts turn only
  // csv-parse errors whose code starts with "CSV_" into file errors, but csv-parse also throws
  // INVALID_OPENING_QUOTE (and others without the prefix). Input: a CSV settlement file
  // "setl_id,psn_name\nS1,A\"B\n" (a quote inside an unquoted field). Before the fix: uploadSettlements answers
  // INTERNAL_SERVER_ERROR; `hub settlements import` crashes with a stack trace instead of exit 2.
  // Now: BAD_USER_INPUT on input.content ("CSV: Invalid Opening Quote: ... line 2") / exit 2.
  it('refuses a CSV settlement file with a quote inside a field as BAD_USER_INPUT / exit 2', async () => {
    const { db: database, gw: g } = await gateway();
    const content = 'setl_id,psn_name\nS1,A"B\n';
    const result = await g.query({ role: 'ADMIN' }, `mutation($c: String!) { uploadSettlements(input: { fileName: "bad.csv", content: $c }) { id } }`, { c: content });
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.content', reason: expect.stringMatching(/^CSV: .*line 2/) });

    const dir = mkdtempSync(join(tmpdir(), 'found-bugs-'));
    writeFileSync(join(dir, 'bad.csv'), content);
    const run = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url)), 'settlements', 'import', join(dir, 'bad.csv')], {
        env: { ...process.env, DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`, LOG_LEVEL: 'silent' },
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/bad\.csv: CSV: .*line 2/);
  });

  // BUG 5. src/settlements/envelope.ts readResponse: `Number(envelope.infcode) !== 0` takes infcode
  // null, "", " ", false and [] for 0 (success). Input: {"infcode": null, "err_msg": "系统繁忙", "output": {...}}.
  // Before the fix: read as a successful answer. Now: PlatformError (only 0 or "0" is success).
  it('takes only infcode 0 as success', () => {
    for (const infcode of [null, '', ' ', false, [], [0]]) {
      expect(() => readResponse({ infcode, err_msg: '系统繁忙', output: { data: [], has_more: false, next_cursor: null } })).toThrow(PlatformError);
    }
    expect(readResponse({ infcode: '0', err_msg: null, output: 1 })).toBe(1);
  });
});

// ================================================================ rosters

describe('CSV rosters', () => {
  async function newImport(database: TestDatabase): Promise<number> {
    const { rows } = await database.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('bug.csv', '\\x', 'test') RETURNING id`);
    return rows[0]!.id;
  }

  // BUG 4 (roster side). Input: a roster uploaded through importRoster(input: {csv}) with a quote
  // inside an unquoted field: 'name,id_number,unit_credit_code\n张"伟,<valid id>,<unit>\n'. Before the fix:
  // importRoster throws a raw CsvError (not RosterFileError), so the worker (jobs/rosterImport.ts)
  // rethrows it, BullMQ retries 5 times, the import stays RUNNING forever (the sweeper re-adds it)
  // and the API never shows a failure. Now: RosterFileError "CSV: Invalid Opening Quote: ...
  // line 2"; the import FAILED with that reason; nothing changed.
  it('refuses a roster with a quote inside a field as a file error: FAILED, not retried forever', async () => {
    const { db: database, gw: g } = await gateway();
    await unit();
    const before = await fingerprints(database.pool, ['members', 'enrolments']);
    const csv = `name,id_number,unit_credit_code\n张"伟,${CERTNO},${UNIT}\n`;
    await expect(importRoster(database.pool, g.keys, csv, { importId: await newImport(database) })).rejects.toThrow(RosterFileError);
    const started = await g.query({ role: 'ADMIN' }, `mutation($csv: String!) { importRoster(input: { fileName: "r.csv", csv: $csv }) { id } }`, { csv });
    const importId = Number(Buffer.from(started.data.importRoster.id, 'base64url').toString().split(':')[1]);
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
    await unit();
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
    await unit();
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
  // settlement CSV reader has the same silent last-wins for "setl_id,setl_id".)
  it('refuses a roster header with a repeated column', async () => {
    const { db: database, gw: g } = await gateway();
    await unit();
    const before = await fingerprints(database.pool, ['members', 'enrolments']);
    const csv = `name,id_number,unit_credit_code,name\n张三,${withResidentIdCheck('35052119850312003')},${UNIT},李四\n`;
    await expect(importRoster(database.pool, g.keys, csv, { importId: await newImport(database) })).rejects.toThrow(/^header: .*name/);
    expect(await fingerprints(database.pool, ['members', 'enrolments'])).toEqual(before);
  });

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

  // BUG 9 (roster side). src/members/rosterRow.ts isIsoDate accepts year 0000 (JavaScript has a year 0,
  // PostgreSQL has not). Input: a roster row with plan_year 2025 and enrolled_on "0000-01-01". Before the fix:
  // DatabaseError 'date/time field value out of range: "0000-01-01"' (not a row error; API imports then
  // retry forever). Now: row error {row: 2, field: 'enrolled_on', reason: 'must be a date yyyy-MM-dd'}.
  it('reports enrolled_on 0000-01-01 as a row error', async () => {
    const { db: database, gw: g } = await gateway();
    await unit();
    const result = await importRoster(database.pool, g.keys, `name,id_number,unit_credit_code,plan_year,enrolled_on\n周敏,${withResidentIdCheck('35052119850312004')},${UNIT},2025,0000-01-01\n`, { importId: await newImport(database) });
    expect(result.errors).toEqual([{ row: 2, field: 'enrolled_on', reason: 'must be a date yyyy-MM-dd' }]);
  });
});

// ================================================================ GraphQL variables

describe('GraphQL variables', () => {
  // BUG 9 (API side). The Date scalar (src/gateway/scalars.ts, via isIsoDate) accepts "0000-01-01".
  // Input: settlements(filter: {settledFrom: "0000-01-01"}), recordContributionPayment(paidOn:
  // "0000-01-01"), enrolMember(enrolledOn: "0000-01-01"). Before the fix: PostgreSQL 'date/time field value out of
  // range' -> INTERNAL_SERVER_ERROR. Now: BAD_USER_INPUT (Date must be yyyy-MM-dd), nothing stored.
  it('refuses the Date 0000-01-01 as BAD_USER_INPUT', async () => {
    const { gw: g } = await gateway();
    const u = await unit();
    const answers = [
      await g.query({ role: 'ADMIN' }, `query($d: Date) { settlements(filter: { settledFrom: $d }) { totalCount } }`, { d: '0000-01-01' }),
      await g.query({ role: 'ADMIN' }, `query($d: Date) { settlements(filter: { settledTo: $d }) { totalCount } }`, { d: '0000-12-31' }),
      await g.query({ role: 'FINANCE' }, `mutation($u: ID!, $d: Date!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: 5, reference: "B9", paidOn: $d }) { paidFen } }`, { u, d: '0000-01-01' }),
    ];
    for (const a of answers) expect(a.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  // BUG 10. U+0000 in a String variable reached PostgreSQL, which refuses it ('invalid byte sequence for
  // encoding "UTF8": 0x00'): INTERNAL_SERVER_ERROR. Inputs (each): members(filter: {name: "a\u0000"}),
  // units(filter: {name: "a\u0000"}), settlements(filter: {source: "a\u0000"}),
  // settlementRejections(filter: {source: "a\u0000"}), settlementIngestionRuns(source: "a\u0000"),
  // createUnit(input: {name: "a\u0000b", ...}), createMember(input: {name: "a\u0000", ...}),
  // uploadSettlements(input: {fileName: "a\u0000.jsonl", ...}). Now: BAD_USER_INPUT naming the argument
  // (filter.name: 'must not contain U+0000 (NUL)'), from one guard on every resolver's arguments
  // (src/gateway/argumentText.ts), with a lone surrogate refused the same way.
  it('refuses U+0000 in string variables with BAD_USER_INPUT', async () => {
    const { gw: g } = await gateway();
    const u = await unit();
    const cases: [string, Record<string, unknown>, string][] = [
      [`query($s: String) { members(filter: { name: $s }) { totalCount } }`, { s: 'a\u0000' }, 'filter.name'],
      [`query($s: String) { units(filter: { name: $s }) { totalCount } }`, { s: 'a\u0000' }, 'filter.name'],
      [`query($s: String) { settlements(filter: { source: $s }) { totalCount } }`, { s: 'a\u0000' }, 'filter.source'],
      [`query($s: String) { settlementRejections(filter: { source: $s }) { totalCount } }`, { s: 'a\u0000' }, 'filter.source'],
      [`query($s: String) { settlementIngestionRuns(source: $s) { totalCount } }`, { s: 'a\u0000' }, 'source'],
      [`query($s: String) { settlementIngestionRuns(source: $s) { totalCount } }`, { s: 'a\ud800' }, 'source'],
      [`mutation($s: String!) { createUnit(input: { creditCode: "${withCreditCodeCheck('91350500MA0000008')}", name: $s, planType: PUBLIC }) { id } }`, { s: 'a\u0000b' }, 'input.name'],
      [`mutation($u: ID!, $s: String!) { createMember(input: { unitId: $u, name: $s, idNumber: "${withResidentIdCheck('35052119850312005')}" }) { id } }`, { u, s: 'a\u0000' }, 'input.name'],
      [`mutation($s: String!) { uploadSettlements(input: { fileName: $s, content: "{}" }) { id } }`, { s: 'a\u0000.jsonl' }, 'input.fileName'],
    ];
    for (const [query, variables, field] of cases) {
      const result = await g.query({ role: 'ADMIN' }, query, variables);
      expect(result.errors?.[0]?.extensions, query).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });

  // BUG 11. src/gateway/resolvers.ts fetchNode: `nodeFetchers[parsed.type]` finds Object.prototype
  // members. Input: node(id: "Y29uc3RydWN0b3I6MQ") (base64url of "constructor:1"; also "toString:1",
  // "hasOwnProperty:1", "valueOf:1", "isPrototypeOf:1"), by any role, MEMBER included. Before the fix:
  // INTERNAL_SERVER_ERROR (with "constructor" the fetcher is `Object`, which hands back the request
  // context itself as the row; Apollo then fails to resolve type "constructor"). Now: node = null
  // like any other unknown type (Object.hasOwn(nodeFetchers, type)).
  it('answers node(id:) null for Object.prototype type names', async () => {
    const { gw: g } = await gateway();
    for (const type of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__proto__']) {
      for (const auth of [{ role: 'ADMIN' }, { role: 'MEMBER', member: toGlobalId('Member', 1) }] as const) {
        const result = await g.query(auth, `query($id: ID!) { node(id: $id) { id } }`, { id: toGlobalId(type, 1) });
        expect(result.errors, `${type} as ${auth.role}`).toBeUndefined();
        expect(result.data.node).toBeNull();
      }
    }
  });

  // The same lookup in src/gateway/graphiql.ts: /graphiql/assets/constructor handed Object to sendFile (500).
  it('answers 404 for a GraphiQL asset named like an Object.prototype member', async () => {
    const { gw: g } = await gateway();
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      expect((await fetch(`${new URL(g.url).origin}/graphiql/assets/${name}`)).status, name).toBe(404);
    }
  });
});

// ================================================================ tokens

describe('bearer tokens', () => {
  // BUG 12. src/gateway/auth.ts createAuthenticator: the unit claim goes to SQL unchecked. Input: a
  // correctly signed token {"sub":"x","role":"UNIT_OPERATOR","unit":"91350500MA000000\u0000C"} (18
  // characters). Before the fix: HTTP 500 INTERNAL_SERVER_ERROR (PostgreSQL refuses U+0000). Now: HTTP 401
  // UNAUTHENTICATED ("the token's unit ... is not registered" or "invalid token claim unit").
  // Likewise a "sub" with U+0000 is accepted and every audited mutation then fails with
  // INTERNAL_SERVER_ERROR (the audit insert refuses it): expected 401 "invalid token claim sub".
  it('answers 401, not 500, to a unit or sub claim with U+0000', async () => {
    const { gw: g } = await gateway();
    for (const claims of [{ sub: 'x', role: 'UNIT_OPERATOR', unit: '91350500MA000000\u0000C' }, { sub: 'a\u0000b', role: 'ADMIN' }] as const) {
      const token = await signDevelopmentToken(g.config, claims);
      const response = await fetch(g.url, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: `mutation { createUnit(input: { creditCode: "${withCreditCodeCheck('91350500MA0000009')}", name: "x", planType: PUBLIC }) { id } }` }),
      });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  // BUG 13 (policy). jwtVerify is not asked to require "exp": a correctly
  // signed token without an exp claim never expires. Input: HS256 {"sub":"x","role":"ADMIN"} with no
  // exp. Before the fix: accepted forever (HTTP 200). Now: HTTP 401 'invalid token: missing required "exp"
  // claim' (jose `requiredClaims: ['exp']`); `hub token` and identity providers always set exp.
  it('refuses a token without exp', async () => {
    const { gw: g } = await gateway();
    const { SignJWT } = await import('jose');
    const token = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').sign(new TextEncoder().encode(g.config.JWT_SECRET));
    const response = await fetch(g.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ units(first: 1) { totalCount } }' }) });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { errors: { message: string }[] }).errors[0]!.message).toBe('invalid token: missing required "exp" claim');
  });
});
// ================================================================ money

describe('amounts', () => {
  // BUG 15. src/money.ts parseFen: "-0" and "-0.00" passed where negatives are not allowed (sign && fen !== 0)
  // and came back as JavaScript negative zero (Object.is(-0, 0) is false; toEqual(0) fails). Input:
  // <Amt Ccy="CNY">-0</Amt> in a camt entry, a pain.002 OrgnlCtrlSum "-0.00", a settlement amount "-0.00".
  // Now: zero is zero, whatever its sign (the XSD's minInclusive 0 lets "-0" pass too); "-0.01" is
  // still refused where negatives are not allowed.
  it('never returns negative zero, and still refuses "-0.01" where negatives are not allowed', () => {
    for (const text of ['-0', '-0.00', '-0.0', -0]) {
      expect(Object.is(parseFen(text, 'x'), 0), String(text)).toBe(true);
      expect(Object.is(parseFen(text, 'x', { allowNegative: true }), 0), String(text)).toBe(true);
    }
    expect(() => parseFen('-0.01', 'x')).toThrow('x: must not be negative');
    expect(parseFen('-0.01', 'x', { allowNegative: true })).toBe(-1);
    expect(validateSettlement(settlement({ overlmt_selfpay: '-0.00' })).problems).toEqual([]);
  });
});

// ================================================================ ISO 20022

describe('ISO 20022 readers', () => {
  const camt053 = (inner: string) => `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="${NAMESPACES.camt053}"><BkToCstmrStmt>
<GrpHdr><MsgId>M1</MsgId><CreDtTm>2025-06-05T01:00:00+08:00</CreDtTm></GrpHdr>
${inner}
</BkToCstmrStmt></Document>`;
  const stmt = (entry: { amount?: string; bookingDate?: string } = {}) => `<Stmt><Id>S1</Id><CreDtTm>2025-06-05T01:00:00+08:00</CreDtTm>
<Acct><Id><Othr><Id>1408010109024561234</Id></Othr></Id></Acct>
<Ntry><Amt Ccy="CNY">${entry.amount ?? '100.00'}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>${entry.bookingDate ?? '2025-06-04'}</Dt></BookgDt>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd></Ntry></Stmt>`;
  const camt054 = (xml: string) => xml.replaceAll(NAMESPACES.camt053, NAMESPACES.camt054).replaceAll('BkToCstmrStmt', 'BkToCstmrDbtCdtNtfctn').replaceAll('Stmt>', 'Ntfctn>');
  const pain002 = writePain002({
    msgId: 'R1', createdAt: '2025-06-05T01:00:00+08:00', originalMsgId: 'MAH-B-1', originalMsgNameId: 'pain.001.001.03', groupStatus: 'ACCP',
    paymentInfoStatuses: [{ originalPmtInfId: 'MAH-B-1-P1', transactions: [{ originalEndToEndId: 'E1', status: 'ACSC', acceptedAt: '2025-06-04T10:00:00+08:00' }] }],
  });
  const problemsOf = (parse: () => unknown) => {
    try {
      parse();
    } catch (error) {
      if (error instanceof Iso20022Error) return error.problems;
      throw error;
    }
    throw new Error('expected an Iso20022Error, the document was accepted');
  };

  // BUG 14. src/banks/iso20022/xml.ts parseXml decode: `ENTITIES[ref]` found Object.prototype members.
  // Input: a camt.053 / camt.054 / pain.002 with "&constructor;" (or "&toString;", "&__proto__;",
  // "&hasOwnProperty;") in a text node, e.g. <MsgId>&constructor;M1</MsgId>. Before the fix: accepted, MsgId
  // became "function Object() { [native code] }M1"; and an attribute named "toString" (any element) was
  // refused as "attribute toString is repeated" (`attr in {}`), one named "__proto__" silently dropped.
  // Now: Iso20022Error at Document: 'is not well-formed XML (line 3, column ...: "&constructor;" is not a
  // valid entity or character reference)' (entities are a Map); attributes are kept in a prototype-less
  // object, so "toString" and "__proto__" are attributes like any other, refused only when repeated.
  it('refuses &constructor; and other Object.prototype names as undeclared entities, and reads such attributes', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const reason = expect.stringMatching(new RegExp(`^is not well-formed XML \\(line 3, column \\d+: "&${name};" is not a valid entity or character reference\\)$`));
      const xml = camt053(stmt()).replace('<MsgId>M1', `<MsgId>&${name};M1`);
      expect(problemsOf(() => parseCamt053(xml))).toEqual([{ field: 'Document', reason }]);
      expect(problemsOf(() => parseCamt054(camt054(xml)))).toEqual([{ field: 'Document', reason }]);
      expect(problemsOf(() => parsePain002(pain002.replace('<MsgId>R1', `<MsgId>&${name};R1`)))).toEqual([
        { field: 'Document', reason: expect.stringMatching(`"&${name};" is not a valid entity or character reference\\)$`) },
      ]);
    }
    const root = parseXml('<a toString="1" __proto__="2" constructor="3"/>');
    expect(Object.entries(root.attributes!)).toEqual([['toString', '1'], ['__proto__', '2'], ['constructor', '3']]);
    expect(() => parseXml('<a toString="1" toString="2"/>')).toThrow('attribute toString is repeated');
    expect(parseCamt053(camt053(stmt()).replace('<Amt Ccy="CNY">', '<Amt toString="x" Ccy="CNY">')).statements[0]!.entries[0]!.amountFen).toBe(10_000);
  });

  // BUG 16. src/banks/iso20022/camt.ts, camtEntry.ts, pain002.ts: dates and date-times were read as any
  // text, while the writers refuse the same values. Inputs: <GrpHdr><CreDtTm>yesterday</CreDtTm>,
  // <BookgDt><Dt>2025-13-45</Dt></BookgDt>, <BookgDt><Dt>2025-02-29</Dt></BookgDt>, <BookgDt><DtTm>2025-06-04
  // </DtTm></BookgDt>, pain.002 <AccptncDtTm>soon</AccptncDtTm>. Before the fix: accepted as given ("yesterday"
  // became createdAt). Now: Iso20022Error naming the element, with the writers' reasons (fields.ts
  // dateProblem / dateTimeProblem: ISODate, ISODateTime, real calendar dates), e.g.
  // 'Document/BkToCstmrStmt/GrpHdr/CreDtTm: must be a date and time like 2025-06-03T09:30:00+08:00'.
  it('refuses dates that are not dates, naming the element', () => {
    const DATE = 'must be a date yyyy-MM-dd';
    const DATE_TIME = 'must be a date and time like 2025-06-03T09:30:00+08:00';
    expect(problemsOf(() => parseCamt053(camt053(stmt()).replace('<CreDtTm>2025-06-05T01:00:00+08:00</CreDtTm></GrpHdr>', '<CreDtTm>yesterday</CreDtTm></GrpHdr>'))))
      .toEqual([{ field: 'Document/BkToCstmrStmt/GrpHdr/CreDtTm', reason: DATE_TIME }]);
    for (const bookingDate of ['2025-13-45', '2025-02-29', '2025-6-4', '20250604']) {
      expect(problemsOf(() => parseCamt053(camt053(stmt({ bookingDate })))), bookingDate)
        .toEqual([{ field: 'Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/BookgDt/Dt', reason: DATE }]);
    }
    expect(problemsOf(() => parseCamt054(camt054(camt053(stmt()).replace('<BookgDt><Dt>2025-06-04</Dt>', '<BookgDt><DtTm>2025-06-04</DtTm>')))))
      .toEqual([{ field: 'Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/BookgDt/DtTm', reason: DATE_TIME }]);
    expect(problemsOf(() => parsePain002(pain002.replace('2025-06-04T10:00:00+08:00', 'soon'))))
      .toEqual([{ field: 'Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[1]/TxInfAndSts[1]/AccptncDtTm', reason: DATE_TIME }]);
    // What the writers accept is still read.
    expect(parseCamt053(camt053(stmt({ bookingDate: '2024-02-29' }))).statements[0]!.entries[0]!.bookingDate).toBe('2024-02-29');
    expect(parsePain002(pain002).transactions[0]!.acceptedAt).toBe('2025-06-04T10:00:00+08:00');
  });

  // BUG 17. src/banks/iso20022/camt.ts readCamt: a camt.053 without any <Stmt> (camt.054 without any
  // <Ntfctn>) parsed as a message with no reports, though the XSD requires at least one (minOccurs 1) and
  // writeCamt053 refuses to write one. Input: the document above with no Stmt. Before the fix:
  // { statements: [] }. Now: Iso20022Error 'Document/BkToCstmrStmt/Stmt: is required'.
  it('refuses a statement message without any statement', () => {
    expect(problemsOf(() => parseCamt053(camt053('')))).toEqual([{ field: 'Document/BkToCstmrStmt/Stmt', reason: 'is required' }]);
    expect(problemsOf(() => parseCamt054(camt054(camt053(''))))).toEqual([{ field: 'Document/BkToCstmrDbtCdtNtfctn/Ntfctn', reason: 'is required' }]);
    expect(parseCamt054(camt054(camt053(stmt()))).notifications).toHaveLength(1);
  });
});
