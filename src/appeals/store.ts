import type { Queryable, Tx } from '../kernel/transaction.ts';
import type { Page } from '../kernel/page.ts';
import type { Scope } from '../kernel/scope.ts';
import { Params } from '../db/sql.ts';
import { memberRowScopeSql, memberScopeSql } from '../db/scope.ts';
import { byKey, keysetSql } from '../db/keyset.ts';
import type { AppealRow, AppealStatus } from './model.ts';

/** SQL of the appeals domain: appeals and appeal_attachments (claims are read, never written here). */

const COLUMNS = `a.id, a.claim_id AS "claimId", a.member_id AS "memberId", a.status, a.claim_status_when_filed AS "claimStatusWhenFiled",
  a.claim_decided_by AS "claimDecidedBy", (SELECT c.decided_by FROM claims c WHERE c.id = a.claim_id) AS "claimDecidedByNow", a.reason, a.filed_by AS "filedBy", a.filed_role AS "filedRole", a.filed_at AS "filedAt",
  a.decided_by AS "decidedBy", a.decided_role AS "decidedRole", a.decided_at AS "decidedAt", a.decision_reason AS "decisionReason"`;

/** What filing an appeal needs to know of a claim. */
export interface AppealedClaim {
  id: number;
  memberId: number;
  status: string;
  decidedBy: string | null;
  /** When it was decided: decided_at, or its adjudication for a claim found ineligible (which has no decider). */
  decidedAt: Date;
  /** Everyone who adjusted a line of it (they may not approve it: claims_four_eyes). */
  adjustedBy: string[];
  /** The platform reversed (冲销) its settlement: nothing of it is paid, whatever an appeal says. */
  reversed: boolean;
}

/**
 * The claim in `scope`, or null. Its member and unit are locked (FOR SHARE) until the commit, so a
 * move (the member's to another unit, the unit's to another organisation) either commits first, and
 * the claim is out of the old scope, or waits.
 */
export async function claimForAppeal(tx: Tx, claimId: number, scope: Scope): Promise<AppealedClaim | null> {
  const p = new Params();
  const { rows } = await tx.query<AppealedClaim>(
    `SELECT c.id, c.member_id AS "memberId", c.status, c.decided_by AS "decidedBy", coalesce(c.decided_at, c.created_at) AS "decidedAt",
            c.adjusted_by AS "adjustedBy", EXISTS (SELECT 1 FROM claim_reversals r WHERE r.claim_id = c.id) AS reversed
       FROM claims c JOIN members m ON m.id = c.member_id JOIN units u ON u.id = m.unit_id
      WHERE c.id = ${p.add(claimId)} AND ${memberScopeSql(p, scope, 'm', 'u')} FOR SHARE OF m, u`,
    p.values,
  );
  return rows[0] ?? null;
}

/** Files the appeal; null when the claim has an OPEN appeal already. The claim's status and decider are copied by the database. */
export async function insertAppeal(tx: Tx, appeal: { claimId: number; reason: string; filedBy: string; filedRole: string }): Promise<AppealRow | null> {
  const { rows } = await tx.query<AppealRow>(
    `INSERT INTO appeals AS a (claim_id, reason, filed_by, filed_role)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (claim_id) WHERE status = 'OPEN' DO NOTHING
     RETURNING ${COLUMNS}`,
    [appeal.claimId, appeal.reason, appeal.filedBy, appeal.filedRole],
  );
  return rows[0] ?? null;
}

export async function linkAttachments(tx: Tx, appealId: number, attachmentIds: readonly number[]): Promise<void> {
  if (!attachmentIds.length) return;
  await tx.query(
    `INSERT INTO appeal_attachments (appeal_id, attachment_id) SELECT $1, unnest($2::bigint[])`,
    [appealId, attachmentIds],
  );
}

/**
 * The appeal in `scope`, locked for its decision; null when there is none. Its member and unit are
 * locked too (FOR SHARE) and the scope checked on them: after waiting for the appeal, the check runs
 * again on the member and unit as a move committed meanwhile left them.
 */
export async function lockAppeal(tx: Tx, appealId: number, scope: Scope): Promise<AppealRow | null> {
  const p = new Params();
  const { rows } = await tx.query<AppealRow>(
    `SELECT ${COLUMNS} FROM appeals a JOIN members m ON m.id = a.member_id JOIN units u ON u.id = m.unit_id
      WHERE a.id = ${p.add(appealId)} AND ${memberScopeSql(p, scope, 'm', 'u')} FOR UPDATE OF a FOR SHARE OF m, u`,
    p.values,
  );
  return rows[0] ?? null;
}

export async function decideAppeal(
  tx: Tx, appealId: number, decision: { status: Exclude<AppealStatus, 'OPEN'>; decidedBy: string; decidedRole: string; reason: string },
): Promise<AppealRow> {
  const { rows } = await tx.query<AppealRow>(
    `UPDATE appeals AS a SET status = $2, decided_by = $3, decided_role = $4, decided_at = now(), decision_reason = $5
      WHERE a.id = $1 RETURNING ${COLUMNS}`,
    [appealId, decision.status, decision.decidedBy, decision.decidedRole, decision.reason],
  );
  return rows[0]!;
}

export async function appealsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<AppealRow[]> {
  if (!ids.length) return [];
  const p = new Params();
  const { rows } = await db.query<AppealRow>(
    `SELECT ${COLUMNS} FROM appeals a WHERE a.id = ANY(${p.add(ids)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'a')}`,
    p.values,
  );
  return rows;
}

/** The appeals of these claims in `scope`, oldest first. */
export async function appealsOfClaims(db: Queryable, claimIds: readonly number[], scope: Scope): Promise<AppealRow[]> {
  if (!claimIds.length) return [];
  const p = new Params();
  const { rows } = await db.query<AppealRow>(
    `SELECT ${COLUMNS} FROM appeals a WHERE a.claim_id = ANY(${p.add(claimIds)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'a')} ORDER BY a.id`,
    p.values,
  );
  return rows;
}

/** The appeals of these members in `scope`, newest first. */
export async function appealsOfMembers(db: Queryable, memberIds: readonly number[], scope: Scope): Promise<AppealRow[]> {
  if (!memberIds.length) return [];
  const p = new Params();
  const { rows } = await db.query<AppealRow>(
    `SELECT ${COLUMNS} FROM appeals a WHERE a.member_id = ANY(${p.add(memberIds)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'a')} ORDER BY a.id DESC`,
    p.values,
  );
  return rows;
}

const ORDERING = byKey('a.id', 'ASC');

/** How many appeals in `scope` there are, of one status or all. */
export async function countAppeals(db: Queryable, scope: Scope, status: AppealStatus | null): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM appeals a WHERE ${status === null ? 'true' : `a.status = ${p.add(status)}`} AND ${memberRowScopeSql(p, scope, 'a')}`,
    p.values,
  );
  return rows[0]!.n;
}

/** A keyset page of appeals in `scope`, oldest first (a queue), of one status or all. */
export async function appealsPage(db: Queryable, scope: Scope, status: AppealStatus | null, page: Page): Promise<AppealRow[]> {
  const p = new Params();
  const { where, orderBy } = keysetSql(p, ORDERING, page);
  const { rows } = await db.query<AppealRow>(
    `SELECT ${COLUMNS} FROM appeals a
      WHERE ${status === null ? 'true' : `a.status = ${p.add(status)}`} AND ${memberRowScopeSql(p, scope, 'a')} AND ${where}
      ORDER BY ${orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

/** The attachment ids of these appeals. */
export async function attachmentIdsOfAppeals(db: Queryable, appealIds: readonly number[]): Promise<{ appealId: number; attachmentId: number }[]> {
  if (!appealIds.length) return [];
  const { rows } = await db.query<{ appealId: number; attachmentId: number }>(
    `SELECT appeal_id AS "appealId", attachment_id AS "attachmentId" FROM appeal_attachments
      WHERE appeal_id = ANY($1::bigint[]) ORDER BY attachment_id`,
    [appealIds],
  );
  return rows;
}
