import pg from 'pg';
import { expect } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { inTransaction } from '../../src/db/pool.ts';

export const CREATE_ORGANISATION = `mutation($input: CreateOrganisationInput!) { createOrganisation(input: $input) {
  organisation { id code name level parent { code } ancestors { code } } userErrors { field code message } } }`;
export const MOVE_UNIT = `mutation($input: MoveUnitInput!) { moveUnit(input: $input) {
  move { confirmed reason from { code } to { code } proposedBy { subject } proposedAt } userErrors { field code message } } }`;
export const CONFIRM_UNIT_MOVE = `mutation($unitId: ID!, $proposedAt: DateTime!) { confirmUnitMove(input: { unitId: $unitId, proposedAt: $proposedAt }) {
  move { confirmed confirmedBy { subject } unit { organisation { code } } } userErrors { field code message } } }`;

/**
 * The tree the tests work in: province FJ, its cities QZ and XM, and county JJ under QZ. Created
 * through the API by an ADMIN of the whole hub; answers each organisation's global ID by code.
 */
export async function fujianTree(gw: TestGateway): Promise<Record<'FJ' | 'QZ' | 'XM' | 'JJ', string>> {
  const ids: Record<string, string> = {};
  const add = async (code: string, name: string, level: string, parent?: string) => {
    const answer = await gw.query({ role: 'ADMIN', sub: 'root-admin' }, CREATE_ORGANISATION, {
      input: { code, name, level, parentId: parent === undefined ? null : ids[parent] },
    });
    expect(answer.data?.createOrganisation.userErrors, JSON.stringify(answer)).toEqual([]);
    ids[code] = answer.data!.createOrganisation.organisation.id;
  };
  await add('FJ', '福建省总工会', 'PROVINCE');
  await add('QZ', '泉州市总工会', 'CITY', 'FJ');
  await add('XM', '厦门市总工会', 'CITY', 'FJ');
  await add('JJ', '晋江市总工会', 'COUNTY', 'QZ');
  return ids as Record<'FJ' | 'QZ' | 'XM' | 'JJ', string>;
}

/**
 * Puts the unit in the organisation with `code` (test set-up: the API does this with two ADMINs,
 * `moveUnit`) as the database lets it (0074): by a move proposed and confirmed by two made-up
 * people, in the transaction that moves it; on a connection holding a transaction, a move not yet
 * committed. The unit must have no move waiting.
 */
export async function placeUnit(db: pg.Pool | pg.PoolClient, unitId: number, code: string): Promise<void> {
  if (db instanceof pg.Pool) return inTransaction(db, (tx) => placeUnit(tx, unitId, code));
  await db.query(`INSERT INTO unit_moves (unit_id, from_organisation_id, to_organisation_id, reason, proposed_by)
    SELECT u.id, u.organisation_id, o.id, 'test set-up', 'test-proposer' FROM units u JOIN organisations o ON o.code = $2
     WHERE u.id = $1 AND o.id <> u.organisation_id`, [unitId, code]);
  await db.query(`UPDATE unit_moves SET status = 'CONFIRMED', confirmed_by = 'test-confirmer', confirmed_at = now()
    WHERE unit_id = $1 AND status = 'PROPOSED' AND proposed_by = 'test-proposer'`, [unitId]);
  const { rowCount } = await db.query(`UPDATE units SET organisation_id = (SELECT id FROM organisations WHERE code = $2) WHERE id = $1`, [unitId, code]);
  expect(rowCount).toBe(1);
}
