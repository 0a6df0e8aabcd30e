import type pg from 'pg';
import { expect } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';

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
 * `moveUnit`); on a connection holding a transaction, a move not yet committed.
 */
export async function placeUnit(db: pg.Pool | pg.PoolClient, unitId: number, code: string): Promise<void> {
  const { rowCount } = await db.query(`UPDATE units SET organisation_id = (SELECT id FROM organisations WHERE code = $2) WHERE id = $1`, [unitId, code]);
  expect(rowCount).toBe(1);
}
