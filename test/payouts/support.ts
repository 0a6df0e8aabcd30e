import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import pino from 'pino';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { decrypt, encrypt, lookupHash, maskBankCard, personalDataKeys } from '../../src/privacy/personalData.ts';
import { config } from '../../src/config.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import type { PayingAccount } from '../../src/payouts/model.ts';
import type { BankAdapter, BankDocument } from '../../src/banks/adapter.ts';
import type { Pain002Parsed, Pain002TransactionStatus } from '../../src/banks/iso20022/pain002.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { initiatingParty, payoutSettings } from '../../src/payouts/settings.ts';
import type { PayoutSettings } from '../../src/payouts/model.ts';
import { advanceBatch, readStatusFeed, type SubmissionContext } from '../../src/payouts/submission.ts';
import { refusalsAfterPayment } from '../../src/reconciliation/refusals.ts';
import { seedEnrolledMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { openAccount, PAYEE_BANK, UNION_ACCOUNT, UNION_BANK, type Pki, type RunningBank } from '../banks/simulator/support.ts';

export const keys = personalDataKeys(Buffer.alloc(32, 7).toString('base64'));
export const silent = pino({ level: 'silent' });
export const clerk = { subject: 'clerk-li', role: 'ADMIN' };
export const finance = { subject: 'finance-wang', role: 'FINANCE' };
export const account: PayingAccount = { channel: 'SIM', account: UNION_ACCOUNT, name: '泉州市总工会职工医疗互助专户', agent: UNION_BANK };
/** The payout settings of the tests: configuration's (cooling-off days, batch size), paying from the simulator's union account. */
export const settings: PayoutSettings = { ...payoutSettings(config()), account };

export async function setBankCard(db: pg.Pool, memberId: number, card: string): Promise<void> {
  await db.query(
    `UPDATE members SET bank_card_enc = $2, bank_card_hash = $3, bank_card_masked = $4, bank_code = $5 WHERE id = $1`,
    [memberId, encrypt(keys, card), lookupHash(keys, card), maskBankCard(card), PAYEE_BANK],
  );
}

export interface ApprovedClaim {
  memberId: number;
  claimId: number;
  card: string;
  /** What the rules granted: the amount the member must receive. */
  totalFen: number;
}

/**
 * Members with an inpatient stay each, adjudicated by the real rules and approved; `cards[i]`
 * overrides the i-th member's bank card (an account ending 0004 is closed at the simulator). Each
 * member was registered when first enrolled (2020 unless the seed says otherwise), so the card it
 * was registered with is long on record: a standing policy counts a card from registration (0059).
 */
export async function approvedClaims(db: pg.Pool, count: number, cards: Record<number, string | null> = {}): Promise<ApprovedClaim[]> {
  const seeded = [];
  for (let i = 0; i < count; i += 1) {
    const member = await seedEnrolledMember(db);
    await db.query(`UPDATE members m SET created_at = e.first_enrolled_on FROM enrolments e WHERE e.id = $1 AND m.id = e.member_id`, [member.enrolmentId]);
    const card = cards[i] === undefined ? openAccount() : cards[i];
    if (card) await setBankCard(db, member.memberId, card);
    seeded.push({ member, card: card ?? '' });
  }
  return approvedStays(db, seeded);
}

/** An inpatient stay of each member (the i-th of psn (i + 1) × 1,000.37 CNY), adjudicated by the real rules and approved. */
export async function approvedStays(db: pg.Pool, members: readonly { member: MemberSetup; card: string }[]): Promise<ApprovedClaim[]> {
  const seeded = [];
  for (const [i, { member, card }] of members.entries()) {
    const settlementId = await seedSettlement(db, member, { psn: `${(i + 1) * 1000 + 0.37}` });
    seeded.push({ memberId: member.memberId, settlementId, card });
  }
  await adjudicateSettlements(db, seeded.map((s) => s.settlementId), { autoApproveMaxFen: Number.MAX_SAFE_INTEGER });
  const { rows } = await db.query<{ settlementId: number; claimId: number; totalFen: number; status: string }>(
    `SELECT settlement_id AS "settlementId", id AS "claimId", total_fen AS "totalFen", status FROM claims WHERE settlement_id = ANY($1::bigint[])`,
    [seeded.map((s) => s.settlementId)],
  );
  return seeded.map((s) => {
    const claim = rows.find((r) => r.settlementId === s.settlementId)!;
    if (claim.status !== 'APPROVED' || claim.totalFen <= 0) throw new Error(`test setup: claim ${claim.claimId} is ${claim.status} ${claim.totalFen}`);
    return { memberId: s.memberId, claimId: claim.claimId, card: s.card, totalFen: claim.totalFen };
  });
}

/**
 * A policy batch of one payout made by hand, as any writer of the rows could make it, and approved:
 * the release trigger (payout_batch_release) decides. Committed if it lets it through, else rolled back.
 */
export async function handMadePolicyRelease(db: pg.Pool, policyId: number, payoutId: number): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows: [b] } = await client.query<{ id: number }>(
      `INSERT INTO payout_batches (msg_id, pmt_inf_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date, nb_of_txs, ctrl_sum_fen,
                                   created_by, created_by_role, policy_id, funder_id)
       SELECT 'ATTACK-' || p.id, 'ATTACK-' || p.id || '-1', 'SIM', $3, $4, $5, current_date, 1, p.amount_fen, 'payment-policy-' || $1::bigint, 'SERVICE', $1::bigint, p.funder_id
         FROM payouts p WHERE p.id = $2::bigint RETURNING id`,
      [policyId, payoutId, settings.account.account, settings.account.name, settings.account.agent],
    );
    await client.query(
      `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc, creditor_account_masked, creditor_agent, remittance_info)
       SELECT p.id, p.attempts + 1, $2, 'ATTACK-E-' || p.id, p.amount_fen, m.name, m.bank_card_enc, m.bank_card_masked, m.bank_code, 'x'
         FROM payouts p JOIN members m ON m.id = p.member_id WHERE p.id = $1`, [payoutId, b!.id],
    );
    await client.query(`UPDATE payout_batches SET status = 'APPROVED' WHERE id = $1`, [b!.id]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

/** No payouts, batches or approved claims left: each test starts from its own claims. */
export async function resetPayouts(db: pg.Pool): Promise<void> {
  await db.query(`TRUNCATE bank_status_reports, payout_attempts, payout_lines, payouts, payout_batches, bank_feed_cursors RESTART IDENTITY CASCADE`);
  await db.query(`UPDATE benefit_lines SET status = 'CANCELLED', paid_at = NULL WHERE status IN ('APPROVED', 'PAID')`);
  await db.query(`UPDATE claims SET status = 'CANCELLED', decision_reason = 'test reset' WHERE status = 'APPROVED'`);
}

/** As resetPayouts, and no bank document, statement, reconciliation or proposal left either. */
export async function resetPayoutsAndStatements(db: pg.Pool): Promise<void> {
  await resetPayouts(db);
  await db.query(`TRUNCATE four_eyes_proposals, reconciliation_matches, reconciliation_exceptions, statement_entry_states, statement_entries,
                            bank_statements, bank_documents RESTART IDENTITY CASCADE`);
}

/** A directory for batch files, and the context the payout worker would use with this bank. */
export function submissionContext(db: pg.Pool, pki: Pki, bank: RunningBank): SubmissionContext & { outDir: string; remove(): void } {
  const outDir = mkdtempSync(path.join(tmpdir(), 'hub-payouts-'));
  return {
    db,
    adapter: bank.adapter,
    sealing: { keys, seal: pki.union, outDir, initiatingParty: initiatingParty(config()) },
    settings,
    log: silent,
    refusalsAfterPayment,
    outDir,
    remove: () => rmSync(outDir, { recursive: true, force: true }),
  };
}

/** Plan, create (clerk), approve (finance) and ask to send one batch of everything ready. */
export async function approvedBatch(db: pg.Pool): Promise<{ id: number; msgId: string }> {
  await planPayouts(db, settings);
  const batch = await createBatch(db, clerk, settings, 1000);
  if (!batch) throw new Error('test setup: no payout was ready');
  await approveBatch(db, finance, batch.id);
  await requestSubmission(db, finance, batch.id);
  return batch;
}

/** Runs the batch job's step until the bank's final word (as the worker would, without waiting). */
export async function advanceUntilFinal(ctx: SubmissionContext, batchId: number): Promise<string> {
  for (let i = 0; i < 20; i += 1) {
    const progress = await advanceBatch(ctx, batchId);
    if (!progress.waiting) return progress.status;
  }
  throw new Error(`batch ${batchId} is still waiting after 20 steps`);
}

export interface PayoutRow {
  id: number;
  claimId: number;
  amountFen: number;
  status: string;
  statusReason: string | null;
  attempts: number;
}

export async function payoutsOf(db: pg.Pool): Promise<PayoutRow[]> {
  const { rows } = await db.query<PayoutRow>(
    `SELECT id, claim_id AS "claimId", amount_fen AS "amountFen", status, status_reason AS "statusReason", attempts FROM payouts ORDER BY id`,
  );
  return rows;
}

/** Which payout each EndToEndId belongs to, for reading the bank's ledger. */
export async function payoutOfEndToEndId(db: pg.Pool): Promise<Map<string, number>> {
  const { rows } = await db.query<{ e2e: string; payoutId: number }>(`SELECT end_to_end_id AS e2e, payout_id AS "payoutId" FROM payout_attempts`);
  return new Map(rows.map((r) => [r.e2e, r.payoutId]));
}

/**
 * The oracle: the bank's ledger. Every payout credited at most once, with its exact amount, to the
 * member's account; returns the credited amount per payout id.
 */
export async function creditedByPayout(db: pg.Pool, bank: RunningBank): Promise<Map<number, number>> {
  const owner = await payoutOfEndToEndId(db);
  const credited = new Map<number, number>();
  for (const credit of await bank.ledger()) {
    if (credit.returned) continue;
    const payoutId = owner.get(credit.endToEndId);
    if (payoutId === undefined) throw new Error(`the bank credited ${credit.endToEndId}, which is not ours`);
    if (credited.has(payoutId)) throw new Error(`payout ${payoutId} was credited twice`);
    credited.set(payoutId, credit.amountFen);
  }
  return credited;
}

/** A batch's sealed pain.001 in clear (the row keeps it encrypted); null before sealing. */
export async function sealedFile(db: pg.Pool, batchId: number): Promise<string | null> {
  const { rows: [row] } = await db.query<{ fileEnc: Buffer | null }>(`SELECT file_enc AS "fileEnc" FROM payout_batches WHERE id = $1`, [batchId]);
  return row?.fileEnc ? decrypt(keys, row.fileEnc) : null;
}

let reportsMade = 0;

/** A status report (pain.002) of one line about the batch `msgId`, each with a MsgId of its own. */
export function oneLineReport(msgId: string, pmtInfId: string, tx: Omit<Pain002TransactionStatus, 'originalEndToEndId'> & { e2e: string }): Pain002Parsed {
  reportsMade += 1;
  const { e2e, ...rest } = tx;
  const line: Pain002TransactionStatus = { originalEndToEndId: e2e, ...rest };
  return {
    msgId: `RPT-${reportsMade}-${Date.now()}`, createdAt: new Date().toISOString(), originalMsgId: msgId, originalMsgNameId: 'pain.001.001.03',
    paymentInfoStatuses: [{ originalPmtInfId: pmtInfId, transactions: [line] }], transactions: [line],
  };
}

/**
 * A bank whose answers a test scripts: asked about a MsgId it answers `current` when that report is
 * of it, its feed carries `feed`, and every file submitted to it is in `sent`. Its documents are
 * sealed as the bank's (the seal itself is not checked on this path).
 */
export class ScriptedBank {
  current: Pain002Parsed | null = null;
  feed: Pain002Parsed[] = [];
  readonly sent: string[] = [];
  readonly adapter: BankAdapter = {
    submitBatch: async (s) => {
      this.sent.push(s.msgId);
      return { accepted: true, msgId: s.msgId, bankReference: 'BANKFILE1' };
    },
    paymentStatus: async (msgId) => (this.current?.originalMsgId === msgId ? sealedReport(this.current) : null),
    statusReports: async () => ({ documents: this.feed.map(sealedReport), refused: [], nextCursor: `c${this.feed.length}` }),
    statement: async () => null,
    notifications: async () => ({ documents: [], refused: [], nextCursor: 'x' }),
  };

  reset(): void {
    this.current = null;
    this.feed = [];
    this.sent.length = 0;
  }

  /** The feed carries `parsed` (once, or again when repeated), applied as the payout worker reads it: how many reports it applied. */
  async deliver(ctx: SubmissionContext, parsed: Pain002Parsed): Promise<number> {
    this.feed = [parsed];
    return (await readStatusFeed(ctx)).applied;
  }
}

/** A status report as the bank channel hands it over. */
export const sealedReport = (parsed: Pain002Parsed): BankDocument<Pain002Parsed> => ({
  xml: `<report n="${parsed.msgId}"/>`, seal: Buffer.from([1, 2, 3]), parsed, sealedBy: 'CN=bank', sealedAt: new Date(),
});
