import type { Queryable } from '../db/pool.ts';
import { Params } from '../db/sql.ts';
import { memberRowScopeSql, type Scope } from '../members/store.ts';
import type { CountedConnection } from '../members/rows.ts';
import type { StoredBatchFile } from './document.ts';
import { groupBy, type Page } from '../kernel/page.ts';

/** Reads of the payouts domain. Payouts are scoped like claims; batches are for ADMIN, FINANCE and AUDITOR (checked by the resolvers). */

export interface PayoutRow {
  id: number;
  claimId: number;
  memberId: number;
  unitId: number;
  amountFen: number;
  status: string;
  statusReason: string | null;
  paidAt: Date | null;
  settledAt: Date | null;
  createdAt: Date;
}

export interface AttemptRow {
  id: number;
  payoutId: number;
  attemptNo: number;
  batchId: number;
  endToEndId: string;
  status: string;
  amountFen: number;
  creditorName: string;
  creditorAccountMasked: string;
  creditorAgent: string;
  remittanceInfo: string;
  bankStatus: string | null;
  reasonCode: string | null;
  reason: string | null;
  bankReference: string | null;
  statusAt: Date | null;
}

export interface BatchRow {
  id: number;
  msgId: string;
  status: string;
  submission: string;
  channel: string;
  debtorAccount: string;
  debtorName: string;
  requestedExecutionDate: string;
  paymentCount: number;
  totalFen: number;
  createdBy: string;
  createdAt: Date;
  approvedBy: string | null;
  approvedAt: Date | null;
  sealedAt: Date | null;
  submitRequestedBy: string | null;
  submitRequestedAt: Date | null;
  submittedAt: Date | null;
  bankReference: string | null;
  bankCode: string | null;
  bankReason: string | null;
  finalAt: Date | null;
  cancelReason: string | null;
}

export interface SealedBatchFile extends StoredBatchFile {
  seal: Buffer;
  /** SHA-256 of the clear file, which the seal covers. */
  sha256: Buffer;
}

export type PayoutConnectionResult = CountedConnection<PayoutRow>;
export type BatchConnectionResult = CountedConnection<BatchRow>;

const PAYOUT_COLUMNS = `p.id, p.claim_id AS "claimId", p.member_id AS "memberId", p.unit_id AS "unitId", p.amount_fen AS "amountFen",
  p.status, p.status_reason AS "statusReason", p.paid_at AS "paidAt", p.settled_at AS "settledAt", p.created_at AS "createdAt"`;

const ATTEMPT_COLUMNS = `a.id, a.payout_id AS "payoutId", a.attempt_no AS "attemptNo", a.batch_id AS "batchId", a.end_to_end_id AS "endToEndId",
  a.status, a.amount_fen AS "amountFen", a.creditor_name AS "creditorName", a.creditor_account_masked AS "creditorAccountMasked",
  a.creditor_agent AS "creditorAgent", a.remittance_info AS "remittanceInfo", a.bank_status AS "bankStatus", a.reason_code AS "reasonCode",
  a.reason, a.bank_reference AS "bankReference", a.status_at AS "statusAt"`;

const BATCH_COLUMNS = `b.id, b.msg_id AS "msgId", b.status, b.submission, b.channel, b.debtor_account AS "debtorAccount",
  b.debtor_name AS "debtorName", b.requested_execution_date AS "requestedExecutionDate", b.nb_of_txs AS "paymentCount",
  b.ctrl_sum_fen AS "totalFen", b.created_by AS "createdBy", b.created_at AS "createdAt", b.approved_by AS "approvedBy",
  b.approved_at AS "approvedAt", b.sealed_at AS "sealedAt", b.submit_requested_by AS "submitRequestedBy",
  b.submit_requested_at AS "submitRequestedAt", b.submitted_at AS "submittedAt", b.bank_reference AS "bankReference",
  b.bank_code AS "bankCode", b.bank_reason AS "bankReason", b.final_at AS "finalAt", b.cancel_reason AS "cancelReason"`;

export interface PayoutFilter {
  status?: string | null;
  memberId?: number | null;
  unitId?: number | null;
  batchId?: number | null;
}

function payoutFilterSql(p: Params, scope: Scope, f: PayoutFilter): string {
  const where = [memberRowScopeSql(p, scope, 'p')];
  if (f.status) where.push(`p.status = ${p.add(f.status)}`);
  if (f.memberId != null) where.push(`p.member_id = ${p.add(f.memberId)}`);
  if (f.unitId != null) where.push(`p.unit_id = ${p.add(f.unitId)}`);
  if (f.batchId != null) where.push(`EXISTS (SELECT 1 FROM payout_attempts a WHERE a.payout_id = p.id AND a.batch_id = ${p.add(f.batchId)})`);
  return where.join(' AND ');
}

/** Newest first, keyset on id. */
export async function listPayouts(db: Queryable, scope: Scope, filter: PayoutFilter, page: Page): Promise<PayoutRow[]> {
  const p = new Params();
  const after = page.afterKey === null ? '' : `AND p.id < ${p.add(page.afterKey)}`;
  const { rows } = await db.query<PayoutRow>(
    `SELECT ${PAYOUT_COLUMNS} FROM payouts p WHERE ${payoutFilterSql(p, scope, filter)} ${after} ORDER BY p.id DESC LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countPayouts(db: Queryable, scope: Scope, filter: PayoutFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payouts p WHERE ${payoutFilterSql(p, scope, filter)}`, p.values);
  return rows[0]!.n;
}

export async function payoutsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<PayoutRow[]> {
  const p = new Params();
  const { rows } = await db.query<PayoutRow>(`SELECT ${PAYOUT_COLUMNS} FROM payouts p WHERE p.id = ANY(${p.add(ids)}) AND ${memberRowScopeSql(p, scope, 'p')}`, p.values);
  return rows;
}

export async function payoutsOfClaims(db: Queryable, claimIds: readonly number[], scope: Scope): Promise<(PayoutRow | null)[]> {
  const p = new Params();
  const { rows } = await db.query<PayoutRow>(
    `SELECT ${PAYOUT_COLUMNS} FROM payouts p WHERE p.claim_id = ANY(${p.add(claimIds)}) AND ${memberRowScopeSql(p, scope, 'p')}`,
    p.values,
  );
  const byClaim = new Map(rows.map((r) => [r.claimId, r]));
  return claimIds.map((id) => byClaim.get(id) ?? null);
}

/** One page of payouts for each member (newest first), in one query. */
export async function payoutsOfMembers(db: Queryable, memberIds: number[], scope: Scope, page: Page): Promise<Map<number, PayoutRow[]>> {
  const p = new Params();
  const after = page.afterKey === null ? '' : `AND p.id < ${p.add(page.afterKey)}`;
  const { rows } = await db.query<PayoutRow>(
    `SELECT x.* FROM unnest(${p.add(memberIds)}::bigint[]) AS k(member_id)
     CROSS JOIN LATERAL (SELECT ${PAYOUT_COLUMNS} FROM payouts p
                          WHERE p.member_id = k.member_id AND ${memberRowScopeSql(p, scope, 'p')} ${after}
                          ORDER BY p.id DESC LIMIT ${p.add(page.limit)}) x`,
    p.values,
  );
  return groupBy(rows, (r) => r.memberId);
}

export async function attemptsOfPayouts(db: Queryable, payoutIds: readonly number[]): Promise<AttemptRow[][]> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT ${ATTEMPT_COLUMNS} FROM payout_attempts a WHERE a.payout_id = ANY($1::bigint[]) ORDER BY a.payout_id, a.attempt_no`,
    [payoutIds],
  );
  const grouped = groupBy(rows, (r) => r.payoutId);
  return payoutIds.map((id) => grouped.get(id) ?? []);
}

export async function batchesByIds(db: Queryable, ids: readonly number[]): Promise<BatchRow[]> {
  const { rows } = await db.query<BatchRow>(`SELECT ${BATCH_COLUMNS} FROM payout_batches b WHERE b.id = ANY($1::bigint[])`, [ids]);
  return rows;
}

export async function listBatches(db: Queryable, status: string | null | undefined, page: Page): Promise<BatchRow[]> {
  const p = new Params();
  const where = [status ? `b.status = ${p.add(status)}` : 'true'];
  if (page.afterKey !== null) where.push(`b.id < ${p.add(page.afterKey)}`);
  const { rows } = await db.query<BatchRow>(
    `SELECT ${BATCH_COLUMNS} FROM payout_batches b WHERE ${where.join(' AND ')} ORDER BY b.id DESC LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countBatches(db: Queryable, status: string | null | undefined): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payout_batches WHERE $1::text IS NULL OR status = $1`, [status ?? null]);
  return rows[0]!.n;
}

export async function attemptCountsOfBatches(db: Queryable, batchIds: readonly number[]): Promise<{ status: string; count: number }[][]> {
  const { rows } = await db.query<{ batchId: number; status: string; count: number }>(
    `SELECT batch_id AS "batchId", status, count(*)::int AS count FROM payout_attempts WHERE batch_id = ANY($1::bigint[]) GROUP BY batch_id, status ORDER BY batch_id, status`,
    [batchIds],
  );
  const grouped = groupBy(rows, (r) => r.batchId);
  return batchIds.map((id) => (grouped.get(id) ?? []).map(({ status, count }) => ({ status, count })));
}

/** The sealed file (as stored: encrypted, or in clear before migration 0010) and seal of each batch (null before sealing), in the order asked. */
export async function batchFiles(db: Queryable, batchIds: readonly number[]): Promise<(SealedBatchFile | null)[]> {
  const { rows } = await db.query<SealedBatchFile & { id: number }>(
    `SELECT id, file_enc AS "fileEnc", file_xml AS "fileXml", seal, file_sha256 AS sha256 FROM payout_batches WHERE id = ANY($1::bigint[]) AND seal IS NOT NULL`,
    [batchIds],
  );
  const byId = new Map(rows.map(({ id, ...file }) => [id, file]));
  return batchIds.map((id) => byId.get(id) ?? null);
}

export interface RetryProposalRow {
  proposedBy: string;
  proposedAt: Date;
  reason: string;
}

/** The unconfirmed retry proposal following each payout's latest attempt (null when none), in the order asked. */
export async function retryProposalsOfPayouts(db: Queryable, payoutIds: readonly number[]): Promise<(RetryProposalRow | null)[]> {
  const { rows } = await db.query<RetryProposalRow & { payoutId: number }>(
    `SELECT r.payout_id AS "payoutId", r.proposed_by AS "proposedBy", r.proposed_at AS "proposedAt", r.reason
       FROM payout_retries r JOIN payouts p ON p.id = r.payout_id AND r.after_attempt = p.attempts
      WHERE r.payout_id = ANY($1::bigint[]) AND r.confirmed_at IS NULL`,
    [payoutIds],
  );
  const byPayout = new Map(rows.map(({ payoutId, ...proposal }) => [payoutId, proposal]));
  return payoutIds.map((id) => byPayout.get(id) ?? null);
}
