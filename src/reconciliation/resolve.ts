import type { Tx } from '../kernel/transaction.ts';
import type pg from 'pg';
import type { CamtEntry } from '../banks/iso20022/camtEntry.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { settlePayoutAttempts } from '../payouts/bankEvents.ts';
import { decideOrPropose } from './fourEyes.ts';
import { isReturn } from './match.ts';
import type { EntryToMatch, MatchDecision } from './model.ts';
import { recordReturns } from './run.ts';
import * as store from './store.ts';
import { fenToCny } from '../kernel/money.ts';

/**
 * A person resolving an exception: matching its transaction by hand (to payouts by EndToEndId, or
 * to units' plan years), or writing it off with a reason. Amounts must agree to the fen. The
 * decision and its audit record commit together; the day's proof is recomputed with them. Above
 * FOUR_EYES_ABOVE_FEN the decision is a proposal a second person confirms (fourEyes.ts).
 */

/** A decision refused: the input field and why; the kind says how the API answers. */
export class ResolutionError extends Error {
  constructor(readonly field: string, readonly reason: string, readonly kind: 'INPUT' | 'CONFLICT' | 'NOT_FOUND' | 'FORBIDDEN' = 'INPUT') {
    super(`${field}: ${reason}`);
  }
}

export interface ManualMatch {
  /** A debit (or a return credit): the payouts it pays, by the EndToEndId of their attempt. */
  endToEndIds?: readonly string[];
  /** A credit: the units' plan years it pays, with the amount of each. */
  contributions?: readonly { unitId: number; planYear: number; amountFen: number }[];
  note?: string | null;
}

export interface OpenException {
  id: number;
  kind: string;
  account: string;
  entryId: number | null;
  txIndex: number | null;
  amountFen: number;
  occurredOn: string;
  status: string;
}

const DEBITABLE = ['SENT', 'UNKNOWN', 'ACCEPTED', 'PAID', 'RETURNED'];

/** Who proposed a decision a second person confirmed, for its audit record. */
export interface Confirmed {
  proposalId: number;
  proposedBy: string;
}

/** Writes the exception off at once, or (above `aboveFen`) proposes it: the proposal's id, else null. */
export async function writeOffException(db: pg.Pool, actor: Actor, exceptionId: number, reason: string, aboveFen: number): Promise<number | null> {
  const why = reason.trim();
  if (why.length < 4) throw new ResolutionError('input.reason', 'say why it is written off (at least 4 characters)');
  return inTransaction(db, (tx) => withOpenException(tx, exceptionId, (x) => decideOrPropose(
    tx, actor, aboveFen, { kind: 'EXCEPTION_WRITE_OFF', exceptionId: x.id, amountFen: x.amountFen, decision: { reason: why } }, () => applyWriteOff(tx, actor, x, why),
  )));
}

export async function applyWriteOff(tx: Tx, actor: Actor, x: OpenException, reason: string, confirmed?: Confirmed): Promise<void> {
  await close(tx, x, 'WRITTEN_OFF', reason, actor);
  await recordAudit(tx, actor, {
    action: 'reconciliation.exception.write_off', targetType: 'ReconciliationException', targetId: String(x.id), reason,
    details: { kind: x.kind, account: x.account, entryId: x.entryId, amountFen: x.amountFen, ...confirmed },
  });
}

/** Matches the exception's transaction at once, or (above `aboveFen`) proposes it: the proposal's id, else null. */
export async function matchException(db: pg.Pool, actor: Actor, exceptionId: number, target: ManualMatch, aboveFen: number): Promise<number | null> {
  return inTransaction(db, (tx) => withOpenException(tx, exceptionId, (x) => decideOrPropose(
    tx, actor, aboveFen, { kind: 'EXCEPTION_MATCH', exceptionId: x.id, amountFen: x.amountFen, decision: target }, () => applyMatch(tx, actor, x, target),
  )));
}

export async function applyMatch(tx: Tx, actor: Actor, x: OpenException, target: ManualMatch, confirmed?: Confirmed): Promise<void> {
  if (x.entryId === null || x.kind === 'RETURN_AFTER_SETTLEMENT') {
    throw new ResolutionError('input.id', `a ${x.kind} has no statement transaction to match: write it off with the reason once it is dealt with`);
  }
  const entry = (await tx.query<EntryToMatch>(
    'SELECT id, account, booking_date AS "bookingDate", entry FROM statement_entries WHERE id = $1', [x.entryId],
  )).rows[0]!;
  const base = { entryId: entry.id, txIndex: x.txIndex ?? 0, rule: 'MANUAL' as const };
  const endToEndIds = target.endToEndIds ?? [];
  const contributions = target.contributions ?? [];
  if ((endToEndIds.length > 0) === (contributions.length > 0)) throw new ResolutionError('input', 'give either endToEndIds or contributions');

  let details: Record<string, unknown>;
  if (endToEndIds.length > 0) {
    const credit = entry.entry.creditDebit === 'CRDT';
    if (credit && (!isReturn(entry.entry) || endToEndIds.length > 1)) {
      throw new ResolutionError('input.endToEndIds', 'a credit matches one payout only as its return (退票); match contributions instead');
    }
    const attempts = await attemptsOf(tx, endToEndIds, credit ? 'RETURN' : 'PAYOUT');
    const sum = attempts.reduce((total, a) => total + a.amountFen, 0);
    if (sum !== x.amountFen) throw new ResolutionError('input.endToEndIds', `the payouts add up to ${fenToCny(sum)}; the bank's transaction is ${fenToCny(x.amountFen)}`);
    if (credit) {
      const a = attempts[0]!;
      const info = returnInfo(entry.entry, base.txIndex);
      const match: MatchDecision & { kind: 'RETURN' } = { ...base, kind: 'RETURN', amountFen: a.amountFen, attemptId: a.id, endToEndId: a.endToEndId, ...info };
      await store.insertMatches(tx, [{ ...match, contributionPaymentId: null }], actor.subject, x.id);
      await recordReturns(tx, x.account, [match], new Map([[entry.id, entry.bookingDate]]));
    } else {
      await store.insertMatches(tx, attempts.map((a) => ({ ...base, kind: 'PAYOUT' as const, amountFen: a.amountFen, attemptId: a.id, contributionPaymentId: null })), actor.subject, x.id);
      await settlePayoutAttempts(tx, attempts.map((a) => a.id));
    }
    details = { endToEndIds };
  } else {
    if (entry.entry.creditDebit !== 'CRDT') throw new ResolutionError('input.contributions', 'a debit pays payouts, not contributions');
    contributions.forEach((c, i) => {
      if (!Number.isSafeInteger(c.amountFen) || c.amountFen <= 0) throw new ResolutionError(`input.contributions[${i}].amountFen`, 'must be a positive whole number of fen');
      if (!Number.isInteger(c.planYear) || c.planYear < 2000 || c.planYear > 2100) throw new ResolutionError(`input.contributions[${i}].planYear`, 'must be a plan year like 2025');
    });
    const sum = contributions.reduce((total, c) => total + c.amountFen, 0);
    if (sum !== x.amountFen) throw new ResolutionError('input.contributions', `add up to ${fenToCny(sum)}; the bank's transaction is ${fenToCny(x.amountFen)}`);
    const { rows: units } = await tx.query<{ id: number }>('SELECT id FROM units WHERE id = ANY($1::bigint[])', [contributions.map((c) => c.unitId)]);
    const missing = contributions.findIndex((c) => !units.some((u) => u.id === c.unitId));
    if (missing >= 0) throw new ResolutionError(`input.contributions[${missing}].unitId`, 'is not a unit', 'NOT_FOUND');
    const matches = contributions.map((c) => ({ ...base, kind: 'CONTRIBUTION' as const, amountFen: c.amountFen, unitId: c.unitId, planYear: c.planYear, recordedPaymentId: null }));
    const ids = await store.recordContributionPayments(tx, matches, new Map([[entry.id, entry]]), actor.subject);
    await store.insertMatches(tx, matches.map((m) => ({ ...m, contributionPaymentId: ids.get(m)! })), actor.subject, x.id);
    details = { contributions };
  }
  await close(tx, x, 'MATCHED', target.note?.trim() || null, actor);
  await recordAudit(tx, actor, {
    action: 'reconciliation.exception.match', targetType: 'ReconciliationException', targetId: String(x.id), reason: target.note?.trim() || null,
    details: { kind: x.kind, account: x.account, entryId: x.entryId, amountFen: x.amountFen, ...details, ...confirmed },
  });
}

/** Runs `work` on an OPEN exception with its account locked (the lock first, as reconciliation runs take it). */
export async function withOpenException<T>(tx: Tx, exceptionId: number, work: (x: OpenException) => Promise<T>): Promise<T> {
  const account = (await tx.query<{ account: string }>('SELECT account FROM reconciliation_exceptions WHERE id = $1', [exceptionId])).rows[0]?.account;
  if (account === undefined) throw new ResolutionError('input.id', 'no such exception', 'NOT_FOUND');
  await store.lockAccounts(tx, [account]);
  const x = (await tx.query<OpenException>(
    `SELECT id, kind, account, entry_id AS "entryId", tx_index AS "txIndex", amount_fen AS "amountFen", occurred_on::text AS "occurredOn", status
       FROM reconciliation_exceptions WHERE id = $1 FOR UPDATE`,
    [exceptionId],
  )).rows[0]!;
  if (x.status !== 'OPEN') throw new ResolutionError('input.id', 'is resolved already', 'CONFLICT');
  return work(x);
}

async function close(tx: Tx, x: OpenException, resolution: 'MATCHED' | 'WRITTEN_OFF', reason: string | null, actor: Actor): Promise<void> {
  await tx.query(
    `UPDATE reconciliation_exceptions SET status = 'RESOLVED', resolution = $2, resolution_reason = $3, resolved_by = $4, resolved_at = now() WHERE id = $1`,
    [x.id, resolution, reason, actor.subject],
  );
  if (x.entryId !== null) {
    await tx.query(
      `UPDATE statement_entries e SET state = 'RESOLVED', matched_at = now()
        WHERE e.id = $1 AND e.state = 'EXCEPTION'
          AND NOT EXISTS (SELECT 1 FROM reconciliation_exceptions x WHERE x.entry_id = e.id AND x.status = 'OPEN')`,
      [x.entryId],
    );
  }
  await store.refreshProofs(tx, x.account, x.occurredOn);
}

async function attemptsOf(tx: Tx, endToEndIds: readonly string[], kind: 'PAYOUT' | 'RETURN') {
  const { rows } = await tx.query<{ id: number; endToEndId: string; amountFen: number; status: string; matched: boolean }>(
    `SELECT a.id, a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen", a.status,
            EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = $2) AS matched
       FROM payout_attempts a WHERE a.end_to_end_id = ANY($1::text[])`,
    [endToEndIds, kind],
  );
  return endToEndIds.map((id, i) => {
    const field = `input.endToEndIds[${i}]`;
    if (endToEndIds.indexOf(id) !== i) throw new ResolutionError(field, `${id} is given twice`);
    const attempt = rows.find((r) => r.endToEndId === id);
    if (!attempt) throw new ResolutionError(field, `no payout attempt has the EndToEndId ${id}`, 'NOT_FOUND');
    if (attempt.matched) throw new ResolutionError(field, `${id} is already matched to ${kind === 'PAYOUT' ? 'a debit' : 'a return'}`, 'CONFLICT');
    const allowed = kind === 'PAYOUT' ? DEBITABLE.includes(attempt.status) : attempt.status === 'PAID';
    if (!allowed) throw new ResolutionError(field, `${id} is ${attempt.status}: the bank ${kind === 'PAYOUT' ? 'was not to pay it' : 'has not credited it'}`);
    return attempt;
  });
}

function returnInfo(entry: CamtEntry, txIndex: number): { reasonCode: string; reason: string | null } {
  const info = entry.details[Math.max(0, txIndex - 1)]?.returnInfo;
  return { reasonCode: info?.reasonCode ?? 'NARR', reason: info?.additionalInfo ?? null };
}
