import type { Queryable } from '../kernel/transaction.ts';

/** Who did something: the authenticated principal, as stored in the audit log. */
export interface Actor {
  subject: string;
  role: string;
}

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string;
  reason?: string | null;
  /** Facts about the decision; never personal data in clear. */
  details?: Record<string, unknown>;
}

/**
 * Appends to the hash-chained audit log. Call it inside the transaction that makes the decision,
 * so the decision and its record commit or vanish together.
 */
export async function recordAudit(db: Queryable, actor: Actor, entry: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (actor, role, action, target_type, target_id, reason, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [actor.subject, actor.role, entry.action, entry.targetType, entry.targetId, entry.reason ?? null, entry.details ?? {}],
  );
}

export interface AuditRow extends AuditEntry {
  actor: Actor;
}

/**
 * Appends many audit entries in one statement (the adjudication of a batch). The same rows as
 * `recordAudit` writes, one per decision; the audit_log trigger chains them in order. Call it last
 * in the deciding transaction: the chain lock it takes is held until commit.
 */
export async function recordAudits(db: Queryable, entries: readonly AuditRow[]): Promise<void> {
  if (!entries.length) return;
  await db.query(
    `INSERT INTO audit_log (actor, role, action, target_type, target_id, reason, details)
     SELECT e ->> 'actor', e ->> 'role', e ->> 'action', e ->> 'target_type', e ->> 'target_id', e ->> 'reason', e -> 'details'
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n)
      ORDER BY n`,
    [JSON.stringify(entries.map((e) => ({
      actor: e.actor.subject, role: e.actor.role, action: e.action, target_type: e.targetType, target_id: e.targetId,
      reason: e.reason ?? null, details: e.details ?? {},
    })))],
  );
}

export interface AuditVerification {
  rows: number;
  /** The first row whose link or hash does not hold, with why; null when the chain is intact. */
  firstBroken: { seq: number; problem: string } | null;
}

/** Recomputes the chain: any edited, deleted or inserted-out-of-band row shows up. */
export async function verifyAuditChain(db: Queryable): Promise<AuditVerification> {
  const { rows } = await db.query<{ seq: number; expected_seq: number; link_ok: boolean; hash_ok: boolean }>(
    `SELECT seq, row_number() OVER (ORDER BY seq) AS expected_seq,
            prev_hash IS NOT DISTINCT FROM lag(hash) OVER (ORDER BY seq) AS link_ok,
            hash = sha256(coalesce(prev_hash, ''::bytea) || convert_to(
              audit_row_text(seq, at, actor, role, action, target_type, target_id, reason, details), 'UTF8')) AS hash_ok
       FROM audit_log ORDER BY seq`,
  );
  for (const row of rows) {
    const problem =
      row.seq !== row.expected_seq ? `row ${row.expected_seq} is missing (next is ${row.seq})`
      : !row.link_ok ? 'prev_hash does not match the previous row'
      : !row.hash_ok ? 'content does not match its hash (row edited)'
      : null;
    if (problem) return { rows: rows.length, firstBroken: { seq: row.seq, problem } };
  }
  return { rows: rows.length, firstBroken: null };
}
