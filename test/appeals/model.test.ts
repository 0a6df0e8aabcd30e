import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { seedEnrolledMember, seedSettlement } from '../benefits/seed.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { canMove } from '../../src/kernel/transitions.ts';
import { APPEAL_TRANSITIONS, type AppealStatus } from '../../src/appeals/model.ts';

/** APPEAL_TRANSITIONS says what the database lets an appeal do: every pair of statuses tried against it. */
let db: TestDatabase;
let claimId: number;

beforeAll(async () => {
  db = await freshDatabase();
  // An ineligible claim (the unit has not paid): decided, so it may be appealed.
  const member = await seedEnrolledMember(db.pool, { paid: false });
  const [outcome] = await adjudicateSettlements(db.pool, [await seedSettlement(db.pool, member)], { autoApproveMaxFen: 0 });
  expect(outcome!.status).toBe('INELIGIBLE');
  claimId = outcome!.claimId;
});
afterAll(async () => { await db?.drop(); });

const STATUSES = Object.keys(APPEAL_TRANSITIONS) as AppealStatus[];

async function appealIn(status: AppealStatus): Promise<number> {
  await db.pool.query(`UPDATE appeals SET status = 'DISMISSED', decided_by = 'cleanup', decided_role = 'REVIEWER', decided_at = now(), decision_reason = 'cleanup' WHERE claim_id = $1 AND status = 'OPEN'`, [claimId]);
  const { rows: [{ id }] } = await db.pool.query(`INSERT INTO appeals (claim_id, reason, filed_by, filed_role) VALUES ($1, 'reason', 'filer', 'MEMBER') RETURNING id`, [claimId]);
  if (status !== 'OPEN') await move(id, status);
  return id;
}

const move = (id: number, to: AppealStatus) => db.pool.query(
  to === 'OPEN'
    ? `UPDATE appeals SET status = 'OPEN', decided_by = NULL, decided_role = NULL, decided_at = NULL, decision_reason = NULL WHERE id = $1`
    : `UPDATE appeals SET status = $2, decided_by = 'decider', decided_role = 'REVIEWER', decided_at = now(), decision_reason = 'because' WHERE id = $1`,
  to === 'OPEN' ? [id] : [id, to],
);

describe('APPEAL_TRANSITIONS', () => {
  for (const from of STATUSES) {
    for (const to of STATUSES.filter((s) => s !== from)) {
      it(`${from} → ${to}: ${canMove(APPEAL_TRANSITIONS, from, to) ? 'allowed' : 'refused'} by the database as by the model`, async () => {
        const id = await appealIn(from);
        const allowed = await move(id, to).then(() => true, () => false);
        expect(allowed).toBe(canMove(APPEAL_TRANSITIONS, from, to));
      });
    }
  }
});
