/**
 * Roster import rate: 650,000 generated members (one city, Quanzhou-sized) through the real import
 * (validation, encryption, COPY, merge), then the same file again (must change nothing), each
 * against a raw COPY measured in the same run: the imported rows' final column values COPYed into
 * empty copies of members and enrolments (same indexes) in a scratch schema. Each with the CPU it
 * took (this process's threads, its PostgreSQL backends) and the floor that sets: that CPU over the
 * machine's cores, the most the same work could reach here.
 * `npm run bench -- members-import` (ROWS=n to change the size; the file is generated streamed into
 * .data/bench and kept there for the next run; ROWS=20000000 needs about 15 GB of disk).
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { config } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { personalDataKeys } from '../src/privacy/personalData.ts';
import { importRoster } from '../src/members/rosterImport.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers, sampleUnits } from '../src/demo/sampleData.ts';
import { reportFigures, rounded, type Figure } from './_report.ts';
import { registerSampleUnits } from '../src/members/unitTerms.ts';
import { approver, proposer } from '../jobs/demo/programmes.ts';
import { cpuSince, cpuSoFar, cpuText, installSqlTiming, type CpuSpent } from './province/measure.ts';

const count = Number(process.env.ROWS ?? process.env.MEMBERS ?? 650_000);
const units = sampleUnits(7_374, 1); // Quanzhou 2024: 7,374 units
const file = `.data/bench/roster-${count}.csv`;

if (!existsSync(file)) {
  mkdirSync('.data/bench', { recursive: true });
  const out = createWriteStream(`${file}.part`);
  out.write(ROSTER_HEADER);
  let i = 0;
  for (const m of sampleMembers(count, units, 2)) {
    if (!out.write(rosterLine(m, 2025, i++ % 5 === 0))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  renameSync(`${file}.part`, file); // a run stopped half-way leaves no file that looks complete
}

// The final columns of both tables, as the import writes them (id and timestamps by default).
const COLUMNS = {
  members: 'unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender, phone, bank_card_enc, bank_card_hash, bank_card_masked, bank_code',
  enrolments: 'member_id, unit_id, plan_year, plan, special_disease, special_disease_from, special_disease_since, enrolled_on, first_enrolled_on, member_categories',
} as const;

const schema = `bench_${randomBytes(4).toString('hex')}`;
const scratch = `${schema}_copy`;
const databaseUrl = config().DATABASE_URL;
await migrate({ databaseUrl, schema });
installSqlTiming(); // knows the backends' pids, for their CPU
const db = createPool({ connectionString: databaseUrl, schema, max: 4 });
const loads: number[] = [];
const sampler = setInterval(() => loads.push(loadavg()[0]!), 5_000);
try {
  await registerSampleUnits(db, units, proposer, approver);
  const keys = personalDataKeys(config().PII_KEY);
  const run = async (label: string, key: string): Promise<Record<string, Figure>> => {
    const { rows } = await db.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ($1, '\\x', 'bench') RETURNING id`, [file]);
    const started = process.hrtime.bigint();
    const cpu = cpuSoFar();
    const result = await importRoster(db, keys, createReadStream(file), { importId: rows[0]!.id, today: '2025-01-05' });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const spent = cpuSince(cpu);
    console.log(`${label}: ${result.rowsTotal} rows in ${seconds.toFixed(1)} s = ${Math.round(result.rowsTotal / seconds)} rows/s ` +
      `(inserted ${result.rowsInserted}, updated ${result.rowsUpdated}, unchanged ${result.rowsUnchanged}, rejected ${result.rowsRejected}, enrolments ${result.enrolmentsCreated}); ` +
      `check+encrypt+COPY ${result.timings.stageMs} ms, members ${result.timings.membersMs} ms, enrolments ${result.timings.enrolmentsMs} ms; ` +
      `load ${loadavg()[0]!.toFixed(2)}; ${cpuText(spent)}`);
    return {
      ...cpuFigures(key, spent),
      [`${key}_rows_per_s`]: Math.round(result.rowsTotal / seconds), [`${key}_seconds`]: rounded(seconds, 1),
      [`${key}_inserted`]: result.rowsInserted, [`${key}_updated`]: result.rowsUpdated, [`${key}_unchanged`]: result.rowsUnchanged,
      [`${key}_rejected`]: result.rowsRejected, [`${key}_enrolments_created`]: result.enrolmentsCreated,
      [`${key}_stage_ms`]: result.timings.stageMs, [`${key}_members_ms`]: result.timings.membersMs, [`${key}_enrolments_ms`]: result.timings.enrolmentsMs,
    };
  };

  /** Raw COPY of the imported rows' final values into empty copies of both tables: the rate to compare with. */
  const rawCopy = async (): Promise<Record<string, Figure>> => {
    await db.query(`CREATE SCHEMA ${scratch}`);
    const client = await db.connect();
    try {
      let seconds = 0;
      let cpuS: CpuSpent = { ownS: 0, backendsS: 0, floorS: 0 };
      for (const table of ['members', 'enrolments'] as const) {
        const dump = `.data/bench/copy-${schema}-${table}.txt`;
        await pipeline(client.query(copyTo(`COPY (SELECT ${COLUMNS[table]} FROM ${table} ORDER BY id) TO STDOUT`)), createWriteStream(dump));
        await client.query(`CREATE TABLE ${scratch}.${table} (LIKE ${table} INCLUDING ALL)`);
        const started = process.hrtime.bigint();
        const cpu = cpuSoFar();
        await pipeline(createReadStream(dump), client.query(copyFrom(`COPY ${scratch}.${table} (${COLUMNS[table]}) FROM STDIN`)));
        seconds += Number(process.hrtime.bigint() - started) / 1e9;
        const spent = cpuSince(cpu);
        cpuS = { ownS: cpuS.ownS + spent.ownS, backendsS: cpuS.backendsS + spent.backendsS, floorS: cpuS.floorS + spent.floorS };
        rmSync(dump);
      }
      console.log(`raw COPY of members and enrolments: ${count} rows in ${seconds.toFixed(1)} s = ${Math.round(count / seconds)} rows/s; load ${loadavg()[0]!.toFixed(2)}; ${cpuText(cpuS)}`);
      return { copy_rows_per_s: Math.round(count / seconds), copy_seconds: rounded(seconds, 1), ...cpuFigures('copy', cpuS) };
    } finally {
      client.release();
      await db.query(`DROP SCHEMA ${scratch} CASCADE`);
    }
  };

  const fileBytes = statSync(file).size;
  console.log(`roster file ${file}: ${(fileBytes / 1e6).toFixed(0)} MB, ${count} members in ${units.length} units`);
  const first = await run('first import', 'first');
  const copy = await rawCopy();
  const again = await run('same file again', 'again');
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(`peak RSS ${peakRssMb} MB`);
  const overCopy = (rate: Figure) => rounded((rate as number) / (copy.copy_rows_per_s as number), 2);
  reportFigures(import.meta.url, {
    rows: count, units: units.length, file_bytes: fileBytes,
    copy_rows_per_s: copy.copy_rows_per_s!, first_rows_per_s: first.first_rows_per_s!, again_rows_per_s: again.again_rows_per_s!,
    first_over_copy: overCopy(first.first_rows_per_s!), again_over_copy: overCopy(again.again_rows_per_s!),
    // The most the same work could reach here, spread over every core: above 0.5 or not.
    first_floor_over_copy: overCopy(count / (first.first_floor_s as number)), again_floor_over_copy: overCopy(count / (again.again_floor_s as number)),
    peak_rss_mb: peakRssMb, load_avg: rounded(loads.length ? loads.reduce((a, b) => a + b, 0) / loads.length : loadavg()[0]!, 2),
    load_avg_end: loadavg().map((l) => rounded(l, 2)),
    ...first, ...copy, ...again,
  });
} finally {
  clearInterval(sampler);
  await db.query(`DROP SCHEMA ${schema} CASCADE`);
  await db.end();
}

function cpuFigures(key: string, spent: CpuSpent): Record<string, Figure> {
  return { [`${key}_cpu_s`]: rounded(spent.ownS, 1), [`${key}_backend_cpu_s`]: rounded(spent.backendsS, 1), [`${key}_floor_s`]: rounded(spent.floorS, 1) };
}
