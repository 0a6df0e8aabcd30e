import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAudit, recordAudits, type AuditRow } from '../../src/audit/audit.ts';
import { seedUnit } from '../benefits/seed.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { rowsReadSoFar } from '../support/workCount.ts';

/**
 * A row trigger's look at a table is planned once a connection: PL/pgSQL keeps the generic plan for
 * the connection's life. Planned while the table held one analyzed row, the add-on chain's look
 * (0067) chose a sequential scan, or the plan year's index with the member as a filter, and a roster
 * merge on that connection then read all of last year's enrolments for each add-on row (more than 8
 * minutes where 24 s was usual); the audit chain's look read the whole audit log for each row of a
 * batch. Each look must read its own key's rows however small the table was when it was planned.
 */
const LAST_YEAR_ROWS = 20_000;
const BATCH_AUDIT_ROWS = 2_000;
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

/** Rows of `table` that `write` read, sequentially and through indexes: counted within one transaction, rolled back. */
async function rowsRead(client: pg.ClientBase, table: string, write: () => Promise<unknown>): Promise<{ fetched: number; scanned: number }> {
  await client.query('BEGIN');
  try {
    const before = await rowsReadSoFar(client, table);
    await write();
    const after = await rowsReadSoFar(client, table);
    return { fetched: after.fetched - before.fetched, scanned: after.scanned - before.scanned };
  } finally {
    await client.query('ROLLBACK');
  }
}

/** A connection of its own for `use`: a cached plan is the connection's. */
async function onOneConnection(use: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await use(client);
  } finally {
    await client.end();
  }
}

describe('row triggers\' looks, planned while their table was nearly empty (0072)', () => {
  it('prices out sequential scans in every row trigger that reads a table', async () => {
    // Any row trigger added later with a look is held to the same: its generic plan may be made on an empty table.
    const { rows } = await db.pool.query<{ fn: string; config: string[] | null }>(
      `SELECT DISTINCT p.proname AS fn, p.proconfig AS config
         FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_language l ON l.oid = p.prolang
        WHERE t.tgrelid::regclass::text NOT LIKE 'pg_%' AND NOT t.tgisinternal AND (t.tgtype & 1) = 1 AND l.lanname = 'plpgsql'
          AND p.pronamespace = current_schema()::regnamespace
          AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = p.pronamespace AND c.relkind IN ('r', 'p')
                         AND p.prosrc ~* ('\\m(from|join)\\s+' || c.relname || '\\M'))
        ORDER BY 1`);
    expect(rows.map((r) => r.fn)).toContain('audit_log_chain');
    expect(rows.map((r) => r.fn)).toContain('enrolments_special_disease_since');
    expect(rows.filter((r) => !(r.config ?? []).includes('enable_seqscan=off')).map((r) => r.fn)).toEqual([]);
  });

  it('the audit chain reads the chain\'s last row alone, for each row of a batch', async () => {
    await onOneConnection(async (client) => {
      await client.query('ANALYZE audit_log');
      const actor = { subject: 'reviewer-look', role: 'REVIEWER' };
      const entry = (n: number) => ({ action: 'claim.look', targetType: 'claim', targetId: String(n) });
      // Decisions one at a time: past the five custom plans, the generic one is kept.
      for (let n = 0; n < 8; n++) await recordAudit(client, actor, entry(n));
      // A batch's audit rows in one statement, each chained by the trigger.
      await recordAudits(client, Array.from({ length: BATCH_AUDIT_ROWS }, (_, n): AuditRow => ({ actor, ...entry(100 + n) })));
      const read = await rowsRead(client, 'audit_log', () => recordAudit(client, actor, entry(1)));
      expect(read.scanned).toBe(0);
      expect(read.fetched).toBeLessThanOrEqual(2);
    });
  });
  it('the add-on chain reads the member\'s own enrolments, for each row of a roster', async () => {
    const unit = await seedUnit(db.pool);
    await onOneConnection(async (client) => {
      const { rows: members } = await client.query<{ id: number }>(
        `INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
         SELECT $1, 'member ' || g, '\\x00', sha256(convert_to('look ' || g, 'UTF8')), '1101**********0000', '1980-01-01', 'M'
           FROM generate_series(1, $2::int) g RETURNING id`, [unit.id, LAST_YEAR_ROWS + 10]);
      const ids = members.map((m) => m.id).sort((a, b) => a - b);
      const enrol = (memberId: number, year: number, addOn: boolean, firstEnrolledOn: string) => client.query(
        `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
         VALUES ($1, $2, $3, 'PUBLIC', $4, make_date($3, 1, 1), $5)`, [memberId, unit.id, year, addOn, firstEnrolledOn]);

      // The table as a new deployment has it: one enrolment, analyzed.
      await enrol(ids[0]!, 2025, false, '2025-01-01');
      await client.query('ANALYZE enrolments');
      // A small roster with the add-on, one statement a row: past the five custom plans, the generic one is kept.
      for (const id of ids.slice(1, 10)) await enrol(id, 2026, true, '2026-01-01');
      // Last year's enrolments arrive (a province's roster of the year before), one with the add-on; nothing analyzes them.
      const lastYear = ids.slice(10);
      const renewed = lastYear[LAST_YEAR_ROWS / 2]!;
      await client.query(
        `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
         SELECT m, $2, 2025, 'PUBLIC', m = $3, '2025-01-01', '2024-03-01' FROM unnest($1::bigint[]) m`, [lastYear, unit.id, renewed]);

      let since: string | undefined;
      const read = await rowsRead(client, 'enrolments', async () => {
        const { rows } = await client.query<{ since: string }>(
          `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
           VALUES ($1, $2, 2026, 'PUBLIC', true, '2026-01-01', '2024-03-01') RETURNING to_char(special_disease_since, 'YYYY-MM-DD') AS since`,
          [renewed, unit.id]);
        since = rows[0]!.since;
      });

      // The renewal continues last year's add-on: its chain's start is kept.
      expect(since).toBe('2024-03-01');
      // Rows of enrolments read for the one insert: the member's own row of last year, never last year's 20,000.
      expect(read.scanned).toBe(0);
      expect(read.fetched).toBeLessThanOrEqual(1);
    });
  });
});
