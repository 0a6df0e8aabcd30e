import type { Queryable } from '../db/pool.ts';
import { contributionFigures } from '../members/store.ts';
import { contributionReferences } from './match.ts';
import type { EntryToMatch, ExceptionFinding, ExpectedPayout, MatchBook, MatchDecision, MatchOutcome } from './model.ts';
import { dailyProof, type DailyProof, type ProofFigures, type UndebitedPayout } from './proof.ts';

/** Reconciliation's SQL: the matcher's inputs, its results, the proof's figures. */

/** One reconciliation at a time per account (matching, resolving, storing its statements). */
export async function lockAccounts(tx: Queryable, accounts: readonly string[]): Promise<void> {
  for (const account of [...accounts].sort()) await tx.query("SELECT pg_advisory_xact_lock(hashtext('reconciliation:' || $1))", [account]);
}

/**
 * The next pending entries in booking order, after `after` (the last entry of the previous chunk):
 * the keyset skips the index entries of rows matched a moment ago, which a plain "state = PENDING"
 * scan would step over again on every chunk of a large statement.
 */
export async function pendingEntries(tx: Queryable, account: string, limit: number, after: EntryToMatch | null = null): Promise<EntryToMatch[]> {
  const { rows } = await tx.query<EntryToMatch>(
    `SELECT id, account, booking_date::text AS "bookingDate", entry FROM statement_entries
      WHERE account = $1 AND state = 'PENDING' AND ($3::date IS NULL OR (booking_date, id) > ($3::date, $4::bigint))
      ORDER BY booking_date, id LIMIT $2`,
    [account, limit, after?.bookingDate ?? null, after?.id ?? null],
  );
  return rows;
}

/** Accounts with entries waiting to be matched. */
export async function accountsWithPendingEntries(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ account: string }>(
    `SELECT DISTINCT account FROM statement_entries WHERE state = 'PENDING' ORDER BY account`,
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

/** Our accounts: those configured, those payouts are paid from, those statements came for. */
export async function knownAccounts(db: Queryable, configured: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ account: string }>(
    `SELECT account FROM unnest($1::text[]) AS c(account)
     UNION SELECT DISTINCT debtor_account FROM payout_batches
     UNION SELECT DISTINCT account FROM bank_statements ORDER BY 1`,
    [configured],
  );
  return rows.map((r) => r.account);
}

const PAYOUT_COLUMNS = `a.id AS "attemptId", a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", a.bank_reference AS "bankReference",
  a.amount_fen AS "amountFen", a.creditor_name AS "creditorName", b.debtor_account AS "debtorAccount", b.msg_id AS "batchMsgId",
  b.pmt_inf_id AS "pmtInfId", a.status,
  COALESCE((a.status_at AT TIME ZONE 'Asia/Shanghai')::date, b.requested_execution_date)::text AS "expectedOn"`;

/** What the entries may match: payouts by their references and, for the amount + name rule, open ones of the account; units' contributions. */
export async function loadBook(tx: Queryable, account: string, entries: readonly EntryToMatch[]): Promise<MatchBook> {
  const details = entries.flatMap((e) => e.entry.details);
  const endToEndIds = unique(details.map((d) => d.endToEndId));
  const references = unique([...entries.map((e) => e.entry.accountServicerRef), ...details.map((d) => d.accountServicerRef)]);
  // Whole batches only for debits the batch rule may match: those naming no EndToEndId.
  const batchBookings = entries.filter((e) => e.entry.creditDebit === 'DBIT' && e.entry.details.every((d) => d.endToEndId === undefined));
  const batchIds = unique(batchBookings.flatMap((e) => [e.entry.batch?.msgId, e.entry.batch?.pmtInfId, ...e.entry.details.flatMap((d) => [d.msgId, d.pmtInfId])]));
  const debits = entries.filter((e) => e.entry.creditDebit === 'DBIT');
  const amounts = unique([...debits.map((e) => e.entry.amountFen), ...debits.flatMap((e) => e.entry.details.map((d) => d.amountFen))]);

  const { rows: payouts } = await tx.query<ExpectedPayout>(
    `WITH candidates AS (
       SELECT id FROM payout_attempts WHERE end_to_end_id = ANY($1::text[])
       UNION SELECT id FROM payout_attempts WHERE bank_reference = ANY($2::text[])
       UNION SELECT a.id FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE b.msg_id = ANY($3::text[]) OR b.pmt_inf_id = ANY($3::text[])
       UNION SELECT a.id FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
              WHERE a.amount_fen = ANY($5::bigint[]) AND a.status IN ('SENT', 'UNKNOWN', 'ACCEPTED', 'PAID', 'RETURNED') AND b.debtor_account = $4
                AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT'))
     SELECT ${PAYOUT_COLUMNS},
            (SELECT m.entry_id FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT') AS "debitEntryId",
            EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'RETURN') AS returned
       FROM candidates c JOIN payout_attempts a ON a.id = c.id JOIN payout_batches b ON b.id = a.batch_id`,
    [endToEndIds, references, batchIds, account, amounts],
  );

  const credits = entries.filter((e) => e.entry.creditDebit === 'CRDT');
  if (credits.length === 0) return { payouts, units: [], contributions: [], payers: [], recordedPayments: [] };
  const creditDetails = credits.flatMap((e) => e.entry.details);
  const referenced = contributionReferences([...creditDetails.flatMap((d) => d.remittanceInfo), ...credits.map((e) => e.entry.additionalInfo ?? '')]);
  const payerAccounts = unique(creditDetails.map((d) => d.debtor?.account));
  const { rows: payers } = await tx.query<{ account: string; unitId: number }>(
    'SELECT account, unit_id AS "unitId" FROM unit_payer_accounts WHERE account = ANY($1::text[])', [payerAccounts],
  );
  const { rows: units } = await tx.query<{ unitId: number; creditCode: string }>(
    'SELECT id AS "unitId", credit_code AS "creditCode" FROM units WHERE credit_code = ANY($1::text[]) OR id = ANY($2::bigint[])',
    [unique(referenced.map((r) => r.creditCode)), payers.map((p) => p.unitId)],
  );
  const unitIds = units.map((u) => u.unitId);
  const { rows: years } = await tx.query<{ unitId: number; planYear: number }>(
    `SELECT DISTINCT unit_id AS "unitId", plan_year AS "planYear" FROM enrolments WHERE unit_id = ANY($1::bigint[])
     UNION SELECT DISTINCT unit_id, plan_year FROM contribution_payments WHERE unit_id = ANY($1::bigint[])`,
    [unitIds],
  );
  const figures = await contributionFigures(tx, years);
  const { rows: recordedPayments } = await tx.query<{ id: number; reference: string; unitId: number; planYear: number; amountFen: number }>(
    `SELECT cp.id, cp.reference, cp.unit_id AS "unitId", cp.plan_year AS "planYear", cp.amount_fen AS "amountFen"
       FROM contribution_payments cp
      WHERE cp.reference = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.contribution_payment_id = cp.id)`,
    [unique(credits.map((e) => e.entry.accountServicerRef))],
  );
  return {
    payouts, units, payers, recordedPayments,
    contributions: years.map((y, i) => ({ ...y, owedFen: figures[i]!.owedFen, paidFen: figures[i]!.paidFen })),
  };
}

export interface WrittenOutcome {
  matched: number;
  exceptions: number;
  /** Payout attempts a debit matched (to settle) and returns to record. */
  debited: number[];
  returns: (MatchDecision & { kind: 'RETURN' })[];
}

/** Stores what the matcher concluded: contribution payments and matches, exceptions, entry states, learned payer accounts. */
export async function writeOutcome(tx: Queryable, entries: readonly EntryToMatch[], outcome: MatchOutcome, matchedBy: string): Promise<WrittenOutcome> {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const contributions = outcome.matches.filter((m): m is MatchDecision & { kind: 'CONTRIBUTION' } => m.kind === 'CONTRIBUTION');
  const paymentIds = await recordContributionPayments(tx, contributions, byId, matchedBy);
  await insertMatches(tx, outcome.matches.map((m) => ({ ...m, contributionPaymentId: m.kind === 'CONTRIBUTION' ? paymentIds.get(m)! : null })), matchedBy, null);
  const exceptions = await insertExceptions(tx, outcome.exceptions.map((f) => placed(f, byId.get(f.entryId!)!)));
  const states = [...outcome.entryStates];
  await tx.query(
    `UPDATE statement_entries e SET state = t.state, matched_at = now() FROM unnest($1::bigint[], $2::text[]) AS t(id, state) WHERE e.id = t.id AND e.state = 'PENDING'`,
    [states.map(([id]) => id), states.map(([, state]) => state)],
  );
  if (outcome.learnedPayers.length > 0) {
    await tx.query(
      'INSERT INTO unit_payer_accounts (account, unit_id) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING',
      [outcome.learnedPayers.map((p) => p.account), outcome.learnedPayers.map((p) => p.unitId)],
    );
  }
  return {
    matched: states.filter(([, s]) => s === 'MATCHED').length,
    exceptions,
    debited: outcome.matches.flatMap((m) => (m.kind === 'PAYOUT' ? [m.attemptId] : [])),
    returns: outcome.matches.filter((m): m is MatchDecision & { kind: 'RETURN' } => m.kind === 'RETURN'),
  };
}

export type MatchRow = MatchDecision & { contributionPaymentId: number | null };

export async function insertMatches(tx: Queryable, matches: readonly MatchRow[], matchedBy: string, exceptionId: number | null): Promise<void> {
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

/**
 * Contribution payments (source BANK) for matched credits, so a unit's contribution status follows
 * the bank. The reference is the bank's (AcctSvcrRef); with several plan years in one transfer,
 * where it is taken, or where the bank gave none, one derived from the entry.
 */
export async function recordContributionPayments(
  tx: Queryable, matches: readonly (MatchDecision & { kind: 'CONTRIBUTION' })[], entries: ReadonlyMap<number, EntryToMatch>, recordedBy: string,
): Promise<Map<MatchDecision, number>> {
  const ids = new Map<MatchDecision, number>();
  const fresh = matches.filter((m) => {
    if (m.recordedPaymentId !== null) ids.set(m, m.recordedPaymentId);
    return m.recordedPaymentId === null;
  });
  if (fresh.length === 0) return ids;
  const perEntry = new Map<number, number>();
  for (const m of fresh) perEntry.set(m.entryId, (perEntry.get(m.entryId) ?? 0) + 1);
  const bankReference = (m: MatchDecision) => entries.get(m.entryId)!.entry.accountServicerRef;
  // An entry the bank gave no reference has none to take: the one derived from the entry.
  const wanted = fresh.map((m) => {
    const reference = bankReference(m);
    if (reference === undefined) return undefined;
    return perEntry.get(m.entryId) === 1 && m.txIndex === 0 ? reference : `${reference}/${m.planYear}`;
  });
  const { rows: taken } = await tx.query<{ reference: string }>('SELECT reference FROM contribution_payments WHERE reference = ANY($1::text[])', [unique(wanted)]);
  const takenSet = new Set(taken.map((t) => t.reference));
  const references = fresh.map((m, i) => {
    const reference = wanted[i];
    return reference !== undefined && reference.length <= 35 && !takenSet.has(reference) ? reference : `HUB-E${m.entryId}-${m.txIndex}-${m.planYear}`;
  });
  const { rows } = await tx.query<{ id: number; reference: string }>(
    `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
     SELECT unit_id, plan_year, amount_fen, reference, paid_on, 'BANK', $6
       FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::date[]) AS t(unit_id, plan_year, amount_fen, reference, paid_on)
     RETURNING id, reference`,
    [fresh.map((m) => m.unitId), fresh.map((m) => m.planYear), fresh.map((m) => m.amountFen), references, fresh.map((m) => entries.get(m.entryId)!.bookingDate), recordedBy],
  );
  const byReference = new Map(rows.map((r) => [r.reference, r.id]));
  fresh.forEach((m, i) => ids.set(m, byReference.get(references[i]!)!));
  return ids;
}

export interface PlacedException extends ExceptionFinding {
  account: string;
  occurredOn: string;
}

function placed(finding: ExceptionFinding, entry: { account: string; bookingDate: string }): PlacedException {
  return { ...finding, account: entry.account, occurredOn: entry.bookingDate };
}

/** New exceptions only: a finding whose key is stored already (a re-run) changes nothing. Returns how many were new. */
export async function insertExceptions(tx: Queryable, findings: readonly PlacedException[]): Promise<number> {
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

/** Debits matched to payouts still PAID (their debit arrived before the bank's ACSC, or settling failed): to settle. */
export async function unsettledDebitedAttempts(tx: Queryable, account: string): Promise<number[]> {
  const { rows } = await tx.query<{ id: number }>(
    `SELECT a.id FROM reconciliation_matches m JOIN payout_attempts a ON a.id = m.payout_attempt_id JOIN payouts p ON p.id = a.payout_id
       JOIN statement_entries e ON e.id = m.entry_id
      WHERE m.kind = 'PAYOUT' AND a.status = 'PAID' AND p.status = 'PAID' AND e.account = $1`,
    [account],
  );
  return rows.map((r) => r.id);
}

/** Payments the bank reported credited from this account whose debit no statement shows yet. */
export async function undebitedPayouts(tx: Queryable, account: string): Promise<UndebitedPayout[]> {
  const { rows } = await tx.query<UndebitedPayout>(
    `SELECT a.id AS "attemptId", a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen",
            b.debtor_account AS "debtorAccount",
            COALESCE((a.status_at AT TIME ZONE 'Asia/Shanghai')::date, b.requested_execution_date)::text AS "expectedOn"
       FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
      WHERE a.status = 'PAID' AND b.debtor_account = $1
        AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')`,
    [account],
  );
  return rows;
}

/** Missing-debit exceptions whose debit arrived, or whose payment is no longer credited: cleared. */
export async function clearMissingDebits(tx: Queryable, account: string): Promise<number> {
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

// ---------------------------------------------------------------- daily proofs

/** The figures of every statement of the account from `fromDate` on (null: all), in date order. */
export async function proofFigures(tx: Queryable, account: string, fromDate: string | null): Promise<(ProofFigures & { statementId: number })[]> {
  const { rows } = await tx.query<ProofFigures & { statementId: number }>(
    `SELECT s.id AS "statementId", s.account, s.statement_date::text AS date, s.opening_fen AS "openingFen", s.closing_fen AS "closingFen",
            COALESCE(f.credits, 0)::bigint AS "creditsFen", COALESCE(f.debits, 0)::bigint AS "debitsFen", COALESCE(f.entries, 0)::int AS entries,
            COALESCE(f.recognized_credits, 0)::bigint AS "recognizedCreditsFen", COALESCE(f.recognized_debits, 0)::bigint AS "recognizedDebitsFen",
            COALESCE(f.unrecognized, 0)::int AS "unrecognizedEntries",
            p.closing_fen AS "previousClosingFen", p.statement_date::text AS "previousDate"
       FROM bank_statements s
       LEFT JOIN LATERAL (
         SELECT sum(amount_fen) FILTER (WHERE credit_debit = 'CRDT') AS credits,
                sum(amount_fen) FILTER (WHERE credit_debit = 'DBIT') AS debits,
                count(*) AS entries,
                sum(amount_fen) FILTER (WHERE credit_debit = 'CRDT' AND state IN ('MATCHED', 'RESOLVED')) AS recognized_credits,
                sum(amount_fen) FILTER (WHERE credit_debit = 'DBIT' AND state IN ('MATCHED', 'RESOLVED')) AS recognized_debits,
                count(*) FILTER (WHERE state IN ('PENDING', 'EXCEPTION')) AS unrecognized
           FROM statement_entries e WHERE e.statement_id = s.id) f ON true
       LEFT JOIN LATERAL (
         SELECT closing_fen, statement_date FROM bank_statements p
          WHERE p.account = s.account AND p.statement_date < s.statement_date ORDER BY p.statement_date DESC LIMIT 1) p ON true
      WHERE s.account = $1 AND ($2::date IS NULL OR s.statement_date >= $2::date)
      ORDER BY s.statement_date`,
    [account, fromDate],
  );
  return rows;
}

/** Recomputes and stores the proofs of the account's statements from `fromDate` on. */
export async function refreshProofs(tx: Queryable, account: string, fromDate: string | null): Promise<DailyProof[]> {
  const figures = await proofFigures(tx, account, fromDate);
  const proofs = figures.map(({ statementId, ...f }) => ({ statementId, proof: dailyProof(f) }));
  for (const { statementId, proof: p } of proofs) {
    await tx.query(
      `INSERT INTO daily_proofs (account, statement_date, statement_id, opening_fen, closing_fen, credits_fen, debits_fen, entries,
                                 recognized_credits_fen, recognized_debits_fen, unrecognized_entries, previous_closing_fen, previous_date,
                                 balanced, continuous, expected_closing_fen, difference_fen, proven, problems)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
       ON CONFLICT (account, statement_date) DO UPDATE SET
         statement_id = excluded.statement_id, opening_fen = excluded.opening_fen, closing_fen = excluded.closing_fen,
         credits_fen = excluded.credits_fen, debits_fen = excluded.debits_fen, entries = excluded.entries,
         recognized_credits_fen = excluded.recognized_credits_fen, recognized_debits_fen = excluded.recognized_debits_fen,
         unrecognized_entries = excluded.unrecognized_entries, previous_closing_fen = excluded.previous_closing_fen,
         previous_date = excluded.previous_date, balanced = excluded.balanced, continuous = excluded.continuous,
         expected_closing_fen = excluded.expected_closing_fen, difference_fen = excluded.difference_fen, proven = excluded.proven,
         problems = excluded.problems, computed_at = now()`,
      [p.account, p.date, statementId, p.openingFen, p.closingFen, p.creditsFen, p.debitsFen, p.entries, p.recognizedCreditsFen,
        p.recognizedDebitsFen, p.unrecognizedEntries, p.previousClosingFen, p.previousDate, p.balanced, p.continuous,
        p.expectedClosingFen, p.differenceFen, p.proven, JSON.stringify(p.problems)],
    );
  }
  return proofs.map((p) => p.proof);
}

/** The earliest day whose proof may be out of date: a statement without one, or updated since. */
export async function staleProofDate(tx: Queryable, account: string): Promise<string | null> {
  const { rows } = await tx.query<{ date: string | null }>(
    `SELECT min(s.statement_date)::text AS date FROM bank_statements s LEFT JOIN daily_proofs p ON p.account = s.account AND p.statement_date = s.statement_date
      WHERE s.account = $1 AND (p.computed_at IS NULL OR p.computed_at < s.updated_at)`,
    [account],
  );
  return rows[0]?.date ?? null;
}

function unique<T>(values: readonly (T | undefined | null)[]): T[] {
  return [...new Set(values.filter((v): v is T => v !== undefined && v !== null))];
}

