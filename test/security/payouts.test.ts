import { inTransaction } from '../../src/db/pool.ts';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { approveBatch, cancelBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import { encryptClearBatchFiles } from '../../src/payouts/files.ts';
import { recordPayoutReturns, settlePayoutAttempts } from '../../src/payouts/bankEvents.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { verifySeal } from '../../src/seals/cms/verify.ts';
import { sealBatch } from '../../src/payouts/sealing.ts';
import { openAccount, startBank, testFilePki, type RunningBank } from '../banks/simulator/support.ts';
import { commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import {
  advanceUntilFinal, approvedBatch, approvedClaims, clerk, creditedByPayout, finance, keys, payoutsOf, resetPayouts, sealedFile,
  setBankCard, settings, submissionContext,
} from '../payouts/support.ts';
import { fujianTree, placeUnit } from '../organisations/support.ts';

/**
 * Issue 13, the payouts' trust boundaries: a replaced card is not paid at once (attack 1), a paid
 * payout is not paid again on one person's word (attack 3), card numbers in batch files are not
 * for every reader (attack 6); an organisation's staff retry only their own members' payouts.
 */

const pki = testFilePki();
let db: TestDatabase;
let gw: TestGateway;
let bank: RunningBank;
let ctx: ReturnType<typeof submissionContext>;

const ADMIN = { role: 'ADMIN' as const, sub: 'clerk-li' };
const AUDITOR = { role: 'AUDITOR' as const, sub: 'auditor-chen' };
const FINANCE_A = { role: 'FINANCE' as const, sub: 'finance-wang' };
const FINANCE_B = { role: 'FINANCE' as const, sub: 'finance-zhao' };

beforeAll(async () => {
  db = await freshDatabase();
  // The gateway and the payout worker share the personal-data key (batch files are kept encrypted).
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64') });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});
beforeEach(async () => {
  await resetPayouts(db.pool);
  bank = await startBank(pki); // stopped after each test by the simulator's support
  ctx = submissionContext(db.pool, pki, bank);
  return () => ctx.remove();
});

/** What the members domain records when someone replaces a member's card (migration 0007). */
async function replaceCard(memberId: number, card: string, by: string): Promise<void> {
  await setBankCard(db.pool, memberId, card);
  await db.pool.query(
    `UPDATE members SET bank_card_changed_at = now(), bank_card_changed_by = $2, bank_card_confirmed_at = NULL, bank_card_confirmed_by = NULL WHERE id = $1`,
    [memberId, by],
  );
}

const statusOf = async (payoutId: number) => (await payoutsOf(db.pool)).find((p) => p.id === payoutId)!;

describe('attack 1: an insider replaces a member\'s bank card', () => {
  it('holds the payouts to the new card until it cools off or a second person confirms it, and takes the payout out of an approved batch before sealing', async () => {
    const claims = await approvedClaims(db.pool, 3);
    await planPayouts(db.pool, settings);
    const [inBatch, alsoInBatch, waiting] = (await payoutsOf(db.pool)).map((p) => p.id) as [number, number, number];
    const batch = (await createBatch(db.pool, clerk, settings, 2))!;
    await approveBatch(db.pool, finance, batch.id);
    await requestSubmission(db.pool, finance, batch.id);

    // The insider replaces the card of a member in the approved batch, and of one whose payout is READY.
    const insiderCards = [openAccount(), openAccount()];
    await replaceCard(claims[0]!.memberId, insiderCards[0]!, 'clerk-insider');
    await replaceCard(claims[2]!.memberId, insiderCards[1]!, 'clerk-insider');

    // A new batch takes nothing: the READY payout is HELD, saying why and until when.
    expect(await createBatch(db.pool, clerk, settings, 10)).toBeNull();
    const held = await statusOf(waiting);
    expect(held).toMatchObject({ status: 'HELD', statusReason: expect.stringMatching(/^bank card changed on \d{4}-\d{2}-\d{2} \d{2}:\d{2} .*waits until \d{4}-\d{2}-\d{2} \d{2}:\d{2} or a second person's confirmation/) });
    const shown = await gw.query(ADMIN, `query($id: ID!) { payout(id: $id) { status statusReason } }`, { id: toGlobalId('Payout', waiting) });
    expect(shown.data.payout).toEqual({ status: 'HELD', statusReason: held.statusReason });

    // The approved batch is sealed without the changed member: the file carries only cards its approver saw.
    expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
    const file = (await sealedFile(db.pool, batch.id))!;
    expect(file).toContain(claims[1]!.card);
    for (const card of [...insiderCards, claims[0]!.card]) expect(file).not.toContain(card);
    expect(await statusOf(inBatch)).toMatchObject({ status: 'HELD', statusReason: expect.stringContaining('bank card changed on') });
    expect(await statusOf(alsoInBatch)).toMatchObject({ status: 'PAID' });
    const { rows: [withdrawn] } = await db.pool.query(`SELECT details FROM audit_log WHERE action = 'payout.batch.withdraw'`);
    expect(withdrawn.details.cardChanged).toEqual([expect.objectContaining({ payoutId: inBatch })]);

    // Planning keeps them held; a second person's confirmation releases them, and the next batch pays the new cards.
    expect(await planPayouts(db.pool, settings)).toMatchObject({ released: 0 });
    await db.pool.query(
      `UPDATE members SET bank_card_confirmed_at = now(), bank_card_confirmed_by = 'clerk-checker' WHERE id = ANY($1::bigint[])`,
      [[claims[0]!.memberId, claims[2]!.memberId]],
    );
    expect(await planPayouts(db.pool, settings)).toMatchObject({ released: 2 });
    const next = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, next.id)).toBe('ACCEPTED');
    const credited = await creditedByPayout(db.pool, bank);
    expect(credited.get(inBatch)).toBe(claims[0]!.totalFen);
    expect(credited.get(waiting)).toBe(claims[2]!.totalFen);
    const accounts = new Set((await bank.ledger()).map((c) => c.account));
    expect(accounts.has(claims[0]!.card)).toBe(false);
    for (const card of insiderCards) expect(accounts.has(card)).toBe(true);
  });
});

describe('an approved batch\'s payments rewritten in the database before sealing', () => {
  it('refuses a change to anything an attempt tells the bank, or to the payout the bank\'s report will mark paid', async () => {
    await approvedClaims(db.pool, 2);
    await planPayouts(db.pool, settings);
    const batch = (await createBatch(db.pool, clerk, settings, 1))!;
    await approveBatch(db.pool, finance, batch.id);
    const { rows: [first] } = await db.pool.query<{ id: number }>(`SELECT id FROM payout_attempts WHERE batch_id = $1`, [batch.id]);
    const waiting = (await payoutsOf(db.pool)).find((p) => p.status === 'READY')!; // in no batch
    for (const change of [
      `payout_id = ${waiting.id}`, 'attempt_no = 2', `creditor_name = '另一个人'`, `creditor_agent = '999999999999'`,
      `creditor_account_masked = '6222********0000'`, `remittance_info = 'changed'`,
      `end_to_end_id = 'OTHER-1'`, 'amount_fen = amount_fen + 1', `creditor_account_enc = '\\x00'`,
    ]) {
      await expect(db.pool.query(`UPDATE payout_attempts SET ${change} WHERE id = $1`, [first!.id]), change).rejects.toThrow(/what was sent cannot change/);
    }
    // Its status still moves as the bank's answers do.
    await expect(db.pool.query(`UPDATE payout_attempts SET status = 'CANCELLED' WHERE id = $1`, [first!.id])).resolves.toMatchObject({ rowCount: 1 });
  });
});

describe('a payment taken out of a sealed batch, then put in another', () => {
  // Sealing cancels the attempt of a member whose card changed; the attempt stays in its batch.
  // Sending that batch later, or the bank refusing it, is about its live attempts only.
  it('is not moved when the first batch is sent, and is paid once, by its own batch, to the confirmed card', async () => {
    const claims = await approvedClaims(db.pool, 2);
    await planPayouts(db.pool, settings);
    const first = (await createBatch(db.pool, clerk, settings, 10))!;
    await approveBatch(db.pool, finance, first.id);
    const newCard = openAccount();
    await replaceCard(claims[0]!.memberId, newCard, 'clerk-insider');
    await sealBatch(db.pool, ctx.sealing, settings, first.id); // sealed, not yet sent
    const moved = (await payoutsOf(db.pool)).find((p) => p.claimId === claims[0]!.claimId)!;
    expect(await statusOf(moved.id)).toMatchObject({ status: 'HELD' });

    await db.pool.query(`UPDATE members SET bank_card_confirmed_at = now(), bank_card_confirmed_by = 'clerk-checker' WHERE id = $1`, [claims[0]!.memberId]);
    expect(await planPayouts(db.pool, settings)).toMatchObject({ released: 1 });
    const second = (await createBatch(db.pool, clerk, settings, 10))!;
    expect(await statusOf(moved.id)).toMatchObject({ status: 'IN_BATCH' });

    await requestSubmission(db.pool, finance, first.id);
    expect(await advanceUntilFinal(ctx, first.id)).toBe('ACCEPTED');
    expect(await statusOf(moved.id)).toMatchObject({ status: 'IN_BATCH' });

    // Its own batch withdrawn, it waits for the next (a payout stuck SENT with no live attempt would never be paid).
    await cancelBatch(db.pool, clerk, settings, second.id, 'the approver is away');
    expect(await statusOf(moved.id)).toMatchObject({ status: 'READY' });
    const third = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, third.id)).toBe('ACCEPTED');
    expect(await statusOf(moved.id)).toMatchObject({ status: 'PAID' });
    const credited = (await bank.ledger()).filter((c) => c.account === newCard || c.account === claims[0]!.card);
    expect(credited.map((c) => c.account)).toEqual([newCard]);
  });
});

describe('the bank refusing a whole file', () => {
  it('fails only the payouts of the attempts the refusal rejects, not one whose attempt a report rejected first (its payout may be live elsewhere)', async () => {
    await approvedClaims(db.pool, 2);
    const batch = await approvedBatch(db.pool);
    const [first, second] = (await payoutsOf(db.pool)).map((p) => p.id) as [number, number];
    // The file's refusal arrives late: meanwhile the bank's status feed rejected the first payment, and
    // the first payout was retried and handed over in another batch (SENT again, as here).
    const refusing = Object.create(bank.adapter) as typeof bank.adapter;
    refusing.submitBatch = async (submission) => {
      await db.pool.query(`UPDATE payout_attempts SET status = 'REJECTED', bank_status = 'RJCT', reason_code = 'AC01' WHERE payout_id = $1`, [first]);
      return { accepted: false, msgId: submission.msgId, code: 'AM10', reason: 'refused in the test' };
    };
    expect(await advanceUntilFinal({ ...ctx, adapter: refusing }, batch.id)).toBe('REJECTED');
    expect(await statusOf(second)).toMatchObject({ status: 'FAILED', statusReason: expect.stringContaining('the bank refused the whole file: AM10') });
    expect(await statusOf(first)).toMatchObject({ status: 'SENT' });
  });
});

describe('attack 3: a forged return turns a settled payout FAILED', () => {
  it('retrying it takes a FINANCE proposal and another FINANCE person\'s confirmation, in code and in the database', async () => {
    await approvedClaims(db.pool, 1);
    const batch = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
    const { rows: [attempt] } = await db.pool.query<{ id: number; endToEndId: string; payoutId: number }>(
      `SELECT id, end_to_end_id AS "endToEndId", payout_id AS "payoutId" FROM payout_attempts`,
    );
    // As reconciliation applies a statement: in its transaction.
    await inTransaction(db.pool, (tx) => settlePayoutAttempts(tx, [attempt!.id]));
    expect(await inTransaction(db.pool, (tx) => recordPayoutReturns(tx, [{ endToEndId: attempt!.endToEndId, reasonCode: 'AC04', reason: 'closed account' }])))
      .toEqual([{ endToEndId: attempt!.endToEndId, payoutId: attempt!.payoutId, wasSettled: true }]);
    const id = toGlobalId('Payout', attempt!.payoutId);
    const RETRY = `mutation($id: ID!, $reason: String!) { retryPayout(input: { payoutId: $id, reason: $reason }) { payout { status } } }`;
    const PROPOSAL = `query($id: ID!) { payout(id: $id) { status retryProposal { proposedBy reason } } }`;

    const byAdmin = await gw.query(ADMIN, RETRY, { id, reason: 'member gave a new card' });
    expect(byAdmin.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' }, message: expect.stringContaining('was paid by the bank (its money came back') });
    const proposed = await gw.query(FINANCE_A, RETRY, { id, reason: 'the bank says it came back' });
    expect(proposed.data.retryPayout).toEqual({ payout: { status: 'FAILED' } });
    expect((await gw.query(FINANCE_B, PROPOSAL, { id })).data.payout)
      .toEqual({ status: 'FAILED', retryProposal: { proposedBy: 'finance-wang', reason: 'the bank says it came back' } });
    const again = await gw.query(FINANCE_A, RETRY, { id, reason: 'really, pay it again' });
    expect(again.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' }, message: expect.stringContaining('another FINANCE person must confirm') });
    expect(await statusOf(attempt!.payoutId)).toMatchObject({ status: 'FAILED' });

    // The database refuses the shortcut: no READY without a confirmed proposal, no confirmation by the proposer.
    await expect(db.pool.query(`UPDATE payouts SET status = 'READY', status_reason = NULL WHERE id = $1`, [attempt!.payoutId]))
      .rejects.toThrow(/needs one FINANCE person's proposal and another's confirmation/);
    await expect(db.pool.query(
      `UPDATE payout_retries SET confirmed_by = proposed_by, confirmed_by_role = 'FINANCE', confirm_reason = 'me again', confirmed_at = now()`,
    )).rejects.toThrow(/check constraint/);

    const confirmed = await gw.query(FINANCE_B, RETRY, { id, reason: 'checked the statement with the bank' });
    expect(confirmed.data.retryPayout).toEqual({ payout: { status: 'READY' } });
    expect((await gw.query(FINANCE_B, PROPOSAL, { id })).data.payout).toEqual({ status: 'READY', retryProposal: null });
    const { rows: audit } = await db.pool.query(`SELECT actor, action, reason FROM audit_log WHERE action LIKE 'payout.retry%' ORDER BY seq`);
    expect(audit).toEqual([
      { actor: 'finance-wang', action: 'payout.retry.propose', reason: 'the bank says it came back' },
      { actor: 'finance-zhao', action: 'payout.retry.confirm', reason: 'checked the statement with the bank' },
      { actor: 'finance-zhao', action: 'payout.retry', reason: 'checked the statement with the bank' },
    ]);
  });

  it('a retry that waited for the return sees it: a FINANCE proposal, not a one-person retry the database refuses', async () => {
    await approvedClaims(db.pool, 1);
    const batch = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
    const { rows: [attempt] } = await db.pool.query<{ endToEndId: string; payoutId: number }>(
      `SELECT end_to_end_id AS "endToEndId", payout_id AS "payoutId" FROM payout_attempts`,
    );
    const { work: retrying } = await commitOnceWaitedOn(
      db.pool,
      (held) => recordPayoutReturns(held as Tx, [{ endToEndId: attempt!.endToEndId, reasonCode: 'AC04', reason: 'closed account' }]),
      () => gw.query(FINANCE_A, `mutation($id: ID!) { retryPayout(input: { payoutId: $id, reason: "the bank says it came back" }) { payout { status } } }`,
        { id: toGlobalId('Payout', attempt!.payoutId) }),
    );
    const answer = await retrying;
    expect(answer.errors).toBeUndefined();
    expect(answer.data.retryPayout).toEqual({ payout: { status: 'FAILED' } });
    const { rows: proposals } = await db.pool.query(`SELECT proposed_by AS "proposedBy", confirmed_by AS "confirmedBy" FROM payout_retries WHERE payout_id = $1`, [attempt!.payoutId]);
    expect(proposals).toEqual([{ proposedBy: 'finance-wang', confirmedBy: null }]);
  });
});

describe('a retry racing a move out of the caller\'s organisation', () => {
  const RETRY = `mutation($id: ID!, $reason: String!) { retryPayout(input: { payoutId: $id, reason: $reason }) { payout { status } userErrors { field code } } }`;
  let tree: Promise<unknown> | undefined;

  type Move = (held: pg.PoolClient, memberId: number, qzUnit: number) => Promise<unknown>;
  const moves: [string, 'FINANCE' | 'ADMIN', Move][] = [
    ['the member to a QZ unit', 'FINANCE', (held, memberId, qzUnit) => held.query('UPDATE members SET unit_id = $2 WHERE id = $1', [memberId, qzUnit])],
    ['the member\'s unit to QZ', 'ADMIN', async (held, memberId) =>
      placeUnit(held, (await held.query<{ id: number }>('SELECT unit_id AS id FROM members WHERE id = $1', [memberId])).rows[0]!.id, 'QZ')],
  ];

  // The move commits while the retry of a JJ staff member waits for it (the payout is locked as well,
  // so a retry that locks only the payout waits too): the payout is then a QZ member's.
  it.each(moves)('moving %s while JJ\'s %s retries: not found, the payout stays FAILED', async (_, role, move) => {
    await (tree ??= fujianTree(gw));
    const [rejected, elsewhere] = await approvedClaims(db.pool, 2, { 0: `${openAccount().slice(0, -4)}0004` });
    const batch = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, batch.id)).toBe('PARTIALLY_ACCEPTED');
    const payout = (await payoutsOf(db.pool)).find((p) => p.claimId === rejected!.claimId)!;
    expect(payout.status).toBe('FAILED');
    const { rows: [jjUnit, qzUnit] } = await db.pool.query<{ id: number }>(
      `SELECT unit_id AS id FROM members WHERE id = ANY($1::bigint[]) ORDER BY array_position($1::bigint[], id)`, [[rejected!.memberId, elsewhere!.memberId]],
    );
    await placeUnit(db.pool, jjUnit!.id, 'JJ');
    await placeUnit(db.pool, qzUnit!.id, 'QZ');
    const staff = { role, org: 'JJ', sub: `jj-${role.toLowerCase()}` };
    const id = toGlobalId('Payout', payout.id);
    expect((await gw.query(staff, `query($id: ID!) { payout(id: $id) { status } }`, { id })).data.payout).toEqual({ status: 'FAILED' });

    const { work: retrying } = await commitOnceWaitedOn(
      db.pool,
      async (held) => {
        await move(held, rejected!.memberId, qzUnit!.id);
        await held.query('SELECT 1 FROM payouts WHERE id = $1 FOR UPDATE', [payout.id]);
      },
      () => gw.query(staff, RETRY, { id, reason: 'member gave a new card' }),
    );
    expect((await retrying).data.retryPayout).toEqual({ payout: null, userErrors: [{ field: 'input.payoutId', code: 'NOT_FOUND' }] });
    expect(await statusOf(payout.id)).toMatchObject({ status: 'FAILED' });
  });
});

describe('attack 6: card numbers in batch files', () => {
  const BATCH_FILE = `query($id: ID!) { payoutBatch(id: $id) { file sealBase64 } }`;
  const REVEAL = `mutation($id: ID!, $reason: String!) { revealPayoutBatchFile(input: { batchId: $id, reason: $reason }) { file { fileName file sealBase64 sha256 } userErrors { field code } } }`;

  it('are masked for every reader, in clear only through FINANCE\'s audited reveal; encrypted in the row; files on disk 0600 in a 0700 directory', async () => {
    const claims = await approvedClaims(db.pool, 2);
    const outDir = path.join(ctx.outDir, 'out');
    const batch = await approvedBatch(db.pool);
    expect(await advanceUntilFinal({ ...ctx, sealing: { ...ctx.sealing, outDir } }, batch.id)).toBe('ACCEPTED');
    const id = toGlobalId('PayoutBatch', batch.id);

    for (const reader of [AUDITOR, ADMIN, FINANCE_A]) {
      const { file } = (await gw.query(reader, BATCH_FILE, { id })).data.payoutBatch;
      for (const claim of claims) {
        expect(file).not.toContain(claim.card);
        expect(file).toContain(`${claim.card.slice(0, 4)} **** **** ${claim.card.slice(-4)}`);
      }
    }
    for (const reader of [AUDITOR, ADMIN]) {
      expect((await gw.query(reader, REVEAL, { id, reason: 'audit sample 2026' })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect((await gw.query(FINANCE_A, REVEAL, { id, reason: 'x' })).data.revealPayoutBatchFile).toEqual({ file: null, userErrors: [{ field: 'input.reason', code: 'INVALID' }] });

    const revealed = (await gw.query(FINANCE_A, REVEAL, { id, reason: 'the bank asked for the file' })).data.revealPayoutBatchFile.file;
    for (const claim of claims) expect(revealed.file).toContain(claim.card);
    expect(verifySeal(Buffer.from(revealed.file, 'utf8'), Buffer.from(revealed.sealBase64, 'base64'), pki.bank.trust).valid).toBe(true);
    const { rows: audit } = await db.pool.query(`SELECT actor, role, reason, target_id AS "targetId" FROM audit_log WHERE action = 'payout.batch.reveal'`);
    expect(audit).toEqual([{ actor: 'finance-wang', role: 'FINANCE', reason: 'the bank asked for the file', targetId: batch.msgId }]);

    const { rows: [row] } = await db.pool.query<{ text: string }>(`SELECT row_to_json(b)::text AS text FROM payout_batches b WHERE id = $1`, [batch.id]);
    for (const claim of claims) expect(row!.text).not.toContain(claim.card);

    expect(statSync(outDir).mode & 0o777).toBe(0o700);
    const written = readdirSync(outDir);
    expect(written.sort()).toEqual([`${batch.msgId}.xml`, `${batch.msgId}.xml.p7s`]);
    for (const name of written) expect(statSync(path.join(outDir, name)).mode & 0o777).toBe(0o600);
  });

  it('a file kept in clear before migration 0010 is encrypted unchanged when the worker starts', async () => {
    const claims = await approvedClaims(db.pool, 1);
    const batch = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
    const clear = (await sealedFile(db.pool, batch.id))!;
    // The row as 0004 kept it (the triggers stand aside only for this set-up).
    const client = await db.pool.connect();
    try {
      await client.query(`SET session_replication_role = replica`);
      await client.query(`UPDATE payout_batches SET file_xml = $2, file_enc = NULL WHERE id = $1`, [batch.id, clear]);
    } finally {
      await client.query(`RESET session_replication_role`);
      client.release();
    }
    const masked = (await gw.query(AUDITOR, BATCH_FILE, { id: toGlobalId('PayoutBatch', batch.id) })).data.payoutBatch.file;
    expect(masked).not.toContain(claims[0]!.card);

    expect(await encryptClearBatchFiles(db.pool, keys)).toBe(1);
    expect(await encryptClearBatchFiles(db.pool, keys)).toBe(0);
    const { rows: [row] } = await db.pool.query(`SELECT file_xml AS "fileXml" FROM payout_batches WHERE id = $1`, [batch.id]);
    expect(row.fileXml).toBeNull();
    expect(await sealedFile(db.pool, batch.id)).toBe(clear);
  });
});
