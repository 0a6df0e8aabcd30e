import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { importFromSource } from '../../src/settlements/ingest.ts';
import { fileSource } from '../../src/settlements/sources/files.ts';
import { fileSourceNamed, upsertSource } from '../../src/settlements/store.ts';
import { SettlementFileError } from '../../src/settlements/records.ts';
import { AMOUNT_FIELDS, TEXT_FIELDS } from '../../src/settlements/model.ts';
import { fingerprint } from '../support/fingerprint.ts';
import { cny, malformedAmount, residentId, residentIdWrongCheck } from './support.ts';

/**
 * Issue 8, settlement payloads stored: files (JSON lines, CSV) through the import every file
 * source uses, and the GraphQL upload. A record that fails is kept as a rejection with field and
 * reason; the settlements already stored never change because of a bad batch; amounts are stored
 * as the exact integer of fen.
 */

let db: TestDatabase;
let gw: TestGateway;
let keys: TestGateway['keys'];
const SOURCE = 'hospital';
const ADMIN = { role: 'ADMIN' } as const;

type Fields = Record<string, string | string[]>;

/** A valid inpatient settlement whose amounts come from integer fen. */
function settlement(setlId: string, certno: string, fen: { funds: number; account: number; cash: number }): Fields {
  const person = fen.account + fen.cash;
  return {
    infno: '2304', setl_id: setlId, mdtrt_id: `M-${setlId}`, psn_no: `P-${setlId}`, psn_name: '陈静', certno, insutype: '310',
    med_type: '21', setl_time: '2025-05-20 09:30:00', medfee_sumamt: cny(fen.funds + person), fulamt_ownpay_amt: '0.00',
    overlmt_selfpay: '0.00', fund_pay_sumamt: cny(fen.funds), psn_part_amt: cny(person), acct_pay: cny(fen.account),
    psn_cash_pay: cny(fen.cash), diagnoses: ['C34.1'],
  };
}

const fenArb = fc.record({
  funds: fc.integer({ min: 0, max: 2_000_000_000_000_000 }),
  account: fc.integer({ min: 0, max: 1_000_000_000_000_000 }),
  cash: fc.integer({ min: 0, max: 1_000_000_000_000_000 }),
});

const csvCell = (v: string | string[] | undefined) => (v === undefined ? '' : `"${(Array.isArray(v) ? v.join(';') : v).replaceAll('"', '""')}"`);
function toFile(records: (Fields | string)[], format: 'jsonl' | 'csv'): string {
  if (format === 'jsonl') return records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
  const objects = records.filter((r): r is Fields => typeof r !== 'string');
  const header = [...new Set(objects.flatMap((r) => Object.keys(r)))];
  return [header.join(','), ...objects.map((r) => header.map((h) => csvCell(r[h])).join(','))].join('\n') + '\n';
}

function importFile(content: string, format: 'jsonl' | 'csv', pageSize?: number) {
  return importFromSource(db.pool, keys, fileSource(Readable.from([content]), format), { source: SOURCE, fileName: `batch.${format}`, startedBy: 'test', pageSize });
}

/** The settlements stored before a step, compared after it. */
const settlementsFingerprint = () => fingerprint(db.pool, 'settlements');
/** Rejections already stored must not change either (a re-sent bad record is a duplicate, not an update). */
const rejectionsUpTo = async (maxId: number) =>
  (await db.pool.query<{ md5: string | null; n: number }>(`SELECT count(*)::int AS n, md5(string_agg(r::text, ',' ORDER BY id)) AS md5 FROM settlement_rejections r WHERE id <= $1`, [maxId])).rows[0]!;
const maxRejectionId = async () => (await db.pool.query<{ m: number }>(`SELECT coalesce(max(id), 0)::int AS m FROM settlement_rejections`)).rows[0]!.m;

const stored: { setlId: string; fields: Fields }[] = [];
let serial = 0;
const nextId = (prefix: string) => `${prefix}${String((serial += 1)).padStart(6, '0')}`;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  keys = gw.keys;
  await fileSourceNamed(db.pool, SOURCE);
  await upsertSource(db.pool, { name: 'platform', kind: 'PLATFORM', endpoint: 'http://127.0.0.1:9/none', pageSize: 10 });
  // Good data first: 20 settlements the bad batches must leave alone.
  const good = fc.sample(fc.tuple(residentId, fenArb), { numRuns: 20, seed: 8 }).map(([certno, fen], i) => settlement(`GOOD${i}`, certno, fen));
  const outcome = await importFile(toFile(good, 'jsonl'), 'jsonl');
  expect(outcome).toMatchObject({ received: 20, inserted: 20, rejected: 0 });
  stored.push(...good.map((fields) => ({ setlId: fields.setl_id as string, fields })));
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

/** One corruption of a valid record, and the field its rejection must name. */
interface Corruption {
  record: Fields | string;
  field: string;
  reason?: RegExp | string;
  setlId: string | null;
}

const corruption = (setlId: fc.Arbitrary<string>, format: 'jsonl' | 'csv'): fc.Arbitrary<Corruption> => {
  const base = fc.tuple(setlId, residentId, fenArb).map(([id, certno, fen]) => settlement(id, certno, fen));
  const kinds: fc.Arbitrary<Corruption>[] = [
    fc.tuple(base, fc.constantFrom(...AMOUNT_FIELDS.map((f) => f.field)), malformedAmount)
      .map(([r, field, amount]) => ({ record: { ...r, [field]: amount }, field, setlId: r.setl_id as string })),
    fc.tuple(base, fc.constantFrom(...TEXT_FIELDS.map((f) => f.field)).filter((f) => f !== 'setl_id'))
      .map(([r, field]) => { const { [field]: _, ...rest } = r; return { record: rest, field, reason: 'is required', setlId: r.setl_id as string }; }),
    fc.tuple(base, fc.constantFrom('2025-02-30 10:00:00', '2025-06-01T10:00:00', '2025/06/01', '25-06-01 10:00:00', '2025-06-01 24:00:00'))
      .map(([r, time]) => ({ record: { ...r, setl_time: time }, field: 'setl_time', reason: 'must be a time yyyy-MM-dd HH:mm:ss (China time)', setlId: r.setl_id as string })),
    fc.tuple(base, residentIdWrongCheck)
      .map(([r, { id, expected }]) => ({ record: { ...r, certno: id }, field: 'certno', reason: `check digit is ${id[17]}, expected ${expected}`, setlId: r.setl_id as string })),
    fc.tuple(base, fc.constantFrom('lungcancer', 'C3', '34.1', 'CC34', 'c34.1'))
      .map(([r, code]) => ({ record: { ...r, diagnoses: ['C34.1', code] }, field: 'diagnoses', reason: `${JSON.stringify(code)} is not an ICD-10 code`, setlId: r.setl_id as string })),
    fc.tuple(base, fc.constantFrom('2201', '9999', 'x'))
      .map(([r, infno]) => ({ record: { ...r, infno }, field: 'infno', reason: 'must be 2207 or 2304 (settlement), 2208 or 2305 (reversal)', setlId: r.setl_id as string })),
  ];
  if (format === 'jsonl') {
    kinds.push(
      // Unreadable lines carry no setl_id; each gets a unique token so it is a new rejection, not a duplicate.
      fc.tuple(base, fc.nat({ max: 40 })).map(([r, cut]) => ({
        record: `{"note":"${nextId('U')}",${JSON.stringify(r).slice(1, cut + 2)}`, field: 'record', reason: /^line \d+ is not valid JSON \(.+\)$/, setlId: null,
      })),
      fc.constantFrom((t: string) => `["${t}",1]`, (t: string) => `"${t}"`, (t: string) => `[[{"setl_id":"${t}"}]]`)
        .map((line) => ({ record: line(nextId('N')), field: 'record', reason: /^line \d+ is not a JSON object$/, setlId: null })),
    );
  }
  return fc.oneof(...kinds);
};

describe('a batch of bad settlement records', () => {
  it('is kept as rejections naming field and reason; settlements already stored stay exactly as they were', async () => {
    const before = await settlementsFingerprint();
    const format = fc.constantFrom<'jsonl' | 'csv'>('jsonl', 'csv');
    const fresh = fc.constant(null).map(() => nextId('BAD'));
    // A corrupted re-send of a stored settlement must not touch it either.
    const resent = fc.constantFrom(...stored.map((s) => s.setlId));
    await fc.assert(
      fc.asyncProperty(format.chain((f) => fc.tuple(fc.constant(f), fc.array(corruption(fc.oneof(fresh, fresh, resent), f), { minLength: 1, maxLength: 6 }))), async ([f, batch]) => {
        const records = batch.map((c) => c.record);
        const rejectionsBefore = await maxRejectionId();
        const oldRejections = await rejectionsUpTo(rejectionsBefore);
        const outcome = await importFile(toFile(records, f), f, 3);
        expect(outcome.received).toBe(batch.length);
        expect(outcome.inserted).toBe(0);
        expect(outcome.rejected + outcome.duplicates).toBe(batch.length);
        expect(await settlementsFingerprint()).toEqual(before);
        expect(await rejectionsUpTo(rejectionsBefore)).toEqual(oldRejections);

        const { rows } = await db.pool.query<{ setl_id: string | null; position: string; problems: { field: string; reason: string }[]; status: string }>(
          `SELECT setl_id, position, problems, status FROM settlement_rejections WHERE run_id = $1 ORDER BY id`, [outcome.runId],
        );
        for (const row of rows) {
          expect(row.status).toBe('OPEN');
          expect(row.problems.length).toBeGreaterThan(0);
          for (const p of row.problems) expect(p).toEqual({ field: expect.stringMatching(/^[a-z_]+$/), reason: expect.stringMatching(/\S/) });
        }
        // Every fresh bad record is there, with the field of its defect (and its reason where fixed).
        batch.forEach((c, i) => {
          if (c.setlId !== null && stored.some((s) => s.setlId === c.setlId)) return;
          const row = c.setlId === null ? rows.find((r) => r.position === `line ${i + 1}`) : rows.find((r) => r.setl_id === c.setlId);
          expect(row, `rejection of ${c.setlId ?? 'an unreadable line'}`).toBeDefined();
          const problem = row!.problems.find((p) => p.field === c.field);
          expect(problem, `${c.field} named in ${JSON.stringify(row!.problems)}`).toBeDefined();
          if (typeof c.reason === 'string') expect(problem!.reason).toBe(c.reason);
          else if (c.reason) expect(problem!.reason).toMatch(c.reason);
        });
      }),
      { numRuns: 40 },
    );
  });

  it('stores the good records of a mixed batch with their exact amounts, rejects the bad, leaves the old alone', async () => {
    const maxBefore = (await db.pool.query<{ m: number }>(`SELECT max(id)::int AS m FROM settlements`)).rows[0]!.m;
    const oldRows = () => db.pool.query<{ md5: string }>(`SELECT md5(string_agg(s::text, ',' ORDER BY id)) AS md5 FROM settlements s WHERE id <= $1`, [maxBefore]);
    const before = (await oldRows()).rows[0]!.md5;
    const goods = fc.sample(fc.tuple(residentId, fenArb), { numRuns: 5, seed: 21 }).map(([certno, fen]) => ({ fen, fields: settlement(nextId('MIX'), certno, fen) }));
    const bads = fc.sample(corruption(fc.constant(null).map(() => nextId('MIXBAD')), 'jsonl'), { numRuns: 5, seed: 22 });
    const lines = [goods[0]!.fields, bads[0]!.record, goods[1]!.fields, bads[1]!.record, bads[2]!.record, goods[2]!.fields, goods[3]!.fields, bads[3]!.record, goods[4]!.fields, bads[4]!.record];
    const outcome = await importFile(toFile(lines, 'jsonl'), 'jsonl', 4);
    expect(outcome).toMatchObject({ received: 10, inserted: 5, rejected: 5, duplicates: 0 });
    // What was stored before is untouched.
    expect((await oldRows()).rows[0]!.md5).toBe(before);
    // The new ones hold exactly the fen the text said (bigint, compared as text: no float on the way).
    for (const { fen, fields } of goods) {
      const { rows } = await db.pool.query(
        `SELECT medfee_sumamt::text, fund_pay_sumamt::text, psn_part_amt::text, acct_pay::text, psn_cash_pay::text FROM settlements WHERE setl_id = $1`, [fields.setl_id],
      );
      const person = BigInt(fen.account) + BigInt(fen.cash);
      expect(rows[0]).toEqual({
        medfee_sumamt: String(BigInt(fen.funds) + person), fund_pay_sumamt: String(fen.funds), psn_part_amt: String(person),
        acct_pay: String(fen.account), psn_cash_pay: String(fen.cash),
      });
    }
  });

  it('a file that cannot be read (unclosed CSV quote) fails its run with the reason and stores nothing', async () => {
    const before = await settlementsFingerprint();
    const rejections = await fingerprint(db.pool, 'settlement_rejections');
    const good = settlement(nextId('CSV'), fc.sample(residentId, { numRuns: 1, seed: 3 })[0]!, { funds: 100, account: 0, cash: 100 });
    const content = `${toFile([good], 'csv')}"${good.setl_id}X,unclosed\n`;
    const error = await importFile(content, 'csv').then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(SettlementFileError);
    expect((error as Error).message).toMatch(/^CSV: Quote Not Closed: the parsing is finished with an opening quote at line 3$/);
    expect(await settlementsFingerprint()).toEqual(before);
    expect(await fingerprint(db.pool, 'settlement_rejections')).toEqual(rejections);
    const run = await db.pool.query(`SELECT status, failure FROM settlement_runs ORDER BY id DESC LIMIT 1`);
    expect(run.rows[0]).toEqual({ status: 'FAILED', failure: (error as Error).message });
  });
});

describe('uploadSettlements (GraphQL)', () => {
  const UPLOAD = `mutation($input: UploadSettlementsInput!) {
    uploadSettlements(input: $input) { run { id status received newSettlements duplicates rejected failure } userErrors { field code message } }
  }`;
  const upload = (input: Record<string, unknown>, auth: Parameters<TestGateway['query']>[0] = ADMIN) => gw.query(auth, UPLOAD, { input });

  it('refuses bad arguments with userErrors naming the field, and stores nothing', async () => {
    const before = await settlementsFingerprint();
    const rejections = await fingerprint(db.pool, 'settlement_rejections');
    const runs = await fingerprint(db.pool, 'settlement_runs');
    const cases: [Record<string, unknown>, string, string | RegExp][] = [
      [{ fileName: '', content: '{}' }, 'input.fileName', 'must be 1 to 255 characters'],
      [{ fileName: '   ', content: '{}' }, 'input.fileName', 'must be 1 to 255 characters'],
      [{ fileName: `${'f'.repeat(252)}.csv`, content: '{}' }, 'input.fileName', 'must be 1 to 255 characters'],
      [{ fileName: 'settlements.txt', content: '{}' }, 'input.format', 'is required when the file name does not end in .jsonl, .json or .csv'],
      [{ fileName: 'a.jsonl', content: '{}', source: 'Bad Source!' }, 'input.source', 'must be lower-case letters, digits and dashes (1 to 40)'],
      [{ fileName: 'a.jsonl', content: '{}', source: '' }, 'input.source', 'must be lower-case letters, digits and dashes (1 to 40)'],
      [{ fileName: 'a.jsonl', content: '{}', source: 'x'.repeat(41) }, 'input.source', 'must be lower-case letters, digits and dashes (1 to 40)'],
      [{ fileName: 'a.jsonl', content: '{}', source: 'platform' }, 'input.source', 'is a pulled source; uploads go to a FILE source'],
      [{ fileName: 'a.jsonl' }, 'input.content', 'give exactly one of content and uploadId'],
      [{ fileName: 'a.jsonl', content: null }, 'input.content', 'give exactly one of content and uploadId'],
    ];
    for (const [input, field, reason] of cases) {
      const { run, userErrors } = (await upload(input)).data.uploadSettlements;
      expect(run, JSON.stringify(input).slice(0, 60)).toBeNull();
      expect(userErrors).toContainEqual({ field, code: 'INVALID', message: `${field}: ${reason}` });
    }
    // Wrong types and values the schema refuses before any resolver runs.
    for (const input of [{ fileName: 'a.jsonl', content: 5 }, { fileName: 'a.jsonl', content: '{}', format: 'XML' }, { fileName: ['a'], content: '{}' }]) {
      const result = await upload(input);
      expect(result.errors![0]!.extensions!.code, JSON.stringify(input)).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.message).toMatch(/^Variable "\$input" /);
    }
    // Roles that may not ingest.
    for (const role of ['REVIEWER', 'FINANCE', 'AUDITOR'] as const) {
      const result = await upload({ fileName: 'a.jsonl', content: JSON.stringify(stored[0]!.fields) }, { role });
      expect(result.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    }
    expect(await settlementsFingerprint()).toEqual(before);
    expect(await fingerprint(db.pool, 'settlement_rejections')).toEqual(rejections);
    expect(await fingerprint(db.pool, 'settlement_runs')).toEqual(runs);
  });

  it('refuses an unreadable CSV file naming input.content, storing no settlement', async () => {
    const before = await settlementsFingerprint();
    const result = await upload({ fileName: 'bad.csv', content: `setl_id,psn_name\n"S1,unclosed\n` });
    expect(result.data.uploadSettlements).toEqual({ run: null, userErrors: [{
      field: 'input.content', code: 'INVALID', message: expect.stringMatching(/^input\.content: CSV: Quote Not Closed: .* at line 2$/),
    }] });
    expect(await settlementsFingerprint()).toEqual(before);
  });

  it('takes a file of bad records as a run of rejections the API lists with field and reason, settlements unchanged', async () => {
    const before = await settlementsFingerprint();
    const batch = fc.sample(corruption(fc.constant(null).map(() => nextId('API')), 'jsonl'), { numRuns: 8, seed: 99 });
    const content = toFile(batch.map((c) => c.record), 'jsonl');
    const result = await upload({ fileName: 'bad.jsonl', content, source: 'api-bad' });
    expect(result.data.uploadSettlements.userErrors).toEqual([]);
    expect(result.data.uploadSettlements.run).toMatchObject({ status: 'DONE', received: 8, newSettlements: 0, rejected: 8, failure: null });
    expect(await settlementsFingerprint()).toEqual(before);
    const listed = await gw.query(ADMIN, `{ settlementRejections(first: 20, filter: { source: "api-bad" }) {
      totalCount edges { node { setlId position status problems { field reason } } } } }`);
    expect(listed.data.settlementRejections.totalCount).toBe(8);
    const nodes: { setlId: string | null; position: string; problems: { field: string; reason: string }[] }[] = listed.data.settlementRejections.edges.map((e: { node: unknown }) => e.node);
    batch.forEach((c, i) => {
      const node = nodes.find((n) => n.position === `line ${i + 1}`);
      expect(node).toMatchObject({ status: 'OPEN', setlId: c.setlId });
      expect(node!.problems.map((p) => p.field)).toContain(c.field);
    });
  });
});
