import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { PlatformError } from '../../src/settlements/envelope.ts';
import { importFromSource, preparePage, pullPage, storePage } from '../../src/settlements/ingest.ts';
import { matchSettlements } from '../../src/settlements/matchingStep.ts';
import { retryRejection } from '../../src/settlements/retry.ts';
import { simulatedItems, type SimItem } from '../../src/settlements/simulator/generate.ts';
import { startInsuranceSimulator, type InsuranceSimulator } from '../../src/settlements/simulator/server.ts';
import { fileSource } from '../../src/settlements/sources/files.ts';
import { platformSource } from '../../src/settlements/sources/platform.ts';
import { flattenFeedItem } from '../../src/settlements/records.ts';
import * as store from '../../src/settlements/store.ts';
import { expectedOutcome, keys, registerMembers, registerPlatformSource, sampleRegistry, simData, statusOf } from './support.ts';

const registry = sampleRegistry(60);
const data = simData(registry, 400);
const items = [...simulatedItems(data)];
const valid = items.filter((i) => i.truth.kind !== 'INVALID');
const invalid = items.filter((i) => i.truth.kind === 'INVALID');
const setlIdOf = (item: SimItem) => String(item.item.setlinfo.setl_id);

let db: TestDatabase;
let simulator: InsuranceSimulator;
let adapter: ReturnType<typeof platformSource>;

async function pullAll(name: string) {
  const totals = { received: 0, inserted: 0, duplicates: 0, rejected: 0, toMatch: [] as number[] };
  for (let more = true; more;) {
    const outcome = await pullPage(db.pool, keys, (await store.sourceByName(db.pool, name))!, adapter, 'test');
    for (const k of ['received', 'inserted', 'duplicates', 'rejected'] as const) totals[k] += outcome[k];
    totals.toMatch.push(...outcome.toMatch);
    more = outcome.hasMore;
  }
  await matchSettlements(db.pool, totals.toMatch);
  return totals;
}

const jsonl = (records: object[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
const importText = (source: string, fileName: string, text: string, format: 'jsonl' | 'csv' = 'jsonl') =>
  store.fileSourceNamed(db.pool, source).then(() => importFromSource(db.pool, keys, fileSource(Readable.from([text]), format), { source, fileName, startedBy: 'test' }));

beforeAll(async () => {
  db = await freshDatabase();
  await registerMembers(db.pool, registry);
  simulator = await startInsuranceSimulator({ ...data, infno: '9901' });
  adapter = platformSource({ url: simulator.url, client: { code: 'MAH350500001', name: 'test', area: '350500' }, infno: '9901' });
  await registerPlatformSource(db.pool, 'sim', simulator.url, 100);
});
afterAll(async () => {
  await simulator.close();
  await db.drop();
});

describe('pulling the platform simulator over HTTP', () => {
  it('stores every valid settlement once, rejects the invalid ones with the defect\'s field, and matches as the truth says', async () => {
    expect(invalid.length).toBeGreaterThan(0);
    expect(valid.some((i) => i.truth.kind === 'REVERSAL')).toBe(true);
    const totals = await pullAll('sim');
    expect(totals).toMatchObject({ received: 400, inserted: valid.length, duplicates: 0, rejected: invalid.length });

    const stored = await statusOf(db.pool);
    expect(stored.size).toBe(valid.length);
    for (const item of valid) {
      const expected = expectedOutcome(data, registry, item);
      expect(stored.get(expected.setlId), expected.setlId).toEqual({ status: expected.status, reason: expected.reason, count: 1 });
    }
    const { rows: rejections } = await db.pool.query(`SELECT setl_id, problems FROM settlement_rejections ORDER BY id`);
    expect(rejections.map((r) => [r.setl_id ?? null, r.problems[0].field]))
      .toEqual(invalid.map((i) => [setlIdOf(i), i.truth.kind === 'INVALID' && i.truth.field]));

    const { rows: runs } = await db.pool.query(`SELECT kind, status, pages, received, inserted, duplicates, rejected, cursor_after FROM settlement_runs`);
    expect(runs).toEqual([{ kind: 'PULL', status: 'DONE', pages: 4, received: 400, inserted: valid.length, duplicates: 0, rejected: invalid.length, cursor_after: '400' }]);
    expect((await store.sourceByName(db.pool, 'sim'))!.cursor).toBe('400');
  });

  it('stores nothing twice when the same page is pulled again', async () => {
    const before = await db.pool.query(`SELECT count(*)::int AS s, (SELECT count(*)::int FROM settlement_rejections) AS r FROM settlements`);
    await db.pool.query(`UPDATE settlement_sources SET cursor = '100' WHERE name = 'sim'`);
    const again = await pullPage(db.pool, keys, (await store.sourceByName(db.pool, 'sim'))!, adapter, 'test');
    const page = items.slice(100, 200);
    expect(again).toMatchObject({ received: 100, inserted: 0, rejected: 0, duplicates: 100, toMatch: [], stale: false, cursor: '200' });
    expect(page.length).toBe(100);
    const after = await db.pool.query(`SELECT count(*)::int AS s, (SELECT count(*)::int FROM settlement_rejections) AS r FROM settlements`);
    expect(after.rows).toEqual(before.rows);
  });

  it('lets only one of two concurrent pulls of a page store it', async () => {
    const received = async () => (await db.pool.query(`SELECT sum(received)::int AS n FROM settlement_runs`)).rows[0].n as number;
    const before = await received();
    await db.pool.query(`UPDATE settlement_sources SET cursor = '0' WHERE name = 'sim'`);
    const source = (await store.sourceByName(db.pool, 'sim'))!;
    const [a, b] = await Promise.all([pullPage(db.pool, keys, source, adapter, 'a'), pullPage(db.pool, keys, source, adapter, 'b')]);
    await db.pool.query(`UPDATE settlement_sources SET cursor = '400' WHERE name = 'sim'`);
    expect([a.stale, b.stale].sort()).toEqual([false, true]);
    expect([a.cursor, b.cursor]).toEqual(['100', '100']);
    expect(await received()).toBe(before + 100);
  });

  it('leaves the cursor where it was when the platform fails', async () => {
    simulator.failNext(1);
    const source = (await store.sourceByName(db.pool, 'sim'))!;
    await expect(pullPage(db.pool, keys, { ...source, cursor: '300' }, adapter, 'test')).rejects.toThrow(PlatformError);
    expect((await store.sourceByName(db.pool, 'sim'))!.cursor).toBe('400');
  });

  it('never keeps an ID number in clear', async () => {
    const { rows } = await db.pool.query(
      `SELECT row_to_json(s)::text AS t FROM settlements s UNION ALL SELECT row_to_json(r)::text FROM settlement_rejections r`,
    );
    const ids = [...registry.members.map((m) => m.idNumber), ...items.map((i) => String(i.item.setlinfo.certno))];
    const text = rows.map((r) => r.t).join('\n');
    for (const id of new Set(ids)) expect(text).not.toContain(id);
  });
});

describe('reversals', () => {
  it('point at the settlement they cancel, which points back', async () => {
    const reversals = valid.filter((i) => i.truth.kind === 'REVERSAL');
    for (const reversal of reversals) {
      if (reversal.truth.kind !== 'REVERSAL') continue;
      const original = items[reversal.truth.reversesIndex]!;
      const { rows } = await db.pool.query(
        `SELECT r.kind, r.infno, r.reverses_setl_id, o.setl_id AS original, r.medfee_sumamt AS r_total, o.medfee_sumamt AS o_total
           FROM settlements r JOIN settlements o ON o.id = r.reverses_id WHERE r.setl_id = $1`,
        [setlIdOf(reversal)],
      );
      expect(rows).toEqual([{
        kind: 'REVERSAL', infno: original.item.infno === '2304' ? '2305' : '2208', reverses_setl_id: setlIdOf(original),
        original: setlIdOf(original), r_total: -rows[0].o_total, o_total: rows[0].o_total,
      }]);
    }
  });

  it('wait for an original that arrives after them, and match once it does', async () => {
    const certno = registry.members[1]!.idNumber; // enrolled 2024 and 2025
    const original = {
      setl_id: 'LATE-1', mdtrt_id: 'M-LATE', psn_no: 'P1', psn_name: '测试', certno, insutype: '310', med_type: '21',
      setl_time: '2025-03-02 09:00:00', medfee_sumamt: '1000.00', fulamt_ownpay_amt: '0', overlmt_selfpay: '0',
      fund_pay_sumamt: '700.00', psn_part_amt: '300.00', acct_pay: '100.00', psn_cash_pay: '200.00',
    };
    const reversal = {
      ...original, setl_id: 'LATE-1R', init_setl_id: 'LATE-1', setl_time: '2025-03-03 09:00:00', medfee_sumamt: '-1000.00',
      fund_pay_sumamt: '-700.00', psn_part_amt: '-300.00', acct_pay: '-100.00', psn_cash_pay: '-200.00',
    };
    const first = await importText('hospital', 'reversal.jsonl', jsonl([reversal]));
    await matchSettlements(db.pool, first.toMatch);
    expect((await statusOf(db.pool)).get('LATE-1R')).toEqual({ status: 'UNMATCHED', reason: 'ORIGINAL_NOT_FOUND', count: 1 });

    const second = await importText('hospital', 'original.jsonl', jsonl([original]));
    expect(second.toMatch).toHaveLength(2); // the original, and the reversal released from waiting
    await matchSettlements(db.pool, second.toMatch);
    const { rows } = await db.pool.query(
      `SELECT r.status, o.setl_id FROM settlements r JOIN settlements o ON o.id = r.reverses_id WHERE r.setl_id = 'LATE-1R'`,
    );
    expect(rows).toEqual([{ status: 'MATCHED', setl_id: 'LATE-1' }]);
  });
});

describe('files and other sources', () => {
  it('reads JSON lines and CSV; an unreadable line is kept as a rejection; the same file again is all duplicates', async () => {
    const item = valid.find((i) => i.truth.kind === 'SETTLEMENT' && i.truth.memberIndex !== null)!;
    const fields = flattenFeedItem(item.item);
    const text = `${JSON.stringify(item.item)}\n{"setl_id": "BROKEN-1", "certno": "350521\n`;
    const first = await importText('upload', 'a.jsonl', text);
    expect(first).toMatchObject({ received: 2, inserted: 1, rejected: 1, duplicates: 0 });
    const again = await importText('upload', 'a.jsonl', text);
    expect(again).toMatchObject({ received: 2, inserted: 0, rejected: 0, duplicates: 2 });
    const { rows } = await db.pool.query(`SELECT problems FROM settlement_rejections WHERE source = 'upload'`);
    expect(rows[0].problems[0]).toMatchObject({ field: 'record' });

    const header = Object.keys(fields).filter((k) => k !== 'diagnoses');
    const csv = `${header.join(',')},diagnoses\n${header.map((k) => String(fields[k])).join(',')},${(fields.diagnoses as string[] | undefined ?? []).join(';')}\n`;
    const fromCsv = await importText('csv-drop', 'b.csv', csv, 'csv');
    expect(fromCsv).toMatchObject({ received: 1, inserted: 1, rejected: 0 });
    await matchSettlements(db.pool, [...first.toMatch, ...fromCsv.toMatch]);
    // The same setl_id from a second and third source: the earliest copy counts, the others are duplicates.
    const copies = await db.pool.query(`SELECT source, status, duplicate_of_id IS NOT NULL AS dup FROM settlements WHERE setl_id = $1 ORDER BY id`, [setlIdOf(item)]);
    expect(copies.rows).toEqual([
      { source: 'sim', status: expectedOutcome(data, registry, item).status, dup: false },
      { source: 'upload', status: 'DUPLICATE', dup: true },
      { source: 'csv-drop', status: 'DUPLICATE', dup: true },
    ]);
  });

  it('counts one copy of a setl_id that two sources store at once, the one committed first', async () => {
    const item = valid.find((i) => i.truth.kind === 'SETTLEMENT' && i.truth.memberIndex !== null)!;
    const page = preparePage(keys, [{ fields: { ...flattenFeedItem(item.item), setl_id: 'SAME-STAY-TWO-SOURCES' }, position: 'line 1' }]);
    for (const source of ['ward-a', 'ward-b']) await store.fileSourceNamed(db.pool, source);
    // ward-a stores its copy and keeps its transaction open; ward-b stores, commits and matches its
    // own meanwhile. Had ward-b's copy been matched before ward-a's was committed, neither match
    // would have seen the other copy: both MATCHED, the stay paid twice.
    const { held: first, work: second } = await commitOnceWaitedOn(
      db.pool,
      (held) => storePage(held as Tx, 'ward-a', null, page),
      () => inTransaction(db.pool, (tx) => storePage(tx, 'ward-b', null, page)).then((b) => matchSettlements(db.pool, b.toMatch)),
    );
    await matchSettlements(db.pool, first.toMatch);
    await second;
    const { rows } = await db.pool.query(`SELECT source, status, duplicate_of_id IS NOT NULL AS dup FROM settlements WHERE setl_id = 'SAME-STAY-TWO-SOURCES' ORDER BY id`);
    expect(rows).toEqual([
      { source: 'ward-a', status: expectedOutcome(data, registry, item).status, dup: false },
      { source: 'ward-b', status: 'DUPLICATE', dup: true },
    ]);
  });

  it('refuses a setl_id starting with APP- from any source, kept as a rejection naming setl_id', async () => {
    const item = valid.find((i) => i.truth.kind === 'SETTLEMENT' && i.truth.memberIndex !== null)!;
    const outcome = await importText('upload', 'app.jsonl', jsonl([{ ...flattenFeedItem(item.item), setl_id: 'APP-1' }]));
    expect(outcome).toMatchObject({ received: 1, inserted: 0, rejected: 1 });
    const { rows } = await db.pool.query(`SELECT status, problems FROM settlement_rejections WHERE source = 'upload' AND setl_id = 'APP-1'`);
    expect(rows).toEqual([{ status: 'OPEN', problems: [{ field: 'setl_id', reason: expect.stringMatching(/^must not start with APP-/) }] }]);
  });

  it('closes an open rejection when the source sends the settlement again, valid', async () => {
    const bad = invalid.find((i) => i.truth.kind === 'INVALID' && i.truth.field === 'mdtrt_id')!;
    // The platform re-sends it with the visit ID it had left out.
    const fixed = { ...flattenFeedItem(bad.item), mdtrt_id: 'S350500250101990001' };
    const outcome = await inTransaction(db.pool, (tx) => storePage(tx, 'sim', null, preparePage(keys, [{ fields: fixed, position: 'resent' }])));
    expect(outcome).toMatchObject({ inserted: 1, rejected: 0 });
    const { rows } = await db.pool.query(`SELECT status, settlement_id = $2 AS linked FROM settlement_rejections WHERE setl_id = $1`, [setlIdOf(bad), outcome.toMatch[0]]);
    expect(rows).toEqual([{ status: 'SUPERSEDED', linked: true }]);
  });
});

describe('another source\'s record under a stored setl_id', () => {
  const actor = { subject: 'operator-1', role: 'ADMIN' };
  /** A 2025 settlement of member `memberIndex` (enrolled), as a file carries it. */
  const visitOf = (memberIndex: number, fields: Record<string, unknown>) => {
    const member = registry.members[memberIndex]!;
    return {
      mdtrt_id: `M-COPY-${memberIndex}`, psn_no: `P${memberIndex}`, psn_name: member.name, psn_cert_type: '01', certno: member.idNumber,
      insutype: '310', med_type: '21', setl_time: '2025-06-10 10:00:00', medfee_sumamt: '10000.00', fulamt_ownpay_amt: '0', overlmt_selfpay: '0',
      fund_pay_sumamt: '6000.00', psn_part_amt: '4000.00', acct_pay: '0', psn_cash_pay: '4000.00', ...fields,
    };
  };
  const storedUnder = async (setlId: string) => (await db.pool.query(
    `SELECT source, kind, status, duplicate_of_id IS NOT NULL AS dup FROM settlements WHERE setl_id = $1 ORDER BY id`, [setlId],
  )).rows;
  const openRejection = async (source: string, setlId: string) => (await db.pool.query(
    `SELECT id, status, problems FROM settlement_rejections WHERE source = $1 AND setl_id = $2`, [source, setlId],
  )).rows[0];

  /**
   * A copy was recognised by setl_id alone: another person's outpatient visit sent under a setl_id
   * another source had stored (a mistyped or reused setl_id, a forged file) became DUPLICATE of that
   * settlement, and the visit was never paid. It is held as a rejection naming each field that
   * differs, decides nothing, and once its setl_id is corrected it is paid as a settlement of its own.
   */
  it('holds one naming another person and another visit as a rejection naming what differs, never its DUPLICATE; corrected, it is stored as its own', async () => {
    const first = await importText('ward-first', 'first.jsonl', jsonl([visitOf(1, { setl_id: 'REUSED-1' })]));
    await matchSettlements(db.pool, first.toMatch);
    // A true copy still describes the stay its own way (visit number, hospital): DUPLICATE, as before.
    const copy = await importText('ward-copy', 'copy.jsonl', jsonl([visitOf(1, { setl_id: 'REUSED-1', mdtrt_id: 'M-OTHER', fixmedins_code: 'H35050001' })]));
    await matchSettlements(db.pool, copy.toMatch);

    const other = visitOf(2, {
      setl_id: 'REUSED-1', med_type: '11', medfee_sumamt: '300.00', fund_pay_sumamt: '200.00', psn_part_amt: '100.00', psn_cash_pay: '100.00',
    });
    const held = await importText('ward-second', 'second.jsonl', jsonl([other]));
    expect(held).toMatchObject({ received: 1, inserted: 0, rejected: 1, duplicates: 0, toMatch: [] });
    expect(await storedUnder('REUSED-1')).toEqual([
      { source: 'ward-first', kind: 'SETTLEMENT', status: 'MATCHED', dup: false },
      { source: 'ward-copy', kind: 'SETTLEMENT', status: 'DUPLICATE', dup: true },
    ]);
    const rejection = await openRejection('ward-second', 'REUSED-1');
    const notACopy = expect.stringMatching(/settlement \d+ \(source ward-first\), stored first under this setl_id: not a copy of it$/);
    const differing = ['certno', 'med_type', 'medfee_sumamt', 'fund_pay_sumamt', 'psn_part_amt', 'psn_cash_pay'];
    expect(rejection).toMatchObject({ status: 'OPEN', problems: differing.map((field) => ({ field, reason: notACopy })) });
    expect(rejection.problems[0].reason).toMatch(/^names another person than /);

    // Retried as it is, it stays held; with the setl_id the hospital mistyped corrected, it is the member's visit.
    const unchanged = await retryRejection(db.pool, keys, rejection.id, [], actor);
    expect(unchanged).toMatchObject({ outcome: 'STILL_INVALID', settlementId: null, toMatch: [] });
    expect(unchanged!.problems.map((p) => p.field)).toEqual(differing);
    const corrected = await retryRejection(db.pool, keys, rejection.id, [{ name: 'setl_id', value: 'REUSED-1-VISIT' }], actor);
    expect(corrected).toMatchObject({ outcome: 'STORED', problems: [] });
    await matchSettlements(db.pool, corrected!.toMatch);
    expect(await storedUnder('REUSED-1-VISIT')).toEqual([{ source: 'ward-second', kind: 'SETTLEMENT', status: 'MATCHED', dup: false }]);
  });

  /**
   * A settlement under the setl_id of a reversal another source had stored became DUPLICATE of the
   * reversal: the stay was never paid. A settlement is never a copy of a reversal: it is held, naming
   * infno, and the reversal still cancels the settlement it names.
   */
  it('holds a settlement under the setl_id of another source\'s reversal, naming infno, never its DUPLICATE', async () => {
    const original = await importText('ward-first', 'original.jsonl', jsonl([visitOf(3, { setl_id: 'ORIGINAL-2', setl_time: '2025-05-01 10:00:00' })]));
    const reversal = await importText('ward-second', 'reversal.jsonl', jsonl([visitOf(3, {
      setl_id: 'REUSED-2', init_setl_id: 'ORIGINAL-2', infno: '2305', setl_time: '2025-05-02 10:00:00',
      medfee_sumamt: '-10000.00', fund_pay_sumamt: '-6000.00', psn_part_amt: '-4000.00', psn_cash_pay: '-4000.00',
    })]));
    await matchSettlements(db.pool, [...original.toMatch, ...reversal.toMatch]);

    const held = await importText('ward-first', 'later.jsonl', jsonl([visitOf(3, { setl_id: 'REUSED-2', setl_time: '2025-06-20 10:00:00' })]));
    expect(held).toMatchObject({ inserted: 0, rejected: 1, toMatch: [] });
    expect(await storedUnder('REUSED-2')).toEqual([{ source: 'ward-second', kind: 'REVERSAL', status: 'MATCHED', dup: false }]);
    const rejection = await openRejection('ward-first', 'REUSED-2');
    expect(rejection.status).toBe('OPEN');
    expect(rejection.problems[0]).toEqual({
      field: 'infno', reason: expect.stringMatching(/^makes it a SETTLEMENT, unlike settlement \d+ \(source ward-second\), stored first under this setl_id: not a copy of it$/),
    });
    const { rows: cancelled } = await db.pool.query(
      `SELECT o.setl_id FROM settlements r JOIN settlements o ON o.id = r.reverses_id WHERE r.setl_id = 'REUSED-2'`,
    );
    expect(cancelled).toEqual([{ setl_id: 'ORIGINAL-2' }]);
  });
});

describe('retrying a rejection after correction', () => {
  it('stays open with the problems left, then stores and matches the corrected settlement', async () => {
    const bad = invalid.find((i) => i.truth.kind === 'INVALID' && i.truth.field === 'psn_part_amt')!;
    const s = bad.item.setlinfo;
    const { rows: [rejection] } = await db.pool.query(`SELECT id FROM settlement_rejections WHERE setl_id = $1`, [setlIdOf(bad)]);
    const actor = { subject: 'operator-1', role: 'ADMIN' };

    const stillWrong = await retryRejection(db.pool, keys, rejection.id, [{ name: 'psn_cash_pay', value: '0.01' }], actor);
    expect(stillWrong).toMatchObject({ outcome: 'STILL_INVALID', settlementId: null });
    expect(stillWrong!.problems.map((p) => p.field)).toEqual(['psn_part_amt']);

    // Hand arithmetic from the record itself: cash = person burden − personal account.
    const cash = (Math.round(Number(s.psn_part_amt) * 100) - Math.round(Number(s.acct_pay) * 100)) / 100;
    const fixed = await retryRejection(db.pool, keys, rejection.id, [{ name: 'psn_cash_pay', value: cash.toFixed(2) }], actor);
    expect(fixed).toMatchObject({ outcome: 'STORED', problems: [] });
    await matchSettlements(db.pool, fixed!.toMatch);
    const expected = expectedOutcome(data, registry, { ...bad, truth: { kind: 'SETTLEMENT', memberIndex: bad.truth.kind === 'INVALID' ? bad.truth.memberIndex : null, inpatient: false, diseaseGroup: null } });
    expect((await statusOf(db.pool)).get(setlIdOf(bad))).toEqual({ status: expected.status, reason: expected.reason, count: 1 });
    const { rows } = await db.pool.query(`SELECT status, retries, resolved_by FROM settlement_rejections WHERE id = $1`, [rejection.id]);
    expect(rows).toEqual([{ status: 'RESOLVED', retries: 2, resolved_by: 'operator-1' }]);
    expect(await retryRejection(db.pool, keys, rejection.id, [], actor)).toBeNull();

    const audit = await db.pool.query(`SELECT details FROM audit_log WHERE action = 'settlement.rejection.retry' AND target_id = $1 ORDER BY seq`, [String(rejection.id)]);
    expect(audit.rows.map((r) => r.details.outcome)).toEqual(['STILL_INVALID', 'STORED']);
    expect(audit.rows[1].details.corrected).toEqual(['psn_cash_pay']);
  });
});
