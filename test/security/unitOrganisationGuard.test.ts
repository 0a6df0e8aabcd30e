import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import type { TestDatabase } from '../support/db.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { seedUnit } from '../benefits/seed.ts';
import { CONFIRM_UNIT_MOVE, fujianTree, MOVE_UNIT } from '../organisations/support.ts';

/**
 * A unit's organisation decides whose staff see its members and which rules and funds pay their
 * claims, so its move takes two ADMINs (unit_moves). Only the code held to that: anyone with the
 * hub's database role (a bug, a script, a stray query) moved a unit with one `UPDATE units SET
 * organisation_id`. The database now lets the column change only as the outcome of a move a second
 * person confirmed, in the confirming transaction, to the organisation it names, once.
 */
const started = lazyTestGateway();

const PROPOSER = { role: 'ADMIN', org: 'FJ', sub: 'fj-admin-a' } as const;
const CONFIRMER = { role: 'ADMIN', org: 'FJ', sub: 'fj-admin-b' } as const;
const GUARD = { code: '23514', constraint: 'units_organisation_four_eyes' };

async function world(): Promise<{ db: TestDatabase; gw: Awaited<ReturnType<typeof started>>['gw']; org: (code: string) => Promise<number> }> {
  const { db, gw } = await started();
  if (!(await db.pool.query(`SELECT 1 FROM organisations WHERE code = 'FJ'`)).rowCount) await fujianTree(gw);
  const org = async (code: string) => (await db.pool.query<{ id: number }>(`SELECT id FROM organisations WHERE code = $1`, [code])).rows[0]!.id;
  return { db, gw, org };
}

const placeOf = async (db: pg.Pool | pg.PoolClient, unitId: number) =>
  (await db.query(`SELECT o.code FROM units u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = $1`, [unitId])).rows[0].code;

const moveTo = (db: pg.Pool | pg.PoolClient, unitId: number, code: string) =>
  db.query(`UPDATE units SET organisation_id = (SELECT id FROM organisations WHERE code = $2) WHERE id = $1`, [unitId, code]);

/** `work` on one connection in one transaction, rolled back at the end. */
async function inOneTransaction(db: TestDatabase, work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await work(client);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

/** The statement's refusal, the transaction going on after it (a savepoint). */
async function refused(client: pg.PoolClient, statement: Promise<unknown>): Promise<unknown> {
  try {
    await statement;
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT step');
    return error;
  }
  throw new Error('the statement was not refused');
}

const propose = (db: pg.Pool | pg.PoolClient, unitId: number, from: string, to: string, by = 'fj-admin-a') =>
  db.query(`INSERT INTO unit_moves (unit_id, from_organisation_id, to_organisation_id, reason, proposed_by)
    SELECT $1, f.id, t.id, 'the firm moved', $4 FROM organisations f, organisations t WHERE f.code = $2 AND t.code = $3 RETURNING id`, [unitId, from, to, by]);
const confirm = (db: pg.Pool | pg.PoolClient, unitId: number, by = 'fj-admin-b') =>
  db.query(`UPDATE unit_moves SET status = 'CONFIRMED', confirmed_by = $2, confirmed_at = now() WHERE unit_id = $1 AND status = 'PROPOSED'`, [unitId, by]);

describe('attack 138: a unit moved to another organisation by a direct UPDATE', () => {
  it('refuses UPDATE units SET organisation_id by the hub\'s role: with no move, with one waiting, with one confirmed in an earlier transaction; the unit stays', async () => {
    const { db, gw, org } = await world();
    const { id } = await seedUnit(db.pool, 'PRIVATE', await org('QZ'));
    expect(await placeOf(db.pool, id)).toBe('QZ');

    await expect(moveTo(db.pool, id, 'XM')).rejects.toMatchObject({ ...GUARD, message: expect.stringContaining('a second ADMIN confirmed') });
    expect(await placeOf(db.pool, id)).toBe('QZ');

    const proposed = await gw.query(PROPOSER, MOVE_UNIT, { input: { unitId: toGlobalId('Unit', id), organisationId: toGlobalId('Organisation', await org('XM')), reason: 'the firm moved to Xiamen' } });
    expect(proposed.data.moveUnit.userErrors).toEqual([]);
    await expect(moveTo(db.pool, id, 'XM')).rejects.toMatchObject(GUARD);

    // Confirmed by another person, committed, and the unit left where it was: a later transaction cannot spend it.
    expect((await confirm(db.pool, id)).rowCount).toBe(1);
    await expect(moveTo(db.pool, id, 'XM')).rejects.toMatchObject(GUARD);
    expect(await placeOf(db.pool, id)).toBe('QZ');
    // Other columns change as before.
    await db.pool.query(`UPDATE units SET name = '改名单位' WHERE id = $1`, [id]);
  });

  it('the hub\'s own move, proposed by one ADMIN and confirmed by another, moves the unit; a unit is still registered in any organisation', async () => {
    const { db, gw, org } = await world();
    const { id } = await seedUnit(db.pool, 'PUBLIC', await org('JJ'));
    expect(await placeOf(db.pool, id)).toBe('JJ');
    const unit = toGlobalId('Unit', id);
    const proposed = await gw.query(PROPOSER, MOVE_UNIT, { input: { unitId: unit, organisationId: toGlobalId('Organisation', await org('XM')), reason: 'the firm moved to Xiamen' } });
    expect(proposed.data.moveUnit.userErrors).toEqual([]);
    const confirmed = await gw.query(CONFIRMER, CONFIRM_UNIT_MOVE, { unitId: unit, proposedAt: proposed.data.moveUnit.move.proposedAt });
    expect(confirmed.data.confirmUnitMove).toEqual({
      move: { confirmed: true, confirmedBy: { subject: 'fj-admin-b' }, unit: { organisation: { code: 'XM' } } }, userErrors: [],
    });
    expect(await placeOf(db.pool, id)).toBe('XM');
  });

  it('a confirmed move changes its unit once, in its transaction, to where it names; a move is never born confirmed nor confirmed by its proposer', async () => {
    const { db, org } = await world();
    const { id } = await seedUnit(db.pool, 'PUBLIC', await org('QZ'));
    const { id: other } = await seedUnit(db.pool, 'PUBLIC', await org('QZ'));
    await inOneTransaction(db, async (c) => {
      await c.query('SAVEPOINT step');
      // Born confirmed: one person writing both names in one INSERT.
      expect(await refused(c, c.query(`INSERT INTO unit_moves (unit_id, from_organisation_id, to_organisation_id, reason, proposed_by, status, confirmed_by, confirmed_at)
        SELECT $1, f.id, t.id, 'the firm moved', 'fj-admin-a', 'CONFIRMED', 'fj-admin-b', now() FROM organisations f, organisations t WHERE f.code = 'QZ' AND t.code = 'XM'`, [id])))
        .toMatchObject({ code: '23514', message: expect.stringContaining('proposed first') });
      await propose(c, id, 'QZ', 'XM');
      await c.query('SAVEPOINT step');
      expect(await refused(c, confirm(c, id, 'fj-admin-a'))).toMatchObject({ constraint: 'unit_moves_four_eyes' });
      expect(await refused(c, moveTo(c, id, 'XM'))).toMatchObject(GUARD);
      expect((await confirm(c, id)).rowCount).toBe(1);
      await c.query('SAVEPOINT step');

      // Not another unit, not another organisation.
      expect(await refused(c, moveTo(c, other, 'XM'))).toMatchObject(GUARD);
      expect(await refused(c, moveTo(c, id, 'JJ'))).toMatchObject(GUARD);
      expect((await moveTo(c, id, 'XM')).rowCount).toBe(1);
      await c.query('SAVEPOINT step');
      // Spent: not back, and the spent move cannot be made fresh.
      expect(await refused(c, moveTo(c, id, 'QZ'))).toMatchObject(GUARD);
      expect(await refused(c, c.query(`UPDATE unit_moves SET moves_unit_in_xid = pg_current_xact_id() WHERE unit_id = $1`, [id])))
        .toMatchObject({ code: '23514', message: expect.stringContaining('only a proposal\'s confirmation or withdrawal') });

      // A second move back (XM → QZ) confirmed too: it moves the unit back once, and the first move, spent, does not move it again.
      await propose(c, id, 'XM', 'QZ');
      expect((await confirm(c, id)).rowCount).toBe(1);
      expect((await moveTo(c, id, 'QZ')).rowCount).toBe(1);
      await c.query('SAVEPOINT step');
      expect(await refused(c, moveTo(c, id, 'XM'))).toMatchObject(GUARD);
      expect(await placeOf(c, id)).toBe('QZ');
      // A roster's rewrite of the row keeping its organisation is no move.
      expect((await c.query(`UPDATE units SET organisation_id = organisation_id, name = name WHERE id = $1`, [id])).rowCount).toBe(1);
    });
  });
});
