import type { Queryable } from '../../kernel/transaction.ts';
import { Params } from '../../db/sql.ts';
import { memberRowScopeSql } from '../../db/scope.ts';
import type { Scope } from '../../kernel/scope.ts';
import { byKey, keysetSql } from '../../db/keyset.ts';
import type { Page } from '../../kernel/page.ts';
import type { PayoutStatus } from '../../payouts/model.ts';
import type { ClaimRow, ClaimStatus } from '../model.ts';
import { CLAIM_COLUMNS } from '../store.ts';

/**
 * SQL of claims' turnaround (办理时限): received when the settlement reached the hub
 * (settlements.received_at), decided when the rules or a reviewer decided it (claims.decided_at; a
 * claim the rules refuse is decided when they refuse it), paid when its payout was paid
 * (payouts.paid_at, while PAID or SETTLED: a returned payment is unpaid again).
 */

/** A claim's times, and what the member-readable stage needs. */
export interface ClaimTimes {
  claimId: number;
  status: ClaimStatus;
  receivedAt: Date;
  decidedAt: Date | null;
  paidAt: Date | null;
  /** Something is to be paid: undecided, or approved with a payable total. */
  paymentExpected: boolean;
  payoutStatus: PayoutStatus | null;
}

const DECIDED_AT = `CASE WHEN c.status = 'PENDING_REVIEW' THEN NULL ELSE c.decided_at END`;
const PAID_AT = `CASE WHEN p.status IN ('PAID', 'SETTLED') THEN p.paid_at END`;
const PAYMENT_EXPECTED = `(c.status IN ('PENDING_REVIEW', 'APPROVED') AND c.total_fen > 0)`;

/** The times of each claim in `claimIds` (null for one that does not exist); the caller loaded the claims in its scope. */
export async function claimTimes(db: Queryable, claimIds: readonly number[]): Promise<(ClaimTimes | null)[]> {
  const { rows } = await db.query<ClaimTimes>(
    `SELECT c.id AS "claimId", c.status, s.received_at AS "receivedAt", ${DECIDED_AT} AS "decidedAt", ${PAID_AT} AS "paidAt",
            ${PAYMENT_EXPECTED} AS "paymentExpected", p.status AS "payoutStatus"
       FROM claims c JOIN settlements s ON s.id = c.settlement_id LEFT JOIN claim_payments p ON p.claim_id = c.id
      WHERE c.id = ANY($1::bigint[])`,
    [claimIds],
  );
  const byId = new Map(rows.map((r) => [r.claimId, r]));
  return claimIds.map((id) => byId.get(id) ?? null);
}

/** Open claims received before these instants are late (computed from the promise by the caller). */
export interface BreachBounds {
  /** Undecided and received before it: the decision is late; null leaves these out. */
  decisionLateBefore: Date | null;
  /** Payable, unpaid and received before it: the payment is late; null leaves these out. */
  paymentLateBefore: Date | null;
}

/** Oldest receipt first; the claim id follows receipt closely enough, and is what a cursor keeps. */
export const BREACH_ORDER = byKey('c.id', 'ASC');

function breachSql(p: Params, scope: Scope, bounds: BreachBounds): string {
  const parts = ['false'];
  if (bounds.decisionLateBefore) parts.push(`(c.status = 'PENDING_REVIEW' AND s.received_at < ${p.add(bounds.decisionLateBefore)})`);
  if (bounds.paymentLateBefore) parts.push(`(${PAYMENT_EXPECTED} AND ${PAID_AT} IS NULL AND s.received_at < ${p.add(bounds.paymentLateBefore)})`);
  return `(${parts.join(' OR ')}) AND ${memberRowScopeSql(p, scope, 'c')}`;
}

const BREACH_FROM = `claims c JOIN settlements s ON s.id = c.settlement_id LEFT JOIN claim_payments p ON p.claim_id = c.id`;

/** A page of the claims in `scope` past their promise and still open (staff only). */
export async function listClaimBreaches(db: Queryable, scope: Scope, bounds: BreachBounds, page: Page): Promise<ClaimRow[]> {
  const p = new Params();
  const where = breachSql(p, scope, bounds);
  const keyset = keysetSql(p, BREACH_ORDER, page);
  const { rows } = await db.query<ClaimRow>(
    `SELECT ${CLAIM_COLUMNS} FROM ${BREACH_FROM} WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countClaimBreaches(db: Queryable, scope: Scope, bounds: BreachBounds): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${BREACH_FROM} WHERE ${breachSql(p, scope, bounds)}`, p.values);
  return rows[0]!.n;
}
