import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Config } from '../config.ts';
import { inTransaction } from '../db/pool.ts';
import type { Programme } from '../benefits/rules/ruleSet.ts';
import { decrypt, type PersonalDataKeys } from '../privacy/personalData.ts';
import { chinaToday } from '../members/rosterImport.ts';
import { subjectLine } from '../seals/asn1.ts';
import type { Seal } from '../seals/seal.ts';
import { sealDocument } from '../seals/seal.ts';
import { batchDocument, remittanceInfo } from './document.ts';
import { NO_BANK_ACCOUNT } from './plan.ts';

/**
 * Payout batches: created from READY payouts (one attempt each, its EndToEndId stored now, long
 * before anything is sent), approved by FINANCE (never by their creator), sealed (the pain.001 and
 * its CMS seal written under PAYOUT_OUT_DIR and kept in the row), cancelled while not yet sealed.
 * Sending and the bank's answers: submission.ts.
 */

export class PayoutError extends Error {
  constructor(
    message: string,
    readonly code: 'NOT_FOUND' | 'CONFLICT' | 'FORBIDDEN' | 'BAD_USER_INPUT' = 'CONFLICT',
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The paying account and channel (PAYOUT_* configuration). */
export interface PayingAccount {
  channel: string;
  account: string;
  name: string;
  agent: string;
}

export function payingAccount(config: Pick<Config, 'PAYOUT_CHANNEL' | 'PAYOUT_ACCOUNT' | 'PAYOUT_ACCOUNT_NAME' | 'PAYOUT_AGENT'>): PayingAccount {
  return { channel: config.PAYOUT_CHANNEL, account: config.PAYOUT_ACCOUNT, name: config.PAYOUT_ACCOUNT_NAME, agent: config.PAYOUT_AGENT };
}

export interface CreatedBatch {
  id: number;
  msgId: string;
  nbOfTxs: number;
  ctrlSumFen: number;
}

/** A short random tag: ids stay unique at the bank even across databases (a demo run again, a restored copy). */
const tag = () => randomBytes(3).toString('hex').toUpperCase();

/**
 * A DRAFT batch of up to `max` READY payouts (oldest first), each with a new PLANNED attempt.
 * Null when no payout is ready. Payouts locked by a concurrent creation are skipped, not waited for.
 */
export async function createBatch(db: pg.Pool, actor: Actor, account: PayingAccount, max: number): Promise<CreatedBatch | null> {
  if (!Number.isSafeInteger(max) || max < 1) throw new PayoutError('must be a whole number of at least 1', 'BAD_USER_INPUT', 'maxPayouts');
  return inTransaction(db, async (tx) => {
    const { rows: payouts } = await tx.query<{ id: number; amountFen: number; attempts: number; claimId: number }>(
      `SELECT p.id, p.amount_fen AS "amountFen", p.attempts, p.claim_id AS "claimId"
         FROM payouts p JOIN members m ON m.id = p.member_id
        WHERE p.status = 'READY' AND m.bank_card_enc IS NOT NULL
        ORDER BY p.id LIMIT $1 FOR UPDATE OF p SKIP LOCKED`,
      [max],
    );
    if (payouts.length === 0) return null;
    const { rows: [next] } = await tx.query<{ id: number }>(`SELECT nextval(pg_get_serial_sequence('payout_batches', 'id'))::bigint AS id`);
    const id = next!.id;
    const today = chinaToday();
    const msgId = `MAH-${today.replaceAll('-', '')}-B${id}-${tag()}`;
    const ctrlSumFen = payouts.reduce((sum, p) => sum + p.amountFen, 0);
    await tx.query(
      `INSERT INTO payout_batches (id, msg_id, pmt_inf_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date,
                                   nb_of_txs, ctrl_sum_fen, created_by, created_by_role)
       OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [id, msgId, `${msgId}-1`, account.channel, account.account, account.name, account.agent, today, payouts.length, ctrlSumFen, actor.subject, actor.role],
    );
    const { rows: programmes } = await tx.query<{ payoutId: number; programmes: Programme[] }>(
      `SELECT pl.payout_id AS "payoutId", array_agg(l.programme ORDER BY array_position(ARRAY['INPATIENT', 'CRITICAL', 'MAJOR_DISEASE'], l.programme)) AS programmes
         FROM payout_lines pl JOIN benefit_lines l ON l.id = pl.benefit_line_id WHERE pl.payout_id = ANY($1::bigint[]) GROUP BY pl.payout_id`,
      [payouts.map((p) => p.id)],
    );
    const programmesOf = new Map(programmes.map((r) => [r.payoutId, r.programmes]));
    const attemptNo = payouts.map((p) => p.attempts + 1);
    // The creditor is copied from the member now: what FINANCE approves is what the bank pays.
    await tx.query(
      `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name,
                                    creditor_account_enc, creditor_account_masked, creditor_agent, remittance_info)
       SELECT p.id, t.attempt_no, $1, t.end_to_end_id, p.amount_fen, m.name, m.bank_card_enc, m.bank_card_masked, m.bank_code, t.remittance
         FROM unnest($2::bigint[], $3::int[], $4::text[], $5::text[]) AS t(payout_id, attempt_no, end_to_end_id, remittance)
         JOIN payouts p ON p.id = t.payout_id JOIN members m ON m.id = p.member_id`,
      [
        id,
        payouts.map((p) => p.id),
        attemptNo,
        payouts.map((p, i) => `MAH-P${p.id}-A${attemptNo[i]}-${tag()}`),
        payouts.map((p) => remittanceInfo(p.claimId, programmesOf.get(p.id) ?? [])),
      ],
    );
    await tx.query(
      `UPDATE payouts SET status = 'IN_BATCH', attempts = attempts + 1, status_reason = NULL, updated_at = now() WHERE id = ANY($1::bigint[])`,
      [payouts.map((p) => p.id)],
    );
    await recordAudit(tx, actor, {
      action: 'payout.batch.create', targetType: 'PayoutBatch', targetId: msgId,
      details: { batchId: id, nbOfTxs: payouts.length, ctrlSumFen, channel: account.channel, debtorAccount: account.account },
    });
    return { id, msgId, nbOfTxs: payouts.length, ctrlSumFen };
  });
}

/** A batch as locked for a change: its state and what its file's payment information says. */
interface BatchRow {
  id: number;
  msgId: string;
  status: string;
  createdBy: string;
  pmtInfId: string;
  requestedExecutionDate: string;
  debtorAccount: string;
  debtorName: string;
  debtorAgent: string;
}

async function lockBatch(tx: pg.PoolClient, batchId: number): Promise<BatchRow> {
  const { rows } = await tx.query<BatchRow>(
    `SELECT id, msg_id AS "msgId", status, created_by AS "createdBy", pmt_inf_id AS "pmtInfId",
            requested_execution_date AS "requestedExecutionDate", debtor_account AS "debtorAccount",
            debtor_name AS "debtorName", debtor_agent AS "debtorAgent"
       FROM payout_batches WHERE id = $1 FOR UPDATE`,
    [batchId],
  );
  if (!rows[0]) throw new PayoutError(`payout batch ${batchId} does not exist`, 'NOT_FOUND', 'id');
  return rows[0];
}

function expectStatus(batch: BatchRow, allowed: readonly string[], doing: string): void {
  if (!allowed.includes(batch.status)) {
    throw new PayoutError(`cannot ${doing} batch ${batch.msgId}: it is ${batch.status} (only ${allowed.join(' or ')} can be)`);
  }
}

/** FINANCE approves a DRAFT batch it did not create (the database checks both as well). */
export async function approveBatch(db: pg.Pool, actor: Actor, batchId: number): Promise<void> {
  if (actor.role !== 'FINANCE') throw new PayoutError(`approving a payout batch needs the role FINANCE; you are ${actor.role}`, 'FORBIDDEN');
  await inTransaction(db, async (tx) => {
    const batch = await lockBatch(tx, batchId);
    expectStatus(batch, ['DRAFT'], 'approve');
    if (batch.createdBy === actor.subject) {
      throw new PayoutError(`batch ${batch.msgId} was created by you: another FINANCE user must approve it (four eyes)`, 'FORBIDDEN');
    }
    await tx.query(
      `UPDATE payout_batches SET status = 'APPROVED', approved_by = $2, approved_by_role = $3, approved_at = now() WHERE id = $1`,
      [batchId, actor.subject, actor.role],
    );
    await recordAudit(tx, actor, { action: 'payout.batch.approve', targetType: 'PayoutBatch', targetId: batch.msgId, details: { batchId } });
  });
}

/** FINANCE or ADMIN asks for a sealed (or about to be sealed) batch to be sent; the worker sends it. */
export async function requestSubmission(db: pg.Pool, actor: Actor, batchId: number): Promise<void> {
  if (actor.role !== 'FINANCE' && actor.role !== 'ADMIN') throw new PayoutError(`submitting a payout batch needs the role FINANCE or ADMIN; you are ${actor.role}`, 'FORBIDDEN');
  await inTransaction(db, async (tx) => {
    const batch = await lockBatch(tx, batchId);
    expectStatus(batch, ['APPROVED', 'SEALED'], 'submit');
    const { rowCount } = await tx.query(
      `UPDATE payout_batches SET submit_requested_by = $2, submit_requested_at = now() WHERE id = $1 AND submit_requested_at IS NULL`,
      [batchId, actor.subject],
    );
    if (rowCount) await recordAudit(tx, actor, { action: 'payout.batch.submit', targetType: 'PayoutBatch', targetId: batch.msgId, details: { batchId } });
  });
}

/** A DRAFT or APPROVED batch is withdrawn; its payouts are READY again for another batch. */
export async function cancelBatch(db: pg.Pool, actor: Actor, batchId: number, reason: string): Promise<void> {
  if (!reason.trim()) throw new PayoutError('say why the batch is cancelled', 'BAD_USER_INPUT', 'reason');
  await inTransaction(db, async (tx) => {
    const batch = await lockBatch(tx, batchId);
    expectStatus(batch, ['DRAFT', 'APPROVED'], 'cancel');
    await tx.query(`UPDATE payout_batches SET status = 'CANCELLED', cancelled_by = $2, cancel_reason = $3 WHERE id = $1`, [batchId, actor.subject, reason]);
    const { rows } = await tx.query<{ payoutId: number }>(
      `UPDATE payout_attempts SET status = 'CANCELLED', status_at = now() WHERE batch_id = $1 AND status = 'PLANNED' RETURNING payout_id AS "payoutId"`,
      [batchId],
    );
    await tx.query(`UPDATE payouts SET status = 'READY', updated_at = now() WHERE id = ANY($1::bigint[]) AND status = 'IN_BATCH'`, [rows.map((r) => r.payoutId)]);
    await recordAudit(tx, actor, { action: 'payout.batch.cancel', targetType: 'PayoutBatch', targetId: batch.msgId, reason, details: { batchId, payouts: rows.length } });
  });
}

export interface SealingContext {
  keys: PersonalDataKeys;
  seal: Seal;
  /** PAYOUT_OUT_DIR: `<MsgId>.xml` and `<MsgId>.xml.p7s` are written here. */
  outDir: string;
  /** The union as initiating party. */
  initiatingParty: { name: string; id?: string };
}

/**
 * Writes and seals an APPROVED batch's pain.001 (worker side: the seal key lives with the workers).
 * A payment whose claim was reversed or rejected since the approval leaves the batch first (a batch
 * only ever loses payments after its approval, never gains one); with none left the batch is
 * cancelled and `file` is null. The files are written before the row commits; a crash between
 * leaves files that the next sealing overwrites, and the row is the record.
 */
export async function sealBatch(db: pg.Pool, sealing: SealingContext, batchId: number, now = new Date()): Promise<{ msgId: string; file: string | null }> {
  return inTransaction(db, async (tx) => {
    const batch = await lockBatch(tx, batchId);
    expectStatus(batch, ['APPROVED'], 'seal');
    const { rows: planned } = await tx.query<{
      attemptId: number; endToEndId: string; amountFen: number; creditorName: string; accountEnc: Buffer; creditorAgent: string;
      remittanceInfo: string; claimId: number; claimStatus: string;
    }>(
      `SELECT a.id AS "attemptId", a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen", a.creditor_name AS "creditorName",
              a.creditor_account_enc AS "accountEnc", a.creditor_agent AS "creditorAgent", a.remittance_info AS "remittanceInfo",
              c.id AS "claimId", c.status AS "claimStatus"
         FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN claims c ON c.id = p.claim_id
        WHERE a.batch_id = $1 AND a.status = 'PLANNED' ORDER BY a.id`,
      [batchId],
    );
    const withdrawn = planned.filter((a) => a.claimStatus !== 'APPROVED');
    const attempts = planned.filter((a) => a.claimStatus === 'APPROVED');
    if (withdrawn.length > 0) await withdrawPayments(tx, batch, withdrawn, attempts.length);
    if (attempts.length === 0) return { msgId: batch.msgId, file: null };
    const xml = batchDocument({
      msgId: batch.msgId,
      pmtInfId: batch.pmtInfId,
      requestedExecutionDate: batch.requestedExecutionDate,
      debtor: { name: batch.debtorName, account: batch.debtorAccount, agent: batch.debtorAgent },
      initiatingParty: sealing.initiatingParty,
      attempts: attempts.map((a) => ({ ...a, creditorAccount: decrypt(sealing.keys, a.accountEnc) })),
    }, now);
    const content = Buffer.from(xml, 'utf8');
    const seal = sealDocument(content, sealing.seal, now);
    const file = writeBatchFiles(sealing.outDir, batch.msgId, content, seal);
    await tx.query(
      `UPDATE payout_batches SET status = 'SEALED', file_xml = $2, file_sha256 = $3, seal = $4, sealed_at = $5 WHERE id = $1`,
      [batchId, xml, createHash('sha256').update(content).digest(), seal, now],
    );
    await recordAudit(tx, { subject: 'payout-worker', role: 'SERVICE' }, {
      action: 'payout.batch.seal', targetType: 'PayoutBatch', targetId: batch.msgId,
      details: { batchId, sha256: createHash('sha256').update(content).digest('hex'), signer: subjectLine(sealing.seal.certificate) },
    });
    return { msgId: batch.msgId, file };
  });
}

/** Payments of claims no longer approved leave the batch (cancelled), its totals follow; audited. */
async function withdrawPayments(
  tx: pg.PoolClient, batch: BatchRow, withdrawn: { attemptId: number; amountFen: number; claimId: number; claimStatus: string }[], remaining: number,
): Promise<void> {
  const attemptIds = withdrawn.map((a) => a.attemptId);
  await tx.query(`UPDATE payout_attempts SET status = 'CANCELLED', status_at = now() WHERE id = ANY($1::bigint[])`, [attemptIds]);
  await tx.query(
    `UPDATE payouts p SET status = 'CANCELLED', updated_at = now(),
            status_reason = 'its claim was ' || lower(c.status) || ' after the batch was approved, before it was sealed'
       FROM payout_attempts a, claims c WHERE a.id = ANY($1::bigint[]) AND p.id = a.payout_id AND c.id = p.claim_id`,
    [attemptIds],
  );
  if (remaining === 0) {
    await tx.query(
      `UPDATE payout_batches SET status = 'CANCELLED', cancelled_by = 'payout-worker', cancel_reason = 'every claim in it was reversed or rejected before sealing' WHERE id = $1`,
      [batch.id],
    );
  } else {
    await tx.query(
      `UPDATE payout_batches SET nb_of_txs = nb_of_txs - $2, ctrl_sum_fen = ctrl_sum_fen - $3 WHERE id = $1`,
      [batch.id, withdrawn.length, withdrawn.reduce((sum, a) => sum + a.amountFen, 0)],
    );
  }
  await recordAudit(tx, { subject: 'payout-worker', role: 'SERVICE' }, {
    action: 'payout.batch.withdraw', targetType: 'PayoutBatch', targetId: batch.msgId,
    reason: 'claims no longer approved',
    details: { batchId: batch.id, claims: withdrawn.map((a) => ({ claimId: a.claimId, status: a.claimStatus, amountFen: a.amountFen })), remaining },
  });
}

/** `<MsgId>.xml` and `<MsgId>.xml.p7s` (DESIGN.md contract), each written whole or not at all. */
function writeBatchFiles(outDir: string, msgId: string, content: Buffer, seal: Buffer): string {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${msgId}.xml`);
  for (const [target, data] of [[file, content], [`${file}.p7s`, seal]] as const) {
    writeFileSync(`${target}.tmp`, data);
    renameSync(`${target}.tmp`, target);
  }
  return file;
}

/**
 * A FAILED payout (the bank rejected or returned it) may be tried again: READY for the next batch,
 * where it gets a new attempt and a new EndToEndId. Refused in every other state: only the bank's
 * evidence of failure allows a new attempt (and the database allows one live attempt per payout).
 */
export async function retryPayout(db: pg.Pool, actor: Actor, payoutId: number, reason: string): Promise<void> {
  if (!reason.trim()) throw new PayoutError('say why the payout is tried again (e.g. the member corrected the bank account)', 'BAD_USER_INPUT', 'reason');
  await inTransaction(db, async (tx) => {
    const { rows } = await tx.query<{ status: string; claimStatus: string; hasAccount: boolean }>(
      `SELECT p.status, c.status AS "claimStatus", m.bank_card_enc IS NOT NULL AS "hasAccount"
         FROM payouts p JOIN claims c ON c.id = p.claim_id JOIN members m ON m.id = p.member_id WHERE p.id = $1 FOR UPDATE OF p`,
      [payoutId],
    );
    const payout = rows[0];
    if (!payout) throw new PayoutError(`payout ${payoutId} does not exist`, 'NOT_FOUND', 'id');
    if (payout.status !== 'FAILED') throw new PayoutError(`payout ${payoutId} is ${payout.status}: only a payout the bank rejected or returned (FAILED) can be tried again`);
    if (payout.claimStatus !== 'APPROVED') throw new PayoutError(`payout ${payoutId}: its claim is ${payout.claimStatus}, not approved`);
    await tx.query(
      `UPDATE payouts SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1`,
      payout.hasAccount ? [payoutId, 'READY', null] : [payoutId, 'HELD', NO_BANK_ACCOUNT],
    );
    await recordAudit(tx, actor, { action: 'payout.retry', targetType: 'Payout', targetId: String(payoutId), reason });
  });
}
