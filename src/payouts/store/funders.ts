import type { Actor } from '../../audit/audit.ts';
import { Params } from '../../db/sql.ts';
import type { Queryable, Tx } from '../../kernel/transaction.ts';
import type { Scope } from '../../kernel/scope.ts';
import { organisationRowScopeSql } from '../../db/scope.ts';
import type { FunderBalanceRow, FunderRow } from '../model.ts';

/**
 * SQL of funders (出资方, table `funders`, migration 0021; its account fixed by 0023): reads, a new
 * funder, the accounts their payouts are paid from, and each funder's balance.
 */

const FUNDER_COLUMNS = `f.id, f.code, f.name, f.organisation_id AS "organisationId", f.account, f.account_name AS "accountName",
  f.agent, f.created_at AS "createdAt"`;

/**
 * The funders the caller may see, by code (all, or those of `ids`): staff of an organisation see
 * the funders of their organisation and of those below it.
 */
export async function listFunders(db: Queryable, scope: Scope, ids?: readonly number[]): Promise<FunderRow[]> {
  const p = new Params();
  const where = [organisationRowScopeSql(p, scope, 'f.organisation_id')];
  if (ids) where.push(`f.id = ANY(${p.add(ids)}::bigint[])`);
  const { rows } = await db.query<FunderRow>(`SELECT ${FUNDER_COLUMNS} FROM funders f WHERE ${where.join(' AND ')} ORDER BY f.code`, p.values);
  return rows;
}

/** Funders by id, whoever asks (a payout's or a batch's funder: who sees those sees whose money they are). */
export async function fundersByIds(db: Queryable, ids: readonly number[]): Promise<FunderRow[]> {
  const { rows } = await db.query<FunderRow>(`SELECT ${FUNDER_COLUMNS} FROM funders f WHERE f.id = ANY($1::bigint[])`, [ids]);
  return rows;
}

export async function funderByCode(db: Queryable, code: string): Promise<FunderRow | null> {
  const { rows } = await db.query<FunderRow>(`SELECT ${FUNDER_COLUMNS} FROM funders f WHERE f.code = $1`, [code]);
  return rows[0] ?? null;
}

/** Every funder's own account (UNION's is the configured one, not in the table). */
export async function funderAccounts(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ account: string }>(`SELECT account FROM funders WHERE account IS NOT NULL ORDER BY account`);
  return rows.map((r) => r.account);
}

/**
 * Whether a batch of the UNION funder (no account in the table: paid from the PAYOUT_ACCOUNT of the
 * process that made it) names `account` as its debtor: the union's money was paid from it.
 */
export async function unionBatchPaidFrom(db: Queryable, account: string): Promise<boolean> {
  const { rows } = await db.query<{ paid: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM payout_batches b JOIN funders f ON f.id = b.funder_id WHERE f.account IS NULL AND b.debtor_account = $1) AS paid`,
    [account],
  );
  return rows[0]!.paid;
}

export interface NewFunder {
  code: string;
  name: string;
  organisationCode: string;
  account: string;
  accountName: string;
  agent: string;
}

/** Inserts the funder; null when its organisation does not exist. Unique code and account: the caller maps the violation. */
export async function insertFunder(tx: Tx, funder: NewFunder, actor: Actor): Promise<FunderRow | null> {
  const { rows } = await tx.query<FunderRow>(
    `INSERT INTO funders AS f (code, name, organisation_id, account, account_name, agent, created_by)
     SELECT $1, $2, o.id, $4, $5, $6, $7 FROM organisations o WHERE o.code = $3
     RETURNING ${FUNDER_COLUMNS}`,
    [funder.code, funder.name, funder.organisationCode, funder.account, funder.accountName, funder.agent, actor.subject],
  );
  return rows[0] ?? null;
}

/**
 * Of the funders `among` (all when null), the one whose READY payout is oldest (the next batch is
 * that funder's); null when none is ready. A hint only: the batch then locks that funder's READY payouts.
 */
export async function funderOfOldestReadyPayout(tx: Tx, among: readonly number[] | null): Promise<number | null> {
  const { rows } = await tx.query<{ funderId: number }>(
    `SELECT funder_id AS "funderId" FROM payouts WHERE status = 'READY' AND ($1::bigint[] IS NULL OR funder_id = ANY($1::bigint[])) ORDER BY id LIMIT 1`,
    [among],
  );
  return rows[0]?.funderId ?? null;
}

/**
 * Each funder's figures for a plan year (claims and condolence payments of that year), every one from the rows (see
 * FunderBalanceRow for the equation). `unionAccount` is the configured account UNION pays from; a
 * settled debit counts only when it was matched on the funder's own account's statement, and only
 * the paid attempt's: a retried payout's returned attempt took money that came back.
 */
export async function funderBalances(db: Queryable, funderIds: readonly number[], planYear: number, unionAccount: string): Promise<FunderBalanceRow[]> {
  const { rows } = await db.query<FunderBalanceRow>(
    `WITH k AS (SELECT f.id, coalesce(f.account, $3) AS account FROM funders f WHERE f.id = ANY($1::bigint[])),
     lines AS (
       SELECT l.funder_id, coalesce(l.adjusted_fen, l.amount_fen) AS fen,
              EXISTS (SELECT 1 FROM payout_lines pl JOIN payouts p ON p.id = pl.payout_id WHERE pl.benefit_line_id = l.id AND p.status <> 'CANCELLED') AS in_payout
         FROM benefit_lines l JOIN claims c ON c.id = l.claim_id
        WHERE l.funder_id = ANY($1::bigint[]) AND c.plan_year = $2 AND l.status IN ('APPROVED', 'PAID')
       UNION ALL
       SELECT d.funder_id, d.approved_fen,
              EXISTS (SELECT 1 FROM payouts p WHERE p.condolence_id = d.id AND p.status <> 'CANCELLED')
         FROM condolences d WHERE d.funder_id = ANY($1::bigint[]) AND d.plan_year = $2 AND d.status = 'APPROVED'),
     pays AS (
       SELECT p.id, p.funder_id, p.status, p.amount_fen FROM payouts p
         LEFT JOIN claims c ON c.id = p.claim_id LEFT JOIN condolences d ON d.id = p.condolence_id
        WHERE p.funder_id = ANY($1::bigint[]) AND coalesce(c.plan_year, d.plan_year) = $2),
     settled AS (
       SELECT p.funder_id, sum(m.amount_fen) AS fen
         FROM pays p JOIN payout_attempts a ON a.payout_id = p.id AND a.status = 'PAID'
         JOIN reconciliation_matches m ON m.payout_attempt_id = a.id AND m.kind = 'PAYOUT'
         JOIN statement_entries e ON e.id = m.entry_id JOIN k ON k.id = p.funder_id AND e.account = k.account
        WHERE p.status = 'SETTLED' GROUP BY p.funder_id)
     SELECT x.*, ((x."approvedFen" - x."payoutsFen" - x."unpaidApprovedFen") + (x."paidFen" - x."settledFen" - x."unreconciledFen"))::bigint AS "differenceFen"
       FROM (SELECT k.id AS "funderId", $2::int AS "planYear",
            (SELECT coalesce(sum(fen), 0) FROM lines WHERE lines.funder_id = k.id)::bigint AS "approvedFen",
            (SELECT coalesce(sum(fen), 0) FROM lines WHERE lines.funder_id = k.id AND NOT in_payout)::bigint AS "unpaidApprovedFen",
            (SELECT coalesce(sum(amount_fen), 0) FROM pays WHERE pays.funder_id = k.id AND status <> 'CANCELLED')::bigint AS "payoutsFen",
            (SELECT coalesce(json_agg(s ORDER BY s.status), '[]') FROM (
               SELECT status, count(*)::int AS payouts, sum(amount_fen)::bigint AS "totalFen" FROM pays WHERE pays.funder_id = k.id GROUP BY status) s
            ) AS "payoutsByStatus",
            (SELECT coalesce(sum(amount_fen), 0) FROM pays WHERE pays.funder_id = k.id AND status IN ('PAID', 'SETTLED'))::bigint AS "paidFen",
            (SELECT coalesce(sum(fen), 0) FROM settled WHERE settled.funder_id = k.id)::bigint AS "settledFen",
            (SELECT coalesce(sum(amount_fen), 0) FROM pays WHERE pays.funder_id = k.id AND status = 'PAID')::bigint AS "unreconciledFen"
       FROM k) x`,
    [funderIds, planYear, unionAccount],
  );
  return rows;
}
