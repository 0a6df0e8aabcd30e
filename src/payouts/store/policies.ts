import type { Actor } from '../../audit/audit.ts';
import { Params } from '../../db/sql.ts';
import { byKey, keysetSql } from '../../db/keyset.ts';
import { organisationRowScopeSql } from '../../db/scope.ts';
import type { Page } from '../../kernel/page.ts';
import type { Scope } from '../../kernel/scope.ts';
import type { Queryable, Tx } from '../../kernel/transaction.ts';
import type { PaymentPolicyRow, PolicyLimits, PolicyStatus, ReleasedToday } from '../model.ts';

/**
 * SQL of standing payment policies (即时办, migration 0027): reads scoped by the funder's
 * organisation, proposal, approval and revocation, what the policies released today, and the
 * batches a revocation stops. The limits themselves are checked by the database at each release.
 */

const POLICY_COLUMNS = `pp.id, pp.funder_id AS "funderId", pp.max_payout_fen AS "maxPayoutFen", pp.daily_sum_fen AS "dailySumFen",
  pp.daily_count AS "dailyCount", pp.account_unchanged_days AS "accountUnchangedDays", pp.valid_from AS "validFrom", pp.valid_until AS "validUntil",
  pp.reason, pp.proposed_by AS "proposedBy", pp.proposed_at AS "proposedAt", pp.approved_by AS "approvedBy", pp.approved_at AS "approvedAt",
  pp.revoked_by AS "revokedBy", pp.revoked_at AS "revokedAt", pp.revoke_reason AS "revokeReason"`;

/** Policies the caller may see: staff of an organisation those of its funders and of those below it. */
function policyScopeSql(p: Params, scope: Scope): string {
  return scope.organisationId == null ? 'true'
    : `EXISTS (SELECT 1 FROM funders f WHERE f.id = pp.funder_id AND ${organisationRowScopeSql(p, scope, 'f.organisation_id')})`;
}

/** policyStatus (model.ts) in SQL. */
const STATUS_SQL: Record<PolicyStatus, string> = {
  REVOKED: 'pp.revoked_at IS NOT NULL',
  ENDED: 'pp.revoked_at IS NULL AND now() >= pp.valid_until',
  PROPOSED: 'pp.revoked_at IS NULL AND now() < pp.valid_until AND pp.approved_at IS NULL',
  SCHEDULED: 'pp.revoked_at IS NULL AND now() < pp.valid_from AND pp.approved_at IS NOT NULL',
  ACTIVE: 'pp.revoked_at IS NULL AND now() >= pp.valid_from AND now() < pp.valid_until AND pp.approved_at IS NOT NULL',
};

export interface PolicyFilter {
  status?: PolicyStatus | null;
  funderId?: number | null;
}

function policyFilterSql(p: Params, scope: Scope, f: PolicyFilter): string {
  const where = [policyScopeSql(p, scope)];
  if (f.status) where.push(STATUS_SQL[f.status]);
  if (f.funderId != null) where.push(`pp.funder_id = ${p.add(f.funderId)}`);
  return where.join(' AND ');
}

/** Policies newest first. */
export const POLICY_ORDER = byKey('pp.id', 'DESC');

export async function listPolicies(db: Queryable, scope: Scope, filter: PolicyFilter, page: Page): Promise<PaymentPolicyRow[]> {
  const p = new Params();
  const where = policyFilterSql(p, scope, filter);
  const keyset = keysetSql(p, POLICY_ORDER, page);
  const { rows } = await db.query<PaymentPolicyRow>(
    `SELECT ${POLICY_COLUMNS}${keyset.pageKey} FROM payment_policies pp WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countPolicies(db: Queryable, scope: Scope, filter: PolicyFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payment_policies pp WHERE ${policyFilterSql(p, scope, filter)}`, p.values);
  return rows[0]!.n;
}

export async function policiesByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<PaymentPolicyRow[]> {
  const p = new Params();
  const { rows } = await db.query<PaymentPolicyRow>(
    `SELECT ${POLICY_COLUMNS} FROM payment_policies pp WHERE pp.id = ANY(${p.add(ids)}::bigint[]) AND ${policyScopeSql(p, scope)}`,
    p.values,
  );
  return rows;
}

/** The ids of the policies in force now (the worker releases under each). */
export async function policiesInForce(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(`SELECT pp.id FROM payment_policies pp WHERE ${STATUS_SQL.ACTIVE} ORDER BY pp.id`);
  return rows.map((r) => r.id);
}

/**
 * The policy locked within the caller's scope (null: none): FOR UPDATE to decide on it, FOR SHARE
 * to release or send under it — a revocation then waits for those, or they for it.
 */
export async function lockPolicy(tx: Tx, id: number, scope: Scope, mode: 'UPDATE' | 'SHARE'): Promise<PaymentPolicyRow | null> {
  const p = new Params();
  const { rows } = await tx.query<PaymentPolicyRow>(
    `SELECT ${POLICY_COLUMNS} FROM payment_policies pp WHERE pp.id = ${p.add(id)} AND ${policyScopeSql(p, scope)} FOR ${mode} OF pp`,
    p.values,
  );
  return rows[0] ?? null;
}

export async function insertPolicy(tx: Tx, policy: PolicyLimits & { reason: string }, actor: Actor): Promise<PaymentPolicyRow> {
  const { rows: [row] } = await tx.query<PaymentPolicyRow>(
    `INSERT INTO payment_policies AS pp (funder_id, max_payout_fen, daily_sum_fen, daily_count, account_unchanged_days, valid_from, valid_until,
                                         reason, proposed_by, proposed_by_role)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${POLICY_COLUMNS}`,
    [policy.funderId, policy.maxPayoutFen, policy.dailySumFen, policy.dailyCount, policy.accountUnchangedDays, policy.validFrom, policy.validUntil,
     policy.reason, actor.subject, actor.role],
  );
  return row!;
}

export async function markPolicyApproved(tx: Tx, id: number, actor: Actor): Promise<PaymentPolicyRow> {
  const { rows: [row] } = await tx.query<PaymentPolicyRow>(
    `UPDATE payment_policies pp SET approved_by = $2, approved_by_role = $3, approved_at = now() WHERE pp.id = $1 RETURNING ${POLICY_COLUMNS}`,
    [id, actor.subject, actor.role],
  );
  return row!;
}

export async function markPolicyRevoked(tx: Tx, id: number, actor: Actor, reason: string): Promise<PaymentPolicyRow> {
  const { rows: [row] } = await tx.query<PaymentPolicyRow>(
    `UPDATE payment_policies pp SET revoked_by = $2, revoked_by_role = $3, revoked_at = now(), revoke_reason = $4 WHERE pp.id = $1 RETURNING ${POLICY_COLUMNS}`,
    [id, actor.subject, actor.role, reason],
  );
  return row!;
}

/**
 * Serialises releases from one paying account (the trigger payout_batch_release takes the same
 * lock): the day's room is read and taken by one release at a time.
 */
export async function lockAccountDay(tx: Tx, account: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('payment_policy_release:' || $1))`, [account]);
}

const CHINA_DAY_START = `date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'`;

/** What policies released today (China day) from each of the accounts, payments withdrawn since not counted. */
export async function releasedTodayFrom(db: Queryable, accounts: readonly string[]): Promise<Map<string, ReleasedToday>> {
  const { rows } = await db.query<ReleasedToday & { account: string }>(
    `SELECT b.debtor_account AS account, count(a.id)::int AS payouts, coalesce(sum(a.amount_fen), 0)::bigint AS "totalFen"
       FROM payout_batches b JOIN payout_attempts a ON a.batch_id = b.id AND a.status <> 'CANCELLED'
      WHERE b.debtor_account = ANY($1::text[]) AND b.released_at >= ${CHINA_DAY_START}
      GROUP BY b.debtor_account`,
    [accounts],
  );
  return new Map(rows.map(({ account, ...today }) => [account, today]));
}

/** The policy's batches not yet handed to the bank (released, perhaps sealed), locked: a revocation stops them. */
export async function lockUnsentBatchesOfPolicy(tx: Tx, policyId: number): Promise<{ id: number; msgId: string }[]> {
  const { rows } = await tx.query<{ id: number; msgId: string }>(
    `SELECT id, msg_id AS "msgId" FROM payout_batches
      WHERE policy_id = $1 AND status IN ('APPROVED', 'SEALED') AND submission = 'NOT_SENT' ORDER BY id FOR UPDATE`,
    [policyId],
  );
  return rows;
}

/** A released policy batch: APPROVED by its policy (the trigger stamps released_at) and asked to be sent. */
export async function markBatchReleased(tx: Tx, batchId: number, releasedBy: string): Promise<void> {
  await tx.query(
    `UPDATE payout_batches SET status = 'APPROVED', submit_requested_by = $2, submit_requested_at = now() WHERE id = $1 AND status = 'DRAFT'`,
    [batchId, releasedBy],
  );
}
