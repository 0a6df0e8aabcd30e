import type { Queryable, Tx } from '../../kernel/transaction.ts';
import type { Scope } from '../../kernel/scope.ts';
import type { Page } from '../../kernel/page.ts';
import { Params } from '../../db/sql.ts';
import { organisationRowScopeSql } from '../../db/scope.ts';
import { byKey, keysetSql } from '../../db/keyset.ts';
import type { RuleSetProposalRow, RuleSetProposalStatus } from '../model.ts';

/**
 * SQL of rule-set proposals (four eyes) and of the assignments they make. A proposal is in a
 * caller's scope when its organisation is in the caller's subtree; a hub-wide proposal (no
 * organisation) only for hub-wide staff.
 */
const COLUMNS = `rp.id, rp.kind, rp.status, rp.rule_set_id AS "ruleSetId", rp.rule_set_version AS "ruleSetVersion", rp.definition,
  rp.organisation_id AS "organisationId", rp.plan_year AS "planYear", to_char(rp.effective_from, 'YYYY-MM-DD') AS "effectiveFrom",
  rp.note, rp.proposed_by AS "proposedBy", rp.proposed_at AS "proposedAt", rp.decided_by AS "decidedBy", rp.decided_at AS "decidedAt",
  rp.decision_note AS "decisionNote"`;

function scopeSql(p: Params, scope: Scope): string {
  // A hub-wide proposal has no organisation: organisation-scoped staff never see it.
  return scope.organisationId == null ? 'true' : `rp.organisation_id IS NOT NULL AND ${organisationRowScopeSql(p, scope, 'rp.organisation_id')}`;
}

/** Proposals newest first. */
export const PROPOSAL_ORDER = byKey('rp.id', 'DESC');

export type NewRuleSetProposal = Pick<RuleSetProposalRow, 'kind' | 'ruleSetId' | 'ruleSetVersion' | 'definition' | 'organisationId'
  | 'planYear' | 'effectiveFrom' | 'note' | 'proposedBy'>;

export async function insertProposal(tx: Tx, p: NewRuleSetProposal): Promise<RuleSetProposalRow> {
  const { rows } = await tx.query<RuleSetProposalRow>(
    `INSERT INTO rule_set_proposals AS rp (kind, rule_set_id, rule_set_version, definition, organisation_id, plan_year, effective_from, note, proposed_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [p.kind, p.ruleSetId, p.ruleSetVersion, p.definition === null ? null : JSON.stringify(p.definition), p.organisationId, p.planYear,
      p.effectiveFrom, p.note, p.proposedBy],
  );
  return rows[0]!;
}

/** The proposal, locked, when it is in `scope`. */
export async function lockProposal(tx: Tx, id: number, scope: Scope): Promise<RuleSetProposalRow | null> {
  const p = new Params();
  const { rows } = await tx.query<RuleSetProposalRow>(
    `SELECT ${COLUMNS} FROM rule_set_proposals rp WHERE rp.id = ${p.add(id)} AND ${scopeSql(p, scope)} FOR UPDATE`,
    p.values,
  );
  return rows[0] ?? null;
}

/** Records the second person's decision (the four-eyes CHECK refuses the proposer). */
export async function decideProposal(
  tx: Tx, id: number, decision: { status: Exclude<RuleSetProposalStatus, 'PROPOSED'>; decidedBy: string; note: string | null; ruleSetVersion?: number },
): Promise<RuleSetProposalRow> {
  const { rows } = await tx.query<RuleSetProposalRow>(
    `UPDATE rule_set_proposals rp SET status = $2, decided_by = $3, decided_at = now(), decision_note = $4,
            rule_set_version = coalesce($5, rule_set_version)
      WHERE id = $1 AND status = 'PROPOSED' RETURNING ${COLUMNS}`,
    [id, decision.status, decision.decidedBy, decision.note, decision.ruleSetVersion ?? null],
  );
  return rows[0]!;
}

/** Adds an approved assignment to the history (never updated). */
export async function insertAssignment(tx: Tx, proposal: RuleSetProposalRow, approvedBy: string): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO organisation_rule_sets (organisation_id, plan_year, rule_set_id, rule_set_version, effective_from, assigned_by, approved_by, proposal_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [proposal.organisationId, proposal.planYear, proposal.ruleSetId, proposal.ruleSetVersion, proposal.effectiveFrom, proposal.proposedBy,
      approvedBy, proposal.id],
  );
  return rows[0]!.id;
}

export async function listProposals(db: Queryable, scope: Scope, status: RuleSetProposalStatus | null, page: Page): Promise<RuleSetProposalRow[]> {
  const p = new Params();
  const where = `${scopeSql(p, scope)} AND (${p.add(status)}::text IS NULL OR rp.status = ${p.add(status)})`;
  const keyset = keysetSql(p, PROPOSAL_ORDER, page);
  const { rows } = await db.query<RuleSetProposalRow>(
    `SELECT ${COLUMNS}${keyset.pageKey} FROM rule_set_proposals rp WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countProposals(db: Queryable, scope: Scope, status: RuleSetProposalStatus | null): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM rule_set_proposals rp WHERE ${scopeSql(p, scope)} AND (${p.add(status)}::text IS NULL OR rp.status = ${p.add(status)})`,
    p.values,
  );
  return rows[0]!.n;
}

export async function proposalsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<RuleSetProposalRow[]> {
  const p = new Params();
  const { rows } = await db.query<RuleSetProposalRow>(
    `SELECT ${COLUMNS} FROM rule_set_proposals rp WHERE rp.id = ANY(${p.add(ids)}::bigint[]) AND ${scopeSql(p, scope)}`,
    p.values,
  );
  return rows;
}

/** Whether the organisation exists and is in `scope` (an organisation's staff: their subtree). */
export async function organisationInScope(db: Queryable, id: number, scope: Scope): Promise<boolean> {
  const p = new Params();
  const { rows } = await db.query(
    `SELECT 1 FROM organisations o WHERE o.id = ${p.add(id)} AND ${organisationRowScopeSql(p, scope, 'o.id')}`,
    p.values,
  );
  return rows.length > 0;
}

/**
 * Which of the funders `codes` may pay for the members of organisation `governed` (and those below
 * it): UNION, the hub's own fund, and the funders of `governed` or of an organisation above it —
 * never one beside or below it, whose money it is not to spend. For null (a rule set the hub's own
 * staff publish, which may govern every organisation) UNION only. With the governed organisation's code.
 */
export async function fundersPayingFor(
  db: Queryable, codes: readonly string[], governed: number | null,
): Promise<{ organisation: string | null; paying: Set<string> }> {
  const { rows } = await db.query<{ organisation: string | null; paying: string[] }>(
    `SELECT o.code AS organisation,
            ARRAY(SELECT f.code FROM funders f WHERE f.code = ANY($1::text[]) AND (f.code = 'UNION' OR f.organisation_id = ANY(o.path))) AS paying
       FROM (SELECT $2::bigint AS id) g LEFT JOIN organisations o ON o.id = g.id`,
    [[...new Set(codes)], governed],
  );
  return { organisation: rows[0]!.organisation, paying: new Set(rows[0]!.paying) };
}
