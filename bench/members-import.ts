/**
 * Roster import rate: 650,000 generated members (one city, Quanzhou-sized) through the real import
 * (validation, encryption, COPY, merge), then the same file again (must change nothing).
 * `npm run bench -- members-import` (MEMBERS=n to change the size).
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { config } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { personalDataKeys } from '../src/privacy/personalData.ts';
import { importRoster } from '../src/members/rosterImport.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers, sampleUnits } from '../src/demo/sampleData.ts';
import { reportFigures, rounded, type Figure } from './_report.ts';

const count = Number(process.env.MEMBERS ?? 650_000);
const units = sampleUnits(7_374, 1); // Quanzhou 2024: 7,374 units
const file = `.data/bench/roster-${count}.csv`;

if (!existsSync(file)) {
  mkdirSync('.data/bench', { recursive: true });
  const out = createWriteStream(file);
  out.write(ROSTER_HEADER);
  let i = 0;
  for (const m of sampleMembers(count, units, 2)) {
    if (!out.write(rosterLine(m, 2025, i++ % 5 === 0))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const schema = `bench_${randomBytes(4).toString('hex')}`;
const databaseUrl = config().DATABASE_URL;
await migrate({ databaseUrl, schema });
const db = createPool({ connectionString: databaseUrl, schema, max: 4 });
try {
  await db.query(
    `INSERT INTO units (credit_code, name, plan_type) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
    [units.map((u) => u.creditCode), units.map((u) => u.name), units.map((u) => u.planType)],
  );
  const keys = personalDataKeys(config().PII_KEY);
  const run = async (label: string, key: string): Promise<Record<string, Figure>> => {
    const { rows } = await db.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ($1, '\\x', 'bench') RETURNING id`, [file]);
    const started = process.hrtime.bigint();
    const result = await importRoster(db, keys, createReadStream(file), { importId: rows[0]!.id });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`${label}: ${result.rowsTotal} rows in ${seconds.toFixed(1)} s = ${Math.round(result.rowsTotal / seconds)} rows/s ` +
      `(inserted ${result.rowsInserted}, updated ${result.rowsUpdated}, unchanged ${result.rowsUnchanged}, rejected ${result.rowsRejected}, enrolments ${result.enrolmentsCreated}); ` +
      `check+encrypt+COPY ${result.timings.stageMs} ms, members ${result.timings.membersMs} ms, enrolments ${result.timings.enrolmentsMs} ms`);
    return {
      [`${key}Rows`]: result.rowsTotal, [`${key}Seconds`]: rounded(seconds, 1), [`${key}RowsPerSecond`]: Math.round(result.rowsTotal / seconds),
      [`${key}Inserted`]: result.rowsInserted, [`${key}Updated`]: result.rowsUpdated, [`${key}Unchanged`]: result.rowsUnchanged,
      [`${key}Rejected`]: result.rowsRejected, [`${key}EnrolmentsCreated`]: result.enrolmentsCreated,
      [`${key}StageMs`]: result.timings.stageMs, [`${key}MembersMs`]: result.timings.membersMs, [`${key}EnrolmentsMs`]: result.timings.enrolmentsMs,
    };
  };
  const fileBytes = statSync(file).size;
  console.log(`roster file ${file}: ${(fileBytes / 1e6).toFixed(0)} MB, ${count} members in ${units.length} units`);
  const first = await run('first import', 'first');
  const again = await run('same file again', 'again');
  const rssMb = Math.round(process.memoryUsage().rss / 1e6);
  console.log(`peak RSS ${rssMb} MB`);
  reportFigures(import.meta.url, { members: count, units: units.length, fileBytes, ...first, ...again, rssMb });
} finally {
  await db.query(`DROP SCHEMA ${schema} CASCADE`);
  await db.end();
}
