import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVEN_DAYS_WINDOW } from '../../src/gateway/metrics.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { isWorkingDay, promiseOf, turnaroundOf } from '../../src/kernel/workingDays.ts';
import { EXCEPTION_KINDS } from '../../src/reconciliation/matching/types.ts';
import { seedApplicant } from '../applications/support.ts';
import { seedEnrolledMember, seedSettlement } from '../benefits/seed.ts';
import { countQueries, freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * The operations gauges (hub_ops_*) against rows seeded with known ages: each equals what the seeded
 * rows say; a burst of scrapes reads the database once; and every metric the Grafana dashboard and
 * the alert rules in docs/operations/ name is one the hub serves.
 */
const HOUR = 3600;
const DAY = 24 * HOUR;
// Ages are compared with the database's now(): allow the seconds the test itself takes.
const SLACK = 120;
const docs = (name: string) => readFileSync(fileURLToPath(new URL(`../../docs/operations/${name}`, import.meta.url)), 'utf8');

let db: TestDatabase;
let gw: TestGateway;
let metricsUrl: string;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  metricsUrl = `${new URL(gw.url).origin}/metrics`;
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);

/** The value of one sample (`name{labels} value`), or undefined when the series is not there. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  const series = wanted ? `${name}{${wanted}}` : name;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function expectAge(actual: number | undefined, seconds: number): void {
  expect(actual).toBeGreaterThanOrEqual(seconds - 1);
  expect(actual).toBeLessThan(seconds + SLACK);
}

async function seedClaim(status: 'PENDING_REVIEW' | 'APPROVED', receivedSecondsAgo: number): Promise<void> {
  const m = await seedEnrolledMember(db.pool);
  const settlementId = await seedSettlement(db.pool, m);
  await db.pool.query(`UPDATE settlements SET received_at = $2 WHERE id = $1`, [settlementId, ago(receivedSecondsAgo)]);
  await db.pool.query(
    `INSERT INTO claims (settlement_id, member_id, unit_id, enrolment_id, plan_year, setl_time, status, eligible, psn_part_amt,
                         computed_total_fen, total_fen, decided_by, decided_at)
     SELECT s.id, s.member_id, s.unit_id, s.enrolment_id, 2025, s.setl_time, $2, true, s.psn_part_amt, 100, 100,
            CASE WHEN $2 = 'APPROVED' THEN 'reviewer' END, CASE WHEN $2 = 'APPROVED' THEN now() END
       FROM settlements s WHERE s.id = $1`,
    [settlementId, status],
  );
}

async function seedApplication(status: 'SUBMITTED' | 'RETURNED', firstSubmitted: Date): Promise<void> {
  const a = await seedApplicant(db.pool, gw.keys);
  await db.pool.query(
    `INSERT INTO applications (member_id, channel, status, fixmedins_code, fixmedins_name, med_type, begndate, enddate, medfee_sumamt,
                               fulamt_ownpay_amt, overlmt_selfpay, fund_pay_sumamt, psn_part_amt, acct_pay, psn_cash_pay,
                               submitted_by, submitted_role, first_submitted_at, submitted_at, decided_by, decided_at, return_reason)
     VALUES ($1, 'ONLINE', $2, 'H44010600001', '某医院', '21', '2025-05-01', '2025-05-10', 1000, 0, 0, 0, 1000, 0, 1000,
             'member', 'MEMBER', $3, $3, CASE WHEN $2 = 'RETURNED' THEN 'reviewer' END, CASE WHEN $2 = 'RETURNED' THEN now() END,
             CASE WHEN $2 = 'RETURNED' THEN 'OTHER' END)`,
    [a.memberId, status, firstSubmitted],
  );
}

async function seedBatch(msgId: string, submission: string, submittedSecondsAgo: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO payout_batches (msg_id, pmt_inf_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date,
                                 status, submission, submitted_at, nb_of_txs, ctrl_sum_fen, created_by, created_by_role,
                                 approved_by, approved_by_role, approved_at, file_enc, file_sha256, seal, funder_id)
     VALUES ($1, $1 || '-1', 'SIM', '6222000000000001', 'union', '102100099996', current_date, 'SUBMITTED', $2, $3, 1, 1,
             'creator', 'ADMIN', 'approver', 'FINANCE', now(), '\\x00', '\\x00', '\\x00', (SELECT id FROM funders WHERE code = 'UNION'))`,
    [msgId, submission, ago(submittedSecondsAgo)],
  );
}

async function seedSource(name: string, kind: 'PLATFORM' | 'DROP' | 'FILE', createdSecondsAgo: number, enabled = true): Promise<void> {
  await db.pool.query(
    `INSERT INTO settlement_sources (name, kind, endpoint, enabled, created_at) VALUES ($1, $2, $3, $4, $5)`,
    [name, kind, kind === 'FILE' ? null : `http://127.0.0.1:1/${name}`, enabled, ago(createdSecondsAgo)],
  );
}

async function seedRun(source: string, status: 'DONE' | 'FAILED', finishedSecondsAgo: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO settlement_runs (source, kind, status, started_by, started_at, finished_at) VALUES ($1, 'PULL', $2, 'test', $3, $3)`,
    [source, status, ago(finishedSecondsAgo)],
  );
}

async function seedMissingDebit(key: string, detectedSecondsAgo: number, resolved = false): Promise<void> {
  await db.pool.query(
    `INSERT INTO reconciliation_exceptions (key, kind, account, amount_fen, occurred_on, evidence, status, resolution, resolved_by, resolved_at, detected_at)
     VALUES ($1, 'MISSING_DEBIT', '6222000000000001', 100, current_date, '{}', $2, $3, $4, $5, $6)`,
    [key, resolved ? 'RESOLVED' : 'OPEN', resolved ? 'CLEARED' : null, resolved ? 'test' : null, resolved ? new Date() : null, ago(detectedSecondsAgo)],
  );
}

async function seedProof(account: string, day: string, proven: boolean): Promise<void> {
  const { rows: [doc] } = await db.pool.query<{ id: number }>(
    `INSERT INTO bank_documents (kind, sha256, xml, source, received_by) VALUES ('camt.053', sha256(convert_to($1, 'UTF8')), '<x/>', 'FILE', 'test') RETURNING id`,
    [`${account}/${day}`],
  );
  const { rows: [statement] } = await db.pool.query<{ id: number }>(
    `INSERT INTO bank_statements (account, statement_date, statement_ref, document_id, bank_created_at, final)
     VALUES ($1, $2, $3, $4, now(), true) RETURNING id`,
    [account, day, `S-${day}`, doc!.id],
  );
  await db.pool.query(
    `INSERT INTO daily_proofs (account, statement_date, statement_id, credits_fen, debits_fen, entries, recognized_credits_fen,
                               recognized_debits_fen, unrecognized_entries, proven, problems)
     VALUES ($1, $2, $3, 0, 0, 0, 0, 0, 0, $4, '[]')`,
    [account, day, statement!.id, proven],
  );
}

describe('hub_ops_* gauges', () => {
  it('equal the counts and ages of the seeded rows, and a burst of scrapes reads the database once', async () => {
    const claims = [{ status: 'PENDING_REVIEW', age: 3 * DAY }, { status: 'PENDING_REVIEW', age: DAY }, { status: 'APPROVED', age: 9 * DAY }] as const;
    for (const c of claims) await seedClaim(c.status, c.age);

    const applications = [
      { status: 'SUBMITTED', at: ago(30 * DAY) }, { status: 'SUBMITTED', at: ago(60) }, { status: 'RETURNED', at: ago(40 * DAY) },
    ] as const;
    for (const a of applications) await seedApplication(a.status, a.at);

    const batches = [
      { msgId: 'OPS-U1', submission: 'UNKNOWN', age: 20 * 60 }, { msgId: 'OPS-U2', submission: 'UNKNOWN', age: 5 * 60 },
      { msgId: 'OPS-S1', submission: 'SENDING', age: 90 }, { msgId: 'OPS-R1', submission: 'RECEIVED', age: DAY },
    ] as const;
    for (const b of batches) await seedBatch(b.msgId, b.submission, b.age);

    await seedSource('ops-platform', 'PLATFORM', 5 * HOUR);
    await seedRun('ops-platform', 'DONE', 2 * HOUR);
    await seedRun('ops-platform', 'DONE', 3 * HOUR);
    await seedRun('ops-platform', 'FAILED', 10 * 60);
    await seedSource('ops-drop', 'DROP', HOUR);
    await seedSource('ops-off', 'PLATFORM', DAY, false);
    await seedSource('ops-file', 'FILE', DAY);

    const exceptions = [{ key: 'ops-1', age: 4 * DAY }, { key: 'ops-2', age: HOUR }, { key: 'ops-3', age: 10 * DAY, resolved: true }];
    for (const e of exceptions) await seedMissingDebit(e.key, e.age, e.resolved);

    const holidays = new Set(gw.config.BANK_HOLIDAYS);
    const window: string[] = [];
    for (let day = addDays(chinaToday(), -1); window.length < PROVEN_DAYS_WINDOW; day = addDays(day, -1)) if (isWorkingDay(day, holidays)) window.push(day);
    const statementAccount = '6222000000000002';
    const proofs = [{ day: window[0]!, proven: true }, { day: window[1]!, proven: false }, { day: addDays(window.at(-1)!, -1), proven: true }];
    for (const p of proofs) await seedProof(statementAccount, p.day, p.proven);

    // Twenty scrapes at once, then more within the cache's window: one read of the figures in all.
    // Ages counted to now are read at least as old as at this instant (a loaded machine may take seconds to assert).
    const scrapedFrom = Date.now();
    const { result: texts, queries } = await countQueries(async () => {
      const burst = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(metricsUrl)).text()));
      return [...burst, await (await fetch(metricsUrl)).text()];
    });
    expect(queries).toBe(1);
    expect(new Set(texts.map((t) => [...t.matchAll(/^hub_ops_\S+ \S+$/gm)].join('\n'))).size).toBe(1);
    const text = texts[0]!;

    expect(sample(text, 'hub_ops_figures_up')).toBe(1);
    const pending = claims.filter((c) => c.status === 'PENDING_REVIEW');
    expect(sample(text, 'hub_ops_claims_pending_review')).toBe(pending.length);
    expectAge(sample(text, 'hub_ops_claims_pending_review_oldest_seconds'), Math.max(...pending.map((c) => c.age)));

    const promise = promiseOf(gw.config);
    const late = applications.filter((a) => a.status === 'SUBMITTED' && turnaroundOf({ receivedAt: a.at, decidedAt: null, paidAt: null }, promise, new Date()).decisionBreached);
    expect(late.length).toBeGreaterThan(0);
    expect(sample(text, 'hub_ops_applications_past_promise')).toBe(late.length);
    expectAge(sample(text, 'hub_ops_applications_past_promise_oldest_seconds'), Math.max(...late.map((a) => (scrapedFrom - a.at.getTime()) / 1000)) | 0);

    for (const submission of ['SENDING', 'UNKNOWN']) {
      const these = batches.filter((b) => b.submission === submission);
      expect(sample(text, 'hub_ops_payout_batches_in_doubt', { submission })).toBe(these.length);
      expectAge(sample(text, 'hub_ops_payout_batches_in_doubt_oldest_seconds', { submission }), Math.max(...these.map((b) => b.age)));
    }
    expect(sample(text, 'hub_ops_payout_batches_in_doubt', { submission: 'RECEIVED' })).toBeUndefined();

    // From the last successful run; a source never run successfully, from its setting up; disabled and file sources not at all.
    expectAge(sample(text, 'hub_ops_settlement_source_lag_seconds', { source: 'ops-platform' }), 2 * HOUR);
    expectAge(sample(text, 'hub_ops_settlement_source_lag_seconds', { source: 'ops-drop' }), HOUR);
    expect(sample(text, 'hub_ops_settlement_source_lag_seconds', { source: 'ops-off' })).toBeUndefined();
    expect(sample(text, 'hub_ops_settlement_source_lag_seconds', { source: 'ops-file' })).toBeUndefined();

    const open = exceptions.filter((e) => !e.resolved);
    expect(sample(text, 'hub_ops_reconciliation_exceptions_open', { kind: 'MISSING_DEBIT' })).toBe(open.length);
    expectAge(sample(text, 'hub_ops_reconciliation_exceptions_open_oldest_seconds', { kind: 'MISSING_DEBIT' }), Math.max(...open.map((e) => e.age)));
    // Every kind has a series (0 when none is open), so an alert on it never sees a gap.
    for (const kind of EXCEPTION_KINDS.filter((k) => k !== 'MISSING_DEBIT')) expect(sample(text, 'hub_ops_reconciliation_exceptions_open', { kind })).toBe(0);

    const provenInWindow = proofs.filter((p) => p.proven && window.includes(p.day)).length;
    expect(sample(text, 'hub_ops_statement_days_unproven', { account: statementAccount })).toBe(window.length - provenInWindow);
    // The configured paying account and the batches' account have no statement at all: every day is unproven.
    expect(sample(text, 'hub_ops_statement_days_unproven', { account: gw.config.PAYOUT_ACCOUNT })).toBe(window.length);
    expect(sample(text, 'hub_ops_statement_days_unproven', { account: '6222000000000001' })).toBe(window.length);
  });
});

/**
 * The alert rules are kept in a restricted YAML shape (two-space indentation, mappings and
 * sequences of mappings, plain or double-quoted one-line scalars) that this reads without a
 * YAML package; anything outside that shape fails the test.
 */
type YamlValue = string | YamlValue[] | { [key: string]: YamlValue };
function parseRestrictedYaml(source: string): YamlValue {
  const lines = source.split('\n').map((raw, i) => ({ raw, n: i + 1 })).filter(({ raw }) => raw.trim() !== '' && !raw.trim().startsWith('#'));
  let at = 0;
  const scalar = (text: string, n: number): string => {
    if (text.startsWith('"')) return JSON.parse(text) as string;
    if (/^['|>&*!{[]/.test(text) || / #/.test(text)) throw new Error(`line ${n}: only plain or double-quoted one-line scalars`);
    return text;
  };
  const indentOf = (raw: string) => raw.length - raw.trimStart().length;
  function block(indent: number): YamlValue {
    const first = lines[at]!;
    if (first.raw.trimStart().startsWith('- ')) {
      const items: YamlValue[] = [];
      while (at < lines.length && indentOf(lines[at]!.raw) === indent && lines[at]!.raw.trimStart().startsWith('- ')) {
        // "- key: value" opens a mapping whose other keys sit two columns further in.
        const line = lines[at]!;
        lines[at] = { raw: `${' '.repeat(indent + 2)}${line.raw.trimStart().slice(2)}`, n: line.n };
        items.push(line.raw.trimStart().slice(2).includes(': ') || line.raw.trimEnd().endsWith(':') ? block(indent + 2) : (at++, scalar(line.raw.trimStart().slice(2), line.n)));
      }
      return items;
    }
    const map: Record<string, YamlValue> = {};
    while (at < lines.length && indentOf(lines[at]!.raw) === indent && !lines[at]!.raw.trimStart().startsWith('- ')) {
      const { raw, n } = lines[at]!;
      const match = /^([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?$/.exec(raw.trim());
      if (!match) throw new Error(`line ${n}: expected "key: value"`);
      at += 1;
      if (match[2] !== undefined) map[match[1]!] = scalar(match[2], n);
      else if (at < lines.length && indentOf(lines[at]!.raw) > indent) map[match[1]!] = block(indentOf(lines[at]!.raw));
      else throw new Error(`line ${n}: "${match[1]}" has no value`);
    }
    if (at < lines.length && indentOf(lines[at]!.raw) > indent) throw new Error(`line ${lines[at]!.n}: unexpected indentation`);
    return map;
  }
  const value = block(0);
  if (at !== lines.length) throw new Error(`line ${lines[at]!.n}: not read`);
  return value;
}

describe('docs/operations', () => {
  const metricNames = (text: string) => new Set([...text.matchAll(/\bhub_[a-z0-9_]+/g)].map((m) => m[0]));
  /** Every metric family the hub serves, and the series names a histogram adds. */
  async function served(): Promise<Set<string>> {
    const text = await (await fetch(metricsUrl)).text();
    const names = new Set<string>();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      names.add(name!);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    }
    return names;
  }

  it('the alert rules are well formed: each with an expression on served metrics, a severity, a summary and a runbook', async () => {
    const rules = parseRestrictedYaml(docs('alerts.yml')) as { groups: { name: string; rules: Record<string, YamlValue>[] }[] };
    const names = await served();
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const rule of all) {
      expect(rule.alert, JSON.stringify(rule)).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      const labels = rule.labels as Record<string, string>;
      const annotations = rule.annotations as Record<string, string>;
      expect(['page', 'ticket'], `${rule.alert} severity`).toContain(labels.severity);
      expect(annotations.summary, `${rule.alert} summary`).toBeTruthy();
      expect((annotations.runbook ?? '').length, `${rule.alert} runbook`).toBeGreaterThan(40);
      expect(rule.for, `${rule.alert} for`).toMatch(/^\d+[smh]$/);
      const used = metricNames(rule.expr as string);
      expect(used.size, `${rule.alert} uses a hub metric`).toBeGreaterThan(0);
      for (const name of used) expect(names, `${rule.alert}: ${name}`).toContain(name);
    }
    // What people must act on has an alert each.
    for (const name of ['hub_ops_payout_batches_in_doubt_oldest_seconds', 'hub_ops_settlement_source_lag_seconds', 'hub_ops_claims_pending_review_oldest_seconds',
      'hub_ops_reconciliation_exceptions_open_oldest_seconds', 'hub_ops_statement_days_unproven', 'hub_ops_applications_past_promise', 'hub_ops_figures_up']) {
      expect(all.some((r) => metricNames(r.expr as string).has(name)), name).toBe(true);
    }
  });

  it('the Grafana dashboard has a Prometheus datasource variable and a panel on every hub_ops_* gauge, all on served metrics', async () => {
    const dashboard = JSON.parse(docs('grafana-dashboard.json')) as {
      schemaVersion: number; uid: string; title: string;
      templating: { list: { name: string; type: string; query: string }[] };
      panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[]; panels?: unknown[] }[];
    };
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    for (const p of panels) expect(p.datasource?.uid, p.title).toBe('${datasource}');
    const names = await served();
    const used = new Set(exprs.flatMap((e) => [...metricNames(e)]));
    for (const name of used) expect(names, name).toContain(name);
    for (const gauge of [...names].filter((n) => n.startsWith('hub_ops_'))) expect(used, gauge).toContain(gauge);
    for (const existing of ['hub_graphql_requests_total', 'hub_graphql_request_duration_seconds_bucket', 'hub_queue_jobs', 'hub_jobs_total']) expect(used, existing).toContain(existing);
  });
});
