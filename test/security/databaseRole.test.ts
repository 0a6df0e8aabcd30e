import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { fen } from '../benefits/support.ts';
import { seedUnit } from '../benefits/seed.ts';
import { migrate } from '../../src/db/migrate.ts';
import { analyzePayouts } from '../../src/payouts/store/payouts.ts';
import { analyzeEntries } from '../../src/reconciliation/store/documents.ts';
import { pullPage } from '../../src/settlements/ingest.ts';
import { matchSettlements } from '../../src/settlements/matchingStep.ts';
import { simulatedItems } from '../../src/settlements/simulator/generate.ts';
import { startInsuranceSimulator, type InsuranceSimulator } from '../../src/settlements/simulator/server.ts';
import { platformSource } from '../../src/settlements/sources/platform.ts';
import * as settlementStore from '../../src/settlements/store.ts';
import { fujianTree } from '../organisations/support.ts';
import { keys, registerMembers, registerPlatformSource, sampleRegistry, simData } from '../settlements/support.ts';
import { asOwner, freshDatabase, inSchema, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { hub } from '../support/hub.ts';

/**
 * Attack 140: the hub's database role owned every table (it ran the migrations), so a bug, an
 * injected statement or anyone holding DATABASE_URL could switch each guard in the database off
 * (DISABLE TRIGGER, DROP TRIGGER or CONSTRAINT, TRUNCATE the audit log, replica mode) and write
 * around it. With MIGRATION_DATABASE_URL another role owns the tables and runs the migrations;
 * DATABASE_URL's role is granted only what the hub does at run time, and does it.
 */
let db: TestDatabase;
let gw: TestGateway;

beforeAll(async () => {
  db = await freshDatabase({ runtimeRole: true });
  gw = await startTestGateway(db);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

/** `statement` on a connection of the hub's role, in a transaction rolled back whatever it did. */
async function asHub(statement: (client: pg.PoolClient) => Promise<unknown>): Promise<unknown> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    return await statement(client);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

const NOT_OWNER = /must be owner of/;
const NOT_GRANTED = /permission denied/;

describe('the hub\'s database role under MIGRATION_DATABASE_URL', () => {
  it('owns nothing: it cannot disable, drop or alter a guard, truncate the audit log or write around triggers', async () => {
    expect(db.runtimeRole).toBeDefined();
    const refusals: [string, RegExp][] = [
      ['ALTER TABLE units DISABLE TRIGGER ALL', NOT_OWNER],
      ['ALTER TABLE units DISABLE TRIGGER units_organisation_four_eyes', NOT_OWNER],
      ['DROP TRIGGER units_organisation_four_eyes ON units', NOT_OWNER],
      ['DROP TRIGGER audit_log_append_only ON audit_log', NOT_OWNER],
      ['ALTER TABLE enrolments DROP CONSTRAINT enrolments_override_whole', NOT_OWNER],
      ['DROP FUNCTION units_organisation_four_eyes() CASCADE', NOT_OWNER],
      ['CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$', NOT_GRANTED],
      ['TRUNCATE audit_log', NOT_GRANTED],
      ['TRUNCATE enrolments', NOT_GRANTED],
      ['SET session_replication_role = replica', NOT_GRANTED],
      ['CREATE TRIGGER units_quiet BEFORE UPDATE ON units FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()', NOT_GRANTED],
      ...['audit_log', 'audit_checkpoints', 'member_changes', 'contribution_reversals'].map((t): [string, RegExp] => [`DELETE FROM ${t}`, NOT_GRANTED]),
      ['UPDATE audit_log SET reason = NULL', NOT_GRANTED],
      [`INSERT INTO pgmigrations (name, run_on) VALUES ('9999_forged', now())`, NOT_GRANTED],
      [`CREATE TABLE ${db.schema}.units_copy (id bigint)`, NOT_GRANTED],
      [`SELECT analyze_tables('pgmigrations')`, /not a table the hub analyzes/],
    ];
    for (const [statement, refusal] of refusals) {
      await expect(asHub((c) => c.query(statement)), statement).rejects.toThrow(refusal);
    }
  });

  it('cannot stand a temporary table in for the table a guard reads', async () => {
    // A temporary `unit_moves` holding a "confirmed" move would come first in the trigger's
    // search_path and let one statement move the unit (attack 138 by the back door).
    await fujianTree(gw);
    const org = async (code: string) => (await db.pool.query<{ id: number }>(`SELECT id FROM organisations WHERE code = $1`, [code])).rows[0]!.id;
    const [qz, xm] = [await org('QZ'), await org('XM')];
    const unit = await seedUnit(db.pool, 'PRIVATE', qz);
    await expect(asHub(async (c) => {
      await c.query(`CREATE TEMP TABLE unit_moves (id bigint, unit_id bigint, status text, moves_unit_in_xid xid8, from_organisation_id bigint, to_organisation_id bigint)`);
      await c.query(`INSERT INTO unit_moves VALUES (1, $1, 'CONFIRMED', pg_current_xact_id(), $2, $3)`, [unit.id, qz, xm]);
      await c.query(`UPDATE units SET organisation_id = $2 WHERE id = $1`, [unit.id, xm]);
    })).rejects.toMatchObject({ code: '23514', constraint: 'units_organisation_four_eyes' });
    expect((await db.pool.query(`SELECT organisation_id FROM units WHERE id = $1`, [unit.id])).rows[0].organisation_id).toBe(qz);
  });

  it('does the hub\'s work: a roster import, settlements pulled, matched and adjudicated, a GraphQL request, the planner told', async () => {
    const registry = sampleRegistry(20);
    const data = simData(registry, 60);
    await registerMembers(db.pool, registry);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM members`)).rows[0].n).toBe(20);

    let simulator: InsuranceSimulator | undefined;
    try {
      simulator = await startInsuranceSimulator({ ...data, infno: '9901' });
      const adapter = platformSource({ url: simulator.url, client: { code: 'MAH350500001', name: 'test', area: '350500' }, infno: '9901' });
      await registerPlatformSource(db.pool, 'sim', simulator.url, 100);
      const outcome = await pullPage(db.pool, keys, (await settlementStore.sourceByName(db.pool, 'sim'))!, adapter, 'test');
      expect(outcome.inserted).toBe([...simulatedItems(data)].filter((i) => i.truth.kind !== 'INVALID').length);
      await matchSettlements(db.pool, outcome.toMatch);
    } finally {
      await simulator?.close();
    }
    const matched = (await db.pool.query<{ id: number }>(`SELECT id FROM settlements WHERE status = 'MATCHED' ORDER BY id`)).rows.map((r) => r.id);
    expect(matched.length).toBeGreaterThan(0);
    await adjudicateSettlements(db.pool, matched, { autoApproveMaxFen: fen('10,000.00'), ruleSets: new RuleSetCache() });
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM claims`)).rows[0].n).toBeGreaterThan(0);

    const answer = await gw.query({ role: 'ADMIN' }, `{ members(first: 5) { totalCount } }`);
    expect(answer).toEqual({ data: { members: { totalCount: 20 } } });

    // ANALYZE is the tables' owner's: asked of it (migration 0075), not skipped with a warning.
    await analyzePayouts(db.pool);
    await analyzeEntries(db.pool);
    const { rows } = await db.pool.query<{ relname: string }>(
      `SELECT relname FROM pg_stat_user_tables WHERE schemaname = $1 AND last_analyze IS NOT NULL ORDER BY relname`, [db.schema]);
    expect(rows.map((r) => r.relname)).toEqual(['payouts', 'statement_entries', 'statement_entry_states']);
  });

  it('`hub migrate` grants again at every run: a table added since, and a grant changed by hand, are set right', async () => {
    await asOwner(async (owner) => {
      await owner.query(`CREATE TABLE ${db.schema}.added_since (id bigint)`);
      await owner.query(`GRANT TRUNCATE ON ${db.schema}.audit_log TO ${db.runtimeRole}`);
      await owner.query(`REVOKE SELECT ON ${db.schema}.members FROM ${db.runtimeRole}`);
    });
    const run = await hub(['migrate', '--json'], { DATABASE_URL: db.url, MIGRATION_DATABASE_URL: TEST_DATABASE_URL });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ applied: [] });
    await asHub((c) => c.query(`INSERT INTO added_since VALUES (1)`));
    await asHub((c) => c.query(`SELECT count(*) FROM members`));
    await expect(asHub((c) => c.query('TRUNCATE audit_log'))).rejects.toThrow(NOT_GRANTED);
  });

  it('refuses to grant a role no grant can hold back: the owner itself, a superuser, the owner of a table', async () => {
    // Both URLs into the test's schema: a refusal that failed to come would migrate that schema, not the database's public one.
    const asTheOwner = inSchema(TEST_DATABASE_URL, db.schema);
    const owner = await hub(['migrate'], { DATABASE_URL: asTheOwner, MIGRATION_DATABASE_URL: asTheOwner });
    expect(owner.code).toBe(2);
    expect(owner.stderr).toMatch(/^MIGRATION_DATABASE_URL: must name another role than DATABASE_URL's \(postgres\)/);
    await expect(migrate({ databaseUrl: TEST_DATABASE_URL, schema: db.schema, runtimeRole: 'postgres' })).rejects.toThrow(/DATABASE_URL: role postgres is a superuser/);
    const formerOwner = `${db.runtimeRole}_old`;
    await asOwner(async (admin) => {
      await admin.query(`CREATE ROLE ${formerOwner} LOGIN`);
      await admin.query(`ALTER TABLE ${db.schema}.added_since OWNER TO ${formerOwner}`);
    });
    try {
      await expect(migrate({ databaseUrl: TEST_DATABASE_URL, schema: db.schema, runtimeRole: formerOwner }))
        .rejects.toThrow(`DATABASE_URL: role ${formerOwner} owns 1 object(s) of schema ${db.schema} (migrated as it before): hand them to the owner first, REASSIGN OWNED BY ${formerOwner} TO postgres`);
    } finally {
      await asOwner(async (admin) => {
        await admin.query(`DROP TABLE ${db.schema}.added_since`);
        await admin.query(`DROP ROLE ${formerOwner}`);
      });
    }
  });
});
