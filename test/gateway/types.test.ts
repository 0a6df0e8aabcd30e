import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema, getNamedType, isEnumType, isObjectType, type GraphQLSchema } from 'graphql';
import { readFileSync } from 'node:fs';
import { freshDatabase, checkedValues, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { payContribution, seedEnrolledMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { setBankCard, keys } from '../payouts/support.ts';
import { bookedEntry, handStatement, importConfirmed, owingUnit } from '../reconciliation/support.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';

/**
 * Types instead of strings: closed sets are enums, structured data is JSON, bilingual text comes in
 * its two languages, every object a client caches has an id `node` fetches back, and links are
 * objects that keep the caller's scope.
 */

let db: TestDatabase;
let gw: TestGateway;
let a: MemberSetup;
let b: MemberSetup;
let refusedSettlement: number;

const ADMIN = { role: 'ADMIN' } as const;
const CJK = /[\u4e00-\u9fff]/;

/** A change to a member's phone, as the members domain records it. */
async function recordPhoneChange(memberId: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO member_changes (member_id, actor, role, action, field, before, after) VALUES ($1, 'admin-chen', 'ADMIN', 'member.update', 'PHONE', '138****0000', '139****1111')`,
    [memberId],
  );
}

function publishedSchema(): GraphQLSchema {
  return buildSchema(readFileSync(new URL('../../schema/published/schema.graphql', import.meta.url), 'utf8'));
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  a = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  b = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', paid: false });
  await setBankCard(db.pool, a.memberId, '6222020200112233445');
  await setBankCard(db.pool, b.memberId, '6222020200112233452');
  // b's unit has not paid: b's claim is refused with a reason.
  refusedSettlement = await seedSettlement(db.pool, b, { psn: '5,000.00' });
  await adjudicateSettlements(db.pool, [await seedSettlement(db.pool, a, { psn: '5,000.00' }), refusedSettlement], { autoApproveMaxFen: 0 });
  await payContribution(db.pool, a.unitId);
  await payContribution(db.pool, b.unitId);
  await recordPhoneChange(a.memberId);
  await recordPhoneChange(b.memberId);
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('enums for closed sets', () => {
  it('types each former status or code string as an enum whose values are the stored ones, each described', async () => {
    const schema = publishedSchema();
    const cases: [string, string, string, [string, string] | null][] = [
      // members.gender is char(1), CHECK (gender IN ('M', 'F')): not a text list checkedValues reads.
      ['Member', 'gender', 'Gender', null],
      ['RosterImport', 'status', 'RosterImportStatus', ['roster_imports', 'status']],
      ['ContributionPayment', 'source', 'ContributionPaymentSource', ['contribution_payments', 'source']],
      ['ReconciliationRun', 'status', 'ReconciliationRunStatus', ['reconciliation_runs', 'status']],
      ['MemberChange', 'actorRole', 'Role', null],
      ['MemberChange', 'action', 'MemberChangeAction', null],
      ['ClaimReason', 'code', 'ClaimReasonCode', null],
    ];
    for (const [typeName, fieldName, enumName, column] of cases) {
      const type = schema.getType(typeName);
      if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
      const named = getNamedType(type.getFields()[fieldName]!.type);
      expect(named.name, `${typeName}.${fieldName}`).toBe(enumName);
      if (!isEnumType(named)) throw new Error(`${enumName} is not an enum`);
      for (const value of named.getValues()) expect(value.description, `${enumName}.${value.name}`).toBeTruthy();
      if (column) expect(named.getValues().map((v) => v.name).sort(), enumName).toEqual((await checkedValues(db, ...column)).sort());
    }
  });

  it('names the reason codes the rules engine gives (ClaimReasonCode is the engine\'s ReasonCode)', async () => {
    const { rows } = await db.pool.query<{ codes: string[] }>(`SELECT reason_codes AS codes FROM claims WHERE settlement_id = $1`, [refusedSettlement]);
    const reasonCode = publishedSchema().getType('ClaimReasonCode');
    if (!isEnumType(reasonCode)) throw new Error('ClaimReasonCode is not an enum');
    const codes = reasonCode.getValues().map((v) => v.name);
    for (const code of rows[0]!.codes) expect(codes).toContain(code);
  });

  it('every object type with an id implements Node', () => {
    const schema = publishedSchema();
    const node = schema.getType('Node');
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__') || !type.getFields().id) continue;
      expect(type.getInterfaces().map((i) => i.name), type.name).toContain(node!.name);
    }
  });
});

describe('JSON values', () => {
  it('shows a rule set\'s definition as the JSON stored, not as text', async () => {
    const res = await gw.query(ADMIN, `{ ruleSet(ruleSetId: "default-2025", version: 1) { definition } }`);
    expect(res.errors).toBeUndefined();
    const { rows } = await db.pool.query(`SELECT definition FROM rule_sets WHERE id = 'default-2025' AND version = 1`);
    expect(res.data.ruleSet.definition).toEqual(rows[0].definition);
  });

  it('takes a preview input as JSON, from a variable or written in the query, and names bad fields input.<path>', async () => {
    const input = JSON.parse(readFileSync(new URL('../benefits/fixtures/jinjiang-preview.json', import.meta.url), 'utf8'));
    const byVariable = await gw.query(ADMIN, `query($i: JSON!) { benefitPreview(ruleSetId: "jinjiang-example", input: $i) { totalFen json } }`, { i: input });
    expect(byVariable.errors).toBeUndefined();
    const literal = JSON.stringify(input).replace(/"([A-Za-z_][A-Za-z0-9_]*)":/g, '$1:');
    const inQuery = await gw.query(ADMIN, `{ benefitPreview(ruleSetId: "jinjiang-example", input: ${literal}) { totalFen json } }`);
    expect(inQuery.errors).toBeUndefined();
    expect(inQuery.data.benefitPreview).toEqual(byVariable.data.benefitPreview);
    const bad = await gw.query(ADMIN, `query($i: JSON!) { benefitPreview(ruleSetId: "jinjiang-example", input: $i) { totalFen } }`,
      { i: { ...input, settlement: { ...input.settlement, psn_cash_pay: 'lots' } } });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.settlement.psn_cash_pay' });
  });

  it('shows a reconciliation exception\'s evidence as a JSON object', async () => {
    const date = '2025-06-02';
    await importConfirmed(db.pool, handStatement(date, 1_000_000, [bookedEntry('DBIT', 12_345, date)]));
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: date });
    const res = await gw.query(ADMIN, `{ reconciliationExceptions { edges { node { kind amountFen evidence } } } }`);
    expect(res.errors).toBeUndefined();
    const [exception] = res.data.reconciliationExceptions.edges.map((e: { node: unknown }) => e.node);
    expect(exception).toMatchObject({ kind: 'UNMATCHED_DEBIT', amountFen: 12_345 });
    const { rows } = await db.pool.query(`SELECT evidence FROM reconciliation_exceptions WHERE kind = 'UNMATCHED_DEBIT'`);
    expect(exception.evidence).toEqual(rows[0].evidence);
    expect(typeof exception.evidence).toBe('object');
  });
});

describe('bilingual text in its two languages', () => {
  it('gives a refused claim\'s reasons with their code, in Chinese and in English separately', async () => {
    const claim = (await db.pool.query<{ id: number; reasons: string[]; codes: string[] }>(
      `SELECT id, reasons, reason_codes AS codes FROM claims WHERE settlement_id = $1`, [refusedSettlement])).rows[0]!;
    const query = `query($id: ID!) { claim(id: $id) { status reasons { code text { zh en } } lines { explanation { zh en } } } }`;
    const zhOnly = await gw.query(ADMIN, `query($id: ID!) { claim(id: $id) { reasons { text { zh } } } }`, { id: toGlobalId('Claim', claim.id) });
    const enOnly = await gw.query(ADMIN, `query($id: ID!) { claim(id: $id) { reasons { text { en } } } }`, { id: toGlobalId('Claim', claim.id) });
    const full = await gw.query(ADMIN, query, { id: toGlobalId('Claim', claim.id) });
    expect(full.errors).toBeUndefined();
    expect(full.data.claim.status).toBe('INELIGIBLE');
    expect(full.data.claim.reasons.map((r: { code: string }) => r.code)).toEqual(claim.codes);
    expect(full.data.claim.reasons.map((r: { code: string }) => r.code)).toContain('CONTRIBUTION_UNPAID');
    for (const [i, reason] of full.data.claim.reasons.entries()) {
      expect(reason.text.zh).toMatch(CJK);
      expect(reason.text.en).not.toMatch(CJK);
      expect(reason.text.en).toContain('2025');
      expect(zhOnly.data.claim.reasons[i]).toEqual({ text: { zh: reason.text.zh } });
      expect(enOnly.data.claim.reasons[i]).toEqual({ text: { en: reason.text.en } });
      // Nothing lost: the stored text is the two languages joined.
      expect(claim.reasons[i]).toBe(`${reason.text.zh} / ${reason.text.en}`);
    }
  });

  it('gives a benefit line\'s explanation in each language, the same figures in both', async () => {
    const res = await gw.query(ADMIN, `query($m: ID!) { member(id: $m) { claims { edges { node { lines { amountFen explanation { zh en } } } } } } }`,
      { m: toGlobalId('Member', a.memberId) });
    expect(res.errors).toBeUndefined();
    const lines = res.data.member.claims.edges.flatMap((e: { node: { lines: unknown[] } }) => e.node.lines);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.explanation.zh).toMatch(CJK);
      expect(line.explanation.en).not.toMatch(CJK);
      const figures = (text: string) => text.match(/\d[\d,]*\.\d\d/g);
      expect(figures(line.explanation.en)).toEqual(figures(line.explanation.zh));
    }
  });
});

describe('ids on cached types', () => {
  it('every cached object has an id that node() fetches back as the same object', async () => {
    const res = await gw.query(ADMIN, `query($m: ID!) {
      member(id: $m) {
        bankAccount { id cardNumberMasked }
        changes { edges { node { id field after actor } } }
        unit { contribution(planYear: 2025) { id owedFen payments { id reference amountFen } } }
      }
      ruleSets { id ruleSetId version }
      settlementSources { id name }
      bankStatements { edges { node { proof { id date differenceFen } } } }
    }`, { m: toGlobalId('Member', a.memberId) });
    expect(res.errors).toBeUndefined();
    const { payments, ...contribution } = res.data.member.unit.contribution;
    expect(payments.length).toBe(2);
    const objects: [string, Record<string, unknown>][] = [
      ['BankAccount { cardNumberMasked }', res.data.member.bankAccount],
      ['MemberChange { field after actor }', res.data.member.changes.edges[0].node],
      ['Contribution { owedFen }', contribution],
      ['ContributionPayment { reference amountFen }', payments[0]],
      ['ContributionPayment { reference amountFen }', payments[1]],
      ['RuleSet { ruleSetId version }', res.data.ruleSets[0]],
      ['SettlementSource { name }', res.data.settlementSources[0]],
      ['DailyProof { date differenceFen }', res.data.bankStatements.edges[0].node.proof],
    ];
    const ids = new Set<string>();
    for (const [selection, object] of objects) {
      expect(object, selection).toBeTruthy();
      const id = object.id as string;
      ids.add(id);
      const fetched = await gw.query(ADMIN, `query($id: ID!) { node(id: $id) { id ... on ${selection} } }`, { id });
      expect(fetched.errors, selection).toBeUndefined();
      expect(fetched.data.node, selection).toEqual(object);
    }
    expect(ids.size).toBe(objects.length);
  });

  it('no id carries a personal number', async () => {
    const res = await gw.query(ADMIN, `query($m: ID!) { member(id: $m) { bankAccount { id } } }`, { m: toGlobalId('Member', a.memberId) });
    const decoded = Buffer.from(res.data.member.bankAccount.id, 'base64url').toString('utf8');
    expect(decoded).toBe(`BankAccount:${a.memberId}`);
  });
});

describe('objects instead of string links', () => {
  it('links a settlement to its source and a batch or document to the actors, as objects', async () => {
    const res = await gw.query({ role: 'ADMIN', sub: 'admin-types' }, `{ settlements(first: 1) { edges { node { source settlementSource { id name kind } } } } }`);
    expect(res.errors).toBeUndefined();
    const [settlement] = res.data.settlements.edges.map((e: { node: unknown }) => e.node);
    expect(settlement.settlementSource.name).toBe(settlement.source);
    const documents = await gw.query({ role: 'FINANCE', sub: 'clerk-wang' }, `{ bankDocuments { edges { node { receivedBy receiver { subject isViewer } confirmer { subject isViewer } } } } }`);
    expect(documents.errors).toBeUndefined();
    const [document] = documents.data.bankDocuments.edges.map((e: { node: unknown }) => e.node);
    expect(document.receiver).toEqual({ subject: document.receivedBy, isViewer: true });
    expect(document.confirmer).toEqual({ subject: 'finance-li', isViewer: false });
  });

  it('keeps the caller\'s scope through links and ids: a unit operator or member reaches nothing more', async () => {
    const operator = { role: 'UNIT_OPERATOR', unit: a.creditCode } as const;
    const member = { role: 'MEMBER', member: toGlobalId('Member', a.memberId) } as const;
    for (const auth of [operator, member]) {
      const own = await gw.query(auth, `{ settlements { edges { node { source settlementSource { name } } } } }`);
      expect(own.errors, auth.role).toBeUndefined();
      expect(own.data.settlements.edges.length, auth.role).toBeGreaterThan(0);
      for (const edge of own.data.settlements.edges) expect(edge.node.settlementSource, auth.role).toBeNull();
    }
    const admin = await gw.query(ADMIN, `query($m: ID!) {
      member(id: $m) { bankAccount { id } changes { edges { node { id } } } unit { contribution(planYear: 2025) { id payments { id } } } }
      settlementSources { id } ruleSets { id }
    }`, { m: toGlobalId('Member', b.memberId) });
    expect(admin.errors).toBeUndefined();
    const otherUnitsIds = [
      admin.data.member.bankAccount.id, admin.data.member.unit.contribution.id, admin.data.settlementSources[0].id,
      admin.data.member.changes.edges[0].node.id, ...admin.data.member.unit.contribution.payments.map((p: { id: string }) => p.id),
    ];
    expect(otherUnitsIds).toHaveLength(5);
    for (const auth of [operator, member]) {
      const nodes = await gw.query(auth, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: otherUnitsIds });
      expect(nodes.errors, auth.role).toBeUndefined();
      expect(nodes.data.nodes, auth.role).toEqual(otherUnitsIds.map(() => null));
    }
    // Their own unit's contribution: the operator may, a member may not (as Unit.contribution).
    const ownContribution = toGlobalId('Contribution', `${a.unitId}-2025`);
    expect((await gw.query(operator, `query($id: ID!) { node(id: $id) { id } }`, { id: ownContribution })).data.node).toEqual({ id: ownContribution });
    expect((await gw.query(member, `query($id: ID!) { node(id: $id) { id } }`, { id: ownContribution })).data.node).toBeNull();
    // Rule sets are public to every role, as `ruleSets` is.
    expect((await gw.query(member, `query($id: ID!) { node(id: $id) { id } }`, { id: admin.data.ruleSets[0].id })).data.node).toEqual({ id: admin.data.ruleSets[0].id });
  });
});

describe('who did something, as Actor objects', () => {
  const REVIEWER = { role: 'REVIEWER', sub: 'reviewer-qian' } as const;
  /** Every actor the API shows for `by` (a recorded subject): that subject, no role recorded, the viewer when it is the caller. */
  const actor = (by: string, viewer: string) => ({ subject: by, role: null, isViewer: by === viewer });

  it('shows who decided and who adjusted a claim, beside the deprecated strings', async () => {
    const c = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    await adjudicateSettlements(db.pool, [await seedSettlement(db.pool, c, { psn: '8,000.00' })], { autoApproveMaxFen: 0 });
    const id = toGlobalId('Claim', (await db.pool.query<{ id: number }>(`SELECT id FROM claims WHERE member_id = $1`, [c.memberId])).rows[0]!.id);
    const CLAIM = `query($id: ID!) { claim(id: $id) { status decidedBy decider { subject role isViewer } lines { id amountFen adjustedBy adjuster { subject role isViewer } } } }`;
    const pending = (await gw.query(REVIEWER, CLAIM, { id })).data.claim;
    expect(pending).toMatchObject({ status: 'PENDING_REVIEW', decidedBy: null, decider: null });
    const [line] = pending.lines;
    expect(line).toMatchObject({ adjustedBy: null, adjuster: null });
    const adjusted = await gw.query({ role: 'REVIEWER', sub: 'reviewer-zhao' }, `mutation($i: AdjustClaimLineInput!) { adjustClaimLine(input: $i) { userErrors { field } } }`,
      { i: { lineId: line.id, amountFen: line.amountFen - 100, reason: 'one item not covered' } });
    expect(adjusted.data.adjustClaimLine.userErrors).toEqual([]);
    const { totalFen } = (await gw.query(REVIEWER, `query($id: ID!) { claim(id: $id) { totalFen } }`, { id })).data.claim;
    const approved = await gw.query(REVIEWER, `mutation($id: ID!, $total: Fen!) { approveClaim(input: { claimId: $id, checkedTotalFen: $total }) { userErrors { field } } }`, { id, total: totalFen });
    expect(approved.data.approveClaim.userErrors).toEqual([]);

    const decided = (await gw.query(REVIEWER, CLAIM, { id })).data.claim;
    expect(decided).toMatchObject({ status: 'APPROVED', decidedBy: 'reviewer-qian', decider: actor('reviewer-qian', 'reviewer-qian') });
    expect(decided.lines[0]).toMatchObject({ adjustedBy: 'reviewer-zhao', adjuster: actor('reviewer-zhao', 'reviewer-qian') });
  });

  it('shows who published a rule set and who replaced and confirmed a bank account', async () => {
    const ruleSets = (await gw.query(ADMIN, `{ ruleSets { publishedBy publisher { subject role isViewer } } }`)).data.ruleSets;
    expect(ruleSets.length).toBeGreaterThan(0);
    for (const r of ruleSets) expect(r).toEqual({ publishedBy: 'shipped', publisher: actor('shipped', '') });

    const c = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    await setBankCard(db.pool, c.memberId, '6222020200112233460');
    const ACCOUNT = `query($m: ID!) { member(id: $m) { bankAccount { changedBy changer { subject role isViewer } confirmedBy confirmer { subject role isViewer } } } }`;
    const FINANCE = { role: 'FINANCE', sub: 'finance-li' } as const;
    expect((await gw.query(FINANCE, ACCOUNT, { m: toGlobalId('Member', c.memberId) })).data.member.bankAccount)
      .toEqual({ changedBy: null, changer: null, confirmedBy: null, confirmer: null });
    await db.pool.query(
      `UPDATE members SET bank_card_changed_at = now(), bank_card_changed_by = 'admin-chen', bank_card_confirmed_at = now(), bank_card_confirmed_by = 'finance-li' WHERE id = $1`,
      [c.memberId],
    );
    expect((await gw.query(FINANCE, ACCOUNT, { m: toGlobalId('Member', c.memberId) })).data.member.bankAccount).toEqual({
      changedBy: 'admin-chen', changer: actor('admin-chen', 'finance-li'), confirmedBy: 'finance-li', confirmer: actor('finance-li', 'finance-li'),
    });
  });

  it('shows who matched, resolved and started reconciliation and ingestion work', async () => {
    const date = '2025-06-09';
    const unit = await owingUnit(db.pool, 1);
    await importConfirmed(db.pool, handStatement(date, 1_000_000, [
      bookedEntry('CRDT', unit.owedFen, date, { details: [{ debtor: { name: '某公司工会', account: '35050164620700000456' }, remittanceInfo: [unit.reference] }] }),
      bookedEntry('DBIT', 23_456, date),
    ]));
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'schedule', asOf: date });
    const FINANCE = { role: 'FINANCE', sub: 'finance-zhou' } as const;
    const exceptions = (await gw.query(FINANCE, `{ reconciliationExceptions(filter: { status: OPEN }) { edges { node { id amountFen } } } }`)).data.reconciliationExceptions.edges;
    const exception = exceptions.map((e: { node: { id: string; amountFen: number } }) => e.node).find((x: { amountFen: number }) => x.amountFen === 23_456);
    const writeOff = await gw.query(FINANCE, `mutation($id: ID!) { writeOffReconciliationException(input: { exceptionId: $id, reason: "bank fee, booked by hand" }) {
      exception { status resolvedBy resolver { subject role isViewer } } userErrors { field } } }`, { id: exception.id });
    expect(writeOff.errors).toBeUndefined();
    expect(writeOff.data.writeOffReconciliationException).toEqual({
      exception: { status: 'RESOLVED', resolvedBy: 'finance-zhou', resolver: actor('finance-zhou', 'finance-zhou') }, userErrors: [],
    });

    const res = await gw.query(FINANCE, `{
      reconciliationMatches { edges { node { amountFen matchedBy matcher { subject role isViewer } } } }
      reconciliationRuns { edges { node { startedBy starter { subject role isViewer } } } }
    }`);
    expect(res.errors).toBeUndefined();
    const match = res.data.reconciliationMatches.edges.map((e: { node: { amountFen: number } }) => e.node).find((m: { amountFen: number }) => m.amountFen === unit.owedFen);
    expect(match).toEqual({ amountFen: unit.owedFen, matchedBy: 'reconciliation', matcher: actor('reconciliation', 'finance-zhou') });
    const runs = res.data.reconciliationRuns.edges.map((e: { node: unknown }) => e.node);
    expect(runs).toContainEqual({ startedBy: 'schedule', starter: actor('schedule', 'finance-zhou') });
    for (const run of runs) expect(run.starter).toEqual(actor(run.startedBy, 'finance-zhou'));
  });

  it('shows who started a settlement ingestion and who resolved a rejected record', async () => {
    const { rows: [source] } = await db.pool.query<{ name: string }>(`SELECT name FROM settlement_sources ORDER BY name LIMIT 1`);
    const { rows: [run] } = await db.pool.query<{ id: number }>(
      `INSERT INTO settlement_runs (source, kind, file_name, status, started_by, finished_at) VALUES ($1, 'FILE', 'setl.csv', 'DONE', 'uploader-he', now()) RETURNING id`, [source!.name],
    );
    await db.pool.query(
      `INSERT INTO settlement_rejections (source, run_id, record_key, setl_id, raw_enc, raw_masked, problems, status, settlement_id, resolved_at, resolved_by)
       VALUES ($1, $2, 'S-ACTOR-1', 'S-ACTOR-1', '\\x00', '{}', '[{"field": "certno", "reason": "check digit"}]', 'RESOLVED', $3, now(), 'clerk-lin')`,
      [source!.name, run!.id, refusedSettlement],
    );
    const UPLOADER = { role: 'ADMIN', sub: 'uploader-he' } as const;
    const res = await gw.query(UPLOADER, `{
      settlementIngestionRuns { edges { node { fileName startedBy starter { subject role isViewer } } } }
      settlementRejections(filter: { status: RESOLVED }) { edges { node { setlId resolvedBy resolver { subject role isViewer } } } }
    }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.settlementIngestionRuns.edges.map((e: { node: unknown }) => e.node))
      .toContainEqual({ fileName: 'setl.csv', startedBy: 'uploader-he', starter: actor('uploader-he', 'uploader-he') });
    expect(res.data.settlementRejections.edges.map((e: { node: unknown }) => e.node))
      .toContainEqual({ setlId: 'S-ACTOR-1', resolvedBy: 'clerk-lin', resolver: actor('clerk-lin', 'uploader-he') });
  });
});
