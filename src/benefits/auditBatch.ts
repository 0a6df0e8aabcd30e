import type { Queryable } from '../db/pool.ts';
import type { Actor, AuditEntry } from '../audit/audit.ts';

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
