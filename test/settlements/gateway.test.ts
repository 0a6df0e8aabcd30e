import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { lookupHash, maskIdNumber } from '../../src/privacy/personalData.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { pullPage } from '../../src/settlements/ingest.ts';
import { matchSettlements } from '../../src/settlements/matchingStep.ts';
import { simulatedItems, type SimItem } from '../../src/settlements/simulator/generate.ts';
import { startInsuranceSimulator, type InsuranceSimulator } from '../../src/settlements/simulator/server.ts';
import { platformSource } from '../../src/settlements/sources/platform.ts';
import * as store from '../../src/settlements/store.ts';
import { jobSettlements } from '../../src/settlements/queue.ts';
import { expectedOutcome, keys, registerMembers, registerPlatformSource, sampleRegistry, simData } from './support.ts';

const registry = sampleRegistry(50);
const data = simData(registry, 300, 2);
const items = [...simulatedItems(data)];
const valid = items.filter((i) => i.truth.kind !== 'INVALID');
const invalid = items.filter((i) => i.truth.kind === 'INVALID');
const setlIdOf = (item: SimItem) => String(item.item.setlinfo.setl_id);
const memberOf = (item: SimItem) => (item.truth.memberIndex === null ? null : registry.members[item.truth.memberIndex]!);
const fen = (cny: string | number | undefined) => Math.round(Number(cny) * 100);

let db: TestDatabase;
let gw: TestGateway;
let simulator: InsuranceSimulator;

async function memberId(idNumber: string): Promise<string> {
  const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM members WHERE id_number_hash = $1`, [lookupHash(keys, idNumber)]);
  return toGlobalId('Member', rows[0]!.id);
}

async function settlementId(setlId: string, source = 'sim'): Promise<string> {
  return toGlobalId('Settlement', (await store.settlementIdBySourceKey(db.pool, source, setlId))!);
}

beforeAll(async () => {
  db = await freshDatabase();
  await registerMembers(db.pool, registry);
  simulator = await startInsuranceSimulator({ ...data, infno: '9901' });
  const adapter = platformSource({ url: simulator.url, client: { code: 'MAH350500001', name: 'test', area: '350500' }, infno: '9901' });
  await registerPlatformSource(db.pool, 'sim', simulator.url, 100);
  for (let more = true; more;) {
    const outcome = await pullPage(db.pool, keys, (await store.sourceByName(db.pool, 'sim'))!, adapter, 'test');
    await matchSettlements(db.pool, outcome.toMatch);
    more = outcome.hasMore;
  }
  gw = await startTestGateway(db);
});
afterAll(async () => {
  await gw.close();
  await simulator.close();
  await db.drop();
});

const CONNECTION = `query($first: Int, $after: String, $filter: SettlementFilter) {
  settlements(first: $first, after: $after, filter: $filter) { totalCount edges { cursor node { id setlId status } } pageInfo { hasNextPage endCursor } }
}`;

describe('settlements connection', () => {
  it('pages newest first with keyset cursors, and counts', async () => {
    const first = await gw.query({ role: 'ADMIN' }, CONNECTION, { first: 5 });
    expect(first.errors).toBeUndefined();
    expect(first.data.settlements.totalCount).toBe(valid.length);
    const second = await gw.query({ role: 'ADMIN' }, CONNECTION, { first: 5, after: first.data.settlements.pageInfo.endCursor });
    const ids = [...first.data.settlements.edges, ...second.data.settlements.edges].map((e: { node: { setlId: string } }) => e.node.setlId);
    // The feed's last items were stored last: newest first is the feed backwards.
    expect(ids).toEqual(valid.slice(-10).reverse().map(setlIdOf));
  });

  it('filters by status, kind, source, member and date range', async () => {
    const count = async (filter: object) => (await gw.query({ role: 'AUDITOR' }, CONNECTION, { first: 1, filter })).data.settlements.totalCount;
    const expected = valid.map((i) => expectedOutcome(data, registry, i));
    expect(await count({ status: 'MATCHED' })).toBe(expected.filter((e) => e.status === 'MATCHED').length);
    expect(await count({ status: 'UNMATCHED' })).toBe(expected.filter((e) => e.status === 'UNMATCHED').length);
    expect(await count({ kind: 'REVERSAL' })).toBe(valid.filter((i) => i.truth.kind === 'REVERSAL').length);
    expect(await count({ source: 'nowhere' })).toBe(0);
    const in2025 = valid.filter((i) => String(i.item.setlinfo.setl_time) >= '2025-03-01' && String(i.item.setlinfo.setl_time) < '2025-04-01');
    expect(await count({ settledFrom: '2025-03-01', settledTo: '2025-03-31' })).toBe(in2025.length);
    const member = registry.members[3]!;
    expect(await count({ memberId: await memberId(member.idNumber) })).toBe(valid.filter((i) => memberOf(i) === member).length);
  });
});

describe('one settlement', () => {
  it('shows the platform\'s facts, amounts in fen, masked identity, member and enrolment', async () => {
    const item = valid.find((i) => i.truth.kind === 'SETTLEMENT' && i.truth.inpatient && expectedOutcome(data, registry, i).status === 'MATCHED')!;
    const s = item.item.setlinfo;
    const { data: answer, errors } = await gw.query({ role: 'ADMIN' }, `query($id: ID!) { settlement(id: $id) {
      setlId kind transaction inpatient visitId idNumberMasked personNameMasked planYear diagnoses status unmatchedReason source
      amounts { totalFeesFen fundsTotalFen personBurdenFen personalAccountFen cashPaidFen fullyOwnPayFen hospitalBorneFen }
      member { idNumberMasked } enrolment { planYear } unit { creditCode }
    } }`, { id: await settlementId(setlIdOf(item)) });
    expect(errors).toBeUndefined();
    const member = memberOf(item)!;
    expect(answer.settlement).toEqual({
      setlId: setlIdOf(item), kind: 'SETTLEMENT', transaction: '2304', inpatient: true, visitId: s.mdtrt_id,
      idNumberMasked: maskIdNumber(member.idNumber), personNameMasked: expect.stringMatching(/^.\*+.?$/),
      planYear: Number(String(s.setl_time).slice(0, 4)), diagnoses: item.item.diseinfo!.map((d) => d.diag_code), status: 'MATCHED',
      unmatchedReason: null, source: 'sim',
      amounts: {
        totalFeesFen: fen(s.medfee_sumamt), fundsTotalFen: fen(s.fund_pay_sumamt), personBurdenFen: fen(s.psn_part_amt),
        personalAccountFen: fen(s.acct_pay), cashPaidFen: fen(s.psn_cash_pay), fullyOwnPayFen: fen(s.fulamt_ownpay_amt),
        hospitalBorneFen: fen(s.hosp_part_amt),
      },
      member: { idNumberMasked: maskIdNumber(member.idNumber) },
      enrolment: { planYear: Number(String(s.setl_time).slice(0, 4)) },
      unit: { creditCode: member.unitCreditCode },
    });
  });

  it('answers every field of the schema without an internal error', async () => {
    const amounts = 'totalFeesFen fullyOwnPayFen overLimitSelfPayFen preSelfPayFen inPolicyFen deductibleFen pooledFundFen ' +
      'seriousIllnessInsuranceFen largeExpenseSubsidyFen medicalAssistanceFen civilServantSubsidyFen enterpriseSupplementFen ' +
      'otherFundsFen fundsTotalFen personBurdenFen personalAccountFen cashPaidFen hospitalBorneFen';
    const fields = `id setlId kind transaction reversesSetlId visitId insuredPersonNo personNameMasked idNumberMasked insuranceType
      medicalType inpatient settledAt planYear diagnoses status unmatchedReason source processingError receivedAt matchedAt
      amounts { ${amounts} } member { id } enrolment { id } unit { id } duplicateOf { id } reverses { id } reversedBy { id }`;
    const { data: answer, errors } = await gw.query({ role: 'ADMIN' }, `{ settlements(first: 100) { edges { node { ${fields} } } }
      settlementRejections(first: 5) { edges { node { id source setlId position problems { field reason } fields { name value }
        status settlement { id } retries receivedAt resolvedAt resolvedBy } } }
      settlementIngestionRuns(first: 5) { totalCount edges { node { id source kind fileName status startedBy cursorBefore cursorAfter
        pages received newSettlements duplicates rejected unmatched failure startedAt finishedAt } } }
      settlementSources { name kind endpoint pageSize pollSeconds enabled cursor lastPolledAt lastError
        counts { total received matched unmatched duplicate openRejections } } }`);
    expect(errors).toBeUndefined();
    expect(answer.settlements.edges).toHaveLength(100);
  });

  it('links a reversal and the settlement it cancels both ways', async () => {
    const reversal = valid.find((i) => i.truth.kind === 'REVERSAL')!;
    const original = items[reversal.truth.kind === 'REVERSAL' ? reversal.truth.reversesIndex : 0]!;
    const { data: answer } = await gw.query({ role: 'ADMIN' }, `query($id: ID!) { settlement(id: $id) {
      kind reversesSetlId reverses { setlId reversedBy { setlId } } amounts { totalFeesFen } } }`, { id: await settlementId(setlIdOf(reversal)) });
    expect(answer.settlement).toEqual({
      kind: 'REVERSAL', reversesSetlId: setlIdOf(original),
      reverses: { setlId: setlIdOf(original), reversedBy: { setlId: setlIdOf(reversal) } },
      amounts: { totalFeesFen: -fen(original.item.setlinfo.medfee_sumamt) },
    });
  });
});

describe('who sees which settlements', () => {
  const unit = registry.units[0]!;
  const ofUnit = valid.filter((i) => memberOf(i)?.unitCreditCode === unit.creditCode);
  const elsewhere = valid.find((i) => memberOf(i) && memberOf(i)!.unitCreditCode !== unit.creditCode)!;

  it('a unit operator: their unit\'s members\' settlements only; others are null', async () => {
    const operator = { role: 'UNIT_OPERATOR' as const, unit: unit.creditCode };
    const { data: answer } = await gw.query(operator, CONNECTION, { first: 1 });
    expect(answer.settlements.totalCount).toBe(ofUnit.length);
    const other = await gw.query(operator, `query($id: ID!) { settlement(id: $id) { setlId } }`, { id: await settlementId(setlIdOf(elsewhere)) });
    expect(other).toEqual({ data: { settlement: null } });
    const sources = await gw.query(operator, `{ settlementSources { name } }`);
    expect(sources.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('a member: their own, also as member.settlements', async () => {
    const member = registry.members[5]!;
    const own = valid.filter((i) => memberOf(i) === member);
    const token = { role: 'MEMBER' as const, member: await memberId(member.idNumber) };
    const { data: answer } = await gw.query(token, `{ viewer { member { settlements(first: 100) { totalCount edges { node { setlId } } } } } settlements { totalCount } }`);
    expect(answer.settlements.totalCount).toBe(own.length);
    expect(answer.viewer.member.settlements.edges.map((e: { node: { setlId: string } }) => e.node.setlId).sort()).toEqual(own.map(setlIdOf).sort());
    const other = await gw.query(token, `query($id: ID!) { settlement(id: $id) { setlId } }`, { id: await settlementId(setlIdOf(elsewhere)) });
    expect(other).toEqual({ data: { settlement: null } });
  });
});

describe('operations: sources, runs, rejections', () => {
  it('shows each source\'s cursor and counts, and its runs', async () => {
    const { data: answer, errors } = await gw.query({ role: 'AUDITOR' }, `{ settlementSources { name kind cursor counts { total received openRejections }
      runs(first: 5) { totalCount edges { node { kind status received newSettlements duplicates rejected unmatched cursorAfter } } } } }`);
    expect(errors).toBeUndefined();
    const unmatched = valid.filter((i) => expectedOutcome(data, registry, i).status === 'UNMATCHED').length;
    expect(answer.settlementSources).toEqual([{
      name: 'sim', kind: 'PLATFORM', cursor: String(data.count), counts: { total: valid.length, received: 0, openRejections: invalid.length },
      runs: { totalCount: 1, edges: [{ node: {
        kind: 'PULL', status: 'DONE', received: data.count, newSettlements: valid.length, duplicates: 0, rejected: invalid.length,
        unmatched, cursorAfter: String(data.count),
      } }] },
    }]);
  });

  it('lists rejections with field, reason and the record masked', async () => {
    const { data: answer } = await gw.query({ role: 'ADMIN' }, `{ settlementRejections(first: 100, filter: { status: OPEN }) {
      totalCount edges { node { setlId problems { field reason } fields { name value } } } } }`);
    expect(answer.settlementRejections.totalCount).toBe(invalid.length);
    const byId = new Map(answer.settlementRejections.edges.map((e: { node: { setlId: string } }) => [e.node.setlId, e.node]));
    for (const item of invalid) {
      const node = byId.get(setlIdOf(item)) as { problems: { field: string }[]; fields: { name: string; value: string }[] };
      expect(node.problems[0]!.field).toBe(item.truth.kind === 'INVALID' && item.truth.field);
      const certno = node.fields.find((f) => f.name === 'certno')!.value;
      expect(certno).toBe(maskIdNumber(String(item.item.setlinfo.certno)));
    }
  });

  it('retries a corrected rejection: stored and then visible as a settlement', async () => {
    const bad = invalid.find((i) => i.truth.kind === 'INVALID' && i.truth.field === 'setl_time')!;
    const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM settlement_rejections WHERE setl_id = $1`, [setlIdOf(bad)]);
    const id = toGlobalId('SettlementRejection', rows[0]!.id);
    const mutation = `mutation($input: RetrySettlementRejectionInput!) { retrySettlementRejection(input: $input) {
      rejection { status retries problems { field } } settlement { setlId status settledAt } userErrors { field code message } } }`;
    // The defect wrote 2025/03/04 10:11 for 2025-03-04 10:11:xx: the operator restores the format.
    const fixed = `${String(bad.item.setlinfo.setl_time).replaceAll('/', '-')}:00`;
    const denied = await gw.query({ role: 'REVIEWER' }, mutation, { input: { rejectionId: id, corrections: [{ name: 'setl_time', value: fixed }] } });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const { data: answer, errors } = await gw.query({ role: 'ADMIN' }, mutation, { input: { rejectionId: id, corrections: [{ name: 'setl_time', value: fixed }] } });
    expect(errors).toBeUndefined();
    expect(answer.retrySettlementRejection).toEqual({
      rejection: { status: 'RESOLVED', retries: 1, problems: [{ field: 'setl_time' }] },
      settlement: { setlId: setlIdOf(bad), status: 'RECEIVED', settledAt: new Date(`${fixed.replace(' ', 'T')}+08:00`).toISOString() },
      userErrors: [],
    });
    expect(await gw.queues.settlementMatch.getJob(`settlement-match-${await store.settlementIdBySourceKey(db.pool, 'sim', setlIdOf(bad))}`)).toBeDefined();
    const again = await gw.query({ role: 'ADMIN' }, mutation, { input: { rejectionId: id, corrections: [] } });
    expect(again.data.retrySettlementRejection).toEqual({ rejection: null, settlement: null, userErrors: [
      { field: 'input.rejectionId', code: 'CONFLICT', message: 'input.rejectionId: is RESOLVED, not OPEN: nothing to retry' },
    ] });
  });

  it('uploads a file: stored at once (matching follows in the workers), the same file again is all duplicates', async () => {
    const member = registry.members[2]!;
    const record = (setlId: string, total: string) => ({
      setl_id: setlId, mdtrt_id: `M-${setlId}`, psn_no: 'P2', psn_name: member.name, certno: member.idNumber, insutype: '310',
      med_type: '11', setl_time: '2025-05-05 08:30:00', medfee_sumamt: total, fulamt_ownpay_amt: '0', overlmt_selfpay: '0',
      fund_pay_sumamt: '60.00', psn_part_amt: '40.00', acct_pay: '40.00', psn_cash_pay: '0.00',
    });
    // 60 + 40 = 100: the third record's 99.00 is rejected.
    const content = [record('UP-1', '100.00'), record('UP-2', '100.00'), record('UP-3', '99.00')].map((r) => JSON.stringify(r)).join('\n');
    const mutation = `mutation($input: UploadSettlementsInput!) { uploadSettlements(input: $input) {
      run { id kind fileName status received newSettlements duplicates rejected source } userErrors { field code message } } }`;
    const denied = await gw.query({ role: 'UNIT_OPERATOR', unit: registry.units[0]!.creditCode }, mutation, { input: { fileName: 'h.jsonl', content } });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const first = await gw.query({ role: 'SERVICE' }, mutation, { input: { fileName: 'h.jsonl', content } });
    expect(first.data.uploadSettlements.userErrors).toEqual([]);
    expect(first.data.uploadSettlements.run).toMatchObject({
      kind: 'FILE', fileName: 'h.jsonl', status: 'DONE', received: 3, newSettlements: 2, duplicates: 0, rejected: 1, source: 'upload',
    });
    const again = await gw.query({ role: 'SERVICE' }, mutation, { input: { fileName: 'h.jsonl', content } });
    expect(again.data.uploadSettlements.run).toMatchObject({ received: 3, newSettlements: 0, duplicates: 3, rejected: 0 });
    const id = (await store.settlementIdBySourceKey(db.pool, 'upload', 'UP-1'))!;
    // One match job carries the file's new settlements.
    const queued = (await gw.queues.settlementMatch.getJobs(['waiting', 'delayed', 'prioritized', 'active'])).flatMap((job) => jobSettlements(job.data));
    expect(queued).toContain(id);
    const wrongSource = await gw.query({ role: 'SERVICE' }, mutation, { input: { fileName: 'h.jsonl', content, source: 'sim' } });
    expect(wrongSource.data.uploadSettlements).toMatchObject({ run: null, userErrors: [{ field: 'input.source', code: 'INVALID' }] });
  });

  it('fetches operations nodes only for the roles that may see them', async () => {
    const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM settlement_runs ORDER BY id LIMIT 1`);
    const runId = toGlobalId('SettlementIngestionRun', rows[0]!.id);
    const query = `query($id: ID!) { node(id: $id) { ... on SettlementIngestionRun { source } } }`;
    expect((await gw.query({ role: 'ADMIN' }, query, { id: runId })).data.node).toEqual({ source: 'sim' });
    expect((await gw.query({ role: 'UNIT_OPERATOR', unit: registry.units[0]!.creditCode }, query, { id: runId })).data.node).toBeNull();
  });
});
