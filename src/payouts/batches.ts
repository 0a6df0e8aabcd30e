import type { Tx } from '../kernel/transaction.ts';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Config } from '../config.ts';
import { inTransaction } from '../db/pool.ts';
import type { Programme } from '../benefits/rules/ruleSet.ts';
import { decrypt, encrypt, type PersonalDataKeys } from '../privacy/personalData.ts';
import { subjectLine } from '../seals/cms/asn1.ts';
import { type Seal, sealDocument } from '../seals/cms/seal.ts';
import { batchDocument, remittanceInfo } from './document.ts';
import { cardCoolingOff, coolingOffDays, followBankCards } from './plan.ts';
import { chinaToday } from '../kernel/time.ts';

/**
 * Payout batches: created from READY payouts (one attempt each, its EndToEndId stored now, long
 * before anything is sent), approved by FINANCE (never by their creator), sealed (the pain.001 and
 * its CMS seal written under PAYOUT_OUT_DIR, readable by the worker's user only, and kept in the
 * row encrypted), cancelled while not yet sealed. Sending and the bank's answers: submission.ts.
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
 * Payouts whose member's card was replaced and is cooling off are HELD first, never taken.
 */
export async function createBatch(db: pg.Pool, actor: Actor, account: PayingAccount, max: number): Promise<CreatedBatch | null> {
  if (!Number.isSafeInteger(max) || max < 1) throw new PayoutError('must be a whole number of at least 1', 'BAD_USER_INPUT', 'maxPayouts');
  return inTransaction(db, async (tx) => {
    await followBankCards(tx, coolingOffDays());
    // The members are locked (shared) until the commit: a card changed meanwhile is rechecked
    // here, and the attempts copy the card that was checked.
    const { rows: payouts } = await tx.query<{ id: number; amountFen: number; attempts: number; claimId: number }>(
      `SELECT p.id, p.amount_fen AS "amountFen", p.attempts, p.claim_id AS "claimId"
         FROM payouts p JOIN members m ON m.id = p.member_id
        WHERE p.status = 'READY' AND m.bank_card_enc IS NOT NULL
          AND NOT ${cardCoolingOff('$2')}
        ORDER BY p.id LIMIT $1 FOR UPDATE OF p SKIP LOCKED FOR SHARE OF m`,
      [max, coolingOffDays()],
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

async function lockBatch(tx: Tx, batchId: number): Promise<BatchRow> {
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

/** A DRAFT or APPROVED batch is withdrawn; its payouts wait for another batch again (READY, or HELD as their card says). */
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
    const payoutIds = rows.map((r) => r.payoutId);
    await tx.query(`UPDATE payouts SET status = 'READY', updated_at = now() WHERE id = ANY($1::bigint[]) AND status = 'IN_BATCH'`, [payoutIds]);
    await followBankCards(tx, coolingOffDays(), payoutIds);
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
 * A payment leaves the batch first (a batch only ever loses payments after its approval, never
 * gains one) when its claim was reversed or rejected since (the payout is CANCELLED), or when its
 * member's bank card is no longer the one the attempt carries, the one the approver saw (the payout
 * waits again, HELD while the new card cools off). With none left the batch is cancelled and
 * `file` is null. The files are written before the row commits; a crash between leaves files that
 * the next sealing overwrites, and the row is the record (its file encrypted).
 */
export async function sealBatch(db: pg.Pool, sealing: SealingContext, batchId: number, now = new Date()): Promise<{ msgId: string; file: string | null }> {
  return inTransaction(db, async (tx) => {
    const batch = await lockBatch(tx, batchId);
    expectStatus(batch, ['APPROVED'], 'seal');
    // The members are locked (shared) so that the card compared is the card on record at the commit.
    const { rows: planned } = await tx.query<PlannedPayment & {
      endToEndId: string; creditorName: string; accountEnc: Buffer; memberCardEnc: Buffer | null; creditorAgent: string; remittanceInfo: string;
    }>(
      `SELECT a.id AS "attemptId", a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen",
              a.creditor_name AS "creditorName", a.creditor_account_enc AS "accountEnc", m.bank_card_enc AS "memberCardEnc",
              a.creditor_agent AS "creditorAgent", a.remittance_info AS "remittanceInfo", c.id AS "claimId", c.status AS "claimStatus"
         FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN claims c ON c.id = p.claim_id JOIN members m ON m.id = p.member_id
        WHERE a.batch_id = $1 AND a.status = 'PLANNED' ORDER BY a.id FOR SHARE OF m`,
      [batchId],
    );
    const reversed = planned.filter((a) => a.claimStatus !== 'APPROVED');
    const approved = planned.filter((a) => a.claimStatus === 'APPROVED').map((a) => {
      const creditorAccount = decrypt(sealing.keys, a.accountEnc);
      return { ...a, creditorAccount, cardChanged: a.memberCardEnc === null || decrypt(sealing.keys, a.memberCardEnc) !== creditorAccount };
    });
    const cardChanged = approved.filter((a) => a.cardChanged);
    const attempts = approved.filter((a) => !a.cardChanged);
    if (reversed.length + cardChanged.length > 0) await withdrawPayments(tx, batch, { reversed, cardChanged }, attempts.length);
    if (attempts.length === 0) return { msgId: batch.msgId, file: null };
    const xml = batchDocument({
      msgId: batch.msgId,
      pmtInfId: batch.pmtInfId,
      requestedExecutionDate: batch.requestedExecutionDate,
      debtor: { name: batch.debtorName, account: batch.debtorAccount, agent: batch.debtorAgent },
      initiatingParty: sealing.initiatingParty,
      attempts,
    }, now);
    const content = Buffer.from(xml, 'utf8');
    const sha256 = createHash('sha256').update(content).digest();
    const seal = sealDocument(content, sealing.seal, now);
    const file = writeBatchFiles(sealing.outDir, batch.msgId, content, seal);
    await tx.query(
      `UPDATE payout_batches SET status = 'SEALED', file_enc = $2, file_sha256 = $3, seal = $4, sealed_at = $5 WHERE id = $1`,
      [batchId, encrypt(sealing.keys, xml), sha256, seal, now],
    );
    await recordAudit(tx, { subject: 'payout-worker', role: 'SERVICE' }, {
      action: 'payout.batch.seal', targetType: 'PayoutBatch', targetId: batch.msgId,
      details: { batchId, sha256: sha256.toString('hex'), signer: subjectLine(sealing.seal.certificate) },
    });
    return { msgId: batch.msgId, file };
  });
}

interface PlannedPayment {
  attemptId: number;
  payoutId: number;
  amountFen: number;
  claimId: number;
  claimStatus: string;
}

/**
 * Payments leave the batch (attempts cancelled) and its totals follow; audited. Payouts of claims
 * no longer approved are CANCELLED; payouts whose card changed wait for a later batch, whose
 * approver sees the new card.
 */
async function withdrawPayments(
  tx: Tx, batch: BatchRow, withdrawn: { reversed: PlannedPayment[]; cardChanged: PlannedPayment[] }, remaining: number,
): Promise<void> {
  const all = [...withdrawn.reversed, ...withdrawn.cardChanged];
  await tx.query(`UPDATE payout_attempts SET status = 'CANCELLED', status_at = now() WHERE id = ANY($1::bigint[])`, [all.map((a) => a.attemptId)]);
  if (withdrawn.reversed.length > 0) {
    await tx.query(
      `UPDATE payouts p SET status = 'CANCELLED', updated_at = now(),
              status_reason = 'its claim was ' || lower(c.status) || ' after the batch was approved, before it was sealed'
         FROM claims c WHERE p.id = ANY($1::bigint[]) AND c.id = p.claim_id`,
      [withdrawn.reversed.map((a) => a.payoutId)],
    );
  }
  if (withdrawn.cardChanged.length > 0) {
    const changedIds = withdrawn.cardChanged.map((a) => a.payoutId);
    await tx.query(`UPDATE payouts SET status = 'READY', status_reason = NULL, updated_at = now() WHERE id = ANY($1::bigint[])`, [changedIds]);
    await followBankCards(tx, coolingOffDays(), changedIds);
  }
  if (remaining === 0) {
    await tx.query(
      `UPDATE payout_batches SET status = 'CANCELLED', cancelled_by = 'payout-worker', cancel_reason = 'every payment left it before sealing (claim reversed or rejected, or bank card changed)' WHERE id = $1`,
      [batch.id],
    );
  } else {
    await tx.query(
      `UPDATE payout_batches SET nb_of_txs = nb_of_txs - $2, ctrl_sum_fen = ctrl_sum_fen - $3 WHERE id = $1`,
      [batch.id, all.length, all.reduce((sum, a) => sum + a.amountFen, 0)],
    );
  }
  await recordAudit(tx, { subject: 'payout-worker', role: 'SERVICE' }, {
    action: 'payout.batch.withdraw', targetType: 'PayoutBatch', targetId: batch.msgId,
    reason: [withdrawn.reversed.length ? 'claims no longer approved' : null, withdrawn.cardChanged.length ? 'bank cards changed since the batch was created' : null]
      .filter(Boolean).join('; '),
    details: {
      batchId: batch.id,
      claims: withdrawn.reversed.map((a) => ({ claimId: a.claimId, status: a.claimStatus, amountFen: a.amountFen })),
      cardChanged: withdrawn.cardChanged.map((a) => ({ payoutId: a.payoutId, claimId: a.claimId, amountFen: a.amountFen })),
      remaining,
    },
  });
}

/**
 * `<MsgId>.xml` and `<MsgId>.xml.p7s` (docs/design.md contract), each written whole or not at all, and
 * readable by the worker's user only: the file holds every creditor's card number in clear.
 */
function writeBatchFiles(outDir: string, msgId: string, content: Buffer, seal: Buffer): string {
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  chmodSync(outDir, 0o700);
  const file = path.join(outDir, `${msgId}.xml`);
  for (const [target, data] of [[file, content], [`${file}.p7s`, seal]] as const) {
    // A leftover from a crash may have other permissions: start afresh, created 0600.
    rmSync(`${target}.tmp`, { force: true });
    writeFileSync(`${target}.tmp`, data, { mode: 0o600, flag: 'wx' });
    renameSync(`${target}.tmp`, target);
  }
  return file;
}

/**
 * Files sealed before migration 0010 were kept in clear (file_xml): each is replaced by its
 * encryption, checked against the sealed hash first. Run when the payout worker starts; returns
 * how many were encrypted.
 */
export async function encryptClearBatchFiles(db: pg.Pool, keys: PersonalDataKeys): Promise<number> {
  let encrypted = 0;
  // One file at a time: a batch file can be megabytes.
  for (let after = 0; ; encrypted += 1) {
    const { rows: [row] } = await db.query<{ id: number; msgId: string; xml: string; sha256: Buffer }>(
      `SELECT id, msg_id AS "msgId", file_xml AS xml, file_sha256 AS sha256 FROM payout_batches WHERE file_xml IS NOT NULL AND id > $1 ORDER BY id LIMIT 1`,
      [after],
    );
    if (!row) return encrypted;
    if (!createHash('sha256').update(row.xml, 'utf8').digest().equals(row.sha256)) {
      throw new Error(`payout batch ${row.msgId}: its stored file does not match its sealed hash; it is left in clear for a person to look at`);
    }
    await db.query(`UPDATE payout_batches SET file_enc = $2, file_xml = NULL WHERE id = $1 AND file_xml IS NOT NULL`, [row.id, encrypt(keys, row.xml)]);
    after = row.id;
  }
}

/** What a retry did: the payout waits for a batch again, or (paid before) a second FINANCE person must confirm. */
export type RetryOutcome = 'RETRIED' | 'PROPOSED';

/**
 * A FAILED payout (the bank rejected or returned it) may be tried again: it waits for the next batch
 * (READY, or HELD as its member's card says), where it gets a new attempt and a new EndToEndId.
 * Refused in every other state: only the bank's evidence of failure allows a new attempt (and the
 * database allows one live attempt per payout). A payout the bank had paid (its credit came back,
 * perhaps after settlement) could be paid twice if that evidence is false: its retry is proposed by
 * one FINANCE person and confirmed by another (payout_retries; the database refuses it otherwise).
 */
export async function retryPayout(db: pg.Pool, actor: Actor, payoutId: number, reason: string): Promise<RetryOutcome> {
  if (!reason.trim()) throw new PayoutError('say why the payout is tried again (e.g. the member corrected the bank account)', 'BAD_USER_INPUT', 'reason');
  return inTransaction(db, async (tx) => {
    const { rows } = await tx.query<{ status: string; attempts: number; claimStatus: string; wasPaid: boolean }>(
      `SELECT p.status, p.attempts, c.status AS "claimStatus",
              EXISTS (SELECT 1 FROM payout_attempts a WHERE a.payout_id = p.id AND a.status = 'RETURNED') AS "wasPaid"
         FROM payouts p JOIN claims c ON c.id = p.claim_id WHERE p.id = $1 FOR UPDATE OF p`,
      [payoutId],
    );
    const payout = rows[0];
    if (!payout) throw new PayoutError(`payout ${payoutId} does not exist`, 'NOT_FOUND', 'id');
    if (payout.status !== 'FAILED') throw new PayoutError(`payout ${payoutId} is ${payout.status}: only a payout the bank rejected or returned (FAILED) can be tried again`);
    if (payout.claimStatus !== 'APPROVED') throw new PayoutError(`payout ${payoutId}: its claim is ${payout.claimStatus}, not approved`);
    const target = { targetType: 'Payout', targetId: String(payoutId), reason };
    if (payout.wasPaid) {
      if (actor.role !== 'FINANCE') {
        throw new PayoutError(`payout ${payoutId} was paid by the bank before its money came back: retrying it needs FINANCE (one proposes, another confirms); you are ${actor.role}`, 'FORBIDDEN');
      }
      const { rows: [proposal] } = await tx.query<{ id: number; proposedBy: string }>(
        `SELECT id, proposed_by AS "proposedBy" FROM payout_retries WHERE payout_id = $1 AND after_attempt = $2 FOR UPDATE`,
        [payoutId, payout.attempts],
      );
      if (!proposal) {
        await tx.query(
          `INSERT INTO payout_retries (payout_id, after_attempt, proposed_by, proposed_by_role, reason) VALUES ($1, $2, $3, $4, $5)`,
          [payoutId, payout.attempts, actor.subject, actor.role, reason],
        );
        await recordAudit(tx, actor, { action: 'payout.retry.propose', ...target, details: { afterAttempt: payout.attempts } });
        return 'PROPOSED';
      }
      if (proposal.proposedBy === actor.subject) {
        throw new PayoutError(`you proposed retrying payout ${payoutId}: another FINANCE person must confirm it (four eyes)`, 'FORBIDDEN');
      }
      await tx.query(
        `UPDATE payout_retries SET confirmed_by = $2, confirmed_by_role = $3, confirm_reason = $4, confirmed_at = now() WHERE id = $1`,
        [proposal.id, actor.subject, actor.role, reason],
      );
      await recordAudit(tx, actor, { action: 'payout.retry.confirm', ...target, details: { afterAttempt: payout.attempts, proposedBy: proposal.proposedBy } });
    }
    await tx.query(`UPDATE payouts SET status = 'READY', status_reason = NULL, updated_at = now() WHERE id = $1`, [payoutId]);
    await followBankCards(tx, coolingOffDays(), [payoutId]);
    await recordAudit(tx, actor, { action: 'payout.retry', ...target });
    return 'RETRIED';
  });
}
