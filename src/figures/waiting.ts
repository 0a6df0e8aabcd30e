import { PROGRAMMES } from '../benefits/rules/ruleSet.ts';
import { checkAll } from '../kernel/errors.ts';
import type { Scope } from '../kernel/scope.ts';
import { addDays, dayNumber, isIsoDate } from '../kernel/time.ts';
import type { Queryable } from '../kernel/transaction.ts';
import { figuresOrganisation } from './service.ts';
import type { FiguresOrganisation } from './model.ts';
import * as store from './store/waiting.ts';
import {
  CREDITED_STAGES, SETTLED_STAGES, WAITING_STAGES, type ClaimTimeline, type WaitingFiguresRow, type WaitingStage,
} from './store/waiting.ts';

export { WAITING_STAGES, type ClaimTimeline, type WaitingStage } from './store/waiting.ts';

/**
 * Measured waiting (即时办): how long each claim waited from the settlement's receipt to its
 * decision, to the payment's hand-over to the bank, the bank's acceptance, the member's credit and
 * the statement's settlement; percentiles per day and per programme, and the completed waits the
 * workers give to the process's histograms.
 */

/** Days one `paymentWaiting` covers at most (a leap year). */
export const MAX_WAITING_DAYS = 366;

/** The timelines of these claims in the caller's scope, in the order asked (DataLoader-friendly). */
export function claimTimelines(db: Queryable, claimIds: readonly number[], scope: Scope): Promise<(ClaimTimeline | null)[]> {
  return store.timelinesOfClaims(db, claimIds, scope);
}

export interface WaitingRequest {
  from: string;
  to: string;
  programme?: string | null;
  organisationId?: number | null;
  approvedByRulesOnly?: boolean | null;
}

export interface StageFigures {
  stage: WaitingStage;
  /** Claims that passed the stage. */
  count: number;
  p50Seconds: number | null;
  p90Seconds: number | null;
  p95Seconds: number | null;
  maxSeconds: number | null;
}

export interface WaitingRow {
  key: string;
  /** Claims counted in the row. */
  claims: number;
  /** Every stage, in WAITING_STAGES order. */
  stages: StageFigures[];
}

export interface PaymentWaiting {
  from: string;
  to: string;
  programme: string | null;
  organisation: FiguresOrganisation | null;
  approvedByRulesOnly: boolean;
  overall: WaitingRow;
  /** Every day from `from` to `to`, in order. */
  days: WaitingRow[];
  /** Every programme (only the one asked, when one is), in PROGRAMMES order. */
  programmes: WaitingRow[];
}

/** Checks the range and organisation, then reads the figures (one query). */
export async function paymentWaiting(db: Queryable, scope: Scope, r: WaitingRequest, prefix = 'filter'): Promise<PaymentWaiting> {
  const datesOk = isIsoDate(r.from) && isIsoDate(r.to);
  checkAll({
    [`${prefix}.from`]: isIsoDate(r.from) ? null : 'must be a date yyyy-MM-dd',
    [`${prefix}.to`]: !isIsoDate(r.to) ? 'must be a date yyyy-MM-dd'
      : datesOk && r.to < r.from ? `must not be before ${prefix}.from`
      : datesOk && dayNumber(r.to) - dayNumber(r.from) >= MAX_WAITING_DAYS ? `must be at most ${MAX_WAITING_DAYS - 1} days after ${prefix}.from (${MAX_WAITING_DAYS} days in all)` : null,
    [`${prefix}.programme`]: r.programme == null || (PROGRAMMES as readonly string[]).includes(r.programme) ? null : `must be one of ${PROGRAMMES.join(', ')}`,
  });
  // Given explicitly only: by default every claim the caller may see (its scope already bounds it).
  const organisation = r.organisationId == null ? null : await figuresOrganisation(db, scope, r.organisationId, `${prefix}.organisationId`);
  const selection = {
    from: r.from, to: r.to, programme: r.programme ?? null, organisationId: organisation?.id ?? null, approvedByRulesOnly: r.approvedByRulesOnly ?? false,
  };
  const rows = await store.waitingFigures(db, selection, scope);
  const row = (group: WaitingFiguresRow['group'], key: string): WaitingRow => {
    const mine = rows.filter((x) => x.group === group && x.key === key);
    return {
      key,
      claims: mine.find((x) => x.stage === null)?.count ?? 0,
      stages: WAITING_STAGES.map((stage) => {
        const x = mine.find((m) => m.stage === stage);
        return { stage, count: x?.count ?? 0, p50Seconds: x?.p50 ?? null, p90Seconds: x?.p90 ?? null, p95Seconds: x?.p95 ?? null, maxSeconds: x?.max ?? null };
      }),
    };
  };
  const days: string[] = [];
  for (let d = r.from; d <= r.to; d = addDays(d, 1)) days.push(d);
  return {
    ...selection,
    organisation,
    overall: row('TOTAL', 'TOTAL'),
    days: days.map((d) => row('DAY', d)),
    programmes: PROGRAMMES.filter((p) => selection.programme === null || p === selection.programme).map((p) => row('PROGRAMME', p)),
  };
}

/** One completed wait, as the histogram takes it. */
export interface WaitObservation {
  stage: WaitingStage;
  /** The programme of the claim's largest approved line; `NONE` without one. */
  programme: string;
  approvedByRules: boolean;
  seconds: number;
}

const seconds = (from: Date | null, to: Date | null) => (from && to ? (to.getTime() - from.getTime()) / 1000 : null);

const STAGE_ENDS: Record<WaitingStage, (t: ClaimTimeline) => number | null> = {
  RECEIVED_TO_DECIDED: (t) => seconds(t.receivedAt, t.decidedAt),
  DECIDED_TO_SENT: (t) => seconds(t.decidedAt, t.sentAt),
  SENT_TO_ACCEPTED: (t) => seconds(t.sentAt, t.acceptedAt),
  ACCEPTED_TO_CREDITED: (t) => seconds(t.acceptedAt, t.creditedAt),
  CREDITED_TO_SETTLED: (t) => seconds(t.creditedAt, t.settledAt),
  RECEIVED_TO_CREDITED: (t) => seconds(t.receivedAt, t.creditedAt),
  RECEIVED_TO_SETTLED: (t) => seconds(t.receivedAt, t.settledAt),
};

/**
 * The waits completed by these payouts becoming PAID (CREDITED: every stage up to the credit) or
 * SETTLED (the two ending at the settlement), read after their commit in one query. A claim
 * counts once, when its last payout gets there.
 */
export async function completedWaits(db: Queryable, payoutIds: readonly number[], until: 'CREDITED' | 'SETTLED'): Promise<WaitObservation[]> {
  const claims = await store.claimsCompletedBy(db, payoutIds, until);
  const stages = until === 'CREDITED' ? CREDITED_STAGES : SETTLED_STAGES;
  return claims.flatMap((c) => stages.flatMap((stage) => {
    const s = STAGE_ENDS[stage](c.timeline);
    return s === null ? [] : [{ stage, programme: c.programme ?? 'NONE', approvedByRules: c.approvedByRules, seconds: s }];
  }));
}
