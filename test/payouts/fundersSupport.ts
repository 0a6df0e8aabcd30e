import type pg from 'pg';
import { addFunder } from '../../src/payouts/funders.ts';
import type { FunderRow } from '../../src/payouts/model.ts';
import { UNION_BANK } from '../banks/simulator/support.ts';
import { settings } from './support.ts';

/** A provincial union (FJ, at the top of its own tree) and its subsidy fund, paying from its own account at the simulator. */
export const PROVINCE_ACCOUNT = '1408010109024569876';
export const operator = { subject: 'operator-zhao', role: 'ADMIN' };

export async function provinceFunder(db: pg.Pool): Promise<FunderRow> {
  await db.query(`INSERT INTO organisations (code, name, level, created_by) VALUES ('FJ', '福建省总工会', 'PROVINCE', 'test')`);
  return addFunder(db, operator, {
    code: 'FJ', name: '福建省总工会职工医疗互助补助资金', organisationCode: 'FJ', account: PROVINCE_ACCOUNT, accountName: '福建省总工会', agent: UNION_BANK,
  }, settings.account.account);
}

/**
 * The province's subsidy line on an approved claim, approved, as a rule set whose PROVINCIAL_SUBSIDY
 * programme names funder FJ writes it (written here directly: the test is about paying it, not
 * deciding it). Returns the line's amount.
 */
export async function provincialLine(db: pg.Pool, claimId: number, funderId: number, amountFen: number): Promise<number> {
  await db.query(
    `INSERT INTO benefit_lines (claim_id, programme, basis_fen, before_caps_fen, amount_fen, explanation, status, funder_id)
     VALUES ($1, 'PROVINCIAL_SUBSIDY', $2, $2, $2, 'provincial subsidy (test)', 'APPROVED', $3)`,
    [claimId, amountFen, funderId],
  );
  return amountFen;
}

/** The approved amount of each funder's lines of the claims (the oracle the payouts must match). */
export async function approvedByFunder(db: pg.Pool, claimIds: readonly number[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ key: string; fen: number }>(
    `SELECT claim_id || '/' || funder_id AS key, sum(coalesce(adjusted_fen, amount_fen))::bigint AS fen
       FROM benefit_lines WHERE claim_id = ANY($1::bigint[]) AND status = 'APPROVED' GROUP BY claim_id, funder_id`,
    [claimIds],
  );
  return new Map(rows.map((r) => [r.key, r.fen]));
}

