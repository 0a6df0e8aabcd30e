import { REVERSAL_DECIDER } from '../../benefits/model.ts';
import { Params } from '../../db/sql.ts';
import { memberRowScopeSql } from '../../db/scope.ts';
import type { Scope } from '../../kernel/scope.ts';
import type { Queryable } from '../../kernel/transaction.ts';

/**
 * SQL of measured waiting: when each claim passed each stage, from other domains' rows (read
 * only). A claim's payment stage is when its last payout (not CANCELLED) reached it, using each
 * payout's latest attempt that got that far; null while any payout has not (or it has none).
 */

const CHINA = `'Asia/Shanghai'`;

/** The intervals measured, each from one stage to a later one. */
export const WAITING_STAGES = [
  'RECEIVED_TO_DECIDED', 'DECIDED_TO_SENT', 'SENT_TO_ACCEPTED', 'ACCEPTED_TO_CREDITED', 'CREDITED_TO_SETTLED', 'RECEIVED_TO_CREDITED', 'RECEIVED_TO_SETTLED',
] as const;
export type WaitingStage = (typeof WAITING_STAGES)[number];
/** The stages complete once the member is credited (the rest wait for the statement). */
export const CREDITED_STAGES: readonly WaitingStage[] = ['RECEIVED_TO_DECIDED', 'DECIDED_TO_SENT', 'SENT_TO_ACCEPTED', 'ACCEPTED_TO_CREDITED', 'RECEIVED_TO_CREDITED'];
export const SETTLED_STAGES: readonly WaitingStage[] = ['CREDITED_TO_SETTLED', 'RECEIVED_TO_SETTLED'];

/** When a claim passed each stage; null: not yet. */
export interface ClaimTimeline {
  /** The hub received the settlement. */
  receivedAt: Date;
  /** Null too for a claim a reversal cancelled before anyone decided it: a reversal is no decision. */
  decidedAt: Date | null;
  /** First handed to the bank. */
  sentAt: Date | null;
  /** First accepted by the bank (ACCP or ACSC). */
  acceptedAt: Date | null;
  /** The bank's ACSC reached the hub: the member was credited. */
  creditedAt: Date | null;
  /** Matched on the bank's statement. */
  settledAt: Date | null;
  approvedByRules: boolean;
}

export type WaitingGroup = 'DAY' | 'PROGRAMME' | 'TOTAL';

/** A claim's columns the timeline reads, from claims `c`: its decision, unless a reversal closed it undecided. */
const TIMELINE_CLAIM = `c.id, c.settlement_id, CASE WHEN c.decided_by = '${REVERSAL_DECIDER}' THEN NULL ELSE c.decided_at END AS decided_at`;

/** The timelines of the claims in `claimsSql` (a relation with TIMELINE_CLAIM's columns). */
const TIMELINE_SQL = (claimsSql: string) => `
  SELECT c.id, s.received_at AS "receivedAt", c.decided_at AS "decidedAt",
         pay."sentAt", pay."acceptedAt", pay."creditedAt", pay."settledAt",
         coalesce(claim_approved_by_rules(c.id), false) AS "approvedByRules",
         to_char((s.received_at AT TIME ZONE ${CHINA})::date, 'YYYY-MM-DD') AS "receivedOn"
    FROM ${claimsSql} c JOIN settlements s ON s.id = c.settlement_id
    LEFT JOIN LATERAL (
      SELECT CASE WHEN bool_and(x.sent IS NOT NULL) THEN max(x.sent) END AS "sentAt",
             CASE WHEN bool_and(x.accepted IS NOT NULL) THEN max(x.accepted) END AS "acceptedAt",
             CASE WHEN bool_and(p.paid_at IS NOT NULL) THEN max(p.paid_at) END AS "creditedAt",
             CASE WHEN bool_and(p.settled_at IS NOT NULL) THEN max(p.settled_at) END AS "settledAt"
        FROM payouts p
        CROSS JOIN LATERAL (
          SELECT (SELECT a.sent_at FROM payout_attempts a WHERE a.payout_id = p.id AND a.sent_at IS NOT NULL ORDER BY a.attempt_no DESC LIMIT 1) AS sent,
                 (SELECT a.accepted_at FROM payout_attempts a WHERE a.payout_id = p.id AND a.accepted_at IS NOT NULL ORDER BY a.attempt_no DESC LIMIT 1) AS accepted
        ) x
       WHERE p.claim_id = c.id AND p.status <> 'CANCELLED'
    ) pay ON true`;

interface TimelineRow extends ClaimTimeline {
  id: number;
  receivedOn: string;
}

/** The timelines of these claims in the caller's scope, in the order asked (null: not found or out of scope). */
export async function timelinesOfClaims(db: Queryable, claimIds: readonly number[], scope: Scope): Promise<(ClaimTimeline | null)[]> {
  if (!claimIds.length) return [];
  const p = new Params();
  const { rows } = await db.query<TimelineRow>(
    TIMELINE_SQL(`(SELECT ${TIMELINE_CLAIM} FROM claims c WHERE c.id = ANY(${p.add(claimIds)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'c')})`),
    p.values,
  );
  const byId = new Map(rows.map(({ id, receivedOn: _day, ...t }) => [id, t]));
  return claimIds.map((id) => byId.get(id) ?? null);
}

/** One claim's completed waits for the histogram, with what labels it (read for every scope: the process's own figures). */
export interface ClaimWaits {
  claimId: number;
  /** The programme of the claim's largest approved line (one per claim, so the series add up). */
  programme: string | null;
  approvedByRules: boolean;
  timeline: ClaimTimeline;
}

/**
 * The claims of these payouts whose stage `until` (CREDITED: paid, SETTLED: settled) was reached by
 * one of them as the claim's last payout to get there: each claim is found once, by the change
 * that completed it.
 */
export async function claimsCompletedBy(db: Queryable, payoutIds: readonly number[], until: 'CREDITED' | 'SETTLED'): Promise<ClaimWaits[]> {
  if (!payoutIds.length) return [];
  const column = until === 'CREDITED' ? 'paid_at' : 'settled_at';
  const timeColumn = until === 'CREDITED' ? '"creditedAt"' : '"settledAt"';
  const { rows } = await db.query<TimelineRow & { programme: string | null }>(
    `WITH t AS (${TIMELINE_SQL(`(SELECT ${TIMELINE_CLAIM} FROM claims c WHERE c.id IN (SELECT p.claim_id FROM payouts p WHERE p.id = ANY($1::bigint[])))`)})
     SELECT t.*, (SELECT l.programme FROM benefit_lines l WHERE l.claim_id = t.id AND l.status IN ('APPROVED', 'PAID')
                   ORDER BY coalesce(l.adjusted_fen, l.amount_fen) DESC, l.programme LIMIT 1) AS programme
       FROM t
      WHERE t.${timeColumn} IS NOT NULL
        AND EXISTS (SELECT 1 FROM payouts p WHERE p.id = ANY($1::bigint[]) AND p.claim_id = t.id AND p.${column} = t.${timeColumn})`,
    [payoutIds],
  );
  return rows.map(({ id, receivedOn: _day, programme, approvedByRules, ...timeline }) => ({
    claimId: id, programme, approvedByRules, timeline: { ...timeline, approvedByRules },
  }));
}

export interface WaitingSelection {
  /** China dates of the settlements' receipt, both included. */
  from: string;
  to: string;
  programme: string | null;
  /** The subtree's root; null for all the caller may see. */
  organisationId: number | null;
  approvedByRulesOnly: boolean;
}

/** One stage's figures in one group; percentiles by linear interpolation (percentile_cont). */
export interface WaitingFiguresRow {
  group: WaitingGroup;
  /** The day (yyyy-MM-dd), the programme, or TOTAL. */
  key: string;
  /** Null: the row counts the group's claims (`count`), no stage. */
  stage: WaitingStage | null;
  count: number;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  max: number | null;
}

const STAGE_SECONDS: Record<WaitingStage, string> = {
  RECEIVED_TO_DECIDED: 't."decidedAt" - t."receivedAt"',
  DECIDED_TO_SENT: 't."sentAt" - t."decidedAt"',
  SENT_TO_ACCEPTED: 't."acceptedAt" - t."sentAt"',
  ACCEPTED_TO_CREDITED: 't."creditedAt" - t."acceptedAt"',
  CREDITED_TO_SETTLED: 't."settledAt" - t."creditedAt"',
  RECEIVED_TO_CREDITED: 't."creditedAt" - t."receivedAt"',
  RECEIVED_TO_SETTLED: 't."settledAt" - t."receivedAt"',
};

/**
 * Per day of receipt, per programme (claims with an approved line of it) and overall: how many
 * claims, and per stage the count, p50, p90, p95 and max in seconds of the claims that passed it.
 */
export async function waitingFigures(db: Queryable, s: WaitingSelection, scope: Scope): Promise<WaitingFiguresRow[]> {
  const p = new Params();
  const from = p.add(s.from);
  const to = p.add(s.to);
  const claims = `(SELECT ${TIMELINE_CLAIM} FROM claims c JOIN settlements cs ON cs.id = c.settlement_id
     WHERE cs.received_at >= (${from}::date::timestamp AT TIME ZONE ${CHINA})
       AND cs.received_at < ((${to}::date + 1)::timestamp AT TIME ZONE ${CHINA})
       AND ${memberRowScopeSql(p, scope, 'c')}
       AND ${s.organisationId === null ? 'true' : `EXISTS (SELECT 1 FROM units wu JOIN organisations wo ON wo.id = wu.organisation_id
                                                         WHERE wu.id = c.unit_id AND ${p.add(s.organisationId)}::bigint = ANY(wo.path))`}
       AND ${s.programme === null ? 'true' : `EXISTS (SELECT 1 FROM benefit_lines wl WHERE wl.claim_id = c.id AND wl.status IN ('APPROVED', 'PAID') AND wl.programme = ${p.add(s.programme)})`}
       AND ${s.approvedByRulesOnly ? 'claim_approved_by_rules(c.id)' : 'true'})`;
  const programmeFilter = s.programme === null ? 'true' : `l.programme = ${p.add(s.programme)}`;
  const stat = (x: string) => `count(${x})::int AS count,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY ${x}) AS p50, percentile_cont(0.9) WITHIN GROUP (ORDER BY ${x}) AS p90,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY ${x}) AS p95, max(${x})::float8 AS max`;
  const { rows } = await db.query<WaitingFiguresRow>(
    `WITH t AS (${TIMELINE_SQL(claims)}),
          w AS (SELECT t.id, t."receivedOn", st.stage, st.seconds FROM t
                CROSS JOIN LATERAL (VALUES ${WAITING_STAGES.map((stage) => `('${stage}', extract(epoch FROM ${STAGE_SECONDS[stage]})::float8)`).join(', ')}) AS st(stage, seconds)
                WHERE st.seconds IS NOT NULL),
          pr AS (SELECT DISTINCT l.claim_id, l.programme FROM benefit_lines l JOIN t ON t.id = l.claim_id
                  WHERE l.status IN ('APPROVED', 'PAID') AND ${programmeFilter})
     SELECT 'DAY' AS "group", "receivedOn" AS key, NULL AS stage, count(*)::int AS count, NULL::float8 AS p50, NULL::float8 AS p90, NULL::float8 AS p95, NULL::float8 AS max
       FROM t GROUP BY "receivedOn"
     UNION ALL SELECT 'DAY', "receivedOn", stage, ${stat('seconds')} FROM w GROUP BY "receivedOn", stage
     UNION ALL SELECT 'PROGRAMME', pr.programme, NULL, count(*)::int, NULL, NULL, NULL, NULL FROM pr GROUP BY pr.programme
     UNION ALL SELECT 'PROGRAMME', pr.programme, w.stage, ${stat('w.seconds')} FROM w JOIN pr ON pr.claim_id = w.id GROUP BY pr.programme, w.stage
     UNION ALL SELECT 'TOTAL', 'TOTAL', NULL, count(*)::int, NULL, NULL, NULL, NULL FROM t
     UNION ALL SELECT 'TOTAL', 'TOTAL', stage, ${stat('seconds')} FROM w GROUP BY stage`,
    p.values,
  );
  return rows;
}
