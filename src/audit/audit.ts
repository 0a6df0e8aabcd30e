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
 * in the deciding transaction: the lock of the chain it takes is held until commit.
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
  /**
   * The first row (by seq) whose chain does not hold, with why; null when every chain and checkpoint
   * is intact. For a checkpoint naming a row that is gone, seq is that row's, as recorded.
   */
  firstBroken: { seq: number; problem: string; chain?: number; checkpoint?: number } | null;
  /** Chains holding rows, and checkpoints verified. */
  chains?: number;
  checkpoints?: number;
}

/**
 * Recomputes every chain (gapless chain_seq, each prev_hash the previous row's hash, each hash its
 * content's) and every checkpoint (its own chain, and each chain head it recorded still there with
 * that hash): any edited, deleted or inserted-out-of-band row shows up, and so does a chain's tail
 * deleted after a checkpoint.
 */
export async function verifyAuditChain(db: Queryable): Promise<AuditVerification> {
  const { rows } = await db.query<{ seq: number; chain: number; chain_seq: number; expected: number; link_ok: boolean; hash_ok: boolean }>(
    `SELECT seq, chain, chain_seq, row_number() OVER w AS expected,
            prev_hash IS NOT DISTINCT FROM lag(hash) OVER w AS link_ok,
            hash = sha256(coalesce(prev_hash, ''::bytea) || convert_to(
              audit_row_text(seq, at, actor, role, action, target_type, target_id, reason, details), 'UTF8')) AS hash_ok
       FROM audit_log WINDOW w AS (PARTITION BY chain ORDER BY chain_seq) ORDER BY seq`,
  );
  const chains = new Set(rows.map((r) => r.chain)).size;
  for (const row of rows) {
    const problem =
      row.chain_seq !== row.expected ? `chain ${row.chain}: row ${row.expected} is missing (next is ${row.chain_seq})`
      : !row.link_ok ? `chain ${row.chain}: prev_hash does not match the previous row`
      : !row.hash_ok ? `chain ${row.chain}: content does not match its hash (row edited)`
      : null;
    if (problem) return { rows: rows.length, firstBroken: { seq: row.seq, problem, chain: row.chain }, chains };
  }
  const { rows: checkpoints } = await db.query<{ id: number; expected: number; link_ok: boolean; hash_ok: boolean; lost: { chain: number; chain_seq: number; seq: number } | null }>(
    `SELECT id, row_number() OVER w AS expected, prev_hash IS NOT DISTINCT FROM lag(hash) OVER w AS link_ok,
            hash = sha256(coalesce(prev_hash, ''::bytea) || convert_to(
              audit_checkpoint_text(id, at, chains, chain_seqs, seqs, hashes), 'UTF8')) AS hash_ok,
            (SELECT jsonb_build_object('chain', h.chain, 'chain_seq', h.chain_seq, 'seq', h.seq)
               FROM unnest(chains, chain_seqs, seqs, hashes) AS h(chain, chain_seq, seq, hash)
              WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.chain = h.chain AND a.chain_seq = h.chain_seq
                                                            AND a.seq = h.seq AND a.hash = h.hash)
              ORDER BY h.seq LIMIT 1) AS lost
       FROM audit_checkpoints WINDOW w AS (ORDER BY id) ORDER BY id`,
  );
  for (const cp of checkpoints) {
    const broken =
      cp.id !== cp.expected ? { seq: 0, problem: `checkpoint ${cp.expected} is missing (next is ${cp.id})` }
      : !cp.link_ok ? { seq: 0, problem: `checkpoint ${cp.id}: prev_hash does not match the previous checkpoint` }
      : !cp.hash_ok ? { seq: 0, problem: `checkpoint ${cp.id}: content does not match its hash (checkpoint edited)` }
      : cp.lost ? { seq: cp.lost.seq, chain: cp.lost.chain, problem: `chain ${cp.lost.chain}: row ${cp.lost.chain_seq} recorded by checkpoint ${cp.id} is missing or changed` }
      : null;
    if (broken) return { rows: rows.length, firstBroken: { ...broken, checkpoint: cp.id }, chains, checkpoints: checkpoints.length };
  }
  return { rows: rows.length, firstBroken: null, chains, checkpoints: checkpoints.length };
}

/**
 * Records every chain's head in a new checkpoint (the roll-up verifyAuditChain checks), so a
 * chain's tail cannot be cut off unnoticed afterwards. Any job may call it; returns its id.
 */
export async function recordAuditCheckpoint(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ id: number }>('SELECT audit_checkpoint() AS id');
  return rows[0]!.id;
}
