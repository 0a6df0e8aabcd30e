/**
 * Reconciliation at statement scale: a camt.053 of 100,000 debit entries (as the bank simulator
 * writes them, pretty-printed, ~160 MB) parsed and matched against 100,000 expected payouts; 90%
 * carry their EndToEndId, 5% only the bank's reference, 5% only amount and payee name. Prints
 * parse time, match time and entries/s (target: parse + match under 10 s on the 2-core machine),
 * and the XSD check of the statement alone (the validator the hub runs, its thread not sharing the
 * machine with parsing and storing), then, unless BENCH_DB=0, the same statement ingested and
 * reconciled in PostgreSQL, with the CPU that took and the floor it sets on the machine's cores.
 * `npm run bench -- reconciliation` (ENTRIES to change the size, CHUNK the entries per transaction). The file is kept in .data/bench/.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { parseCamt053 } from '../src/banks/iso20022/camt.ts';
import { config } from '../src/config.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { importConfirmed } from './_statementImport.ts';
import { reconcileAccount } from '../src/reconciliation/run.ts';
import type { StepTimes } from '../src/reconciliation/steps.ts';
import { DEFAULT_MATCH_OPTIONS, matchEntries } from '../src/reconciliation/matching/matcher.ts';
import { bankCardHash } from '../src/privacy/personalData.ts';
import { validateAgainstXsd } from '../src/reconciliation/xsd.ts';
import type { EntryToMatch, ExpectedPayout } from '../src/reconciliation/matching/types.ts';
import { ACCOUNT, DATE, expectedPayouts, KEYS, statementFile } from './_camtStatement.ts';
import { reportFigures, rounded } from './_report.ts';
import { dropScratch } from './_scratch.ts';
import { cpuSince, cpuSoFar, cpuText, installSqlTiming, type CpuSpent } from './province/measure.ts';

const ENTRIES = Number(process.env.ENTRIES ?? 100_000);
/** Entries matched per transaction (the run's default unless given). */
const CHUNK = process.env.CHUNK ? Number(process.env.CHUNK) : undefined;
/** Payouts paid, debited and settled from the account before today's statement: the months of history a deployment carries. */
const HISTORY = Number(process.env.HISTORY ?? 0);

async function main(): Promise<void> {
  const file = statementFile(ENTRIES);
  const xml = readFileSync(file, 'utf8');
  const payouts = expectedPayouts(ENTRIES);
  console.log(`statement: ${ENTRIES.toLocaleString('en')} entries, ${(xml.length / 1e6).toFixed(0)} MB (${file}); ${payouts.length.toLocaleString('en')} expected payouts`);

  let started = performance.now();
  const message = parseCamt053(xml);
  const parseMs = performance.now() - started;
  const entries: EntryToMatch[] = message.statements[0]!.entries.map((entry, i) => ({ id: i + 1, account: ACCOUNT, bookingDate: DATE, entry }));

  started = performance.now();
  const outcome = matchEntries(entries, { payouts, refused: [], units: [], contributions: [], payers: [], recordedPayments: [] }, {
    ...DEFAULT_MATCH_OPTIONS, cardHash: (card) => bankCardHash(KEYS, card).toString('hex'),
  });
  const matchMs = performance.now() - started;
  const byRule = new Map<string, number>();
  for (const m of outcome.matches) byRule.set(m.rule, (byRule.get(m.rule) ?? 0) + 1);
  if (outcome.matches.length !== ENTRIES || outcome.exceptions.length > 0) throw new Error(`expected every entry matched: ${outcome.matches.length} matches, ${outcome.exceptions.length} exceptions`);

  const totalS = (parseMs + matchMs) / 1000;
  console.log(`parse ${(parseMs / 1000).toFixed(2)} s, match ${(matchMs / 1000).toFixed(2)} s (${[...byRule].map(([r, n]) => `${r} ${n}`).join(', ')})`);
  console.log(`parse + match ${totalS.toFixed(2)} s: ${Math.round(ENTRIES / totalS).toLocaleString('en')} entries/s (matching alone ${Math.round(ENTRIES / (matchMs / 1000)).toLocaleString('en')}/s); target under 10 s`);
  // The floor of receiving it: the schema check, which runs beside storing and parsing there.
  started = performance.now();
  const schemaProblems = await validateAgainstXsd(xml, 'camt.053');
  const xsdAloneMs = performance.now() - started;
  if (schemaProblems.length > 0) throw new Error(`the statement does not validate: ${JSON.stringify(schemaProblems.slice(0, 3))}`);
  console.log(`XSD check alone ${(xsdAloneMs / 1000).toFixed(2)} s`);
  const inDb = process.env.BENCH_DB !== '0' ? await inPostgres(xml, payouts) : null;
  reportFigures(import.meta.url, {
    entries: ENTRIES, statementChars: xml.length, expectedPayouts: payouts.length, parseMs: rounded(parseMs), matchMs: rounded(matchMs),
    matchesByRule: Object.fromEntries(byRule), entriesPerSecond: Math.round(ENTRIES / totalS), matchEntriesPerSecond: Math.round(ENTRIES / (matchMs / 1000)), xsdAloneMs: rounded(xsdAloneMs),
    endToEndMs: inDb && rounded((inDb.storeS + inDb.reconcileS) * 1000),
    // The CPU end to end took, and the least wall time it allows on this machine's cores.
    cpuMs: inDb && rounded(inDb.cpu.ownS * 1000), backendCpuMs: inDb && rounded(inDb.cpu.backendsS * 1000), floorMs: inDb && rounded(inDb.cpu.floorS * 1000),
    dbStoreMs: inDb && rounded(inDb.storeS * 1000), dbReconcileMs: inDb && rounded(inDb.reconcileS * 1000), dbEntriesStored: inDb && inDb.entriesNew,
    dbMatched: inDb && inDb.matched, dbSettled: inDb && inDb.settled, dbEntriesPerSecond: inDb && Math.round(ENTRIES / (inDb.storeS + inDb.reconcileS)),
    dbStepsMs: inDb && Object.fromEntries(Object.entries(inDb.steps).map(([phase, times]) => [phase, Object.fromEntries(Object.entries(times).map(([step, ms]) => [step, rounded(ms)]))])),
  });
}

/**
 * The same statement through PostgreSQL: stored (XSD check with xmllint, parse, 100,000 entries
 * inserted) and reconciled (book loaded, matches and exceptions written, 100,000 payouts settled).
 * The payouts are written straight into the tables of a throwaway schema, their claims left out
 * (foreign keys not enforced while loading: this measures reconciliation, not the payout pipeline).
 */
async function inPostgres(xml: string, payouts: ExpectedPayout[]): Promise<{
  storeS: number; reconcileS: number; entriesNew: number; matched: number; settled: number; steps: Record<'receive' | 'confirm' | 'reconcile', StepTimes>;
  cpu: CpuSpent;
}> {
  const cfg = config();
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  await migrate({ databaseUrl: cfg.DATABASE_URL, schema });
  installSqlTiming(); // knows the backends' pids, for their CPU
  const db = createPool({ connectionString: cfg.DATABASE_URL, schema, max: 4 });
  try {
    const client = await db.connect();
    try {
      await client.query(`SET session_replication_role = replica`);
      const batches = [...new Set(payouts.map((p) => p.batchMsgId))];
      const { rows } = await client.query<{ id: number; msgId: string }>(
        `INSERT INTO payout_batches (msg_id, pmt_inf_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date, status,
                                     nb_of_txs, ctrl_sum_fen, created_by, created_by_role, approved_by, approved_by_role, approved_at, file_xml, file_sha256, seal, funder_id)
         SELECT m, m || '-P1', 'BENCH', $2, 'bench', '102100099996', $3, 'ACCEPTED', 5000, 1, 'clerk', 'ADMIN', 'finance', 'FINANCE', now(), '<x/>', '\\x00', '\\x00',
                (SELECT id FROM funders WHERE code = 'UNION')
           FROM unnest($1::text[]) AS m RETURNING id, msg_id AS "msgId"`,
        [batches, ACCOUNT, DATE],
      );
      const batchId = new Map(rows.map((r) => [r.msgId, r.id]));
      if (HISTORY > 0) await seedHistory(client, payouts.length);
      for (let from = 0; from < payouts.length; from += 10_000) {
        const chunk = payouts.slice(from, from + 10_000);
        await client.query(
          `WITH p AS (
             INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, paid_at, funder_id)
             SELECT n, 1, 1, a, 'PAID', now(), (SELECT id FROM funders WHERE code = 'UNION') FROM unnest($1::bigint[], $2::bigint[]) AS t(n, a) RETURNING id, claim_id)
           INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc,
                                        creditor_account_hash, creditor_account_masked, creditor_agent, remittance_info, status, bank_reference, status_at)
           SELECT p.id, 1, t.batch, t.e2e, t.a, t.name, '\\x00', decode(t.hash, 'hex'), t.masked, '102397000023', '住院医疗互助金', 'PAID', t.ref, $7::date + time '10:00'
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $8::text[], $9::text[]) AS t(n, a, batch, e2e, name, ref, hash, masked)
             JOIN p ON p.claim_id = t.n`,
          [chunk.map((p) => p.attemptId), chunk.map((p) => p.amountFen), chunk.map((p) => batchId.get(p.batchMsgId)), chunk.map((p) => p.endToEndId),
            chunk.map((p) => p.creditorName), chunk.map((p) => p.bankReference), DATE,
            chunk.map((p) => p.creditorAccountHash), chunk.map((p) => p.creditorAccountMasked)],
        );
      }
      // As autovacuum would have, for tables that grew over months.
      await client.query(`ANALYZE payouts, payout_attempts, payout_batches${HISTORY > 0 ? ', statement_entries, statement_entry_states, reconciliation_matches' : ''}`);
    } finally {
      // The connection goes back to the pool: what runs next on it (the audited upload) needs its triggers.
      await client.query('RESET session_replication_role');
      client.release();
    }
    const steps: Record<'receive' | 'confirm' | 'reconcile', StepTimes> = { receive: {}, confirm: {}, reconcile: {} };
    let started = performance.now();
    const cpu = cpuSoFar();
    const stored = await importConfirmed(db, xml, 'bench.xml', [ACCOUNT], steps);
    const storeS = (performance.now() - started) / 1000;
    if (stored.status !== 'ACCEPTED') throw new Error(`the statement was rejected: ${JSON.stringify(stored.problems.slice(0, 3))}`);
    started = performance.now();
    const run = await reconcileAccount(db, ACCOUNT, { startedBy: 'bench', keys: KEYS, asOf: DATE, steps: steps.reconcile, ...(CHUNK ? { chunk: CHUNK } : {}) });
    const reconcileS = (performance.now() - started) / 1000;
    const spent = cpuSince(cpu);
    if (run.matched !== ENTRIES || run.settled !== ENTRIES || !run.proofs[0]?.proven) throw new Error(`expected every entry matched and settled: ${JSON.stringify({ ...run, proofs: run.proofs.length })}`);
    console.log(`PostgreSQL: stored in ${storeS.toFixed(2)} s (XSD check, parse, ${stored.entriesNew.toLocaleString('en')} entries), ` +
      `reconciled in ${reconcileS.toFixed(2)} s (${run.matched.toLocaleString('en')} matched, ${run.settled.toLocaleString('en')} payouts settled, day proven): ` +
      `${Math.round(ENTRIES / (storeS + reconcileS)).toLocaleString('en')} entries/s end to end`);
    console.log(`  end to end: ${cpuText(spent)} (the XSD check's thread included)`);
    for (const [phase, times] of Object.entries(steps)) console.log(`  ${phase}: ${Object.entries(times).map(([step, ms]) => `${step} ${(ms / 1000).toFixed(2)} s`).join(', ')}`);
    return { storeS, reconcileS, entriesNew: stored.entriesNew, matched: run.matched, settled: run.settled, steps, cpu: spent };
  } finally {
    await db.end();
    await dropScratch(cfg.DATABASE_URL, schema);
  }
}

/**
 * HISTORY payouts of earlier days, as a deployment has them by the time this statement arrives:
 * paid, debited on an earlier statement of the account (a PAYOUT match) and settled, in batches
 * of 5,000, with amounts drawn as today's are. Written before today's payouts, as they would be.
 */
async function seedHistory(client: pg.PoolClient, today: number): Promise<void> {
  const started = performance.now();
  for (let from = 0; from < HISTORY; from += 50_000) {
    const to = Math.min(HISTORY, from + 50_000);
    await client.query(
      `WITH b AS (
         INSERT INTO payout_batches (msg_id, pmt_inf_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date, status,
                                     nb_of_txs, ctrl_sum_fen, created_by, created_by_role, approved_by, approved_by_role, approved_at, file_xml, file_sha256, seal, funder_id)
         SELECT 'MAH-H-' || j, 'MAH-H-' || j || '-P1', 'BENCH', $3, 'bench', '102100099996', $4::date - 30, 'SETTLED', 5000, 1, 'clerk', 'ADMIN', 'finance', 'FINANCE', now(), '<x/>', '\\x00', '\\x00',
                (SELECT id FROM funders WHERE code = 'UNION')
           FROM generate_series($1::bigint / 5000, ($2::bigint - 1) / 5000) AS j
         RETURNING id, msg_id),
       k AS (SELECT k, 10000 + ((($5 + k) * 7919) % 5000000) AS a FROM generate_series($1::bigint, $2 - 1) AS k),
       p AS (
         INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, paid_at, settled_at, funder_id)
         SELECT 1000000000 + k, 1, 1, a, 'SETTLED', now(), now(), (SELECT id FROM funders WHERE code = 'UNION') FROM k RETURNING id, claim_id, amount_fen),
       a AS (
         INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc,
                                      creditor_account_masked, creditor_agent, remittance_info, status, bank_reference, status_at)
         SELECT p.id, 1, b.id, 'MAH-H-' || (p.claim_id - 1000000000) || '-1', p.amount_fen, '会员H' || (p.claim_id - 1000000000), '\\x00', '6222 **** **** 4565',
                '102397000023', '住院医疗互助金', 'PAID', 'SIMH' || (p.claim_id - 1000000000), $4::date - 31 + time '10:00'
           FROM p JOIN b ON b.msg_id = 'MAH-H-' || ((p.claim_id - 1000000000) / 5000) RETURNING id, bank_reference, amount_fen),
       e AS (
         INSERT INTO statement_entries (account, account_servicer_ref, document_id, credit_debit, amount_fen, booking_date, value_date, transaction_code, entry)
         SELECT $3, a.bank_reference, 0, 'DBIT', a.amount_fen, $4::date - 30, $4::date - 30, 'PMNT', '{}' FROM a RETURNING id, account_servicer_ref, booking_date),
       s AS (INSERT INTO statement_entry_states (entry_id, account, booking_date, state, matched_at) SELECT id, $3, booking_date, 'MATCHED', now() FROM e)
       INSERT INTO reconciliation_matches (entry_id, tx_index, kind, rule, payout_attempt_id, amount_fen, matched_by)
       SELECT e.id, 0, 'PAYOUT', 'END_TO_END_ID', a.id, a.amount_fen, 'bench' FROM e JOIN a ON a.bank_reference = e.account_servicer_ref`,
      [from, to, ACCOUNT, DATE, today],
    );
  }
  console.log(`history: ${HISTORY.toLocaleString('en')} payouts paid, debited and settled before today, written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

await main();
