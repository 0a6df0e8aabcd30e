import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { lookupHash } from '../../src/privacy/personalData.ts';
import { matchSettlements } from '../../src/settlements/matchingStep.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers, sampleUnits, type SampleMember } from '../../src/demo/sampleData.ts';
import { closeQueues, createQueues, type Queues } from '../../src/queues.ts';
import * as benefitJobs from '../../jobs/benefits.ts';
import * as settlementJobs from '../../jobs/settlements.ts';
import { afterRosterImport } from '../../jobs/members.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { waitFor } from '../support/waitFor.ts';
import { keys } from './support.ts';
import { registerUnits } from '../support/units.ts';

/**
 * Settlements that arrive before their member or enrolment is known stay UNMATCHED until the
 * roster registers the person; then they are matched again and adjudicated, without anyone acting.
 */
let db: TestDatabase;
let redis: Redis;
let queues: Queues;
const prefix = `test-rematch-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  db = await freshDatabase();
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  queues = createQueues(redis, prefix);
  await db.pool.query(`INSERT INTO settlement_sources (name, kind) VALUES ('test', 'FILE')`);
});

afterAll(async () => {
  await closeQueues(queues);
  const left = await redis.keys(`${prefix}*`);
  if (left.length) await redis.del(...left);
  redis.disconnect();
  await db.drop();
});

/** A settlement as the source stored it (RECEIVED), of the person with `idNumber`, settled on `setlTime` (China time). */
async function receivedSettlement(pool: pg.Pool, idNumber: string, setlTime: string): Promise<number> {
  const setlId = `S${randomBytes(6).toString('hex')}`;
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO settlements (source, setl_id, infno, kind, mdtrt_id, psn_no, psn_name_enc, psn_name_masked, certno_enc,
                              certno_hash, certno_masked, insutype, med_type, setl_time, diagnoses, medfee_sumamt,
                              fulamt_ownpay_amt, overlmt_selfpay, fund_pay_sumamt, psn_part_amt, acct_pay, psn_cash_pay,
                              raw_enc, status)
     VALUES ('test', $1, '2304', 'SETTLEMENT', $1, 'P1', '\\x00', '测*', '\\x00', $2, '3505**********0000', '310', '21',
             ($3::timestamp AT TIME ZONE 'Asia/Shanghai'), '{}', 1000000, 0, 0, 0, 1000000, 0, 1000000, '\\x00', 'RECEIVED')
     RETURNING id`,
    [setlId, lookupHash(keys, idNumber), setlTime],
  );
  return rows[0]!.id;
}

/** The platform's reversal (2305) of `originalId`, received on `setlTime` (China time), its amounts negated. */
async function receivedReversal(pool: pg.Pool, originalId: number, setlTime: string): Promise<number> {
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO settlements (source, setl_id, infno, kind, reverses_setl_id, mdtrt_id, psn_no, psn_name_enc, psn_name_masked, certno_enc,
                              certno_hash, certno_masked, insutype, med_type, setl_time, diagnoses, medfee_sumamt, fulamt_ownpay_amt,
                              overlmt_selfpay, fund_pay_sumamt, psn_part_amt, acct_pay, psn_cash_pay, raw_enc, status)
     SELECT source, 'R' || setl_id, '2305', 'REVERSAL', setl_id, mdtrt_id, psn_no, psn_name_enc, psn_name_masked, certno_enc,
            certno_hash, certno_masked, insutype, med_type, ($2::timestamp AT TIME ZONE 'Asia/Shanghai'), diagnoses, -medfee_sumamt, -fulamt_ownpay_amt,
            -overlmt_selfpay, -fund_pay_sumamt, -psn_part_amt, -acct_pay, -psn_cash_pay, raw_enc, 'RECEIVED'
       FROM settlements WHERE id = $1 RETURNING id`,
    [originalId, setlTime],
  );
  return rows[0]!.id;
}

const statusOf = async (id: number) => (await db.pool.query<{ status: string; reason: string | null; memberId: number | null }>(
  `SELECT status, unmatched_reason AS reason, member_id AS "memberId" FROM settlements WHERE id = $1`, [id])).rows[0]!;

async function importMembers(lines: string[], today: string): Promise<void> {
  const { rows } = await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('r.csv', '\\x', 'test') RETURNING id`);
  await importRoster(db.pool, keys, ROSTER_HEADER + lines.join(''), { importId: rows[0]!.id, today });
}

describe('re-matching after the roster', () => {
  it('matches and adjudicates a settlement whose member was unknown once the roster imports the member; an unknown person stays UNMATCHED', async () => {
    const units = sampleUnits(1, 71);
    await registerUnits(db.pool, units);
    const [known, stranger] = [...sampleMembers(2, units, 72)] as [SampleMember, SampleMember];
    const waiting = await receivedSettlement(db.pool, known.idNumber, '2025-08-01 10:00:00');
    const lost = await receivedSettlement(db.pool, stranger.idNumber, '2025-08-01 10:00:00');
    await matchSettlements(db.pool, [waiting, lost]);
    expect(await statusOf(waiting)).toEqual({ status: 'UNMATCHED', reason: 'NO_MEMBER', memberId: null });

    const workers: Worker[] = await benefitJobs.start({
      db: db.pool, connection: redis, prefix, queues, adjudication: { concurrency: 10, autoApproveMaxFen: 1_000_000 }, announce: async () => undefined,
    });
    try {
      await importMembers([rosterLine(known, 2025, false)], '2025-01-05');
      // What the roster worker does after an import.
      await afterRosterImport(db.pool, queues, new RuleSetCache())();
      const { rows: [member] } = await db.pool.query<{ id: number }>(`SELECT id FROM members WHERE id_number_hash = $1`, [lookupHash(keys, known.idNumber)]);
      expect(await statusOf(waiting)).toEqual({ status: 'MATCHED', reason: null, memberId: member!.id });
      const claim = await waitFor('the claim of the re-matched settlement', async () =>
        (await db.pool.query<{ memberId: number }>(`SELECT member_id AS "memberId" FROM claims WHERE settlement_id = $1`, [waiting])).rows[0]);
      expect(claim.memberId).toBe(member!.id);
    } finally {
      for (const w of workers) await w.close();
    }
    expect(await statusOf(lost)).toEqual({ status: 'UNMATCHED', reason: 'NO_MEMBER', memberId: null });
  });

  it('the settlements sweep releases one whose enrolment exists since, whatever path created it', async () => {
    const units = sampleUnits(1, 81);
    await registerUnits(db.pool, units);
    // Not one of the first test's people (sample ID numbers repeat across seeds).
    const person = [...sampleMembers(6, units, 82)][5];
    await importMembers([rosterLine(person!, 2025, false)], '2025-01-05');
    // Settled in 2024, a year the member was not enrolled for.
    const early = await receivedSettlement(db.pool, person!.idNumber, '2024-09-01 10:00:00');
    await matchSettlements(db.pool, [early]);
    expect((await statusOf(early)).reason).toBe('NO_ENROLMENT');

    // Nothing changed: the sweep leaves it alone.
    await settlementJobs.sweep({ db: db.pool, queues });
    expect((await statusOf(early)).status).toBe('UNMATCHED');

    await importMembers([rosterLine(person!, 2024, false)], '2024-01-05');
    await settlementJobs.sweep({ db: db.pool, queues });
    // Released for the match step, whose job the sweep queued.
    expect((await statusOf(early)).status).toBe('RECEIVED');
    expect(await queues.settlementMatch.getJob(`settlement-match-${early}`)).toBeTruthy();
    await matchSettlements(db.pool, [early]);
    expect((await statusOf(early)).status).toBe('MATCHED');
  });

  it('a reversal waiting for the enrolment beside the settlement it cancels is released with it, and cancels it', async () => {
    const units = sampleUnits(1, 91);
    await registerUnits(db.pool, units);
    const person = [...sampleMembers(7, units, 92)][6];
    await importMembers([rosterLine(person!, 2025, false)], '2025-01-05');
    // Settled in 2024, a year the member was not enrolled for; reversed by the platform in 2025 (it counts in 2024).
    const settled = await receivedSettlement(db.pool, person!.idNumber, '2024-11-01 10:00:00');
    const reversal = await receivedReversal(db.pool, settled, '2025-01-10 10:00:00');
    await matchSettlements(db.pool, [settled, reversal]);
    for (const id of [settled, reversal]) expect((await statusOf(id)).reason).toBe('NO_ENROLMENT');

    await importMembers([rosterLine(person!, 2024, false)], '2024-01-05');
    await settlementJobs.sweep({ db: db.pool, queues });
    for (const id of [settled, reversal]) expect((await statusOf(id)).status).toBe('RECEIVED');
    await matchSettlements(db.pool, [settled, reversal]);
    expect((await statusOf(reversal)).status).toBe('MATCHED');
    const { rows: [matched] } = await db.pool.query<{ reversesId: number }>(`SELECT reverses_id AS "reversesId" FROM settlements WHERE id = $1`, [reversal]);
    expect(matched!.reversesId).toBe(settled);
  });

  it('a reversal naming another person\'s settlement cancels nothing: it waits as ORIGINAL_NOT_FOUND, and no sweep takes it up', async () => {
    const units = sampleUnits(1, 93);
    await registerUnits(db.pool, units);
    const [mine, theirs] = [...sampleMembers(9, units, 94)].slice(7) as [SampleMember, SampleMember];
    await importMembers([rosterLine(mine, 2025, false), rosterLine(theirs, 2025, false)], '2025-01-05');
    const their = await receivedSettlement(db.pool, theirs.idNumber, '2025-06-01 10:00:00');
    // The reversal carries my ID number and names their settlement (a mistyped init_setl_id, or a forged file).
    const reversal = await receivedReversal(db.pool, their, '2025-06-02 10:00:00');
    await db.pool.query(`UPDATE settlements SET certno_hash = $2 WHERE id = $1`, [reversal, lookupHash(keys, mine.idNumber)]);
    await matchSettlements(db.pool, [their, reversal]);
    expect(await statusOf(reversal)).toMatchObject({ status: 'UNMATCHED', reason: 'ORIGINAL_NOT_FOUND' });
    expect((await statusOf(their)).status).toBe('MATCHED');
    await settlementJobs.sweep({ db: db.pool, queues });
    expect((await statusOf(reversal)).status).toBe('UNMATCHED');
  });
});
