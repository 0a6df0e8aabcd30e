import type { Tx } from '../kernel/transaction.ts';
import type pg from 'pg';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction, type Queryable } from '../db/pool.ts';
import { applyManualPayment, type ManualPayment } from '../members/contributions.ts';
import { applyMatch, applyWriteOff, ResolutionError, withOpenException, type ManualMatch } from './resolve.ts';
import type { Page } from '../kernel/page.ts';

/**
 * Four eyes on money decisions people make by hand (FOUR_EYES_ABOVE_FEN): a manual contribution
 * payment, the manual match or write-off of a reconciliation exception. At or below the threshold
 * it takes effect at once; above, it is checked exactly as it would be made (then undone) and kept
 * as a proposal, which takes effect when a second person confirms it. The database refuses a
 * confirmation by the proposer (four_eyes_proposals CHECK). Each step is audited in its transaction.
 */

export type ProposalKind = 'CONTRIBUTION_PAYMENT' | 'EXCEPTION_MATCH' | 'EXCEPTION_WRITE_OFF';
export type ProposalStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED';

export interface ProposalRow {
  id: number;
  kind: ProposalKind;
  unitId: number | null;
  exceptionId: number | null;
  amountFen: number;
  decision: Record<string, unknown>;
  proposedBy: string;
  proposedAt: Date;
  status: ProposalStatus;
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionReason: string | null;
}

export type NewProposal =
  | { kind: 'CONTRIBUTION_PAYMENT'; unitId: number; amountFen: number; decision: ManualPayment }
  | { kind: 'EXCEPTION_MATCH'; exceptionId: number; amountFen: number; decision: ManualMatch }
  | { kind: 'EXCEPTION_WRITE_OFF'; exceptionId: number; amountFen: number; decision: { reason: string } };

/** Makes the decision (`apply`) at once, or above `aboveFen` checks it and stores it as a proposal: its id, else null. */
export async function decideOrPropose(tx: Tx, actor: Actor, aboveFen: number, proposal: NewProposal, apply: () => Promise<void>): Promise<number | null> {
  if (proposal.amountFen <= aboveFen) {
    await apply();
    return null;
  }
  // Checked as it will be made, so the proposer hears of a mistake now, not the confirmer later.
  await tx.query('SAVEPOINT four_eyes_check');
  try {
    await apply();
  } finally {
    await tx.query('ROLLBACK TO SAVEPOINT four_eyes_check');
  }
  let id: number;
  try {
    id = (await tx.query<{ id: number }>(
      `INSERT INTO four_eyes_proposals (kind, unit_id, exception_id, amount_fen, decision, proposed_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [proposal.kind, 'unitId' in proposal ? proposal.unitId : null, 'exceptionId' in proposal ? proposal.exceptionId : null, proposal.amountFen,
        JSON.stringify(proposal.decision), actor.subject],
    )).rows[0]!.id;
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    throw proposal.kind === 'CONTRIBUTION_PAYMENT'
      ? new ResolutionError('input.reference', `a payment with reference ${proposal.decision.reference} already waits for a second person`, 'CONFLICT')
      : new ResolutionError('input.id', 'a decision on this exception already waits for a second person', 'CONFLICT');
  }
  await recordAudit(tx, actor, {
    action: 'four_eyes.propose', targetType: 'FourEyesProposal', targetId: String(id),
    details: { kind: proposal.kind, amountFen: proposal.amountFen, unitId: 'unitId' in proposal ? proposal.unitId : null,
      exceptionId: 'exceptionId' in proposal ? proposal.exceptionId : null, decision: proposal.decision },
  });
  return id;
}

/**
 * A second person confirms (the decision takes effect, in the same transaction) or rejects a
 * pending proposal; the proposer may only reject (withdraw) their own.
 */
export async function decideProposal(db: pg.Pool, actor: Actor, id: number, confirm: boolean, reason: string | null): Promise<void> {
  await inTransaction(db, async (tx) => {
    const p = (await tx.query<ProposalRow>(`SELECT ${PROPOSAL_COLUMNS} FROM four_eyes_proposals WHERE id = $1 FOR UPDATE`, [id])).rows[0];
    if (!p) throw new ResolutionError('input.id', 'no such proposal', 'NOT_FOUND');
    if (p.status !== 'PENDING') throw new ResolutionError('input.id', `is ${p.status} already`, 'CONFLICT');
    if (confirm && p.proposedBy === actor.subject) throw new ResolutionError('input.id', 'you proposed this decision: a second person must confirm it', 'FORBIDDEN');
    await tx.query(
      `UPDATE four_eyes_proposals SET status = $2, decided_by = $3, decided_at = now(), decision_reason = $4 WHERE id = $1`,
      [id, confirm ? 'CONFIRMED' : 'REJECTED', actor.subject, reason],
    );
    await recordAudit(tx, actor, {
      action: confirm ? 'four_eyes.confirm' : 'four_eyes.reject', targetType: 'FourEyesProposal', targetId: String(id), reason,
      details: { kind: p.kind, amountFen: p.amountFen, proposedBy: p.proposedBy },
    });
    if (!confirm) return;
    const by = { proposalId: p.id, proposedBy: p.proposedBy };
    if (p.kind === 'CONTRIBUTION_PAYMENT') await applyManualPayment(tx, actor, p.decision as unknown as ManualPayment, by);
    else if (p.kind === 'EXCEPTION_MATCH') await withOpenException(tx, p.exceptionId!, (x) => applyMatch(tx, actor, x, p.decision as ManualMatch, by));
    else await withOpenException(tx, p.exceptionId!, (x) => applyWriteOff(tx, actor, x, String(p.decision.reason), by));
  });
}

const PROPOSAL_COLUMNS = `id, kind, unit_id AS "unitId", exception_id AS "exceptionId", amount_fen AS "amountFen", decision, proposed_by AS "proposedBy",
  proposed_at AS "proposedAt", status, decided_by AS "decidedBy", decided_at AS "decidedAt", decision_reason AS "decisionReason"`;

export async function proposalsByIds(db: Queryable, ids: readonly number[]): Promise<ProposalRow[]> {
  return (await db.query<ProposalRow>(`SELECT ${PROPOSAL_COLUMNS} FROM four_eyes_proposals WHERE id = ANY($1::bigint[])`, [ids])).rows;
}

/** Proposals, oldest first (the work queue), after `afterId`. */
export async function listProposals(db: Queryable, filter: { status?: ProposalStatus | null; kind?: ProposalKind | null }, page: Page): Promise<ProposalRow[]> {
  return (await db.query<ProposalRow>(
    `SELECT ${PROPOSAL_COLUMNS} FROM four_eyes_proposals
      WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2) AND ($3::bigint IS NULL OR id > $3)
      ORDER BY id LIMIT $4`,
    [filter.status ?? null, filter.kind ?? null, page.afterKey, page.limit],
  )).rows;
}

/** The pending proposal on each exception, if any. */
export async function pendingProposalsOfExceptions(db: Queryable, exceptionIds: readonly number[]): Promise<(ProposalRow | null)[]> {
  const { rows } = await db.query<ProposalRow>(
    `SELECT ${PROPOSAL_COLUMNS} FROM four_eyes_proposals WHERE exception_id = ANY($1::bigint[]) AND status = 'PENDING'`, [exceptionIds],
  );
  return exceptionIds.map((id) => rows.find((r) => r.exceptionId === id) ?? null);
}
