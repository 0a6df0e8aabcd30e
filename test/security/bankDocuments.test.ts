import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCamt054 } from '../../src/banks/iso20022/camt.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { fetchFromBank } from '../../src/reconciliation/fetch.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { simulatorCertificates } from '../../src/banks/simulator/certificates.ts';
import { sealDocument } from '../../src/seals/cms/seal.ts';
import { startBank, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, payoutsOf, submissionContext, keys } from '../payouts/support.ts';
import { bookedEntry, handStatement, HUB, importConfirmed, owingUnit } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { chinaToday } from '../../src/kernel/time.ts';

/**
 * Issue 13, bank documents: an uploaded statement is evidence, not a command. XML declarations
 * never reach a parser or validator (attack 2); a document without the bank's verified seal moves
 * no money until a second person confirms it (attack 3); manual money decisions above
 * FOUR_EYES_ABOVE_FEN (100,000 fen by default) need a second person (attack 8).
 */

const pki = testFilePki();
let db: TestDatabase;
let gw: TestGateway;

const FINANCE_A = { role: 'FINANCE' as const, sub: 'finance-wang' };
const FINANCE_B = { role: 'FINANCE' as const, sub: 'finance-zhao' };
const AUDITOR = { role: 'AUDITOR' as const, sub: 'auditor-chen' };
const ABOVE = 100_000;

const UPLOAD = `mutation($input: UploadBankStatementInput!) { uploadBankStatement(input: $input) { document { id status entries newEntries problems { field reason } } } }`;
const CONFIRM_DOCUMENT = `mutation($input: ConfirmBankDocumentInput!) { confirmBankDocument(input: $input) { document { id status newEntries confirmedBy } } }`;
const EXCEPTION = `id status resolution resolvedBy pendingProposal { id kind amountFen proposedBy status }`;
const CONFIRM = `mutation($input: DecideFourEyesProposalInput!) { confirmFourEyesProposal(input: $input) { proposal { status decidedBy exception { ${EXCEPTION} } } userErrors { field code } } }`;
const PROPOSALS = `query($filter: FourEyesProposalFilter) { fourEyesProposals(filter: $filter) { edges { node { id kind amountFen proposedBy status decision unit { id } } } } }`;

beforeAll(async () => {
  // The gateway recognises the bank's seal as the adapter does: this file's development certificates.
  process.env.CERTS_DIR = pki.certsDir;
  db = await freshDatabase();
  gw = await startTestGateway(db);
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

const auditActions = async (actions: string[]) =>
  (await db.pool.query<{ action: string; actor: string; target_id: string; details: Record<string, unknown> }>(
    `SELECT action, actor, target_id, details FROM audit_log WHERE action = ANY($1::text[]) ORDER BY seq`, [actions],
  )).rows;

describe('attack 2: XXE and SSRF through an uploaded statement', () => {
  let listener: Server;
  let requests: string[];
  let dir: string;
  const CANARY = 'CANARY-4711-do-not-echo';

  beforeAll(async () => {
    requests = [];
    listener = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end('<!ENTITY leak "fetched">');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    dir = mkdtempSync(path.join(tmpdir(), 'hub-xxe-'));
    writeFileSync(path.join(dir, 'secret.txt'), `${CANARY}\nsecond line\n`);
  });
  afterAll(async () => {
    await new Promise((resolve) => listener.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a DOCTYPE or ENTITY before any parser or validator sees it, fetching nothing and echoing nothing', async () => {
    const port = (listener.address() as AddressInfo).port;
    const statement = handStatement('2025-07-01', 10_000, [bookedEntry('CRDT', 100, '2025-07-01')]);
    const withEntity = (dtd: string) => statement.replace('<Document', `${dtd}\n<Document`).replace(/<MsgId>[^<]*<\/MsgId>/, '<MsgId>&xxe;</MsgId>');
    const secretFile = path.join(dir, 'secret.txt');
    const attacks = {
      http: withEntity(`<!DOCTYPE Document [<!ENTITY xxe SYSTEM "http://127.0.0.1:${port}/ssrf">]>`),
      file: withEntity(`<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://${secretFile}">]>`),
      parameter: withEntity(`<!DOCTYPE Document [<!ENTITY % p SYSTEM "http://127.0.0.1:${port}/evil.dtd"> %p;]>`),
      'external DTD': statement.replace('<Document', `<!DOCTYPE Document SYSTEM "http://127.0.0.1:${port}/camt.dtd">\n<Document`),
      // UTF-7 spells "<!DOCTYPE" without a "<" a text search would see.
      'UTF-7': statement.replace(/^<\?xml[^>]*\?>/, '<?xml version="1.0" encoding="UTF-7"?>').replace('<Document', `+ADw-!DOCTYPE Document SYSTEM "http://127.0.0.1:${port}/u7"+AD4-\n<Document`),
    };
    for (const [name, content] of Object.entries(attacks)) {
      const { data } = await gw.query(FINANCE_A, UPLOAD, { input: { fileName: `${name}.xml`, content } });
      const document = data.uploadBankStatement.document;
      expect(document, name).toMatchObject({ status: 'REJECTED', entries: 0, newEntries: 0 });
      expect(document.problems, name).toEqual([{
        field: 'Document',
        reason: name === 'UTF-7' ? 'must be UTF-8: the XML declaration names another encoding (line 1)' : expect.stringMatching(/^must not declare a DOCTYPE or an ENTITY \(line 2\): ISO 20022 messages have no DTD$/),
      }]);
      // Kept, and retryable, with the same answer.
      const retried = await gw.query(FINANCE_A, `mutation($id: ID!) { retryBankDocument(input: { documentId: $id }) { document { status problems { reason } } } }`, { id: document.id });
      expect(retried.data.retryBankDocument.document.status, name).toBe('REJECTED');
    }
    expect(requests).toEqual([]);
    const stored = JSON.stringify((await db.pool.query(`SELECT problems FROM bank_documents`)).rows);
    for (const text of [CANARY, 'second line', 'ssrf', secretFile, 'xxe']) expect(stored).not.toContain(text);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM statement_entries`)).rows[0].n).toBe(0);
  });

  it('names the line and rule of a schema problem without echoing the document\'s text', async () => {
    const statement = handStatement('2025-07-02', 10_000, [bookedEntry('CRDT', 100, '2025-07-02')]);
    const content = statement.replace(/<CreDtTm>[^<]*<\/CreDtTm>/, `<CreDtTm>${CANARY} it's is not a valid value</CreDtTm>`);
    const { data } = await gw.query(FINANCE_A, UPLOAD, { input: { fileName: 'bad-date.xml', content } });
    expect(data.uploadBankStatement.document.status).toBe('REJECTED');
    expect(data.uploadBankStatement.document.problems[0]).toEqual({
      field: expect.stringMatching(/^line \d+$/), reason: "camt.053 schema: Element 'CreDtTm': the value is not a valid value of the atomic type 'ISODateTime'.",
    });
    expect(JSON.stringify(data.uploadBankStatement.document.problems)).not.toContain('CANARY');
  });
});

describe('attack 3: a forged, unsealed statement re-opens a settled payout', () => {
  it('keeps the payout SETTLED until a second person confirms the upload; the uploader cannot; the upload is audited', async () => {
    await approvedClaims(db.pool, 1);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    const batch = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
    ctx.remove();
    // The bank's own, sealed documents settle it, as today.
    const today = chinaToday();
    const fetched = await fetchFromBank(db.pool, bank.adapter, [UNION_ACCOUNT], today, 0, HUB);
    expect(fetched.documents.every((d) => d.status === 'ACCEPTED')).toBe(true);
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
    expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['SETTLED']);

    // A camt.054 saying the bank returned it, written by hand.
    const { rows: [paid] } = await db.pool.query<{ e2e: string; amountFen: number }>(`SELECT end_to_end_id AS e2e, amount_fen AS "amountFen" FROM payout_attempts`);
    const forgedReturn = bookedEntry('CRDT', paid!.amountFen, today, {
      bankTransactionCode: { domain: { code: 'PMNT', family: 'RCDT', subFamily: 'RRTN' } },
      details: [{ endToEndId: paid!.e2e, returnInfo: { reasonCode: 'AC04' }, remittanceInfo: [] }],
    });
    const createdAt = `${today}T15:00:00+08:00`;
    const xml = writeCamt054({ msgId: 'FORGED054', createdAt, notifications: [{ id: 'FORGED054', createdAt, account: { id: UNION_ACCOUNT }, entries: [forgedReturn] }] });
    const uploaded = (await gw.query(FINANCE_A, UPLOAD, { input: { fileName: 'return.xml', content: xml } })).data.uploadBankStatement.document;
    expect(uploaded).toMatchObject({ status: 'AWAITING_CONFIRMATION', entries: 1, newEntries: 0, problems: [] });

    // Stored and shown, but nothing of it moves money: reconciling finds no entry of it.
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
    expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['SETTLED']);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM statement_entries WHERE account_servicer_ref = $1`, [forgedReturn.accountServicerRef])).rows[0].n).toBe(0);
    const shown = await gw.query(AUDITOR, `{ bankDocuments(filter: { status: AWAITING_CONFIRMATION }) { edges { node { id status entries receivedBy sealedBy } } } }`);
    expect(shown.data.bankDocuments.edges.map((e: any) => e.node)).toEqual([{ id: uploaded.id, status: 'AWAITING_CONFIRMATION', entries: 1, receivedBy: 'finance-wang', sealedBy: null }]);

    // The uploader cannot confirm it; neither can the database be talked into it.
    const own = await gw.query(FINANCE_A, CONFIRM_DOCUMENT, { input: { documentId: uploaded.id, reason: 'I checked it myself' } });
    expect(own.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const id = Number(Buffer.from(uploaded.id, 'base64url').toString().split(':')[1]);
    await expect(db.pool.query(`UPDATE bank_documents SET status = 'RECEIVED', confirmed_by = received_by, confirmed_at = now(), confirmation_reason = 'self' WHERE id = $1`, [id]))
      .rejects.toThrow(/bank_documents_four_eyes/);
    await expect(db.pool.query(`UPDATE bank_documents SET status = 'ACCEPTED' WHERE id = $1`, [id])).rejects.toThrow(/bank_documents_trusted/);
    expect((await gw.query(AUDITOR, CONFIRM_DOCUMENT, { input: { documentId: uploaded.id, reason: 'looks fine' } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['SETTLED']);

    // Every upload is in the audit log: who, the document's hash, kind and seal verdict.
    const [upload] = await auditActions(['bank_document.upload']).then((rows) => rows.filter((r) => r.target_id === String(id)));
    expect(upload).toMatchObject({ actor: 'finance-wang', details: { kind: 'camt.054', seal: 'none', duplicate: false, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });

    // A second person who checked it with the bank confirms: only now does it count.
    const confirmed = await gw.query(FINANCE_B, CONFIRM_DOCUMENT, { input: { documentId: uploaded.id, reason: '已电话核实：银行确认退票' } });
    expect(confirmed.data.confirmBankDocument.document).toMatchObject({ status: 'ACCEPTED', newEntries: 1, confirmedBy: 'finance-zhao' });
    expect(await auditActions(['bank_document.confirm'])).toMatchObject([{ actor: 'finance-zhao', target_id: String(id) }]);
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
    expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['FAILED']);
  });
});

describe('attack 3: an upload with its seal', () => {
  it('proceeds at once with the bank\'s verified seal, and waits with any other (kept with why)', async () => {
    const date = '2025-07-20';
    const sealed = handStatement(date, 0, [bookedEntry('CRDT', 500, date)]);
    const bankSeal = sealDocument(Buffer.from(sealed, 'utf8'), simulatorCertificates(pki.certsDir).bankSeal).toString('base64');
    const UPLOAD_SEALED = `mutation($input: UploadBankStatementInput!) { uploadBankStatement(input: $input) { document { status newEntries sealedBy sealProblem } userErrors { field code } } }`;
    const accepted = await gw.query(FINANCE_A, UPLOAD_SEALED, { input: { fileName: 'sealed.xml', content: sealed, sealBase64: bankSeal } });
    expect(accepted.data.uploadBankStatement.document).toMatchObject({ status: 'ACCEPTED', newEntries: 1, sealedBy: expect.any(String), sealProblem: null });

    // The bank's seal over other bytes, and our own union seal, are no bank seal.
    const other = handStatement('2025-07-21', 0, [bookedEntry('CRDT', 600, '2025-07-21')]);
    const union = sealDocument(Buffer.from(other, 'utf8'), pki.union).toString('base64');
    for (const sealBase64 of [bankSeal, union]) {
      const waiting = await gw.query(FINANCE_A, UPLOAD_SEALED, { input: { fileName: 'other.xml', content: other, sealBase64 } });
      expect(waiting.data.uploadBankStatement.document).toMatchObject({ status: 'AWAITING_CONFIRMATION', newEntries: 0, sealedBy: null, sealProblem: expect.any(String) });
    }
    expect((await gw.query(FINANCE_A, UPLOAD_SEALED, { input: { fileName: 'x.xml', content: other, sealBase64: '%%%' } })).data.uploadBankStatement)
      .toEqual({ document: null, userErrors: [{ code: 'INVALID', field: 'input.sealBase64' }] });
    const seals = (await auditActions(['bank_document.upload'])).map((r) => String(r.details.seal)).slice(-3);
    expect(seals).toEqual([expect.stringMatching(/^verified: /), expect.stringMatching(/^refused: /), expect.stringMatching(/^refused: /)]);
  });
});

describe('attack 8: four eyes on manual money decisions above FOUR_EYES_ABOVE_FEN', () => {
  const PAY = `mutation($u: ID!, $a: Fen!, $r: String!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: $a, reference: $r, paidOn: "2025-03-05" }) { contribution { paidFen } userErrors { field code } } }`;

  it('a manual contribution payment above it is pending until another person confirms; the proposer cannot', async () => {
    const unit = await owingUnit(db.pool, 30);
    const u = toGlobalId('Unit', unit.id);
    const INSTALMENT = 4_000;
    // Under it and covering no member (40.00 of the first one's 100.00): at once, as before. (One covering a member
    // waits whatever its amount: attack 137, smallUnitManualPayment.test.ts.)
    expect((await gw.query(FINANCE_A, PAY, { u, a: INSTALMENT, r: 'TRANSFER-UNDER' })).data.recordContributionPayment.contribution.paidFen).toBe(INSTALMENT);
    // Above: nothing is paid yet.
    expect((await gw.query(FINANCE_A, PAY, { u, a: ABOVE + 1, r: 'TRANSFER-ABOVE' })).data.recordContributionPayment.contribution.paidFen).toBe(INSTALMENT);
    const again = await gw.query(FINANCE_A, PAY, { u, a: ABOVE + 1, r: 'TRANSFER-ABOVE' });
    expect(again.data.recordContributionPayment).toEqual({ contribution: null, userErrors: [{ code: 'CONFLICT', field: 'input.reference' }] });
    const pending = (await gw.query(AUDITOR, PROPOSALS, { filter: { kind: 'CONTRIBUTION_PAYMENT' } })).data.fourEyesProposals.edges.map((e: any) => e.node);
    expect(pending).toMatchObject([{ kind: 'CONTRIBUTION_PAYMENT', amountFen: ABOVE + 1, proposedBy: 'finance-wang', status: 'PENDING', unit: { id: u } }]);
    expect(pending[0].decision).toMatchObject({ reference: 'TRANSFER-ABOVE', amountFen: ABOVE + 1 });
    const counted = await gw.query(AUDITOR, `{ pending: fourEyesProposals(first: 1, filter: { kind: CONTRIBUTION_PAYMENT }) { totalCount } done: fourEyesProposals(filter: { status: CONFIRMED }) { totalCount } }`);
    expect(counted.data).toEqual({ pending: { totalCount: 1 }, done: { totalCount: 0 } });

    const proposal = { input: { proposalId: pending[0].id } };
    expect((await gw.query(FINANCE_A, CONFIRM, proposal)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const proposalId = Number(Buffer.from(pending[0].id, 'base64url').toString().split(':')[1]);
    await expect(db.pool.query(`UPDATE four_eyes_proposals SET status = 'CONFIRMED', decided_by = proposed_by, decided_at = now() WHERE id = $1`, [proposalId]))
      .rejects.toThrow(/four_eyes_proposals_check/);
    const paidFen = async () => (await db.pool.query(`SELECT coalesce(sum(amount_fen), 0)::int AS n FROM contribution_payments WHERE unit_id = $1`, [unit.id])).rows[0].n;
    expect(await paidFen()).toBe(INSTALMENT);

    expect((await gw.query(FINANCE_B, CONFIRM, { input: { proposalId: pending[0].id, reason: '核对网银回单' } })).data.confirmFourEyesProposal.proposal).toMatchObject({ status: 'CONFIRMED', decidedBy: 'finance-zhao' });
    expect(await paidFen()).toBe(INSTALMENT + ABOVE + 1);
    expect((await gw.query(FINANCE_B, CONFIRM, proposal)).data.confirmFourEyesProposal).toEqual({ proposal: null, userErrors: [{ code: 'CONFLICT', field: 'input.proposalId' }] });
    const audit = await auditActions(['four_eyes.propose', 'four_eyes.confirm', 'contribution.payment']);
    expect(audit.map((r) => [r.action, r.actor])).toEqual([
      ['contribution.payment', 'finance-wang'], ['four_eyes.propose', 'finance-wang'], ['four_eyes.confirm', 'finance-zhao'], ['contribution.payment', 'finance-zhao'],
    ]);
    expect(audit[3]!.details).toMatchObject({ proposalId, proposedBy: 'finance-wang', reference: 'TRANSFER-ABOVE' });
  });

  it('an exception match or write-off above it is pending until another person confirms; the proposer cannot', async () => {
    const date = '2025-07-10';
    const unit = await owingUnit(db.pool, 25);
    const credit = (fen: number) => bookedEntry('CRDT', fen, date, { details: [{ debtor: { name: '某单位', account: '35050164620700000777' }, remittanceInfo: ['汇款'] }] });
    expect(await importConfirmed(db.pool, handStatement(date, 0, [credit(200_000), credit(300_000)]))).toMatchObject({ status: 'ACCEPTED' });
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: date });
    const { rows } = await db.pool.query<{ id: number; amountFen: number }>(
      `SELECT id, amount_fen AS "amountFen" FROM reconciliation_exceptions WHERE kind = 'UNKNOWN_CREDIT' AND occurred_on = $1 ORDER BY amount_fen`, [date],
    );
    const [toMatch, toWriteOff] = rows.map((r) => toGlobalId('ReconciliationException', r.id));

    const match = await gw.query(FINANCE_A, `mutation($input: MatchReconciliationExceptionInput!) { matchReconciliationException(input: $input) { exception { ${EXCEPTION} } } }`,
      { input: { exceptionId: toMatch, contributions: [{ unitId: toGlobalId('Unit', unit.id), planYear: 2025, amountFen: 200_000 }] } });
    expect(match.data.matchReconciliationException.exception).toMatchObject({ status: 'OPEN', pendingProposal: { kind: 'EXCEPTION_MATCH', amountFen: 200_000, proposedBy: 'finance-wang' } });
    const writeOff = await gw.query(FINANCE_A, `mutation($input: WriteOffReconciliationExceptionInput!) { writeOffReconciliationException(input: $input) { exception { ${EXCEPTION} } } }`,
      { input: { exceptionId: toWriteOff, reason: '银行差错，已通知银行' } });
    expect(writeOff.data.writeOffReconciliationException.exception).toMatchObject({ status: 'OPEN', pendingProposal: { kind: 'EXCEPTION_WRITE_OFF', amountFen: 300_000 } });
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM contribution_payments WHERE unit_id = $1`, [unit.id])).rows[0].n).toBe(0);

    for (const [proposal, resolution] of [[match.data.matchReconciliationException.exception.pendingProposal, 'MATCHED'], [writeOff.data.writeOffReconciliationException.exception.pendingProposal, 'WRITTEN_OFF']]) {
      expect((await gw.query(FINANCE_A, CONFIRM, { input: { proposalId: proposal.id } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const confirmed = (await gw.query(FINANCE_B, CONFIRM, { input: { proposalId: proposal.id, reason: '复核无误' } })).data.confirmFourEyesProposal.proposal;
      expect(confirmed).toMatchObject({ status: 'CONFIRMED', exception: { status: 'RESOLVED', resolution, resolvedBy: 'finance-zhao', pendingProposal: null } });
    }
    expect((await db.pool.query(`SELECT sum(amount_fen)::int AS n FROM contribution_payments WHERE unit_id = $1`, [unit.id])).rows[0].n).toBe(200_000);
    const audit = await auditActions(['reconciliation.exception.match', 'reconciliation.exception.write_off']);
    expect(audit.map((r) => [r.action, r.actor, r.details.proposedBy])).toEqual([
      ['reconciliation.exception.match', 'finance-zhao', 'finance-wang'], ['reconciliation.exception.write_off', 'finance-zhao', 'finance-wang'],
    ]);
  });
});
