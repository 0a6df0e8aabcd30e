import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROGRAMMES } from '../../src/benefits/rules/ruleSet.ts';
import { claimTimelines, completedWaits, paymentWaiting, WAITING_STAGES, type ClaimTimeline, type WaitingStage } from '../../src/figures/waiting.ts';
import { createMetrics } from '../../src/gateway/metrics.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { fetchFromBank } from '../../src/reconciliation/fetch.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { startBank, stopAll, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, submissionContext, keys } from '../payouts/support.ts';
import { seedFigures, spreadClaimants, type Tree } from './support.ts';
import { HUB } from '../reconciliation/support.ts';

/**
 * Measured waiting over the figures' sample claims, given stage times by SQL on real rows: received
 * over three China days, decided, payouts sent (one after a rejected first attempt), accepted,
 * credited and some settled; one claim paid by two funders, one whose second funder has not paid.
 * Expectations are computed in JavaScript from the raw rows read back.
 */
let db: TestDatabase;
let tree: Tree;
const DAYS = ['2026-03-01', '2026-03-02', '2026-03-03'];
const UNION_DEBTOR = '6222999900001';
const FJ_ACCOUNT = '6222000000001';
const AGENT = '102397000023';
let twoFunders: { claimId: number; first: number; second: number };
let unpaidSecond: number;

async function batch(funderId: number | null, msgId: string, account: string): Promise<number> {
  const { rows: [b] } = await db.pool.query<{ id: string }>(
    `INSERT INTO payout_batches (msg_id, pmt_inf_id, funder_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date, nb_of_txs, ctrl_sum_fen, created_by, created_by_role)
     VALUES ($1, $1, coalesce($2, (SELECT id FROM funders WHERE code = 'UNION')), 'SIM', $3, $4, $5, current_date, 1, 1, 'clerk', 'FINANCE') RETURNING id`,
    [msgId, funderId, account, funderId === null ? '某工会' : '福建省总工会', AGENT],
  );
  return Number(b!.id);
}

async function attempt(payoutId: number, no: number, batchId: number, status: string, sentAt: string, acceptedAt: string | null): Promise<void> {
  await db.pool.query(
    `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc, creditor_account_masked,
                                  creditor_agent, remittance_info, status, reason_code, sent_at, accepted_at, status_at)
     VALUES ($1::bigint, $2::int, $3, 'W' || $1::text || '-' || $2::text, 100, '某', '\\x00', '6222 **** 0000', $5, 'x', $4, CASE WHEN $4::text = 'REJECTED' THEN 'AC04' END, $6, $7, $6)`,
    [payoutId, no, batchId, status, AGENT, sentAt, acceptedAt],
  );
}

beforeAll(async () => {
  db = await freshDatabase();
  tree = await seedFigures(db.pool);
  const q = (sql: string, values: unknown[] = []) => db.pool.query(sql, values);
  await spreadClaimants(db.pool, tree);
  // Received over three China days (09:00 + i·137 s); decided seconds to an hour later; some approvals by a person.
  await q(`WITH c AS (SELECT settlement_id, row_number() OVER (ORDER BY id) AS i FROM claims)
           UPDATE settlements s SET received_at = (($1::date[])[1 + c.i % 3] + time '09:00') AT TIME ZONE 'Asia/Shanghai' + c.i * interval '137 seconds'
             FROM c WHERE c.settlement_id = s.id`, [DAYS]);
  await q(`UPDATE claims c SET decided_at = s.received_at + ((c.id * 53) % 3600 + 5) * interval '1 second'
             FROM settlements s WHERE s.id = c.settlement_id AND c.decided_at IS NOT NULL`);
  await q(`UPDATE claims SET decided_by = 'reviewer-1' WHERE status = 'APPROVED' AND id % 4 = 1`);
  // Every payout: sent after the decision, accepted, credited; every second one settled.
  const union = await batch(null, 'WAIT-U', UNION_DEBTOR);
  const { rows: payouts } = await q(
    `SELECT p.id, c.decided_at FROM payouts p JOIN claims c ON c.id = p.claim_id WHERE p.status = 'PAID' ORDER BY p.id`);
  for (const [k, p] of payouts.entries()) {
    const t = (s: number) => new Date(p.decided_at.getTime() + s * 1000).toISOString();
    const sent = 1 + ((k * 311) % 7200);
    const accepted = sent + 1 + ((k * 7) % 600);
    const credited = accepted + 1 + ((k * 11) % 900);
    // The third payout's first attempt was rejected; its second counts.
    if (k === 2) await attempt(p.id, 1, union, 'REJECTED', t(0), null);
    await attempt(p.id, k === 2 ? 2 : 1, union, 'PAID', t(sent), t(accepted));
    await q(`UPDATE payouts SET paid_at = $2, settled_at = CASE WHEN $3 THEN $2::timestamptz + $4::int * interval '1 second' END,
                                status = CASE WHEN $3 THEN 'SETTLED' ELSE 'PAID' END WHERE id = $1`,
      [p.id, t(credited), k % 2 === 0, 3600 + k * 13]);
  }
  // A second funder pays part of two claims: one later than the union (its times count), one not yet.
  const { rows: [fj] } = await q(
    `INSERT INTO funders (code, name, organisation_id, account, account_name, agent, created_by) VALUES ('FJFUND', '福建省总工会', $1, $2, '福建省总工会', $3, 'test') RETURNING id`,
    [tree.FJ, FJ_ACCOUNT, AGENT]);
  const fjBatch = await batch(Number(fj.id), 'WAIT-F', FJ_ACCOUNT);
  const second = async (payout: { id: number }, status: string) => {
    const { rows: [row] } = await q(
      `INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, funder_id, paid_at, settled_at)
       SELECT claim_id, member_id, unit_id, 100, $2::text, $3, CASE WHEN $2 IN ('PAID', 'SETTLED') THEN paid_at + interval '2 hours' END,
              CASE WHEN $2 = 'SETTLED' THEN settled_at + interval '3 hours' END
         FROM payouts WHERE id = $1 RETURNING id, claim_id, paid_at`, [payout.id, status, fj.id]);
    const sentAt = new Date(row.paid_at?.getTime() ?? Date.parse('2026-03-04T00:00:00Z'));
    await attempt(Number(row.id), 1, fjBatch, status === 'SENT' ? 'SENT' : 'PAID', new Date(sentAt.getTime() - 600_000).toISOString(),
      status === 'SENT' ? null : new Date(sentAt.getTime() - 60_000).toISOString());
    return { claimId: Number(row.claim_id), id: Number(row.id) };
  };
  const settledFirst = payouts[0]!;
  const made = await second(settledFirst, 'SETTLED');
  twoFunders = { claimId: made.claimId, first: Number(settledFirst.id), second: made.id };
  unpaidSecond = (await second(payouts[1]!, 'SENT')).claimId;
  // A cancelled payout is no payment of its claim.
  await q(`INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, status_reason, funder_id)
           SELECT claim_id, member_id, unit_id, 100, 'CANCELLED', 'test', $2 FROM payouts WHERE id = $1`, [payouts[3]!.id, fj.id]);
}, 180_000);
afterAll(async () => {
  await db?.drop();
});

/** Raw rows, read plainly. */
async function raw() {
  const q = async <T>(sql: string) => (await db.pool.query(sql)).rows as T[];
  return {
    claims: await q<{ id: string; status: string; decided_by: string | null; decided_at: Date | null; received_at: Date; unit_id: string }>(
      `SELECT c.id, c.status, c.decided_by, c.decided_at, s.received_at, c.unit_id FROM claims c JOIN settlements s ON s.id = c.settlement_id`),
    lines: await q<{ claim_id: string; programme: string; status: string; adjusted_fen: string | null }>(`SELECT claim_id, programme, status, adjusted_fen FROM benefit_lines`),
    payouts: await q<{ id: string; claim_id: string; status: string; paid_at: Date | null; settled_at: Date | null }>(
      `SELECT id, claim_id, status, paid_at, settled_at FROM payouts WHERE claim_id IS NOT NULL`),
    attempts: await q<{ payout_id: string; attempt_no: number; sent_at: Date | null; accepted_at: Date | null }>(`SELECT payout_id, attempt_no, sent_at, accepted_at FROM payout_attempts`),
  };
}
type Raw = Awaited<ReturnType<typeof raw>>;

/** The timeline as the rules say, from the raw rows. */
function handTimeline(r: Raw, claimId: string | number): ClaimTimeline {
  const same = (a: string | number, b: string | number) => String(a) === String(b);
  const c = r.claims.find((x) => same(x.id, claimId))!;
  const payouts = r.payouts.filter((p) => same(p.claim_id, claimId) && p.status !== 'CANCELLED');
  const latest = (payoutId: string, pick: 'sent_at' | 'accepted_at') =>
    r.attempts.filter((a) => same(a.payout_id, payoutId) && a[pick] !== null).sort((a, b) => b.attempt_no - a.attempt_no)[0]?.[pick] ?? null;
  const last = (times: (Date | null)[]) => (times.length && times.every((t) => t !== null) ? new Date(Math.max(...times.map((t) => t!.getTime()))) : null);
  return {
    receivedAt: c.received_at,
    decidedAt: c.decided_at,
    sentAt: last(payouts.map((p) => latest(p.id, 'sent_at'))),
    acceptedAt: last(payouts.map((p) => latest(p.id, 'accepted_at'))),
    creditedAt: last(payouts.map((p) => p.paid_at)),
    settledAt: last(payouts.map((p) => p.settled_at)),
    approvedByRules: c.status === 'APPROVED' && ['adjudication', 'redecision'].includes(c.decided_by ?? '')
      && !r.lines.some((l) => same(l.claim_id, claimId) && l.adjusted_fen !== null),
  };
}

const ENDS: Record<WaitingStage, [keyof ClaimTimeline, keyof ClaimTimeline]> = {
  RECEIVED_TO_DECIDED: ['receivedAt', 'decidedAt'], DECIDED_TO_SENT: ['decidedAt', 'sentAt'], SENT_TO_ACCEPTED: ['sentAt', 'acceptedAt'],
  ACCEPTED_TO_CREDITED: ['acceptedAt', 'creditedAt'], CREDITED_TO_SETTLED: ['creditedAt', 'settledAt'],
  RECEIVED_TO_CREDITED: ['receivedAt', 'creditedAt'], RECEIVED_TO_SETTLED: ['receivedAt', 'settledAt'],
};
const secondsOf = (t: ClaimTimeline, stage: WaitingStage) => {
  const [a, b] = ENDS[stage].map((k) => t[k]) as [Date | null, Date | null];
  return a && b ? (b.getTime() - a.getTime()) / 1000 : null;
};

/** Linear interpolation between closest ranks, as percentile_cont. */
function percentileCont(values: number[], p: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const at = p * (s.length - 1);
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.ceil(at)]! - s[lo]!) * (at - lo);
}

function expectFigures(actual: { stage: WaitingStage; count: number; p50Seconds: number | null; p90Seconds: number | null; p95Seconds: number | null; maxSeconds: number | null }[],
  timelines: ClaimTimeline[]) {
  expect(actual.map((s) => s.stage)).toEqual([...WAITING_STAGES]);
  for (const s of actual) {
    const values = timelines.map((t) => secondsOf(t, s.stage)).filter((v): v is number => v !== null);
    expect(s.count, s.stage).toBe(values.length);
    for (const [p, got] of [[0.5, s.p50Seconds], [0.9, s.p90Seconds], [0.95, s.p95Seconds], [1, s.maxSeconds]] as const) {
      const want = percentileCont(values, p);
      if (want === null) expect(got, `${s.stage} p${p}`).toBeNull();
      else expect(got, `${s.stage} p${p}`).toBeCloseTo(want, 6);
    }
  }
}

const chinaDay = (d: Date) => new Date(d.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);

describe('a claim\'s timeline', () => {
  it('equals the hand count for every claim, in the order asked, the later funder\'s payout counting; unknown ids are null', async () => {
    const r = await raw();
    const ids = r.claims.map((c) => Number(c.id)).reverse();
    const timelines = await claimTimelines(db.pool, [...ids, 987_654_321], UNSCOPED);
    expect(timelines.at(-1)).toBeNull();
    ids.forEach((id, k) => expect(timelines[k], `claim ${id}`).toEqual(handTimeline(r, String(id))));

    const two = timelines[ids.indexOf(twoFunders.claimId)]!;
    const paid = r.payouts.filter((p) => Number(p.claim_id) === twoFunders.claimId).map((p) => p.paid_at!.getTime());
    expect(paid).toHaveLength(2);
    expect(two.creditedAt!.getTime()).toBe(Math.max(...paid));
    expect(two.settledAt).not.toBeNull();
    expect(timelines[ids.indexOf(unpaidSecond)]!.creditedAt).toBeNull();
    expect(timelines[ids.indexOf(unpaidSecond)]!.sentAt).not.toBeNull();
    // The data has what the figures are about: credited, settled, refused or pending claims.
    expect(timelines.filter((t) => t?.creditedAt).length).toBeGreaterThan(5);
    expect(timelines.filter((t) => t?.settledAt).length).toBeGreaterThan(2);
    expect(timelines.filter((t) => t && !t.sentAt).length).toBeGreaterThan(2);
  });
});

describe('percentiles', () => {
  it('overall, per day of receipt and per programme equal percentile_cont computed by hand', async () => {
    const r = await raw();
    const w = await paymentWaiting(db.pool, UNSCOPED, { from: DAYS[0]!, to: DAYS[2]! });
    const all = r.claims.filter((c) => DAYS.includes(chinaDay(c.received_at)));
    expect(w.overall.claims).toBe(all.length);
    expectFigures(w.overall.stages, all.map((c) => handTimeline(r, c.id)));
    expect(w.days.map((d) => d.key)).toEqual(DAYS);
    for (const d of w.days) {
      const of = all.filter((c) => chinaDay(c.received_at) === d.key);
      expect(of.length).toBeGreaterThan(0);
      expect(d.claims).toBe(of.length);
      expectFigures(d.stages, of.map((c) => handTimeline(r, c.id)));
    }
    expect(w.programmes.map((p) => p.key)).toEqual([...PROGRAMMES]);
    for (const p of w.programmes) {
      const of = all.filter((c) => r.lines.some((l) => String(l.claim_id) === String(c.id) && l.programme === p.key && ['APPROVED', 'PAID'].includes(l.status)));
      expect(p.claims).toBe(of.length);
      expectFigures(p.stages, of.map((c) => handTimeline(r, c.id)));
    }
    expect(w.programmes.some((p) => p.claims > 0 && p.stages.some((s) => s.stage === 'RECEIVED_TO_CREDITED' && s.count > 1))).toBe(true);
  });

  it('filtered by programme, by organisation subtree, by approval by the rules alone, and by one day', async () => {
    const r = await raw();
    const programme = 'INPATIENT';
    const { rows: units } = await db.pool.query<{ id: string }>(
      `SELECT u.id FROM units u JOIN organisations o ON o.id = u.organisation_id WHERE $1::bigint = ANY(o.path)`, [tree.QZ]);
    const inQz = new Set(units.map((u) => String(u.id)));
    const w = await paymentWaiting(db.pool, UNSCOPED, { from: DAYS[1]!, to: DAYS[1]!, programme, organisationId: tree.QZ, approvedByRulesOnly: true });
    const of = r.claims.filter((c) => chinaDay(c.received_at) === DAYS[1] && inQz.has(String(c.unit_id))
      && r.lines.some((l) => String(l.claim_id) === String(c.id) && l.programme === programme && ['APPROVED', 'PAID'].includes(l.status)))
      .map((c) => handTimeline(r, c.id)).filter((t) => t.approvedByRules);
    expect(of.length).toBeGreaterThan(0);
    expect(of.length).toBeLessThan(r.claims.filter((c) => chinaDay(c.received_at) === DAYS[1]).length);
    expect(w.overall.claims).toBe(of.length);
    expectFigures(w.overall.stages, of);
    expect(w.programmes.map((p) => p.key)).toEqual([programme]);
    expect(w.organisation?.code).toBe('QZ');
    expect(r.claims.some((c) => handTimeline(r, c.id).approvedByRules === false && c.status === 'APPROVED')).toBe(true);
  });

  it('a range longer than 366 days, reversed or not a date is refused naming the field', async () => {
    await expect(paymentWaiting(db.pool, UNSCOPED, { from: '2025-01-01', to: '2026-01-02' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.to' });
    await expect(paymentWaiting(db.pool, UNSCOPED, { from: '2025-01-01', to: '2026-01-01' })).resolves.toMatchObject({ from: '2025-01-01' });
    await expect(paymentWaiting(db.pool, UNSCOPED, { from: '2026-03-02', to: '2026-03-01' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.to' });
    await expect(paymentWaiting(db.pool, UNSCOPED, { from: '2026-3-1', to: '2026-03-01' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.from' });
  });
});

describe('the histogram', () => {
  const counts = async (metrics: ReturnType<typeof createMetrics>) => {
    const { values } = await metrics.registry.getSingleMetric('hub_claim_wait_seconds')!.get();
    const out = new Map<string, number>();
    // A histogram's values name their series (_bucket, _sum, _count).
    for (const v of values as (typeof values[number] & { metricName?: string })[]) if (v.metricName === 'hub_claim_wait_seconds_count') out.set(String(v.labels.stage), (out.get(String(v.labels.stage)) ?? 0) + v.value);
    return out;
  };

  it('observes each credited claim once per stage up to the credit, and settled claims for the last two stages', async () => {
    const r = await raw();
    const metrics = createMetrics();
    const paidIds = r.payouts.filter((p) => p.paid_at !== null).map((p) => Number(p.id));
    metrics.claimsWaited(await completedWaits(db.pool, paidIds, 'CREDITED'));
    const credited = r.claims.map((c) => handTimeline(r, c.id)).filter((t) => t.creditedAt);
    const seen = await counts(metrics);
    for (const stage of ['RECEIVED_TO_DECIDED', 'DECIDED_TO_SENT', 'SENT_TO_ACCEPTED', 'ACCEPTED_TO_CREDITED', 'RECEIVED_TO_CREDITED'] as const) {
      expect(seen.get(stage), stage).toBe(credited.filter((t) => secondsOf(t, stage) !== null).length);
    }
    expect(seen.has('CREDITED_TO_SETTLED')).toBe(false);

    const settledIds = r.payouts.filter((p) => p.settled_at !== null).map((p) => Number(p.id));
    metrics.claimsWaited(await completedWaits(db.pool, settledIds, 'SETTLED'));
    const settled = credited.filter((t) => t.settledAt);
    expect((await counts(metrics)).get('RECEIVED_TO_SETTLED')).toBe(settled.length);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/hub_claim_wait_seconds_bucket\{le="60",stage="RECEIVED_TO_CREDITED",programme="[A-Z_]+",decided_by="(RULES|PERSON)"\}/);
  });

  it('a claim paid by two funders counts when its later payout is credited, not the earlier', async () => {
    const early = await completedWaits(db.pool, [twoFunders.first], 'CREDITED');
    expect(early).toEqual([]);
    const late = await completedWaits(db.pool, [twoFunders.second], 'CREDITED');
    const r = await raw();
    const t = handTimeline(r, String(twoFunders.claimId));
    expect(late.find((o) => o.stage === 'RECEIVED_TO_CREDITED')?.seconds).toBe(secondsOf(t, 'RECEIVED_TO_CREDITED'));
    expect(await completedWaits(db.pool, [Number(r.payouts.find((p) => Number(p.claim_id) === unpaidSecond && p.paid_at)!.id)], 'CREDITED')).toEqual([]);
  });
});

describe('the workers\' hooks', () => {
  it('a batch paid through the bank and reconciled: the payouts its changes name complete each claim once when credited, once when settled', async () => {
    const own = await freshDatabase();
    const pki = testFilePki();
    const bank = await startBank(pki);
    const ctx = submissionContext(own.pool, pki, bank);
    try {
      const claims = await approvedClaims(own.pool, 2);
      const paid: number[] = [];
      ctx.onChanges = async (changes) => { paid.push(...changes.filter((c) => c.status === 'PAID').map((c) => c.payoutId)); };
      const batch = await approvedBatch(own.pool);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const credited = await completedWaits(own.pool, paid, 'CREDITED');
      expect(credited.filter((o) => o.stage === 'RECEIVED_TO_CREDITED')).toHaveLength(claims.length);
      expect(credited.every((o) => o.seconds >= 0)).toBe(true);

      const settled: number[] = [];
      await fetchFromBank(own.pool, bank.adapter, [UNION_ACCOUNT], chinaToday(), 0, HUB);
      await reconcileAccount(own.pool, UNION_ACCOUNT, { keys, startedBy: 'test', onSettled: async (ids) => { settled.push(...ids); } });
      expect(settled.sort()).toEqual([...paid].sort());
      const waits = await completedWaits(own.pool, settled, 'SETTLED');
      expect(waits.map((o) => o.stage).sort()).toEqual([...claims.map(() => 'CREDITED_TO_SETTLED'), ...claims.map(() => 'RECEIVED_TO_SETTLED')].sort());
    } finally {
      ctx.remove();
      await stopAll();
      await own.drop();
    }
  }, 60_000);
});
