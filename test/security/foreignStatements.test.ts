import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankAdapter, BankDocument } from '../../src/banks/adapter.ts';
import { parseCamt053, parseCamt054, writeCamt053, writeCamt054, type Camt053Message, type Camt054Message } from '../../src/banks/iso20022/camt.ts';
import { simulatorCertificates } from '../../src/banks/simulator/certificates.ts';
import { addFunder } from '../../src/payouts/funders.ts';
import { fetchFromBank } from '../../src/reconciliation/fetch.ts';
import { confirmDocument, processDocument } from '../../src/reconciliation/ingest.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { sealDocument } from '../../src/seals/cms/seal.ts';
import { testFilePki, UNION_ACCOUNT, UNION_BANK } from '../banks/simulator/support.ts';
import { bookedEntry, handStatement, HUB, owingUnit } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, TEST_REDIS_URL, type TestGateway } from '../support/gateway.ts';
import { hub } from '../support/hub.ts';
import { keys } from '../payouts/support.ts';

/**
 * A statement of an account that is not the hub's. Its credits carrying a `MAH<year><unit code>`
 * reference became that unit's contribution payments (so members of a unit that never paid the
 * hub were paid benefits from its fund), and its entries were reconciled as if the hub's. Such a
 * document is refused at receipt, however it comes (upload, `hub statements import`, the bank
 * channel, sealed or not), before it may wait for a confirmation and before anything of it is
 * stored; kept REJECTED, it is accepted when processed again once the account is the hub's
 * (configured in RECONCILIATION_ACCOUNTS, or a funder's).
 */

const pki = testFilePki();
let db: TestDatabase;
let gw: TestGateway;

const FINANCE_A = { role: 'FINANCE' as const, sub: 'finance-wang' };
const FINANCE_B = { role: 'FINANCE' as const, sub: 'finance-zhao' };
/** Accounts of another union, at the same bank: never configured, no funder's, no batch paid from them. */
const FOREIGN = '6222020200011112222';
const FOREIGN_CLI = '6222020200011113333';
const FOREIGN_FUNDER = '6222020200011114444';
const FOREIGN_CONFIGURED = '6222020200011115555';
const FOREIGN_BANK = '6222020200011116666';

const DOCUMENT = 'id status entries newEntries sealedBy problems { field reason }';
const UPLOAD = `mutation($input: UploadBankStatementInput!) { uploadBankStatement(input: $input) { document { ${DOCUMENT} } userErrors { field code } } }`;
const CONFIRM = `mutation($input: ConfirmBankDocumentInput!) { confirmBankDocument(input: $input) { document { ${DOCUMENT} } userErrors { field code } } }`;
const RETRY = `mutation($input: RetryBankDocumentInput!) { retryBankDocument(input: $input) { document { ${DOCUMENT} } userErrors { field code } } }`;

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

/** The problem a document of `account` is refused with, where it names the account at `field`. */
const foreign = (field: string, account: string) => ({
  field, reason: expect.stringMatching(new RegExp(`^${account} is not an account of the hub: RECONCILIATION_ACCOUNTS, the paying account or a funder's; `)),
});

/** A credit paying `unit`'s contributions, as a unit's bank transfer names it (`MAH<year><unit code>`). */
const contribution = (unit: { owedFen: number; reference: string }, date: string) =>
  bookedEntry('CRDT', unit.owedFen, date, { details: [{ debtor: { name: '某公司工会', account: '35050164620700000123' }, remittanceInfo: [unit.reference] }] });

const localId = (id: string) => Number(Buffer.from(id, 'base64url').toString().split(':')[1]);
const bankSeal = (xml: string) => sealDocument(Buffer.from(xml, 'utf8'), simulatorCertificates(pki.certsDir).bankSeal).toString('base64');

async function count(sql: string, values: unknown[] = []): Promise<number> {
  return (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values)).rows[0]!.n;
}

/** What the hub holds of an account: statements, entries, and the contribution payments of `unitId`. */
async function heldOf(account: string, unitId: number) {
  return {
    statements: await count('bank_statements WHERE account = $1', [account]),
    entries: await count('statement_entries WHERE account = $1', [account]),
    payments: await count('contribution_payments WHERE unit_id = $1', [unitId]),
  };
}

const NOTHING = { statements: 0, entries: 0, payments: 0 };

describe('a statement of an account that is not the hub\'s', () => {
  it('is refused at upload, naming the account: it never waits for a confirmation, cannot be confirmed, stores nothing, pays no contribution', async () => {
    const date = '2025-08-01';
    const unit = await owingUnit(db.pool, 3);
    const xml = handStatement(date, 0, [contribution(unit, date)], FOREIGN);

    const uploaded = (await gw.query(FINANCE_A, UPLOAD, { input: { fileName: 'other-union.xml', content: xml } })).data.uploadBankStatement;
    expect(uploaded.userErrors).toEqual([]);
    expect(uploaded.document).toMatchObject({ status: 'REJECTED', entries: 0, newEntries: 0, problems: [foreign('Document/BkToCstmrStmt/Stmt[1]/Acct/Id', FOREIGN)] });
    const id = localId(uploaded.document.id);
    expect((await db.pool.query(`SELECT status, kind FROM bank_documents WHERE id = $1`, [id])).rows).toEqual([{ status: 'REJECTED', kind: 'camt.053' }]);

    // A second person cannot vouch for it: it never waited.
    const confirmed = (await gw.query(FINANCE_B, CONFIRM, { input: { documentId: uploaded.document.id, reason: '已与网银流水核对' } })).data.confirmBankDocument;
    expect(confirmed).toEqual({ document: null, userErrors: [{ field: 'input.documentId', code: 'CONFLICT' }] });
    // Uploading it again, or retrying it, gives the same answer.
    expect((await gw.query(FINANCE_A, UPLOAD, { input: { fileName: 'other-union.xml', content: xml } })).data.uploadBankStatement.document)
      .toMatchObject({ id: uploaded.document.id, status: 'REJECTED', problems: [foreign('Document/BkToCstmrStmt/Stmt[1]/Acct/Id', FOREIGN)] });
    expect((await gw.query(FINANCE_B, RETRY, { input: { documentId: uploaded.document.id } })).data.retryBankDocument.document).toMatchObject({ status: 'REJECTED' });

    // Nothing of it is the hub's: reconciling the account finds nothing, and the unit paid nothing.
    expect(await reconcileAccount(db.pool, FOREIGN, { keys, startedBy: 'test', asOf: date })).toMatchObject({ entries: 0, matched: 0 });
    expect(await heldOf(FOREIGN, unit.id)).toEqual(NOTHING);
  });

  it('is refused by `hub statements import` and by processing it again, until the account is configured (RECONCILIATION_ACCOUNTS)', async () => {
    const date = '2025-08-02';
    const unit = await owingUnit(db.pool, 2);
    const dir = mkdtempSync(path.join(tmpdir(), 'hub-foreign-'));
    const env = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `foreign-${process.pid}`, LOG_LEVEL: 'silent' };
    try {
      const file = path.join(dir, 'other-union.xml');
      writeFileSync(file, handStatement(date, 0, [contribution(unit, date)], FOREIGN_CLI));
      const imported = await hub(['statements', 'import', file, '--json'], env);
      expect(imported.code, imported.stderr).toBe(2);
      const [document] = JSON.parse(imported.stdout).documents;
      expect(document).toMatchObject({ status: 'REJECTED', entries: 0, entriesNew: 0, problems: [foreign('Document/BkToCstmrStmt/Stmt[1]/Acct/Id', FOREIGN_CLI)] });
      expect(await heldOf(FOREIGN_CLI, unit.id)).toEqual(NOTHING);

      // Processed again (the worker, `hub statements retry`, retryBankDocument): still refused.
      expect(await processDocument(db.pool, document.documentId, HUB)).toMatchObject({ status: 'REJECTED', problems: [foreign('Document/BkToCstmrStmt/Stmt[1]/Acct/Id', FOREIGN_CLI)] });
      const retried = await hub(['statements', 'retry', String(document.documentId), '--json'], env);
      expect(retried.code, retried.stderr).toBe(1);
      expect(JSON.parse(retried.stdout).document).toMatchObject({ status: 'REJECTED' });

      // Configured as the hub's, it is accepted as any file of the hub's: it waits for a second person, who confirms it.
      const configured = await hub(['statements', 'retry', String(document.documentId), '--json'], { ...env, RECONCILIATION_ACCOUNTS: `${UNION_ACCOUNT},${FOREIGN_CLI}` });
      expect(configured.code, configured.stderr).not.toBe(2);
      expect(JSON.parse(configured.stdout).document).toMatchObject({ status: 'AWAITING_CONFIRMATION', entries: 1, problems: [] });
      const ours = { accounts: [UNION_ACCOUNT, FOREIGN_CLI] };
      expect(await confirmDocument(db.pool, { subject: 'finance-li', role: 'FINANCE' }, document.documentId, '已与网银流水核对', ours))
        .toMatchObject({ status: 'ACCEPTED', entriesNew: 1, accounts: [FOREIGN_CLI] });
      expect(await reconcileAccount(db.pool, FOREIGN_CLI, { keys, startedBy: 'test', asOf: date })).toMatchObject({ entries: 1, matched: 1 });
      expect(await heldOf(FOREIGN_CLI, unit.id)).toEqual({ statements: 1, entries: 1, payments: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a document of the hub\'s account and a foreign one whole: nothing of the hub\'s account is stored either', async () => {
    const date = '2025-08-03';
    const unit = await owingUnit(db.pool, 2);
    const ownFee = bookedEntry('DBIT', 1_500, date);
    const [own, other] = [handStatement(date, 0, [ownFee]), handStatement(date, 0, [contribution(unit, date)], FOREIGN)].map((xml) => parseCamt053(xml).statements[0]!);
    const xml = writeCamt053({ msgId: 'MIXED0803', createdAt: `${date}T23:59:59+08:00`, statements: [own!, other!] });
    const uploaded = (await gw.query(FINANCE_A, UPLOAD, { input: { fileName: 'mixed.xml', content: xml, sealBase64: bankSeal(xml) } })).data.uploadBankStatement.document;
    expect(uploaded).toMatchObject({ status: 'REJECTED', sealedBy: expect.any(String), entries: 0, newEntries: 0, problems: [foreign('Document/BkToCstmrStmt/Stmt[2]/Acct/Id', FOREIGN)] });
    expect(await count('statement_entries WHERE account_servicer_ref = $1', [ownFee.accountServicerRef])).toBe(0);
    expect(await count('bank_statements WHERE account = $1 AND statement_date = $2', [UNION_ACCOUNT, date])).toBe(0);
    expect(await heldOf(FOREIGN, unit.id)).toEqual(NOTHING);

    // A camt.054 naming both is refused whole too.
    const createdAt = `${date}T15:00:00+08:00`;
    const notification = writeCamt054({
      msgId: 'MIXED054', createdAt, notifications: [
        { id: 'MIXED054-1', createdAt, account: { id: UNION_ACCOUNT }, entries: [bookedEntry('DBIT', 1_600, date)] },
        { id: 'MIXED054-2', createdAt, account: { id: FOREIGN }, entries: [contribution(unit, date)] },
      ],
    });
    const notified = (await gw.query(FINANCE_A, UPLOAD, { input: { fileName: 'mixed054.xml', content: notification } })).data.uploadBankStatement.document;
    expect(notified).toMatchObject({ status: 'REJECTED', entries: 0, problems: [foreign('Document/BkToCstmrDbtCdtNtfctn/Ntfctn[2]/Acct/Id', FOREIGN)] });
    expect(await count('statement_entries WHERE booking_date = $1', [date])).toBe(0);
  });

  it('is accepted when processed again once a funder pays from the account (retryBankDocument)', async () => {
    const date = '2025-08-04';
    const unit = await owingUnit(db.pool, 2);
    const xml = handStatement(date, 0, [contribution(unit, date)], FOREIGN_FUNDER);
    const uploaded = (await gw.query(FINANCE_A, UPLOAD, { input: { fileName: 'province.xml', content: xml, sealBase64: bankSeal(xml) } })).data.uploadBankStatement.document;
    expect(uploaded).toMatchObject({ status: 'REJECTED', sealedBy: expect.any(String), problems: [foreign('Document/BkToCstmrStmt/Stmt[1]/Acct/Id', FOREIGN_FUNDER)] });
    expect(await heldOf(FOREIGN_FUNDER, unit.id)).toEqual(NOTHING);

    await db.pool.query(`INSERT INTO organisations (code, name, level, created_by) VALUES ('ZJ', '浙江省总工会', 'PROVINCE', 'test')`);
    await addFunder(db.pool, { subject: 'operator-zhao', role: 'ADMIN' }, {
      code: 'ZJ', name: '浙江省总工会职工医疗互助补助资金', organisationCode: 'ZJ', account: FOREIGN_FUNDER, accountName: '浙江省总工会', agent: UNION_BANK,
    }, UNION_ACCOUNT);
    const retried = (await gw.query(FINANCE_B, RETRY, { input: { documentId: uploaded.id } })).data.retryBankDocument;
    expect(retried).toMatchObject({ userErrors: [], document: { status: 'ACCEPTED', entries: 1, newEntries: 1, problems: [] } });
    expect(await heldOf(FOREIGN_FUNDER, unit.id)).toMatchObject({ statements: 1, entries: 1 });
  });

  it('is accepted when processed again by a gateway whose RECONCILIATION_ACCOUNTS names the account', async () => {
    const date = '2025-08-05';
    const unit = await owingUnit(db.pool, 2);
    const xml = handStatement(date, 0, [contribution(unit, date)], FOREIGN_CONFIGURED);
    const uploaded = (await gw.query(FINANCE_A, UPLOAD, { input: { fileName: 'second.xml', content: xml, sealBase64: bankSeal(xml) } })).data.uploadBankStatement.document;
    expect(uploaded).toMatchObject({ status: 'REJECTED', problems: [foreign('Document/BkToCstmrStmt/Stmt[1]/Acct/Id', FOREIGN_CONFIGURED)] });

    const configured = await startTestGateway(db, { RECONCILIATION_ACCOUNTS: `${UNION_ACCOUNT},${FOREIGN_CONFIGURED}` });
    try {
      const retried = (await configured.query(FINANCE_B, RETRY, { input: { documentId: uploaded.id } })).data.retryBankDocument;
      expect(retried).toMatchObject({ userErrors: [], document: { status: 'ACCEPTED', entries: 1, newEntries: 1, problems: [] } });
    } finally {
      await configured.close();
    }
    expect(await reconcileAccount(db.pool, FOREIGN_CONFIGURED, { keys, startedBy: 'test', asOf: date })).toMatchObject({ entries: 1, matched: 1 });
    expect(await heldOf(FOREIGN_CONFIGURED, unit.id)).toEqual({ statements: 1, entries: 1, payments: 1 });
  });
});

describe('a bank-sealed document of an account that is not the hub\'s', () => {
  it('is refused at upload with the bank\'s verified seal, as unsealed', async () => {
    const date = '2025-08-06';
    const unit = await owingUnit(db.pool, 2);
    const xml = handStatement(date, 0, [contribution(unit, date)], FOREIGN_BANK);
    const uploaded = (await gw.query(FINANCE_A, UPLOAD, { input: { fileName: 'sealed.xml', content: xml, sealBase64: bankSeal(xml) } })).data.uploadBankStatement.document;
    expect(uploaded).toMatchObject({ status: 'REJECTED', sealedBy: expect.any(String), entries: 0, newEntries: 0, problems: [foreign('Document/BkToCstmrStmt/Stmt[1]/Acct/Id', FOREIGN_BANK)] });
    expect(await reconcileAccount(db.pool, FOREIGN_BANK, { keys, startedBy: 'test', asOf: date })).toMatchObject({ entries: 0, matched: 0 });
    expect(await heldOf(FOREIGN_BANK, unit.id)).toEqual(NOTHING);
  });

  it('is refused when the bank channel delivers it: a notification of another account, a statement of another account', async () => {
    const date = '2025-08-07';
    const unit = await owingUnit(db.pool, 2);
    const createdAt = `${date}T15:00:00+08:00`;
    const notificationXml = writeCamt054({ msgId: 'BANK054FOREIGN', createdAt, notifications: [{ id: 'BANK054FOREIGN', createdAt, account: { id: FOREIGN_BANK }, entries: [contribution(unit, date)] }] });
    const statementXml = handStatement(date, 0, [contribution(unit, date)], FOREIGN_BANK);
    const sealed = <T>(xml: string, parsed: T): BankDocument<T> => ({ xml, seal: Buffer.from(bankSeal(xml), 'base64'), parsed, sealedBy: 'CN=bank', sealedAt: new Date() });
    let delivered = false;
    // The channel as the adapter hands it over (seals verified): one notification, and another account's statement for the day asked.
    const channel = {
      notifications: async () => {
        const documents = delivered ? [] : [sealed<Camt054Message>(notificationXml, parseCamt054(notificationXml))];
        delivered = true;
        return { documents, refused: [], nextCursor: 'after' };
      },
      statement: async (_account: string, day: string) => (day === date ? sealed<Camt053Message>(statementXml, parseCamt053(statementXml)) : null),
    } as unknown as BankAdapter;

    const fetched = await fetchFromBank(db.pool, channel, [UNION_ACCOUNT], date, 0, HUB);
    expect(fetched.accounts).toEqual([]);
    expect(fetched.documents).toMatchObject([
      { status: 'REJECTED', kind: 'camt.054', entries: 0, problems: [foreign('Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Acct/Id', FOREIGN_BANK)] },
      { status: 'REJECTED', kind: 'camt.053', entries: 0, problems: [foreign('Document/BkToCstmrStmt/Stmt[1]/Acct/Id', FOREIGN_BANK)] },
    ]);
    expect((await db.pool.query(`SELECT source, sealed_by IS NOT NULL AS sealed, status FROM bank_documents WHERE id = ANY($1::bigint[]) ORDER BY id`, [fetched.documents.map((d) => d.documentId)])).rows)
      .toEqual([{ source: 'BANK', sealed: true, status: 'REJECTED' }, { source: 'BANK', sealed: true, status: 'REJECTED' }]);
    expect(await heldOf(FOREIGN_BANK, unit.id)).toEqual(NOTHING);
  });
});
