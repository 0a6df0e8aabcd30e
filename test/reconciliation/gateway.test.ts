import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { receiveDocument } from '../../src/reconciliation/ingest.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { startBank, testFilePki, UNION_ACCOUNT, type RunningBank } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, payoutsOf, submissionContext, keys } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { bookedEntry, handStatement, HUB, owingUnit, tableCounts } from './support.ts';

/**
 * Hand-written camt.053 files uploaded through the API: every kind of exception a statement can
 * raise, resolved by FINANCE (matched by hand, written off), each audited; the day proven once
 * resolved; the same file again changes nothing.
 */
const pki = testFilePki();
let db: TestDatabase;
let gw: TestGateway;
let bank: RunningBank;
let payouts: { id: number; e2e: string; amountFen: number; creditor: string }[];

const FINANCE = { role: 'FINANCE' as const, sub: 'finance-chen' };
const SECOND = { role: 'FINANCE' as const, sub: 'finance-li' };
const AUDITOR = { role: 'AUDITOR' as const };
const DAY = '2025-06-02';

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  bank = await startBank(pki);
  await approvedClaims(db.pool, 3);
  const ctx = submissionContext(db.pool, pki, bank);
  const batch = await approvedBatch(db.pool);
  expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
  ctx.remove();
  const { rows } = await db.pool.query<{ id: number; e2e: string; amountFen: number; creditor: string }>(
    `SELECT payout_id AS id, end_to_end_id AS e2e, amount_fen AS "amountFen", creditor_name AS creditor FROM payout_attempts ORDER BY id`,
  );
  payouts = rows;
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

const UPLOAD = `mutation($input: UploadBankStatementInput!) { uploadBankStatement(input: $input) { document { id kind status entries newEntries problems { field reason } } } }`;
const CONFIRM = `mutation($input: ConfirmBankDocumentInput!) { confirmBankDocument(input: $input) { document { id status entries newEntries confirmedBy } } }`;
const EXCEPTIONS = `query($filter: ReconciliationExceptionFilter) {
  reconciliationExceptions(first: 50, filter: $filter) { totalCount totalAmountFen edges { node { id kind amountFen reason endToEndId status ageDays entry { accountServicerRef state } } } }
}`;
const REPORT = `query($account: String!, $date: Date!) {
  reconciliationReport(account: $account, date: $date) { entries matched pending openExceptions { kind count amountFen }
    proof { openingFen closingFen creditsFen debitsFen balanced expectedClosingFen differenceFen proven problems statement { final } } }
}`;
const EXCEPTION_FIELDS = `id status resolution resolvedBy resolutionReason entry { state matches { kind rule amountFen endToEndId matchedBy } } pendingProposal { id proposedBy }`;
const USER_ERRORS = 'userErrors { field code message }';
const MATCH = `mutation($input: MatchReconciliationExceptionInput!) { matchReconciliationException(input: $input) { exception { ${EXCEPTION_FIELDS} } ${USER_ERRORS} } }`;
const WRITE_OFF = `mutation($input: WriteOffReconciliationExceptionInput!) { writeOffReconciliationException(input: $input) { exception { ${EXCEPTION_FIELDS} } ${USER_ERRORS} } }`;
const CONFIRM_PROPOSAL = `mutation($input: DecideFourEyesProposalInput!) { confirmFourEyesProposal(input: $input) { proposal { status exception { ${EXCEPTION_FIELDS} } } } }`;

/**
 * FINANCE resolves; above FOUR_EYES_ABOVE_FEN (the payouts here are), or for a credit that would
 * cover a unit's enrolments, that is a proposal the proposer cannot confirm and a second person
 * does. The exception as it ends up.
 */
async function resolve(mutation: string, input: Record<string, unknown>) {
  const { data } = await gw.query(FINANCE, mutation, { input });
  const payload = Object.values(data)[0] as { exception: { status: string; pendingProposal: { id: string; proposedBy: string } | null }; userErrors: unknown[] };
  expect(payload.userErrors).toEqual([]);
  const { exception } = payload;
  if (!exception.pendingProposal) return exception;
  expect(exception).toMatchObject({ status: 'OPEN', pendingProposal: { proposedBy: 'finance-chen' } });
  const proposal = { input: { proposalId: exception.pendingProposal.id } };
  expect((await gw.query(FINANCE, CONFIRM_PROPOSAL, proposal)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  return (await gw.query(SECOND, CONFIRM_PROPOSAL, proposal)).data.confirmFourEyesProposal.proposal.exception;
}

describe('hand-written statements through the API', () => {
  it('raises every exception a statement can carry; FINANCE resolves them, audited, and the day is proven', async () => {
    const unit = await owingUnit(db.pool, 3);
    const silent = await owingUnit(db.pool, 1);
    const [p0, p1, p2] = payouts;
    const entries = [
      bookedEntry('DBIT', p0!.amountFen, DAY, { details: [{ endToEndId: p0!.e2e, creditor: { name: p0!.creditor }, remittanceInfo: [] }] }),
      bookedEntry('DBIT', p0!.amountFen, DAY, { details: [{ endToEndId: p0!.e2e, remittanceInfo: [] }] }), // the bank debits it twice
      bookedEntry('DBIT', p1!.amountFen + 1, DAY, { details: [{ endToEndId: p1!.e2e, remittanceInfo: [] }] }), // one fen too much
      bookedEntry('DBIT', p2!.amountFen, DAY, { details: [{ creditor: { name: '名字不同' }, remittanceInfo: [] }] }), // no reference the hub knows
      bookedEntry('CRDT', unit.owedFen, DAY, { details: [{ debtor: { name: '某公司工会', account: '35050164620700000123' }, remittanceInfo: [unit.reference] }] }),
      bookedEntry('CRDT', silent.owedFen, DAY, { details: [{ debtor: { name: '某单位', account: '35050164620700000999' }, remittanceInfo: ['会费'] }] }),
    ];
    const xml = handStatement(DAY, 100_000_000, entries);

    expect((await gw.query(AUDITOR, UPLOAD, { input: { fileName: 'camt053-20250602.xml', content: xml } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Hand-written, so without the bank's seal: it waits for a second person.
    const uploaded = await gw.query(FINANCE, UPLOAD, { input: { fileName: 'camt053-20250602.xml', content: xml } });
    expect(uploaded.data.uploadBankStatement.document).toMatchObject({ kind: 'CAMT_053', status: 'AWAITING_CONFIRMATION', entries: 6, newEntries: 0, problems: [] });
    const confirmed = await gw.query(SECOND, CONFIRM, { input: { documentId: uploaded.data.uploadBankStatement.document.id, reason: '已与网银流水核对' } });
    expect(confirmed.data.confirmBankDocument.document).toMatchObject({ status: 'ACCEPTED', entries: 6, newEntries: 6, confirmedBy: 'finance-li' });
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ entries: 6, matched: 2, exceptions: 4 });

    const open = (await gw.query(AUDITOR, EXCEPTIONS)).data.reconciliationExceptions;
    expect(open.totalCount).toBe(4);
    expect(open.edges.map((e: any) => e.node.kind)).toEqual(['DUPLICATE_DEBIT', 'AMOUNT_MISMATCH', 'UNMATCHED_DEBIT', 'UNKNOWN_CREDIT']);
    expect(open.totalAmountFen).toBe(p0!.amountFen + p1!.amountFen + 1 + p2!.amountFen + silent.owedFen);
    expect(open.edges[1].node).toMatchObject({ endToEndId: p1!.e2e, reason: expect.stringContaining('the bank debited'), ageDays: 0, entry: { state: 'EXCEPTION' } });
    const byKind = Object.fromEntries(open.edges.map((e: any) => [e.node.kind, e.node.id]));
    const filtered = await gw.query(AUDITOR, EXCEPTIONS, { filter: { kind: 'UNKNOWN_CREDIT', maxAmountFen: silent.owedFen, minAgeDays: 0 } });
    expect(filtered.data.reconciliationExceptions.edges.map((e: any) => e.node.id)).toEqual([byKind.UNKNOWN_CREDIT]);

    // The day does not prove: by exactly the entries the hub cannot account for.
    const before = (await gw.query(AUDITOR, REPORT, { account: UNION_ACCOUNT, date: DAY })).data.reconciliationReport;
    expect(before).toMatchObject({ entries: 6, matched: 2, pending: 0, proof: { balanced: true, proven: false, statement: { final: true } } });
    expect(before.proof.differenceFen).toBe(silent.owedFen - (p0!.amountFen + p1!.amountFen + 1 + p2!.amountFen));

    // Refusals first: the wrong role, a short reason, a sum off by a fen.
    expect((await gw.query(AUDITOR, WRITE_OFF, { input: { exceptionId: byKind.DUPLICATE_DEBIT, reason: '银行重复扣款' } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gw.query(FINANCE, WRITE_OFF, { input: { exceptionId: byKind.DUPLICATE_DEBIT, reason: 'ok' } })).data.writeOffReconciliationException.userErrors).toMatchObject([{ code: 'INVALID', field: 'input.reason' }]);
    const offByOne = await gw.query(FINANCE, MATCH, { input: { exceptionId: byKind.UNKNOWN_CREDIT, contributions: [{ unitId: toGlobalId('Unit', silent.id), planYear: 2025, amountFen: silent.owedFen - 1 }] } });
    expect(offByOne.data.matchReconciliationException).toMatchObject({ exception: null, userErrors: [{ code: 'INVALID', field: 'input.contributions' }] });
    const already = await gw.query(FINANCE, MATCH, { input: { exceptionId: byKind.DUPLICATE_DEBIT, endToEndIds: [p0!.e2e] } });
    expect(already.data.matchReconciliationException).toMatchObject({ exception: null, userErrors: [{ code: 'CONFLICT', field: 'input.endToEndIds[0]' }] });

    // Resolved: the unknown debit is the third payout, the unknown credit the silent unit's contribution.
    expect(p2!.amountFen).toBeGreaterThan(100_000);
    const matched = await resolve(MATCH, { exceptionId: byKind.UNMATCHED_DEBIT, endToEndIds: [p2!.e2e], note: '银行未带回单号，核对回单后确认' });
    expect(matched).toMatchObject({
      status: 'RESOLVED', resolution: 'MATCHED', resolvedBy: 'finance-li',
      entry: { state: 'RESOLVED', matches: [{ kind: 'PAYOUT', rule: 'MANUAL', amountFen: p2!.amountFen, endToEndId: p2!.e2e, matchedBy: 'finance-li' }] },
    });
    // Under the threshold, but it pays the silent unit's year and so covers its member (attack 139).
    const credit = await resolve(MATCH, { exceptionId: byKind.UNKNOWN_CREDIT, contributions: [{ unitId: toGlobalId('Unit', silent.id), planYear: 2025, amountFen: silent.owedFen }] });
    expect(credit).toMatchObject({ resolvedBy: 'finance-li', entry: { matches: [{ kind: 'CONTRIBUTION', rule: 'MANUAL' }] } });
    for (const kind of ['DUPLICATE_DEBIT', 'AMOUNT_MISMATCH']) {
      const off = await resolve(WRITE_OFF, { exceptionId: byKind[kind], reason: '银行差错，已书面通知银行冲正' });
      expect(off).toMatchObject({ status: 'RESOLVED', resolution: 'WRITTEN_OFF' });
    }
    expect((await gw.query(FINANCE, WRITE_OFF, { input: { exceptionId: byKind.AMOUNT_MISMATCH, reason: 'again, once more' } })).data.writeOffReconciliationException.userErrors)
      .toEqual([{ field: 'input.exceptionId', code: 'CONFLICT', message: 'input.exceptionId: is resolved already' }]);

    const after = (await gw.query(AUDITOR, REPORT, { account: UNION_ACCOUNT, date: DAY })).data.reconciliationReport;
    expect(after).toMatchObject({ matched: 6, openExceptions: [], proof: { proven: true, differenceFen: 0, problems: [] } });
    expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['SETTLED', 'PAID', 'SETTLED']);
    const audit = await db.pool.query<{ action: string; actor: string }>(`SELECT action, actor FROM audit_log WHERE action LIKE 'reconciliation.%' ORDER BY seq`);
    expect(audit.rows).toEqual([
      { action: 'reconciliation.exception.match', actor: 'finance-li' }, { action: 'reconciliation.exception.match', actor: 'finance-li' },
      ...[p0!.amountFen, p1!.amountFen + 1].map((fen) => ({ action: 'reconciliation.exception.write_off', actor: fen > 100_000 ? 'finance-li' : 'finance-chen' })),
    ]);

    // Both units' contributions are paid, fed by the bank's credits.
    const contribution = `query($id: ID!) { node(id: $id) { ... on Unit { contribution(planYear: 2025) { owedFen paidFen status payments { source amountFen } } } } }`;
    for (const u of [unit, silent]) {
      const c = (await gw.query({ role: 'ADMIN' }, contribution, { id: toGlobalId('Unit', u.id) })).data.node.contribution;
      expect(c).toMatchObject({ owedFen: u.owedFen, paidFen: u.owedFen, status: 'PAID', payments: [{ source: 'BANK', amountFen: u.owedFen }] });
    }

    // The same file again, through the API and as a file: nothing changes but the audit log's record of both.
    const counts = await tableCounts(db.pool);
    expect((await gw.query(FINANCE, UPLOAD, { input: { fileName: 'again.xml', content: xml } })).data.uploadBankStatement.document).toMatchObject({ status: 'ACCEPTED' });
    expect(await receiveDocument(db.pool, { xml, source: 'FILE', receivedBy: 'cli' }, HUB)).toMatchObject({ duplicate: true });
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ entries: 0, exceptions: 0 });
    expect(await tableCounts(db.pool)).toEqual({ ...counts, audit_log: counts.audit_log! + 2 });
  });

  it('serves statements, entries, matches and runs as connections with global IDs, to the reading roles only', async () => {
    const query = `{
      bankStatements(first: 5) { totalCount edges { node { id account date openingFen closingFen proof { proven } entries(first: 2) { totalCount edges { node { id } } pageInfo { hasNextPage } } } } }
      statementEntries(first: 3, filter: { creditDebit: CRDT }) { totalCount edges { node { id creditDebit counterpartyName remittanceInfo } } }
      reconciliationMatches(first: 10, filter: { kind: CONTRIBUTION }) { totalCount edges { node { id unit { id } planYear contribution { status } } } }
      reconciliationRuns(first: 1) { totalCount edges { node { id status entries } } }
      bankDocuments(first: 5) { totalCount edges { node { id source receivedBy status } } }
    }`;
    const { data } = await gw.query(AUDITOR, query);
    const statement = data.bankStatements.edges[0].node;
    expect(statement).toMatchObject({ account: UNION_ACCOUNT, date: DAY, openingFen: 100_000_000, proof: { proven: true }, entries: { totalCount: 6, pageInfo: { hasNextPage: true } } });
    expect(data.statementEntries.totalCount).toBe(2);
    expect(data.reconciliationRuns.totalCount).toBe((await db.pool.query(`SELECT count(*)::int AS n FROM reconciliation_runs`)).rows[0].n);
    expect(data.reconciliationRuns.edges).toHaveLength(1);
    expect(data.reconciliationMatches.edges.map((e: any) => e.node.contribution.status)).toEqual(['PAID', 'PAID']);
    expect(data.bankDocuments.edges[0].node).toMatchObject({ source: 'UPLOAD', receivedBy: 'finance-chen', status: 'ACCEPTED' });
    const node = await gw.query(AUDITOR, `query($id: ID!) { node(id: $id) { ... on BankStatement { date } } }`, { id: statement.id });
    expect(node.data.node).toEqual({ date: DAY });
    expect((await gw.query({ role: 'REVIEWER' }, `{ bankStatements { totalCount } }`)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gw.query({ role: 'REVIEWER' }, `query($id: ID!) { node(id: $id) { id } }`, { id: statement.id })).data.node).toBeNull();
  });

  it('keeps a refused document with every reason, lists it, and processes it again on retry', async () => {
    const broken = handStatement('2025-06-03', 100_000_000, [bookedEntry('CRDT', 100, '2025-06-03')]).replace('<Ccy>CNY</Ccy>', '<Ccy>cny</Ccy>');
    const rejected = (await gw.query(FINANCE, UPLOAD, { input: { fileName: 'broken.xml', content: broken } })).data.uploadBankStatement.document;
    expect(rejected).toMatchObject({ status: 'REJECTED', entries: 0, problems: [{ field: expect.stringMatching(/^line \d+$/), reason: expect.stringContaining('camt.053 schema') }] });
    const listed = await gw.query(AUDITOR, `{ bankDocuments(filter: { status: REJECTED }) { edges { node { id fileName problems { reason } } } } }`);
    expect(listed.data.bankDocuments.edges.map((e: any) => e.node.id)).toEqual([rejected.id]);
    const retried = await gw.query(FINANCE, `mutation($id: ID!) { retryBankDocument(input: { documentId: $id }) { document { id status } } }`, { id: rejected.id });
    expect(retried.data.retryBankDocument.document).toEqual({ id: rejected.id, status: 'REJECTED' });
  });
});
