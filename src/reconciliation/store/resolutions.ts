import { z } from 'zod';
import type { Page } from '../../kernel/page.ts';
import { Params } from '../../db/sql.ts';
import { byKey, keysetSql } from '../../db/keyset.ts';
import type { Queryable, Tx } from '../../kernel/transaction.ts';
import type { AttemptStatus } from '../matching/types.ts';
import type {
  ExceptionResolution, ManualMatch, ManualPaymentDecision, NewProposal, OpenException, Proposal, ProposalDecision, ProposalKind, ProposalRow,
  ProposalStatus,
} from '../model.ts';

/** People's decisions: exceptions resolved by hand, and four-eyes proposals. */

/** The account of an exception (its lock is taken before the exception's row), undefined when there is no such exception. */
export async function exceptionAccount(tx: Tx, exceptionId: number): Promise<string | undefined> {
  return (await tx.query<{ account: string }>('SELECT account FROM reconciliation_exceptions WHERE id = $1', [exceptionId])).rows[0]?.account;
}

/** An exception, locked (it exists: its account was found). */
export async function lockException(tx: Tx, exceptionId: number): Promise<OpenException> {
  return (await tx.query<OpenException>(
    `SELECT id, kind, account, entry_id AS "entryId", tx_index AS "txIndex", amount_fen AS "amountFen", occurred_on::text AS "occurredOn", status
       FROM reconciliation_exceptions WHERE id = $1 FOR UPDATE`,
    [exceptionId],
  )).rows[0]!;
}

export async function resolveException(tx: Tx, exceptionId: number, resolution: ExceptionResolution, reason: string | null, resolvedBy: string): Promise<void> {
  await tx.query(
    `UPDATE reconciliation_exceptions SET status = 'RESOLVED', resolution = $2, resolution_reason = $3, resolved_by = $4, resolved_at = now() WHERE id = $1`,
    [exceptionId, resolution, reason, resolvedBy],
  );
}

/** The entry is RESOLVED once no exception on it is open. */
export async function resolveEntry(tx: Tx, entryId: number): Promise<void> {
  await tx.query(
    `UPDATE statement_entry_states s SET state = 'RESOLVED', matched_at = now()
      WHERE s.entry_id = $1 AND s.state = 'EXCEPTION'
        AND NOT EXISTS (SELECT 1 FROM reconciliation_exceptions x WHERE x.entry_id = s.entry_id AND x.status = 'OPEN')`,
    [entryId],
  );
}

export interface AttemptToMatch {
  id: number;
  payoutId: number;
  endToEndId: string;
  amountFen: number;
  status: AttemptStatus;
  /** The account its batch is paid from: its debit and its return are booked there. */
  debtorAccount: string;
  /** Already matched to a debit (`PAYOUT`) or a return (`RETURN`), as asked. */
  matched: boolean;
}

/** Payout attempts by EndToEndId, with their batch's account and whether a match of `kind` has them already. */
export async function attemptsByEndToEndId(tx: Tx, endToEndIds: readonly string[], kind: 'PAYOUT' | 'RETURN'): Promise<AttemptToMatch[]> {
  const { rows } = await tx.query<AttemptToMatch>(
    `SELECT a.id, a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen", a.status, b.debtor_account AS "debtorAccount",
            EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = $2) AS matched
       FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.end_to_end_id = ANY($1::text[])`,
    [endToEndIds, kind],
  );
  return rows;
}

/** A payout a statement entry's exceptions may count as paid by the bank, with the attempts through which they may. */
export interface PayoutCountedPaid {
  payoutId: number;
  endToEndIds: string[];
}

/**
 * Every payout the exceptions of an entry may count as paid by the bank, on any of its
 * transactions: the attempt one names, those its evidence lists as refused (RJCT), and those of a
 * batch it names by PmtInfId. Broad on purpose: payout_paid_by_bank decides which it counts.
 */
export async function payoutsExceptionsMayCountPaid(tx: Tx, entryId: number): Promise<PayoutCountedPaid[]> {
  const { rows } = await tx.query<PayoutCountedPaid>(
    `WITH x AS (SELECT payout_attempt_id, evidence FROM reconciliation_exceptions WHERE entry_id = $1),
          attempts AS (
            SELECT a.payout_id, a.end_to_end_id FROM x JOIN payout_attempts a ON a.id = x.payout_attempt_id
            UNION
            SELECT a.payout_id, a.end_to_end_id
              FROM x CROSS JOIN LATERAL jsonb_array_elements_text(x.evidence -> 'refused') AS r(end_to_end_id)
              JOIN payout_attempts a ON a.end_to_end_id = r.end_to_end_id
            UNION
            SELECT a.payout_id, a.end_to_end_id
              FROM x JOIN payout_batches b ON b.pmt_inf_id = x.evidence ->> 'pmtInfId' JOIN payout_attempts a ON a.batch_id = b.id)
     SELECT payout_id AS "payoutId", array_agg(end_to_end_id ORDER BY end_to_end_id) AS "endToEndIds" FROM attempts GROUP BY payout_id ORDER BY payout_id`,
    [entryId],
  );
  return rows;
}

/** Which of these ids are units. */
export async function existingUnitIds(tx: Tx, unitIds: readonly number[]): Promise<number[]> {
  const { rows } = await tx.query<{ id: number }>('SELECT id FROM units WHERE id = ANY($1::bigint[])', [unitIds]);
  return rows.map((r) => r.id);
}

/** A contribution payment a reversal (冲正) would take back, as it stands now. */
export interface PaymentToReverse {
  id: number;
  unitId: number;
  planYear: number;
  amountFen: number;
  reference: string;
  /** The account its credit was booked on, when reconciliation matched it to one (a payment recorded by hand and not yet on a statement has none). */
  account: string | null;
  /** The statement entry that reversed it already, if any. */
  reversedByEntry: number | null;
}

/**
 * These contribution payments, locked, then read with their reversal (a separate statement, so a
 * reversal committed while this waited for the lock is seen).
 */
export async function lockPaymentsToReverse(tx: Tx, paymentIds: readonly number[]): Promise<PaymentToReverse[]> {
  await tx.query('SELECT id FROM contribution_payments WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [paymentIds]);
  const { rows } = await tx.query<PaymentToReverse>(
    `SELECT cp.id, cp.unit_id AS "unitId", cp.plan_year AS "planYear", cp.amount_fen AS "amountFen", cp.reference,
            (SELECT e.account FROM reconciliation_matches m JOIN statement_entries e ON e.id = m.entry_id
              WHERE m.contribution_payment_id = cp.id AND m.kind = 'CONTRIBUTION' LIMIT 1) AS account,
            r.entry_id AS "reversedByEntry"
       FROM contribution_payments cp LEFT JOIN contribution_reversals r ON r.contribution_payment_id = cp.id
      WHERE cp.id = ANY($1::bigint[])`,
    [paymentIds],
  );
  return rows;
}

/** The payments no longer count: the bank took their money back with this entry (on its booking day). */
export async function insertContributionReversals(
  tx: Tx, paymentIds: readonly number[], reversal: { entryId: number; exceptionId: number; reversedOn: string; matchedBy: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO contribution_reversals (contribution_payment_id, entry_id, exception_id, reversed_on, matched_by)
     SELECT id, $2, $3, $4, $5 FROM unnest($1::bigint[]) AS id`,
    [paymentIds, reversal.entryId, reversal.exceptionId, reversal.reversedOn, reversal.matchedBy],
  );
}

// ---------------------------------------------------------------- four-eyes proposals

/** Runs `work` and undoes what it wrote (a savepoint rolled back), whether it succeeded or threw: what it returned. */
export async function undone<T>(tx: Tx, work: () => Promise<T>): Promise<T> {
  await tx.query('SAVEPOINT four_eyes_check');
  try {
    return await work();
  } finally {
    await tx.query('ROLLBACK TO SAVEPOINT four_eyes_check');
  }
}

/** Stores a pending proposal: its id, or null when one is pending already on the same exception or bank reference. */
export async function insertProposal(tx: Tx, proposal: NewProposal, proposedBy: string): Promise<number | null> {
  try {
    return (await tx.query<{ id: number }>(
      `INSERT INTO four_eyes_proposals (kind, unit_id, exception_id, amount_fen, decision, proposed_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [proposal.kind, 'unitId' in proposal ? proposal.unitId : null, 'exceptionId' in proposal ? proposal.exceptionId : null, proposal.amountFen,
        JSON.stringify(proposal.decision), proposedBy],
    )).rows[0]!.id;
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    return null;
  }
}

const PROPOSAL_COLUMNS = `id, kind, unit_id AS "unitId", exception_id AS "exceptionId", amount_fen AS "amountFen", decision, proposed_by AS "proposedBy",
  proposed_at AS "proposedAt", status, decided_by AS "decidedBy", decided_at AS "decidedAt", decision_reason AS "decisionReason"`;

/** The decisions as proposals store them (four_eyes_proposals.decision, jsonb), checked by kind. */
const DECISIONS = {
  CONTRIBUTION_PAYMENT: z.object({
    unitId: z.number(), planYear: z.number(), amountFen: z.number(), reference: z.string(), paidOn: z.string(),
  }) satisfies z.ZodType<ManualPaymentDecision>,
  EXCEPTION_MATCH: z.object({
    endToEndIds: z.array(z.string()).optional(),
    contributions: z.array(z.object({ unitId: z.number(), planYear: z.number(), amountFen: z.number() })).optional(),
    reversedContributionPayments: z.array(z.number()).optional(),
    note: z.string().nullable().optional(),
  }) satisfies z.ZodType<ManualMatch>,
  EXCEPTION_WRITE_OFF: z.object({ reason: z.string() }),
};

/** A proposal, locked, with its decision checked against its kind; null when there is no such proposal. */
export async function lockProposal(tx: Tx, proposalId: number): Promise<Proposal | null> {
  const row = (await tx.query<ProposalRow>(`SELECT ${PROPOSAL_COLUMNS} FROM four_eyes_proposals WHERE id = $1 FOR UPDATE`, [proposalId])).rows[0];
  return row ? { ...row, ...decisionOf(row) } : null;
}

function decisionOf(row: ProposalRow): ProposalDecision {
  switch (row.kind) {
    case 'CONTRIBUTION_PAYMENT': return { kind: row.kind, decision: DECISIONS.CONTRIBUTION_PAYMENT.parse(row.decision) };
    case 'EXCEPTION_MATCH': return { kind: row.kind, decision: DECISIONS.EXCEPTION_MATCH.parse(row.decision) };
    case 'EXCEPTION_WRITE_OFF': return { kind: row.kind, decision: DECISIONS.EXCEPTION_WRITE_OFF.parse(row.decision) };
  }
}

export async function markProposalDecided(tx: Tx, proposalId: number, status: Exclude<ProposalStatus, 'PENDING'>, decidedBy: string, reason: string | null): Promise<void> {
  await tx.query(
    `UPDATE four_eyes_proposals SET status = $2, decided_by = $3, decided_at = now(), decision_reason = $4 WHERE id = $1`,
    [proposalId, status, decidedBy, reason],
  );
}

export async function proposalsByIds(db: Queryable, ids: readonly number[]): Promise<ProposalRow[]> {
  return (await db.query<ProposalRow>(`SELECT ${PROPOSAL_COLUMNS} FROM four_eyes_proposals WHERE id = ANY($1::bigint[])`, [ids])).rows;
}

/** Proposals, oldest first (the work queue). */
const PROPOSAL_ORDER = byKey('id', 'ASC');

export async function listProposals(db: Queryable, filter: { status?: ProposalStatus | null; kind?: ProposalKind | null }, page: Page): Promise<ProposalRow[]> {
  const p = new Params();
  const status = p.add(filter.status ?? null);
  const kind = p.add(filter.kind ?? null);
  const keyset = keysetSql(p, PROPOSAL_ORDER, page);
  return (await db.query<ProposalRow>(
    `SELECT ${PROPOSAL_COLUMNS} FROM four_eyes_proposals
      WHERE (${status}::text IS NULL OR status = ${status}) AND (${kind}::text IS NULL OR kind = ${kind}) AND ${keyset.where}
      ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  )).rows;
}

export async function countProposals(db: Queryable, filter: { status?: ProposalStatus | null; kind?: ProposalKind | null }): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM four_eyes_proposals WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2)`,
    [filter.status ?? null, filter.kind ?? null],
  );
  return rows[0]!.n;
}

/** The pending proposal on each exception, if any. */
export async function pendingProposalsOfExceptions(db: Queryable, exceptionIds: readonly number[]): Promise<(ProposalRow | null)[]> {
  const { rows } = await db.query<ProposalRow>(
    `SELECT ${PROPOSAL_COLUMNS} FROM four_eyes_proposals WHERE exception_id = ANY($1::bigint[]) AND status = 'PENDING'`, [exceptionIds],
  );
  return exceptionIds.map((id) => rows.find((r) => r.exceptionId === id) ?? null);
}
