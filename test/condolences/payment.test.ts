import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { applyForCondolence, approveCondolence, rejectCondolence, withdrawCondolence } from '../../src/condolences/service.ts';
import { CONDOLENCE_REASON_NAMES, CONDOLENCE_REASONS, CONDOLENCE_STATUSES, CONDOLENCE_TRANSITIONS } from '../../src/condolences/model.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { statusesInto } from '../../src/kernel/transitions.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { funderBalances } from '../../src/payouts/store/funders.ts';
import { renderMessage } from '../../src/notifications/messages.ts';
import { fetchFromBank } from '../../src/reconciliation/fetch.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { startBank, testFilePki } from '../banks/simulator/support.ts';
import { PROVINCE_ACCOUNT, provinceFunder } from '../payouts/fundersSupport.ts';
import { advanceUntilFinal, clerk, creditedByPayout, finance, sealedFile, settings, submissionContext, keys } from '../payouts/support.ts';
import { checkedValues, commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { lockPlanYearEnrolments } from '../../src/members/store/eligibility.ts';
import { enrol } from '../../src/members/eligibility.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { insertRunningRosterImport, membersByIds, rosterImportErrors, unitsByIds } from '../../src/members/store.ts';
import { withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { lookupHash, personalDataKeys } from '../../src/privacy/personalData.ts';
import { seedUnit } from '../benefits/seed.ts';
import { HUB } from '../reconciliation/support.ts';
import { application, CAPS, governWithCondolence, operator, reviewer, secondReviewer, worker, YEAR, type Worker } from './support.ts';

/**
 * Condolence payments (慰问金) end to end: a unit operator applies for a worker who is not
 * enrolled, a reviewer approves, payout planning pays it from the funder the rule set names (the
 * province's own account here), the bank credits it and the funder's statement settles it. And
 * the refusals: an enrolled worker, the caps per case and per year (two approvals at once too).
 */
const pki = testFilePki();
let db: TestDatabase;
const ruleSets = new RuleSetCache();
let provinceId: number;

beforeAll(async () => {
  db = await freshDatabase();
  provinceId = (await provinceFunder(db.pool)).id;
  await governWithCondolence(db.pool, { ...CAPS, funder: 'FJ' });
});
afterAll(async () => {
  await db.drop();
});

describe('the condolences model', () => {
  it('names exactly the statuses and reasons the database allows, and the trigger allows only its transitions', async () => {
    expect(await checkedValues(db, 'condolences', 'status')).toEqual([...CONDOLENCE_STATUSES].sort());
    expect(await checkedValues(db, 'condolences', 'reason')).toEqual([...CONDOLENCE_REASONS].sort());
    expect(statusesInto(CONDOLENCE_TRANSITIONS, 'PENDING')).toEqual([]);
    const w = await worker(db.pool);
    const rejected = await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, 10_000));
    await rejectCondolence(db.pool, reviewer, UNSCOPED, { condolenceId: rejected.id, reason: 'not a hardship case' });
    await expect(db.pool.query(`UPDATE condolences SET status = 'PENDING', decided_at = NULL, decided_by = NULL, decided_role = NULL, decision_note = NULL WHERE id = $1`, [rejected.id]))
      .rejects.toThrow(/cannot change/);
  });
});

describe('a condolence for a worker who is not enrolled', () => {
  it('is applied for by the unit operator, approved by a reviewer, paid from its funder\'s account and settled on that account\'s statement', async () => {
    const w = await worker(db.pool);
    const applied = await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, 300_000));
    expect(applied).toMatchObject({ status: 'PENDING', memberId: w.memberId, unitId: w.unitId, requestedFen: 300_000, funderId: provinceId, ruleSetId: 'condolence-test' });
    const approved = await approveCondolence(db.pool, ruleSets, reviewer, UNSCOPED, { condolenceId: applied.id, amountFen: 250_000, note: '核实属实，批准' });
    expect(approved).toMatchObject({ status: 'APPROVED', approvedFen: 250_000, decidedBy: reviewer.subject });
    const { rows: told } = await db.pool.query(`SELECT kind, facts FROM notifications WHERE subject_type = 'Condolence' AND subject_id = $1`, [applied.id]);
    expect(told).toEqual([{ kind: 'CONDOLENCE_APPROVED', facts: { amountFen: 250_000, reason: 'SERIOUS_ILLNESS' } }]);

    await planPayouts(db.pool, settings);
    await planPayouts(db.pool, settings); // again: nothing more
    const { rows: payouts } = await db.pool.query(
      `SELECT id, claim_id AS "claimId", funder_id AS "funderId", amount_fen AS "amountFen", status FROM payouts WHERE condolence_id = $1`, [applied.id],
    );
    expect(payouts).toEqual([{ id: expect.any(Number), claimId: null, funderId: provinceId, amountFen: approved.approvedFen, status: 'READY' }]);
    const payoutId = payouts[0].id as number;
    // The database holds it too, planner or not: a second payout of the condolence is refused.
    await expect(db.pool.query(
      `INSERT INTO payouts (condolence_id, funder_id, member_id, unit_id, amount_fen, status)
       SELECT condolence_id, funder_id, member_id, unit_id, amount_fen, 'READY' FROM payouts WHERE id = $1`, [payoutId],
    )).rejects.toThrow(/duplicate key value violates unique constraint "payouts_condolence_id_key"/);

    const batch = (await createBatch(db.pool, clerk, settings, 100, [provinceId]))!;
    expect(batch.nbOfTxs).toBe(1);
    await approveBatch(db.pool, finance, batch.id);
    await requestSubmission(db.pool, finance, batch.id);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const file = (await sealedFile(db.pool, batch.id))!;
      expect(file).toContain(`<Ustrd>工会慰问金 ${CONDOLENCE_REASON_NAMES.SERIOUS_ILLNESS} 慰问号${applied.id}</Ustrd>`);
      expect(file).toMatch(new RegExp(`<DbtrAcct>\\s*<Id>\\s*<Othr>\\s*<Id>${PROVINCE_ACCOUNT}</Id>`));
      expect((await creditedByPayout(db.pool, bank)).get(payoutId)).toBe(approved.approvedFen);
      const paid = await db.pool.query(`SELECT kind, subject_type AS "subjectType", subject_id AS "subjectId", facts FROM notifications WHERE subject_type = 'Payout' AND subject_id = $1`, [payoutId]);
      expect(paid.rows).toEqual([{ kind: 'PAYOUT_PAID', subjectType: 'Payout', subjectId: payoutId, facts: { amountFen: approved.approvedFen, attemptNo: 1, condolence: true } }]);
      expect(renderMessage(paid.rows[0]).text).toContain('工会慰问金已支付到账');

      await fetchFromBank(db.pool, bank.adapter, [PROVINCE_ACCOUNT], chinaToday(), 0, HUB);
      expect(await reconcileAccount(db.pool, PROVINCE_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 1, settled: 1, exceptions: 0 });
      const { rows: [settled] } = await db.pool.query(`SELECT status FROM payouts WHERE id = $1`, [payoutId]);
      expect(settled.status).toBe('SETTLED');
      // The province's fund balances with the condolence in it: approved = paid = settled on its own account.
      const [balance] = await funderBalances(db.pool, [provinceId], YEAR, settings.account.account);
      expect(balance).toMatchObject({ approvedFen: approved.approvedFen, payoutsFen: approved.approvedFen, paidFen: approved.approvedFen, settledFen: approved.approvedFen, differenceFen: 0 });
    } finally {
      ctx.remove();
    }
  });

  it('waits HELD for a worker without a bank account, as a claim\'s payout does', async () => {
    const w = await worker(db.pool, { card: null });
    const applied = await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, 20_000));
    await approveCondolence(db.pool, ruleSets, reviewer, UNSCOPED, { condolenceId: applied.id, note: '情况属实' });
    await planPayouts(db.pool, settings);
    const { rows } = await db.pool.query(`SELECT status, status_reason AS reason FROM payouts WHERE condolence_id = $1`, [applied.id]);
    expect(rows).toEqual([{ status: 'HELD', reason: expect.stringContaining('no bank account') }]);
  });

  it('is refused for an enrolled worker, who claims instead', async () => {
    const w = await worker(db.pool, { enrolled: true });
    await expect(applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, 10_000)))
      .rejects.toMatchObject({ code: 'CONFLICT', field: 'input.memberId', message: expect.stringMatching(/enrolled.*claimed/) });
  });

  it('is refused over the per-case cap, at application and at approval', async () => {
    const w = await worker(db.pool);
    await expect(applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, CAPS.perCaseCapFen + 1)))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amountFen', message: expect.stringContaining(`per-case cap of ${CAPS.perCaseCapFen}`) });
    const atCap = await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, CAPS.perCaseCapFen));
    await expect(approveCondolence(db.pool, ruleSets, reviewer, UNSCOPED, { condolenceId: atCap.id, amountFen: CAPS.perCaseCapFen + 1, note: 'more than asked' }))
      .rejects.toMatchObject({ field: 'input.amountFen' });
  });

  it('is refused over the worker\'s annual cap, counting what was approved before', async () => {
    const w = await worker(db.pool);
    const first = await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, CAPS.perCaseCapFen));
    await approveCondolence(db.pool, ruleSets, reviewer, UNSCOPED, { condolenceId: first.id, note: '情况属实' });
    const left = CAPS.annualCapFenPerWorker - CAPS.perCaseCapFen;
    await expect(applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, left + 1, { reason: 'HARDSHIP' })))
      .rejects.toMatchObject({ code: 'CONFLICT', field: 'input.amountFen', message: expect.stringContaining(`at most ${left} left`) });
    const rest = await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, left, { reason: 'HARDSHIP' }));
    expect(rest.status).toBe('PENDING');
  });

  it('two approvals at once never pass the annual cap together: one is refused', async () => {
    const w = await worker(db.pool);
    const amount = CAPS.annualCapFenPerWorker / 2 + 1;
    const a = await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, amount));
    const b = await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, amount, { reason: 'ACCIDENT' }));
    const outcomes = await Promise.allSettled([
      approveCondolence(db.pool, ruleSets, reviewer, UNSCOPED, { condolenceId: a.id, note: '情况属实' }),
      approveCondolence(db.pool, ruleSets, secondReviewer, UNSCOPED, { condolenceId: b.id, note: '情况属实' }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({ reason: { code: 'CONFLICT', field: 'input.amountFen' } });
    const { rows: [total] } = await db.pool.query(`SELECT sum(approved_fen)::bigint AS fen FROM condolences WHERE member_id = $1 AND status = 'APPROVED'`, [w.memberId]);
    expect(total.fen).toBeLessThanOrEqual(CAPS.annualCapFenPerWorker);
  });

  it('is refused when the governing rule set has no condolence programme, naming the organisation and year', async () => {
    const w = await worker(db.pool);
    await db.pool.query(`UPDATE plan_year_rule_sets SET rule_set_id = 'default-2025' WHERE plan_year = $1`, [YEAR]);
    try {
      await expect(applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, 10_000)))
        .rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(new RegExp(`^the rule set of .+ ${YEAR} has no condolence programme$`)) });
    } finally {
      await db.pool.query(`UPDATE plan_year_rule_sets SET rule_set_id = 'condolence-test' WHERE plan_year = $1`, [YEAR]);
    }
  });

  it('is refused for a reason the rule set does not pay', async () => {
    const w = await worker(db.pool);
    await governWithCondolence(db.pool, { ...CAPS, funder: 'FJ', reasons: ['DEATH'] }, 'condolence-death-only');
    try {
      await expect(applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, 10_000, { reason: 'HARDSHIP' })))
        .rejects.toMatchObject({ code: 'CONFLICT', field: 'input.reason', message: expect.stringContaining('only for DEATH') });
      expect(await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, 10_000, { reason: 'DEATH' })))
        .toMatchObject({ status: 'PENDING', ruleSetId: 'condolence-death-only' });
    } finally {
      await db.pool.query(`UPDATE plan_year_rule_sets SET rule_set_id = 'condolence-test' WHERE plan_year = $1`, [YEAR]);
    }
  });

  it('can be withdrawn by its applicant only, while pending', async () => {
    const w = await worker(db.pool);
    const applied = await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, 10_000));
    await expect(withdrawCondolence(db.pool, { subject: 'op-other', role: 'UNIT_OPERATOR' }, w.unitScope, { condolenceId: applied.id, reason: 'not needed' }))
      .rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await withdrawCondolence(db.pool, operator(w), w.unitScope, { condolenceId: applied.id, reason: '家属不再申请' })).toMatchObject({ status: 'WITHDRAWN', decidedBy: null });
    await expect(approveCondolence(db.pool, ruleSets, reviewer, UNSCOPED, { condolenceId: applied.id, note: 'too late now' }))
      .rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('WITHDRAWN') });
  });
});

describe('a worker approved a condolence is not enrolled in that plan year', () => {
  const keys = personalDataKeys(Buffer.alloc(32, 7).toString('base64'));
  const DAY = `${YEAR}-07-01`; // the day the enrolments are recorded: in the plan year, the condolence before it
  const REASON = 'the worker was approved a condolence payment (慰问金) of this plan year, which is paid to workers not enrolled in it: they are not enrolled in it';
  const ADMIN = { subject: 'admin-lin', role: 'ADMIN' };
  const newImport = () => insertRunningRosterImport(db.pool, { fileName: 'r.csv', defaultUnitId: null, createdBy: 'test' });
  const rosterOf = (creditCode: string, people: [string, string][]) =>
    `name,id_number,unit_credit_code,plan_year,enrolled_on\n${people.map(([name, id]) => `${name},${id},${creditCode},${YEAR},${DAY}`).join('\n')}\n`;
  const enrolmentsOf = async (memberId: number) => (await db.pool.query(`SELECT plan_year FROM enrolments WHERE member_id = $1`, [memberId])).rows;

  /** A worker registered by a new unit's roster (no plan year: not enrolled), with a condolence of the year applied for. */
  async function applicant(idNumber: string): Promise<{ w: Worker; condolenceId: number }> {
    const unit = await seedUnit(db.pool);
    const registered = await importRoster(db.pool, keys, `name,id_number,unit_credit_code\n林慰问,${idNumber},${unit.creditCode}\n`, { importId: await newImport(), today: DAY });
    expect(registered.rowsInserted).toBe(1);
    const { rows: [{ id: memberId }] } = await db.pool.query(`SELECT id FROM members WHERE id_number_hash = $1`, [lookupHash(keys, idNumber)]);
    const w: Worker = { unitId: unit.id, creditCode: unit.creditCode, memberId, unitScope: { unitId: unit.id, memberId: null, organisationId: null } };
    return { w, condolenceId: (await applyForCondolence(db.pool, ruleSets, operator(w), w.unitScope, application(w, 50_000))).id };
  }

  /** enrolMember's work for the worker, as an ADMIN (no override), recorded on DAY. */
  async function enrolInYear(w: Worker) {
    const [member] = await membersByIds(db.pool, [w.memberId], UNSCOPED);
    const [unit] = await unitsByIds(db.pool, [w.unitId], UNSCOPED);
    return enrol(db.pool, ADMIN, ruleSets, {
      member: member!, unit: unit!, scope: UNSCOPED, planYear: YEAR, plan: null, specialDisease: false, enrolledOn: DAY, inService: true,
      override: null, memberCategories: null,
    }, DAY);
  }

  it('enrolMember is refused (CONFLICT on input.planYear), and a roster row on plan_year with the reason, kept with the import\'s errors', async () => {
    const { w, condolenceId } = await applicant(withResidentIdCheck('35052119850312101'));
    await approveCondolence(db.pool, ruleSets, reviewer, UNSCOPED, { condolenceId, note: '情况属实，批准慰问' });

    await expect(enrolInYear(w)).rejects.toMatchObject({ code: 'CONFLICT', field: 'input.planYear', message: `input.planYear: ${REASON}` });
    expect(await enrolmentsOf(w.memberId)).toEqual([]);

    // The same file enrols a worker beside them who was paid nothing.
    const importId = await newImport();
    const result = await importRoster(db.pool, keys, rosterOf(w.creditCode, [['林慰问', withResidentIdCheck('35052119850312101')], ['陈同事', withResidentIdCheck('35052119860413102')]]), { importId, today: DAY });
    expect(result).toMatchObject({ rowsRejected: 1, rowsInserted: 1, enrolmentsCreated: 1 });
    expect(result.errors).toEqual([{ row: 2, field: 'plan_year', reason: REASON }]);
    expect(await rosterImportErrors(db.pool, importId)).toEqual([{ row: 2, field: 'plan_year', reason: REASON }]);
    expect(await enrolmentsOf(w.memberId)).toEqual([]);
  });

  it('an enrolment or a roster import made while an approval commits waits for it and is refused: never both', async () => {
    const ids = [withResidentIdCheck('35052119850312111'), withResidentIdCheck('35052119850312121')];
    const enrolling: ((w: Worker) => Promise<unknown>)[] = [
      (w) => enrolInYear(w),
      async (w) => (await importRoster(db.pool, keys, rosterOf(w.creditCode, [['林慰问', ids[1]!]]), { importId: await newImport(), today: DAY })).errors,
    ];
    for (const [i, work] of enrolling.entries()) {
      const { w, condolenceId } = await applicant(ids[i]!);
      // As approveCondolence decides: the year held exclusively from before the worker is read to the commit.
      const { work: enrolled } = await commitOnceWaitedOn(
        db.pool,
        async (approving) => {
          await lockPlanYearEnrolments(approving as Tx, [YEAR], 'deciding');
          await approving.query(
            `UPDATE condolences SET status = 'APPROVED', approved_fen = requested_fen, decided_by = 'reviewer-chen', decided_role = 'REVIEWER',
                    decision_note = '情况属实', decided_at = now() WHERE id = $1`, [condolenceId],
          );
        },
        () => work(w),
      );
      if (i === 0) await expect(enrolled).rejects.toMatchObject({ code: 'CONFLICT', field: 'input.planYear' });
      else expect(await enrolled).toEqual([{ row: 2, field: 'plan_year', reason: REASON }]);
      expect(await enrolmentsOf(w.memberId)).toEqual([]);
    }
  });
});
