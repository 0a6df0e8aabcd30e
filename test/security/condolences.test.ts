import { describe, expect, it } from 'vitest';
import { commitOnceWaitedOn } from '../support/db.ts';
import { lockPlanYearEnrolments } from '../../src/members/store/eligibility.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { application, CAPS, governWithCondolence, worker, YEAR, type Worker } from '../condolences/support.ts';
import { fujianTree, placeUnit } from '../organisations/support.ts';

/**
 * Condolence payments as an attacker tries them: another unit's operator or another
 * organisation's reviewer, roles that may not apply or decide, the applicant approving its own
 * application through the API and straight in the database, forged IDs and amounts.
 */
const started = lazyTestGateway();

const FIELDS = 'id status requestedFen approvedFen unit { id } member { id } appliedBy { subject } viewerCanDecide viewerCanWithdraw';
const APPLY = `mutation($input: ApplyForCondolenceInput!) { applyForCondolence(input: $input) { condolence { ${FIELDS} } userErrors { field code message } } }`;
const APPROVE = `mutation($input: ApproveCondolenceInput!) { approveCondolence(input: $input) { condolence { ${FIELDS} } userErrors { field code message } } }`;
const REJECT = `mutation($input: RejectCondolenceInput!) { rejectCondolence(input: $input) { condolence { id status } userErrors { field code message } } }`;
const LIST = `query { condolences(first: 50) { totalCount edges { node { id } } } }`;
const NODE = `query($id: ID!) { node(id: $id) { ... on Condolence { id status } } }`;
const OF_MEMBER = `query($id: ID!) { node(id: $id) { ... on Member { condolences { id } } } }`;

const operatorOf = (w: Worker) => ({ role: 'UNIT_OPERATOR' as const, unit: w.creditCode, sub: `op-${w.unitId}` });
const memberOf = (w: Worker) => ({ role: 'MEMBER' as const, member: toGlobalId('Member', w.memberId), sub: `member-${w.memberId}` });
const input = (w: Worker, amountFen = 10_000) => ({ ...application(w, amountFen), memberId: toGlobalId('Member', w.memberId) });

let governed: Promise<unknown> | undefined;
async function setup() {
  const { db, gw } = await started();
  governed ??= governWithCondolence(db.pool, CAPS);
  await governed;
  return { db, gw };
}

async function applied(w: Worker) {
  const { gw } = await setup();
  const answer = await gw.query(operatorOf(w), APPLY, { input: input(w) });
  expect(answer.data.applyForCondolence.userErrors).toEqual([]);
  return answer.data.applyForCondolence.condolence as { id: string; status: string };
}

describe('applying', () => {
  it('another unit\'s operator cannot apply for the worker, nor see the application: NOT_FOUND, as for no worker', async () => {
    const { db, gw } = await setup();
    const [a, b] = [await worker(db.pool), await worker(db.pool)];
    const foreign = await gw.query(operatorOf(b), APPLY, { input: input(a) });
    expect(foreign.data.applyForCondolence).toEqual({ condolence: null, userErrors: [expect.objectContaining({ field: 'input.memberId', code: 'NOT_FOUND' })] });
    const own = await applied(a);
    expect((await gw.query(operatorOf(b), NODE, { id: own.id })).data.node).toBeNull();
    expect((await gw.query(operatorOf(b), LIST)).data.condolences.edges.map((e: { node: { id: string } }) => e.node.id)).not.toContain(own.id);
    expect((await gw.query(operatorOf(b), OF_MEMBER, { id: toGlobalId('Member', a.memberId) })).data.node).toBeNull();
    // The worker and its own unit's operator see it.
    expect((await gw.query(memberOf(a), NODE, { id: own.id })).data.node).toEqual({ id: own.id, status: 'PENDING' });
    expect((await gw.query(operatorOf(a), LIST)).data.condolences.edges).toEqual([{ node: { id: own.id } }]);
  });

  it('a reviewer of another organisation cannot apply for the worker, see or decide the application', async () => {
    const { db, gw } = await setup();
    await db.pool.query(
      `INSERT INTO organisations (code, name, level, parent_id, created_by) SELECT 'JJ-SEC', '晋江市总工会', 'COUNTY', id, 'test' FROM organisations WHERE code = 'UNION'
       ON CONFLICT (code) DO NOTHING`,
    );
    const w = await worker(db.pool); // its unit belongs to the hub's own union, above JJ-SEC
    const outsider = { role: 'REVIEWER' as const, org: 'JJ-SEC', sub: 'reviewer-jj' };
    const refused = await gw.query(outsider, APPLY, { input: input(w) });
    expect(refused.data.applyForCondolence.userErrors).toEqual([expect.objectContaining({ field: 'input.memberId', code: 'NOT_FOUND' })]);
    const own = await applied(w);
    expect((await gw.query(outsider, NODE, { id: own.id })).data.node).toBeNull();
    expect((await gw.query(outsider, LIST)).data.condolences.totalCount).toBe(0);
    const approve = await gw.query(outsider, APPROVE, { input: { condolenceId: own.id, note: 'looks fine' } });
    expect(approve.data.approveCondolence.userErrors).toEqual([expect.objectContaining({ field: 'input.condolenceId', code: 'NOT_FOUND' })]);
  });

  it('is refused to a MEMBER and to roles that do not apply (FORBIDDEN), and nothing is written', async () => {
    const { db, gw } = await setup();
    const w = await worker(db.pool);
    for (const who of [memberOf(w), { role: 'FINANCE' as const }, { role: 'AUDITOR' as const }, { role: 'SERVICE' as const }]) {
      const answer = await gw.query(who, APPLY, { input: input(w) });
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM condolences WHERE member_id = $1`, [w.memberId]);
    expect(rows[0].n).toBe(0);
  });

  it('refuses forged input: an ID of another type, an amount of 0, over the cap, a date outside the plan year, naming each field', async () => {
    const { db, gw } = await setup();
    const w = await worker(db.pool);
    const asUnit = await gw.query(operatorOf(w), APPLY, { input: { ...input(w), memberId: toGlobalId('Unit', w.unitId) } });
    expect(asUnit.data.applyForCondolence.userErrors).toEqual([expect.objectContaining({ field: 'input.memberId', message: expect.stringContaining('not a Member ID') })]);
    const bad = await gw.query(operatorOf(w), APPLY, { input: { ...input(w, 0), occurredOn: '2024-12-31' } });
    expect(bad.data.applyForCondolence.userErrors.map((e: { field: string }) => e.field).sort()).toEqual(['input.amountFen', 'input.occurredOn']);
    const over = await gw.query(operatorOf(w), APPLY, { input: input(w, CAPS.perCaseCapFen + 1) });
    expect(over.data.applyForCondolence.userErrors).toEqual([expect.objectContaining({ field: 'input.amountFen', code: 'INVALID' })]);
    // Two characters beyond the BMP are four UTF-16 units but two characters to the database's CHECK.
    const short = await gw.query(operatorOf(w), APPLY, { input: { ...input(w), description: '𠮷𠮷' } });
    expect(short.errors).toBeUndefined();
    expect(short.data.applyForCondolence.userErrors).toEqual([expect.objectContaining({ field: 'input.description', code: 'INVALID' })]);
    const own = await applied(w);
    const note = await gw.query({ role: 'REVIEWER', sub: 'reviewer-chen' }, APPROVE, { input: { condolenceId: own.id, note: '𠮷𠮷 ' } });
    expect(note.errors).toBeUndefined();
    expect(note.data.approveCondolence.userErrors).toEqual([expect.objectContaining({ field: 'input.note', code: 'INVALID' })]);
  });

  it('the unit is copied from the roster: a row written with another unit keeps the worker\'s own', async () => {
    const { db } = await setup();
    const [a, b] = [await worker(db.pool), await worker(db.pool)];
    const { rows } = await db.pool.query(
      `INSERT INTO condolences (member_id, unit_id, plan_year, reason, description, occurred_on, requested_fen, funder_id, rule_set_id, rule_set_version, applied_by, applied_role)
       SELECT $1, $2, 2025, 'HARDSHIP', 'forged unit', '2025-03-01', 100, id, 'condolence-test', 1, 'x', 'ADMIN' FROM funders WHERE code = 'UNION' RETURNING unit_id AS "unitId"`,
      [a.memberId, b.unitId],
    );
    expect(rows[0].unitId).toBe(a.unitId);
  });

  it('a worker ADMIN moves to another unit is out of the old unit\'s reach the moment the move commits: no application filed under the new unit', async () => {
    const { db, gw } = await setup();
    const [a, b] = [await worker(db.pool), await worker(db.pool)];
    // Unit A's operator applies while ADMIN's move of the worker to unit B is being committed.
    const { work: applying } = await commitOnceWaitedOn(
      db.pool,
      (moving) => moving.query('UPDATE members SET unit_id = $2 WHERE id = $1', [a.memberId, b.unitId]),
      () => gw.query(operatorOf(a), APPLY, { input: input(a) }),
    );
    const { data } = await applying;
    expect(data.applyForCondolence).toEqual({ condolence: null, userErrors: [expect.objectContaining({ field: 'input.memberId', code: 'NOT_FOUND' })] });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM condolences WHERE member_id = $1`, [a.memberId]);
    expect(rows[0].n).toBe(0);
  });
});

describe('deciding', () => {
  it('is refused to every role but REVIEWER and ADMIN', async () => {
    const { db, gw } = await setup();
    const w = await worker(db.pool);
    const own = await applied(w);
    for (const who of [operatorOf(w), memberOf(w), { role: 'FINANCE' as const }, { role: 'AUDITOR' as const }, { role: 'SERVICE' as const }]) {
      expect((await gw.query(who, APPROVE, { input: { condolenceId: own.id, note: 'approve it' } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await gw.query(who, REJECT, { input: { condolenceId: own.id, reason: 'reject it' } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('the applicant cannot approve its own application: refused by the API, and by the database when the service is bypassed', async () => {
    const { db, gw } = await setup();
    const w = await worker(db.pool);
    const reviewer = { role: 'REVIEWER' as const, sub: 'reviewer-wu' };
    const answer = await gw.query(reviewer, APPLY, { input: input(w) });
    const own = answer.data.applyForCondolence.condolence;
    expect(own).toMatchObject({ status: 'PENDING', appliedBy: { subject: 'reviewer-wu' }, viewerCanDecide: false, viewerCanWithdraw: true });
    const self = await gw.query(reviewer, APPROVE, { input: { condolenceId: own.id, note: 'my own case' } });
    expect(self.data.approveCondolence.userErrors).toEqual([expect.objectContaining({ field: 'input.condolenceId', code: 'CONFLICT', message: expect.stringContaining('four eyes') })]);
    const id = Number((await db.pool.query(`SELECT id FROM condolences WHERE applied_by = 'reviewer-wu' AND member_id = $1`, [w.memberId])).rows[0].id);
    await expect(db.pool.query(
      `UPDATE condolences SET status = 'APPROVED', approved_fen = requested_fen, decided_by = applied_by, decided_role = 'REVIEWER', decision_note = 'my own case', decided_at = now() WHERE id = $1`,
      [id],
    )).rejects.toThrow(/condolences_four_eyes/);
    // Another reviewer may, and sees that it may.
    const other = { role: 'REVIEWER' as const, sub: 'reviewer-xu' };
    expect((await gw.query(other, NODE.replace('status', 'status viewerCanDecide'), { id: own.id })).data.node).toMatchObject({ viewerCanDecide: true });
    const approved = await gw.query(other, APPROVE, { input: { condolenceId: own.id, note: '情况属实' } });
    expect(approved.data.approveCondolence.condolence).toMatchObject({ status: 'APPROVED', approvedFen: 10_000, viewerCanDecide: false });
  });

  it('replayed: two approvals of one application, exactly one is applied', async () => {
    const { db, gw } = await setup();
    const w = await worker(db.pool);
    const own = await applied(w);
    const answers = await Promise.all(['r-1', 'r-2', 'r-3'].map((sub) => gw.query({ role: 'REVIEWER', sub }, APPROVE, { input: { condolenceId: own.id, note: '情况属实' } })));
    expect(answers.filter((a) => a.data.approveCondolence.condolence).length).toBe(1);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'condolence.approve' AND target_id = $1`, [String(localId('id', own.id, 'Condolence'))]);
    expect(rows[0].n).toBe(1);
  });

  it('approving for a worker whose unit ADMIN moves to another organisation: that organisation\'s reviewer is refused once the move commits (NOT_FOUND), nothing approved', async () => {
    const { db, gw } = await setup();
    await fujianTree(gw);
    const w = await worker(db.pool);
    const own = await applied(w);
    const condolenceId = localId('id', own.id, 'Condolence');
    await placeUnit(db.pool, w.unitId, 'QZ');
    // The unit moves from QZ to XM while QZ's reviewer waits for the condolence (held in the same
    // transaction here): the old check, a subquery of members and units under FOR UPDATE, ran again
    // after the wait on the unit as it was before the move.
    const { work: approving } = await commitOnceWaitedOn(
      db.pool,
      async (moving) => {
        await placeUnit(moving, w.unitId, 'XM');
        await moving.query('SELECT 1 FROM condolences WHERE id = $1 FOR UPDATE', [condolenceId]);
      },
      () => gw.query({ role: 'REVIEWER', org: 'QZ', sub: 'qz-reviewer' }, APPROVE, { input: { condolenceId: own.id, note: '情况属实' } }),
    );
    const { data } = await approving;
    expect(data.approveCondolence).toEqual({ condolence: null, userErrors: [expect.objectContaining({ field: 'input.condolenceId', code: 'NOT_FOUND' })] });
    const { rows } = await db.pool.query(
      `SELECT k.status, k.approved_fen AS "approvedFen", (SELECT count(*)::int FROM audit_log WHERE action = 'condolence.approve' AND target_id = $2) AS audits
         FROM condolences k WHERE k.id = $1`, [condolenceId, String(condolenceId)]);
    expect(rows[0]).toEqual({ status: 'PENDING', approvedFen: null, audits: 0 });
  });

  it('approving while the worker is being enrolled in the plan year: the approval waits for the enrolment and is refused, never both', async () => {
    const { db, gw } = await setup();
    const w = await worker(db.pool);
    const own = await applied(w);
    // An enrolment of the year (a roster import, enrolMember) holds the year shared until it commits.
    const { work: approving } = await commitOnceWaitedOn(
      db.pool,
      async (enrolling) => {
        await lockPlanYearEnrolments(enrolling as Tx, [YEAR], 'enrolling');
        await enrolling.query(
          `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
           VALUES ($1, $2, $3, 'PUBLIC', false, $4, $4)`, [w.memberId, w.unitId, YEAR, `${YEAR}-06-01`]);
      },
      () => gw.query({ role: 'REVIEWER', sub: 'reviewer-chen' }, APPROVE, { input: { condolenceId: own.id, note: '情况属实' } }),
    );
    const { data } = await approving;
    expect(data.approveCondolence).toEqual({
      condolence: null, userErrors: [expect.objectContaining({ field: 'input.condolenceId', code: 'CONFLICT', message: expect.stringContaining('enrolled') })],
    });
  });

  it('approving after the worker came under other rules (another organisation\'s, with other caps and another fund): refused, to be applied for again', async () => {
    const { db, gw } = await setup();
    const w = await worker(db.pool);
    const own = await applied(w);
    // The rules governing the worker's plan year change since the application (as a move to a unit
    // of another organisation does): a bigger annual cap would let the old fund pay past its own.
    await governWithCondolence(db.pool, { ...CAPS, annualCapFenPerWorker: 10 * CAPS.annualCapFenPerWorker }, 'condolence-other');
    try {
      const answer = await gw.query({ role: 'REVIEWER', sub: 'reviewer-chen' }, APPROVE, { input: { condolenceId: own.id, note: '情况属实' } });
      expect(answer.data.approveCondolence).toEqual({
        condolence: null, userErrors: [expect.objectContaining({ field: 'input.condolenceId', code: 'CONFLICT', message: expect.stringContaining('condolence-other') })],
      });
      const { rows } = await db.pool.query(`SELECT status FROM condolences WHERE id = $1`, [localId('id', own.id, 'Condolence')]);
      expect(rows[0].status).toBe('PENDING');
    } finally {
      await db.pool.query(`UPDATE plan_year_rule_sets SET rule_set_id = 'condolence-test' WHERE plan_year = $1`, [YEAR]);
    }
  });
});
