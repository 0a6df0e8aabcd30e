import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTEMPT_STATUSES, ATTEMPT_TRANSITIONS, BATCH_STATUSES, BATCH_TRANSITIONS, PAYOUT_STATUSES, PAYOUT_TRANSITIONS, RETRY_STATUSES, RETRY_TRANSITIONS, SUBMISSION_STATUSES, type AttemptStatus, type BatchStatus, type PayoutStatus } from '../../src/payouts/model.ts';
import type { Transitions } from '../../src/kernel/transitions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { checkedValues, freshDatabase, type TestDatabase } from '../support/db.ts';
import { approvedClaims, settings } from './support.ts';

/**
 * The payouts model against the database it mirrors: each status union is exactly its column's
 * CHECK, and each transition table allows exactly what the triggers allow, tried move by move on a
 * fresh schema (each try in a savepoint, rolled back).
 */

let db: TestDatabase;
let client: pg.PoolClient;
let payoutId: number;

beforeAll(async () => {
  db = await freshDatabase();
  await approvedClaims(db.pool, 1);
  await planPayouts(db.pool, settings);
  const { rows: [payout] } = await db.pool.query<{ id: number }>(`SELECT id FROM payouts`);
  payoutId = payout!.id;
  client = await db.pool.connect();
  await client.query('BEGIN');
});
afterAll(async () => {
  await client?.query('ROLLBACK');
  client?.release();
  await db?.drop();
});

/** Runs `work` in a savepoint that is always rolled back; its error, or null. */
async function attempt(work: () => Promise<unknown>): Promise<Error | null> {
  await client.query('SAVEPOINT try');
  try {
    await work();
    return null;
  } catch (error) {
    return error as Error;
  } finally {
    await client.query('ROLLBACK TO SAVEPOINT try');
  }
}

/** Every move between two different statuses, and whether the table allows it. */
function moves<S extends string>(statuses: readonly S[], transitions: Transitions<S>): { from: S; to: S; allowed: boolean }[] {
  return statuses.flatMap((from) => statuses.filter((to) => to !== from).map((to) => ({ from, to, allowed: transitions[from].includes(to) })));
}

const INSERT_BATCH = `INSERT INTO payout_batches (msg_id, pmt_inf_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date,
    status, nb_of_txs, ctrl_sum_fen, created_by, created_by_role, approved_by, approved_by_role, approved_at, file_enc, file_sha256, seal, cancel_reason)
  VALUES ($1, $1 || '-1', 'SIM', '1', 'union', '102100099996', current_date, $2, 1, 1, 'creator', 'ADMIN', 'approver', 'FINANCE', now(),
          '\\x00', '\\x00', '\\x00', CASE WHEN $2 = 'CANCELLED' THEN 'test' END)
  RETURNING id`;

async function insertBatch(msgId: string, status: BatchStatus): Promise<number> {
  const { rows: [row] } = await client.query<{ id: number }>(INSERT_BATCH, [msgId, status]);
  return row!.id;
}

describe('the status unions', () => {
  it('are the CHECK constraints of their columns', async () => {
    expect(new Set(await checkedValues(db, 'payouts', 'status'))).toEqual(new Set(PAYOUT_STATUSES));
    expect(new Set(await checkedValues(db, 'payout_batches', 'status'))).toEqual(new Set(BATCH_STATUSES));
    expect(new Set(await checkedValues(db, 'payout_batches', 'submission'))).toEqual(new Set(SUBMISSION_STATUSES));
    expect(new Set(await checkedValues(db, 'payout_attempts', 'status'))).toEqual(new Set(ATTEMPT_STATUSES));
  });
});

describe('BATCH_TRANSITIONS', () => {
  it('allows exactly the moves the payout_batch_transition trigger allows', async () => {
    for (const { from, to, allowed } of moves(BATCH_STATUSES, BATCH_TRANSITIONS)) {
      const error = await attempt(async () => {
        const id = await insertBatch('MODEL-BATCH', from);
        // As the code moves it: submitted with its hand-over to the bank (migration 0035).
        await client.query(
          `UPDATE payout_batches SET status = $2, cancel_reason = CASE WHEN $2 = 'CANCELLED' THEN 'test' END,
                  submission = CASE WHEN $2 = 'SUBMITTED' THEN 'SENDING' ELSE submission END WHERE id = $1`,
          [id, to],
        );
      });
      if (allowed) expect(error, `${from} -> ${to}`).toBeNull();
      else expect(error?.message, `${from} -> ${to}`).toMatch(new RegExp(`${from} -> ${to} is not an allowed transition`));
    }
  });
});

describe('ATTEMPT_TRANSITIONS', () => {
  it('allows exactly the moves the payout_attempt_transition trigger allows', async () => {
    const batchId = await insertBatch('MODEL-ATTEMPTS', 'DRAFT');
    const insert = (status: AttemptStatus) => client.query<{ id: number }>(
      `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc,
                                    creditor_account_masked, creditor_agent, remittance_info, status, reason_code)
       VALUES ($1, 1, $2, 'MODEL-E2E', 1, 'member', '\\x00', 'masked', '102100099996', 'remittance', $3, 'AC04') RETURNING id`,
      [payoutId, batchId, status],
    );
    for (const { from, to, allowed } of moves(ATTEMPT_STATUSES, ATTEMPT_TRANSITIONS)) {
      const error = await attempt(async () => {
        const { rows: [row] } = await insert(from);
        await client.query(`UPDATE payout_attempts SET status = $2 WHERE id = $1`, [row!.id, to]);
      });
      if (allowed) expect(error, `${from} -> ${to}`).toBeNull();
      else expect(error?.message, `${from} -> ${to}`).toMatch(new RegExp(`${from} -> ${to} is not an allowed transition`));
    }
  });
});

describe('RETRY_TRANSITIONS', () => {
  it('allows exactly what the payout_retry_confirmation trigger allows: a proposal confirmed, once', async () => {
    const propose = () => client.query<{ id: number }>(
      `INSERT INTO payout_retries (payout_id, after_attempt, proposed_by, proposed_by_role, reason) VALUES ($1, 1, 'finance-a', 'FINANCE', 'test') RETURNING id`,
      [payoutId],
    );
    const confirm = (id: number, by: string) => client.query(
      `UPDATE payout_retries SET confirmed_by = $2, confirmed_by_role = 'FINANCE', confirm_reason = 'test', confirmed_at = now() WHERE id = $1`, [id, by],
    );
    const unconfirm = (id: number) => client.query(
      `UPDATE payout_retries SET confirmed_by = NULL, confirmed_by_role = NULL, confirm_reason = NULL, confirmed_at = NULL WHERE id = $1`, [id],
    );
    const tries: Record<string, () => Promise<unknown>> = {
      'PROPOSED -> CONFIRMED': async () => confirm((await propose()).rows[0]!.id, 'finance-b'),
      'CONFIRMED -> PROPOSED': async () => {
        const { id } = (await propose()).rows[0]!;
        await confirm(id, 'finance-b');
        await unconfirm(id);
      },
    };
    for (const { from, to, allowed } of moves(RETRY_STATUSES, RETRY_TRANSITIONS)) {
      const error = await attempt(tries[`${from} -> ${to}`]!);
      if (allowed) expect(error, `${from} -> ${to}`).toBeNull();
      else expect(error?.message, `${from} -> ${to}`).toMatch(/a proposal is only confirmed, once/);
    }
    // Confirmed once means once: not again by someone else.
    expect((await attempt(async () => {
      const { id } = (await propose()).rows[0]!;
      await confirm(id, 'finance-b');
      await confirm(id, 'finance-c');
    }))?.message).toMatch(/a proposal is only confirmed, once/);
  });
});

describe('PAYOUT_TRANSITIONS', () => {
  /** The payout in `status`, with what the CHECKs of that status ask for (a reason; paid_at; settled_at exactly when SETTLED). */
  const setPayout = (status: PayoutStatus) => client.query(
    `UPDATE payouts SET status = $2, status_reason = 'test', paid_at = now(), settled_at = CASE WHEN $2 = 'SETTLED' THEN now() END WHERE id = $1`,
    [payoutId, status],
  );

  it('are moves the database accepts (payouts have no transition trigger: the code is what keeps to them)', async () => {
    for (const { from, to, allowed } of moves(PAYOUT_STATUSES, PAYOUT_TRANSITIONS)) {
      if (!allowed) continue;
      expect(await attempt(async () => {
        await setPayout(from);
        await setPayout(to);
      }), `${from} -> ${to}`).toBeNull();
    }
  });

  it('FAILED -> READY or HELD of a payout the bank had paid needs a confirmed retry proposal (payout_retry_after_payment)', async () => {
    const batchId = await insertBatch('MODEL-RETURNED', 'ACCEPTED');
    await client.query(
      `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc,
                                    creditor_account_masked, creditor_agent, remittance_info, status, reason_code)
       VALUES ($1, 1, $2, 'MODEL-RETURNED-E2E', 1, 'member', '\\x00', 'masked', '102100099996', 'remittance', 'RETURNED', 'AC04')`,
      [payoutId, batchId],
    );
    await client.query(`UPDATE payouts SET attempts = 1 WHERE id = $1`, [payoutId]);
    await setPayout('FAILED');
    const retried = PAYOUT_TRANSITIONS.FAILED.filter((to) => to === 'READY' || to === 'HELD');
    expect(retried).toEqual(['READY', 'HELD']);
    for (const to of retried) {
      expect((await attempt(() => setPayout(to)))?.message, `FAILED -> ${to}`).toMatch(/needs one FINANCE person's proposal and another's confirmation/);
    }
    await client.query(
      `INSERT INTO payout_retries (payout_id, after_attempt, proposed_by, proposed_by_role, reason, confirmed_by, confirmed_by_role, confirm_reason, confirmed_at)
       VALUES ($1, 1, 'finance-a', 'FINANCE', 'test', 'finance-b', 'FINANCE', 'test', now())`,
      [payoutId],
    );
    for (const to of retried) expect(await attempt(() => setPayout(to)), `FAILED -> ${to}`).toBeNull();
  });
});
