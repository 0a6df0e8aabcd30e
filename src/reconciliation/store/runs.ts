import type { Queryable, Tx } from '../../kernel/transaction.ts';
import type { PayoutStatus } from '../../payouts/model.ts';
import type { UndebitedPayout } from '../matching/proof.ts';
import { DEBITABLE, type AttemptStatus, type EntryState, type EntryToMatch, type ExceptionFinding, type ExpectedPayout, type MatchDecision, type RecordedPayment } from '../matching/types.ts';

/** A reconciliation run's SQL: the account's lock, its pending entries, what they may match, and what matching concluded. */

/** One reconciliation at a time per account (matching, resolving, storing its statements). */
export async function lockAccounts(tx: Tx, accounts: readonly string[]): Promise<void> {
  for (const account of [...accounts].sort()) await tx.query("SELECT pg_advisory_xact_lock(hashtext('reconciliation:' || $1))", [account]);
}

/**
 * How a chunk's queries are planned, for the rest of its transaction. No JIT compilation: each runs
 * once over a few thousand rows, and compiling them (which the row estimates of a large book ask
 * for) took longer than it saved. And an index probe priced as a read of a cached page
 * (`random_page_cost` 1.1) rather than as PostgreSQL's default disk seek (4): a chunk looks a few
 * thousand EndToEndIds, references and amounts up among every attempt ever paid, and at the default
 * the planner read the whole table for them instead, three times a chunk, once the attempts of past
 * months outnumbered the keys about seventy to one (with 500,000 settled payouts, the book of a
 * 100,000-entry statement took 9.7 s; with this and `referencedPayouts` returning its rows whole,
 * 2.35 s; bench/README.md).
 */
export async function planForChunks(tx: Tx): Promise<void> {
  await tx.query("SELECT set_config('jit', 'off', true), set_config('random_page_cost', '1.1', true)");
}

// ---------------------------------------------------------------- runs

export async function startRun(db: Queryable, account: string, startedBy: string): Promise<number> {
  const { rows } = await db.query<{ id: number }>('INSERT INTO reconciliation_runs (account, started_by) VALUES ($1, $2) RETURNING id', [account, startedBy]);
  return rows[0]!.id;
}

/** Adds a chunk's counts to the run (committed with the chunk). */
export async function countRunChunk(tx: Tx, runId: number, entries: number, matched: number, exceptions: number): Promise<void> {
  await tx.query(
    'UPDATE reconciliation_runs SET entries = entries + $2, matched = matched + $3, exceptions = exceptions + $4 WHERE id = $1',
    [runId, entries, matched, exceptions],
  );
}

export async function finishRun(tx: Tx, runId: number, exceptions: number): Promise<void> {
  await tx.query(`UPDATE reconciliation_runs SET status = 'DONE', exceptions = $2, finished_at = now() WHERE id = $1`, [runId, exceptions]);
}

export async function failRun(db: Queryable, runId: number, failure: string): Promise<void> {
  await db.query(`UPDATE reconciliation_runs SET status = 'FAILED', failure = $2, finished_at = now() WHERE id = $1`, [runId, failure]);
}

// ---------------------------------------------------------------- accounts and entries

/**
 * The next pending entries in booking order, after `after` (the last entry of the previous chunk):
 * the keyset skips the index entries of rows matched a moment ago, which a plain "state = PENDING"
 * scan would step over again on every chunk of a large statement.
 */
export async function pendingEntries(tx: Tx, account: string, limit: number, after: EntryToMatch | null = null): Promise<EntryToMatch[]> {
  const { rows } = await tx.query<EntryToMatch>(
    `SELECT e.id, e.account, e.booking_date::text AS "bookingDate", e.entry
       FROM statement_entry_states s JOIN statement_entries e ON e.id = s.entry_id
      WHERE s.account = $1 AND s.state = 'PENDING' AND ($3::date IS NULL OR (s.booking_date, s.entry_id) > ($3::date, $4::bigint))
      ORDER BY s.booking_date, s.entry_id LIMIT $2`,
    [account, limit, after?.bookingDate ?? null, after?.id ?? null],
  );
  return rows;
}

/** One entry as the matcher sees it (a person matching its exception by hand). */
export async function entryToMatch(tx: Tx, entryId: number): Promise<EntryToMatch> {
  return (await tx.query<EntryToMatch>(
    'SELECT id, account, booking_date AS "bookingDate", entry FROM statement_entries WHERE id = $1', [entryId],
  )).rows[0]!;
}

/** Accounts with entries waiting to be matched. */
export async function accountsWithPendingEntries(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ account: string }>(
    `SELECT DISTINCT account FROM statement_entry_states WHERE state = 'PENDING' ORDER BY account`,
  );
  return rows.map((r) => r.account);
}

/**
 * Accounts with work a run would do without new entries: debits matched to payouts still PAID
 * (the bank's ACSC came after the debit), or no run for `minutes` (overdue debits are found by time).
 */
export async function accountsDue(db: Queryable, accounts: readonly string[], minutes: number): Promise<string[]> {
  const { rows } = await db.query<{ account: string }>(
    `SELECT DISTINCT e.account FROM reconciliation_matches m JOIN payout_attempts a ON a.id = m.payout_attempt_id
       JOIN payouts p ON p.id = a.payout_id JOIN statement_entries e ON e.id = m.entry_id
      WHERE m.kind = 'PAYOUT' AND a.status = 'PAID' AND p.status = 'PAID'
     UNION
     SELECT c.account FROM unnest($1::text[]) AS c(account)
      WHERE NOT EXISTS (SELECT 1 FROM reconciliation_runs r WHERE r.account = c.account AND r.started_at > now() - make_interval(mins => $2))
     ORDER BY 1`,
    [accounts, minutes],
  );
  return rows.map((r) => r.account);
}

/**
 * The hub's own accounts, as SQL with the configured ones as `$1`: those configured
 * (RECONCILIATION_ACCOUNTS, default the paying account), every funder's, those payouts are paid from.
 * What a bank document may be about (`foreignAccounts`); statements are fetched and reconciled for
 * these and for those statements were accepted for before (`knownAccounts`).
 */
const HUB_ACCOUNTS = `SELECT account FROM unnest($1::text[]) AS c(account)
     UNION SELECT account FROM funders WHERE account IS NOT NULL
     UNION SELECT DISTINCT debtor_account FROM payout_batches`;

/** Our accounts: those configured, every funder's, those payouts are paid from, those statements came for. */
export async function knownAccounts(db: Queryable, configured: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ account: string }>(
    `${HUB_ACCOUNTS}
     UNION SELECT DISTINCT account FROM bank_statements ORDER BY 1`,
    [configured],
  );
  return rows.map((r) => r.account);
}

/** Of `accounts`, those that are not the hub's own (`HUB_ACCOUNTS`; not "those statements came for"), sorted. */
export async function foreignAccounts(db: Queryable, configured: readonly string[], accounts: readonly string[]): Promise<string[]> {
  if (accounts.length === 0) return [];
  const { rows } = await db.query<{ account: string }>(
    `SELECT account FROM unnest($2::text[]) AS d(account)
     EXCEPT (${HUB_ACCOUNTS}) ORDER BY 1`,
    [configured, accounts],
  );
  return rows.map((r) => r.account);
}

/**
 * Marks each entry (still PENDING) as matching left it: its narrow state row, not the entry. The
 * ids' range, implied by the join, lets the planner read a chunk's rows by the primary key instead
 * of scanning the whole table per chunk.
 */
export async function setEntryStates(tx: Tx, states: readonly (readonly [number, EntryState])[]): Promise<void> {
  if (states.length === 0) return;
  const ids = states.map(([id]) => id);
  await tx.query(
    `UPDATE statement_entry_states s SET state = t.state, matched_at = now() FROM unnest($1::bigint[], $2::text[]) AS t(id, state)
      WHERE s.entry_id = t.id AND s.entry_id BETWEEN $3 AND $4 AND s.state = 'PENDING'`,
    [ids, states.map(([, state]) => state), ids.reduce((a, b) => Math.min(a, b)), ids.reduce((a, b) => Math.max(a, b))],
  );
}

// ---------------------------------------------------------------- what entries may match

/** ExpectedPayout.expectedOn of attempt `a` of batch `b`: the China day of its last status (a refused one's: its refusal), else the requested execution date. */
const EXPECTED_ON = `COALESCE((a.status_at AT TIME ZONE 'Asia/Shanghai')::date, b.requested_execution_date)`;
/** ExpectedPayout.executedOn: the batch's requested execution date, or the China day the attempt was sent where earlier (LEAST skips a null). */
const EXECUTED_ON = `LEAST(b.requested_execution_date, (a.sent_at AT TIME ZONE 'Asia/Shanghai')::date)`;

const PAYOUT_COLUMNS = `a.id AS "attemptId", a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", a.bank_reference AS "bankReference",
  a.amount_fen AS "amountFen", a.creditor_name AS "creditorName", a.creditor_account_masked AS "creditorAccountMasked",
  encode(a.creditor_account_hash, 'hex') AS "creditorAccountHash", b.debtor_account AS "debtorAccount", b.msg_id AS "batchMsgId",
  b.pmt_inf_id AS "pmtInfId", a.status, ${EXPECTED_ON}::text AS "expectedOn", ${EXECUTED_ON}::text AS "executedOn"`;

/** What payouts entries name, by the matcher's rules. */
export interface PayoutKeys {
  endToEndIds: readonly string[];
  /** AcctSvcrRef of entries and their transactions. */
  references: readonly string[];
  /** MsgId and PmtInfId of batch bookings. */
  batchIds: readonly string[];
}

/** What a candidate is read with: its attempt's own columns, so no branch needs the table again. */
const CANDIDATE_COLUMNS = 'a.id, a.payout_id, a.end_to_end_id, a.bank_reference, a.amount_fen, a.creditor_name, a.creditor_account_masked, a.creditor_account_hash, a.status, a.status_at, a.sent_at, a.batch_id';

/**
 * The payouts entries name: by EndToEndId, the bank's reference, or their batch. Each branch
 * returns its attempts whole, found by its index: joined back to `payout_attempts` by id, the
 * union's few thousand rows made the planner read every attempt ever made, once a chunk, to build
 * a hash of them.
 */
export async function referencedPayouts(tx: Tx, keys: PayoutKeys): Promise<ExpectedPayout[]> {
  return payoutsOf(tx, `
       SELECT ${CANDIDATE_COLUMNS} FROM payout_attempts a WHERE a.end_to_end_id = ANY($1::text[])
       UNION SELECT ${CANDIDATE_COLUMNS} FROM payout_attempts a WHERE a.bank_reference = ANY($2::text[])
       UNION SELECT ${CANDIDATE_COLUMNS} FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE b.msg_id = ANY($3::text[]) OR b.pmt_inf_id = ANY($3::text[])`,
  [keys.endToEndIds, keys.references, keys.batchIds]);
}

/**
 * The account's payouts of these amounts a debit may still pay, for the amount + name rule. Asked
 * only for the debits no reference names: every attempt ever paid stays in the amount index, so
 * each amount asked walks the past payouts of that amount.
 */
export async function openPayoutsOfAmounts(tx: Tx, account: string, amounts: readonly number[]): Promise<ExpectedPayout[]> {
  return payoutsOf(tx, `
       SELECT ${CANDIDATE_COLUMNS} FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
        WHERE a.amount_fen = ANY($1::bigint[]) AND a.status = ANY($2::text[]) AND b.debtor_account = $3
          AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')`,
  [amounts, DEBITABLE, account]);
}

/**
 * The account's attempts the bank refused (REJECTED) of these amounts, no debit matched to them,
 * whose span from execution to refusal (`executedOn` to `expectedOn`, the earlier of the two to the
 * later) meets `from` to `to` (MatchBook.refused): a bank can debit a payment on its execution day
 * and answer RJCT for it days later all the same, its statement showing the amount and the payee's
 * name only. Found by the partial index of refused attempts by amount (0046); the days filter its rows.
 */
export async function refusedPayoutsOfAmounts(tx: Tx, account: string, amounts: readonly number[], from: string, to: string): Promise<ExpectedPayout[]> {
  return payoutsOf(tx, `
       SELECT ${CANDIDATE_COLUMNS} FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
        WHERE a.amount_fen = ANY($1::bigint[]) AND a.status = 'REJECTED' AND b.debtor_account = $2
          AND LEAST(${EXECUTED_ON}, ${EXPECTED_ON}) <= $4::date AND GREATEST(${EXECUTED_ON}, ${EXPECTED_ON}) >= $3::date
          AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')`,
  [amounts, account, from, to]);
}

/** The candidates' payouts as the matcher reads them: with their batch, their debit if one was matched, and whether they were returned. */
async function payoutsOf(tx: Tx, candidates: string, values: unknown[]): Promise<ExpectedPayout[]> {
  const { rows } = await tx.query<ExpectedPayout>(
    `WITH candidates AS (${candidates})
     SELECT ${PAYOUT_COLUMNS},
            (SELECT m.entry_id FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT') AS "debitEntryId",
            EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'RETURN') AS returned
       FROM candidates a JOIN payout_batches b ON b.id = a.batch_id`,
    values,
  );
  return rows;
}

/** The units these accounts paid contributions from before. */
export async function payerAccounts(tx: Tx, accounts: readonly string[]): Promise<{ account: string; unitId: number }[]> {
  const { rows } = await tx.query<{ account: string; unitId: number }>(
    'SELECT account, unit_id AS "unitId" FROM unit_payer_accounts WHERE account = ANY($1::text[])', [accounts],
  );
  return rows;
}

/** Units by credit code or id. */
export async function unitsOf(tx: Tx, creditCodes: readonly string[], unitIds: readonly number[]): Promise<{ unitId: number; creditCode: string }[]> {
  const { rows } = await tx.query<{ unitId: number; creditCode: string }>(
    'SELECT id AS "unitId", credit_code AS "creditCode" FROM units WHERE credit_code = ANY($1::text[]) OR id = ANY($2::bigint[])',
    [creditCodes, unitIds],
  );
  return rows;
}

/** Every plan year of these units with enrolments or payments. */
export async function contributionYears(tx: Tx, unitIds: readonly number[]): Promise<{ unitId: number; planYear: number }[]> {
  const { rows } = await tx.query<{ unitId: number; planYear: number }>(
    `SELECT DISTINCT unit_id AS "unitId", plan_year AS "planYear" FROM enrolments WHERE unit_id = ANY($1::bigint[])
     UNION SELECT DISTINCT unit_id, plan_year FROM contribution_payments WHERE unit_id = ANY($1::bigint[])`,
    [unitIds],
  );
  return rows;
}

/** Payments recorded (by hand) under one of these bank references (`bankReferenceKey`s: any case) that no credit matched yet. */
export async function unmatchedRecordedPayments(tx: Tx, referenceKeys: readonly string[]): Promise<RecordedPayment[]> {
  const { rows } = await tx.query<RecordedPayment>(
    `SELECT cp.id, cp.reference, cp.unit_id AS "unitId", cp.plan_year AS "planYear", cp.amount_fen AS "amountFen"
       FROM standing_contribution_payments cp
      WHERE upper(cp.reference) = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.contribution_payment_id = cp.id)`,
    [referenceKeys],
  );
  return rows;
}

// ---------------------------------------------------------------- what matching concluded

export type MatchRow = MatchDecision & { contributionPaymentId: number | null };

export async function insertMatches(tx: Tx, matches: readonly MatchRow[], matchedBy: string, exceptionId: number | null): Promise<void> {
  if (matches.length === 0) return;
  const column = <T>(f: (m: MatchRow) => T) => matches.map(f);
  await tx.query(
    `INSERT INTO reconciliation_matches (entry_id, tx_index, kind, rule, payout_attempt_id, unit_id, plan_year, contribution_payment_id, amount_fen, matched_by, exception_id)
     SELECT entry_id, tx_index, kind, rule, attempt_id, unit_id, plan_year, payment_id, amount_fen, $10, $11
       FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::int[], $8::bigint[], $9::bigint[])
            AS t(entry_id, tx_index, kind, rule, attempt_id, unit_id, plan_year, payment_id, amount_fen)`,
    [
      column((m) => m.entryId), column((m) => m.txIndex), column((m) => m.kind), column((m) => m.rule),
      column((m) => (m.kind === 'CONTRIBUTION' ? null : m.attemptId)), column((m) => (m.kind === 'CONTRIBUTION' ? m.unitId : null)),
      column((m) => (m.kind === 'CONTRIBUTION' ? m.planYear : null)), column((m) => m.contributionPaymentId), column((m) => m.amountFen),
      matchedBy, exceptionId,
    ],
  );
}

/** An exception with the account and day it is shown under. */
export interface PlacedException extends ExceptionFinding {
  account: string;
  occurredOn: string;
}

/** New exceptions only: a finding whose key is stored already (a re-run) changes nothing. Returns how many were new. */
export async function insertExceptions(tx: Tx, findings: readonly PlacedException[]): Promise<number> {
  if (findings.length === 0) return 0;
  const { rowCount } = await tx.query(
    `INSERT INTO reconciliation_exceptions (key, kind, account, entry_id, tx_index, payout_attempt_id, amount_fen, occurred_on, evidence)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::bigint[], $7::bigint[], $8::date[], $9::jsonb[])
     ON CONFLICT (key) DO NOTHING`,
    [
      findings.map((f) => f.key), findings.map((f) => f.kind), findings.map((f) => f.account), findings.map((f) => f.entryId),
      findings.map((f) => f.txIndex), findings.map((f) => f.attemptId), findings.map((f) => f.amountFen), findings.map((f) => f.occurredOn),
      findings.map((f) => JSON.stringify(f.evidence)),
    ],
  );
  return rowCount ?? 0;
}

// ---------------------------------------------------------------- payouts owed a debit

/** Debits matched to payouts still PAID (their debit arrived before the bank's ACSC, or settling failed): to settle. */
export async function unsettledDebitedAttempts(tx: Tx, account: string): Promise<number[]> {
  const { rows } = await tx.query<{ id: number }>(
    `SELECT a.id FROM reconciliation_matches m JOIN payout_attempts a ON a.id = m.payout_attempt_id JOIN payouts p ON p.id = a.payout_id
       JOIN statement_entries e ON e.id = m.entry_id
      WHERE m.kind = 'PAYOUT' AND a.status = 'PAID' AND p.status = 'PAID' AND e.account = $1`,
    [account],
  );
  return rows.map((r) => r.id);
}

/**
 * Payments the bank reported credited from this account whose debit no statement shows yet. Looked
 * for among the payouts still PAID, not among every paid attempt: a paid attempt stays PAID for good,
 * but its payout is PAID or SETTLED (PAYOUT_TRANSITIONS; PAID leaves only for SETTLED, or for FAILED
 * when the attempt is RETURNED), and SETTLED only once its debit is matched (settlePayoutAttempts is
 * called with matched debits alone). So the search reads the payouts awaiting their debit, a day or
 * two's worth, not years of settled ones.
 */
export async function undebitedPayouts(tx: Tx, account: string): Promise<UndebitedPayout[]> {
  const { rows } = await tx.query<UndebitedPayout>(
    `SELECT a.id AS "attemptId", a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen",
            b.debtor_account AS "debtorAccount",
            ${EXPECTED_ON}::text AS "expectedOn"
       FROM payouts p
       JOIN payout_attempts a ON a.payout_id = p.id AND a.status = 'PAID'
       JOIN payout_batches b ON b.id = a.batch_id
      WHERE p.status = 'PAID' AND b.debtor_account = $1
        AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')`,
    [account],
  );
  return rows;
}

/** Missing-debit exceptions whose debit arrived, or whose payment is no longer credited: cleared. */
export async function clearMissingDebits(tx: Tx, account: string): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE reconciliation_exceptions x SET status = 'RESOLVED', resolution = 'CLEARED', resolved_by = 'system', resolved_at = now(),
            resolution_reason = CASE WHEN EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = x.payout_attempt_id AND m.kind = 'PAYOUT')
                                     THEN 'the debit arrived' ELSE 'the payment is no longer credited' END
      WHERE x.kind = 'MISSING_DEBIT' AND x.status = 'OPEN' AND x.account = $1
        AND (EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = x.payout_attempt_id AND m.kind = 'PAYOUT')
             OR NOT EXISTS (SELECT 1 FROM payout_attempts a WHERE a.id = x.payout_attempt_id AND a.status = 'PAID'))`,
    [account],
  );
  return rowCount ?? 0;
}

// ---------------------------------------------------------------- payments the bank refused after paying them

/** A refused attempt (refusals.ts) the bank had paid, with what the hub holds of it and its matched debit. */
export interface RefusedPayment {
  attemptId: number;
  payoutId: number;
  endToEndId: string;
  amountFen: number;
  /** The account its batch was paid from. */
  account: string;
  attemptStatus: AttemptStatus;
  payoutStatus: PayoutStatus;
  /** China date the bank reported it credited (the attempt's last status, else the requested execution date). */
  creditedOn: string;
  /** The debit matched to it, if any: its entry, transaction and booking date. */
  entryId: number | null;
  txIndex: number | null;
  debitedOn: string | null;
}

/**
 * Of these attempts, those the bank had paid: PAID (it reported them credited, ACSC) or with a debit
 * matched to them (whatever they are now; not RETURNED, whose money came back).
 */
export async function paidAttemptsOf(tx: Tx, attemptIds: readonly number[]): Promise<RefusedPayment[]> {
  const { rows } = await tx.query<RefusedPayment>(
    `SELECT a.id AS "attemptId", a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen", b.debtor_account AS account,
            a.status AS "attemptStatus", p.status AS "payoutStatus",
            ${EXPECTED_ON}::text AS "creditedOn",
            m.entry_id AS "entryId", m.tx_index AS "txIndex", e.booking_date::text AS "debitedOn"
       FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN payout_batches b ON b.id = a.batch_id
       LEFT JOIN reconciliation_matches m ON m.payout_attempt_id = a.id AND m.kind = 'PAYOUT'
       LEFT JOIN statement_entries e ON e.id = m.entry_id
      WHERE a.id = ANY($1::bigint[]) AND a.status <> 'RETURNED' AND (a.status = 'PAID' OR m.id IS NOT NULL)
      ORDER BY a.id`,
    [attemptIds],
  );
  return rows;
}
