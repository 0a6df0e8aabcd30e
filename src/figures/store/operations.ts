import type { Queryable } from '../../kernel/transaction.ts';
import { EXCEPTION_KINDS, type ExceptionKind } from '../../reconciliation/matching/types.ts';

/**
 * SQL of the operations figures: what someone must act on now, read for Prometheus at scrape time
 * across every organisation (operators' view, not a caller's scope). One statement, so a scrape costs
 * one round trip; ages are seconds up to the database's now().
 */

/** Batches whose sending is in doubt: being sent, or sent without an answer (查询银行再决定). */
export const DOUBTFUL_SUBMISSIONS = ['SENDING', 'UNKNOWN'] as const;
export type DoubtfulSubmission = (typeof DOUBTFUL_SUBMISSIONS)[number];

/** What the caller works out from the configured promise and calendar. */
export interface OperationsBounds {
  /** Applications still SUBMITTED and first submitted before this instant are past their promised decision. */
  applicationsLateBefore: Date;
  /** Statement days (China dates, bank working days) each account must have a proven daily proof for. */
  statementDays: readonly string[];
  /** Accounts configured for reconciliation; those payouts are paid from, funders' and statements' are added. */
  accounts: readonly string[];
}

export interface CountAndAge {
  count: number;
  /** Age of the oldest, in seconds; 0 when there is none. */
  oldestSeconds: number;
}

export interface OperationsFigures {
  /** Claims waiting for a reviewer (PENDING_REVIEW); age from the settlement's receipt. */
  claimsPendingReview: CountAndAge;
  /** Applications past their promised decision; age from the first submission. */
  applicationsPastPromise: CountAndAge;
  /** Payout batches by submission in doubt (every one of DOUBTFUL_SUBMISSIONS); age from the submission. */
  batchesInDoubt: Record<DoubtfulSubmission, CountAndAge>;
  /** Seconds since each enabled pulled source's last successful run (since it was set up, if never). */
  sourceLagSeconds: { source: string; seconds: number }[];
  /** Open reconciliation exceptions by kind (every kind); age from detection. */
  openExceptions: Record<ExceptionKind, CountAndAge>;
  /** Per known account: statement days among the bounds' without a proven daily proof. */
  unprovenStatementDays: { account: string; days: number }[];
}

const SECONDS_SINCE = (column: string) => `coalesce(extract(epoch FROM now() - min(${column}))::float8, 0)`;

export async function operationsFigures(db: Queryable, bounds: OperationsBounds): Promise<OperationsFigures> {
  const { rows: [row] } = await db.query<{
    claims: CountAndAge; applications: CountAndAge;
    batches: ({ submission: DoubtfulSubmission } & CountAndAge)[];
    sources: { source: string; seconds: number }[];
    exceptions: ({ kind: ExceptionKind } & CountAndAge)[];
    proofs: { account: string; days: number }[];
  }>(
    `SELECT
       (SELECT json_build_object('count', count(*)::int, 'oldestSeconds', ${SECONDS_SINCE('s.received_at')})
          FROM claims c JOIN settlements s ON s.id = c.settlement_id WHERE c.status = 'PENDING_REVIEW') AS claims,
       (SELECT json_build_object('count', count(*)::int, 'oldestSeconds', ${SECONDS_SINCE('first_submitted_at')})
          FROM applications WHERE status = 'SUBMITTED' AND first_submitted_at < $1) AS applications,
       (SELECT coalesce(json_agg(json_build_object('submission', submission, 'count', n, 'oldestSeconds', oldest)), '[]')
          FROM (SELECT submission, count(*)::int AS n, ${SECONDS_SINCE('coalesce(submitted_at, updated_at)')} AS oldest
                  FROM payout_batches WHERE submission IN ('SENDING', 'UNKNOWN') GROUP BY submission) b) AS batches,
       (SELECT coalesce(json_agg(json_build_object('source', name, 'seconds', seconds) ORDER BY name), '[]')
          FROM (SELECT src.name, extract(epoch FROM now() - coalesce(
                         (SELECT max(r.finished_at) FROM settlement_runs r WHERE r.source = src.name AND r.status = 'DONE'),
                         src.created_at))::float8 AS seconds
                  FROM settlement_sources src WHERE src.enabled AND src.kind IN ('PLATFORM', 'DROP')) l) AS sources,
       (SELECT coalesce(json_agg(json_build_object('kind', kind, 'count', n, 'oldestSeconds', oldest)), '[]')
          FROM (SELECT kind, count(*)::int AS n, ${SECONDS_SINCE('detected_at')} AS oldest
                  FROM reconciliation_exceptions WHERE status = 'OPEN' GROUP BY kind) e) AS exceptions,
       (SELECT coalesce(json_agg(json_build_object('account', a.account, 'days', (
                 SELECT count(*)::int FROM unnest($2::date[]) AS d(day)
                  WHERE NOT EXISTS (SELECT 1 FROM daily_proofs p WHERE p.account = a.account AND p.statement_date = d.day AND p.proven))
               ) ORDER BY a.account), '[]')
          FROM (SELECT unnest($3::text[]) AS account
                UNION SELECT debtor_account FROM payout_batches
                UNION SELECT account FROM funders WHERE account IS NOT NULL
                UNION SELECT account FROM bank_statements) a) AS proofs`,
    [bounds.applicationsLateBefore, bounds.statementDays, bounds.accounts],
  );
  const zero = (): CountAndAge => ({ count: 0, oldestSeconds: 0 });
  const batchesInDoubt = Object.fromEntries(DOUBTFUL_SUBMISSIONS.map((s) => [s, zero()])) as Record<DoubtfulSubmission, CountAndAge>;
  for (const { submission, ...figures } of row!.batches) batchesInDoubt[submission] = figures;
  const openExceptions = Object.fromEntries(EXCEPTION_KINDS.map((k) => [k, zero()])) as Record<ExceptionKind, CountAndAge>;
  for (const { kind, ...figures } of row!.exceptions) openExceptions[kind] = figures;
  return {
    claimsPendingReview: row!.claims,
    applicationsPastPromise: row!.applications,
    batchesInDoubt,
    sourceLagSeconds: row!.sources,
    openExceptions,
    unprovenStatementDays: row!.proofs,
  };
}
