import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { insertBlob } from '../../src/attachments/store.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { encryptBytes } from '../../src/privacy/personalData.ts';
import { commitOnceWaitedOn } from '../support/db.ts';
import { lazyTestGateway, type GraphQLResult } from '../support/gateway.ts';
import { waitFor } from '../support/waitFor.ts';
import { fujianTree, placeUnit } from '../organisations/support.ts';
import { seedSettlement } from '../benefits/seed.ts';
import { ACCEPT, memberOf, pdf, RESUBMIT, RETURN, seedApplicant, stay, submit, SUBMIT, uploadAttachment, type Applicant } from '../applications/support.ts';

/**
 * Applications: who may file, see and decide them, and what input is refused. A member acts only for
 * itself; staff who filed for a member do not also accept; figures, hospital codes and dates are
 * checked before anything is stored; an acceptance happens once.
 */
const started = lazyTestGateway();
const reviewer = (sub = 'reviewer-sun') => ({ role: 'REVIEWER' as const, sub });
const READ = `query($id: ID!) { application(id: $id) { id } node(id: $id) { id } }`;

async function twoMembers() {
  const { db, gw } = await started();
  return { a: await seedApplicant(db.pool, gw.keys), b: await seedApplicant(db.pool, gw.keys) };
}

describe('another member', () => {
  it('cannot read, submit for, resubmit or attach to member B', async () => {
    const { gw } = await started();
    const { a, b } = await twoMembers();
    const ofB = await submit(gw, memberOf(b), { stay: stay() });
    expect(ofB.userErrors).toEqual([]);
    const id = ofB.application.id;

    // Reading: as if it did not exist.
    expect((await gw.query(memberOf(a), READ, { id })).data).toEqual({ application: null, node: null });
    const list = await gw.query(memberOf(a), `{ applications { totalCount edges { node { id } } } }`);
    expect(list.data.applications).toEqual({ totalCount: 0, edges: [] });
    const viaMember = await gw.query(memberOf(a), `query($m: ID!) { node(id: $m) { ... on Member { applications { totalCount } } } }`, { m: toGlobalId('Member', b.memberId) });
    expect(viaMember.data.node).toBeNull();

    // Submitting for B: refused outright, nothing stored.
    const uploadId = await uploadAttachment(gw, memberOf(a), pdf());
    const forB = await gw.query(memberOf(a), SUBMIT, { input: { memberId: toGlobalId('Member', b.memberId), stay: stay({ dischargedOn: '2025-06-02' }), attachments: [{ uploadId, kind: 'SETTLEMENT_SHEET' }] } });
    expect(forB.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(forB.errors?.[0]?.message).toMatch(/a member applies only for themselves/);

    // Resubmitting B's (returned) application: not found for A.
    await gw.query(reviewer(), RETURN, { input: { applicationId: id, round: 1, reason: 'OTHER', note: 'please sign the form' } });
    const resubmitted = await gw.query(memberOf(a), RESUBMIT, { input: { applicationId: id, stay: stay(), attachments: [] } });
    expect(resubmitted.data.resubmitApplication).toEqual({ application: null, userErrors: [{ field: 'input.applicationId', code: 'NOT_FOUND', message: 'Application not found' }] });

    // B's upload cannot be attached by A.
    const uploadOfB = await uploadAttachment(gw, memberOf(b), pdf(321));
    const stolen = await gw.query(memberOf(a), SUBMIT, { input: { stay: stay({ dischargedOn: '2025-06-03' }), attachments: [{ uploadId: uploadOfB, kind: 'SETTLEMENT_SHEET' }] } });
    expect(stolen.data.submitApplication.application).toBeNull();
    expect(stolen.data.submitApplication.userErrors).toEqual([expect.objectContaining({ field: 'input.attachments.0.uploadId' })]);
    const { db } = await started();
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM applications WHERE member_id = $1`, [a.memberId]);
    expect(rows[0].n).toBe(0);
  });
});

describe('staff', () => {
  it('a unit operator cannot accept or return, nor file for or see another unit\'s member', async () => {
    const { gw } = await started();
    const { a, b } = await twoMembers();
    const filed = await submit(gw, memberOf(a), { stay: stay() });
    const ofA = { role: 'UNIT_OPERATOR' as const, sub: 'op-a', unit: a.creditCode };
    const ofB = { role: 'UNIT_OPERATOR' as const, sub: 'op-b', unit: b.creditCode };

    for (const [query, variables] of [
      [ACCEPT, { id: filed.application.id }],
      [RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'OTHER', note: 'not my call to make' } }],
    ] as const) {
      const answer = await gw.query(ofA, query, variables);
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect((await gw.query(ofA, READ, { id: filed.application.id })).data.application).toEqual({ id: filed.application.id });
    expect((await gw.query(ofB, READ, { id: filed.application.id })).data).toEqual({ application: null, node: null });

    const uploadId = await uploadAttachment(gw, ofB, pdf());
    const forA = await gw.query(ofB, SUBMIT, { input: { memberId: toGlobalId('Member', a.memberId), channel: 'MAIL', stay: stay({ dischargedOn: '2025-06-04' }), attachments: [{ uploadId, kind: 'SETTLEMENT_SHEET' }] } });
    expect(forA.data.submitApplication).toEqual({ application: null, userErrors: [{ field: 'input.memberId', code: 'NOT_FOUND', message: 'Member not found' }] });
  });

  it('a reviewer cannot file (it does not shape what it decides on); roles outside the list are refused', async () => {
    const { gw } = await started();
    const { a } = await twoMembers();
    for (const role of ['REVIEWER', 'FINANCE', 'AUDITOR'] as const) {
      const answer = await gw.query({ role, sub: `x-${role}` }, SUBMIT, { input: { memberId: toGlobalId('Member', a.memberId), channel: 'COUNTER', stay: stay(), attachments: [] } });
      expect(answer.errors?.[0]?.extensions?.code, role).toBe('FORBIDDEN');
    }
    const filed = await submit(gw, memberOf(a), { stay: stay() });
    const finance = await gw.query({ role: 'FINANCE', sub: 'f' }, ACCEPT, { id: filed.application.id });
    expect(finance.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const list = await gw.query({ role: 'FINANCE', sub: 'f' }, `{ applications { totalCount } }`);
    expect(list.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('who filed for the member cannot accept it: refused by the service and by the database', async () => {
    const { db, gw } = await started();
    const { a } = await twoMembers();
    const admin = { role: 'ADMIN' as const, sub: 'admin-filer' };
    const filed = await submit(gw, admin, { memberId: toGlobalId('Member', a.memberId), channel: 'COUNTER', stay: stay() });
    expect(filed.userErrors).toEqual([]);
    const own = (await gw.query(admin, ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(own).toEqual({ application: null, userErrors: [{ field: 'input.applicationId', code: 'CONFLICT', message: expect.stringMatching(/admin-filer filed this application for the member and cannot also accept it/) }] });

    const id = localId('id', filed.application.id, 'Application');
    // Every other rule of the row holds (a settlement to point at), so only four eyes can refuse it.
    const settlementId = await seedSettlement(db.pool, a);
    const direct = db.pool.query(`UPDATE applications SET status = 'ACCEPTED', decided_by = 'admin-filer', decided_at = now(), settlement_id = $2 WHERE id = $1`, [id, settlementId]);
    await expect(direct).rejects.toThrow(/applications_four_eyes/);
    await db.pool.query(`DELETE FROM settlements WHERE id = $1`, [settlementId]);

    // A member's own filing is no one's: any reviewer may accept it; so may another person for staff's.
    const other = (await gw.query(reviewer('reviewer-other'), ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(other.userErrors).toEqual([]);
    expect(other.application.status).toBe('ACCEPTED');
  });

  it('who filed for the member cannot accept it once the member resubmits it: refused by the service and by the database', async () => {
    const { db, gw } = await started();
    const { a } = await twoMembers();
    const admin = { role: 'ADMIN' as const, sub: 'admin-entered' };
    const filed = await submit(gw, admin, { memberId: toGlobalId('Member', a.memberId), channel: 'COUNTER', stay: stay() });
    expect(filed.userErrors).toEqual([]);
    // The same ADMIN returns it; the member resubmits the same figures and is now its last submitter.
    const returned = (await gw.query(admin, RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'FIGURES_DIFFER', note: 'please confirm the figures' } })).data.returnApplication;
    expect(returned.userErrors).toEqual([]);
    const resubmitted = (await gw.query(memberOf(a), RESUBMIT, { input: { applicationId: filed.application.id, stay: stay(), attachments: [] } })).data.resubmitApplication;
    expect(resubmitted.userErrors).toEqual([]);
    expect(resubmitted.application.submittedBy).toEqual({ subject: `member-${a.memberId}`, role: 'MEMBER' });

    const own = (await gw.query(admin, ACCEPT, { id: filed.application.id, round: 2 })).data.acceptApplication;
    expect(own).toEqual({ application: null, userErrors: [{ field: 'input.applicationId', code: 'CONFLICT', message: expect.stringMatching(/admin-entered filed this application for the member and cannot also accept it/) }] });
    const id = localId('id', filed.application.id, 'Application');
    const settled = await db.pool.query(`SELECT count(*)::int AS n FROM settlements WHERE source = 'applications' AND setl_id = $1`, [`APP-${id}`]);
    expect(settled.rows[0].n).toBe(0);

    // Directly, too: and who entered it stays recorded even when the same statement tries to clear it.
    const settlementId = await seedSettlement(db.pool, a);
    for (const clearing of ['', `, entered_by = '{}'`]) {
      const direct = db.pool.query(`UPDATE applications SET status = 'ACCEPTED', decided_by = 'admin-entered', decided_at = now(), settlement_id = $2${clearing} WHERE id = $1`, [id, settlementId]);
      await expect(direct, clearing).rejects.toThrow(/applications_four_eyes/);
    }
    await db.pool.query(`DELETE FROM settlements WHERE id = $1`, [settlementId]);

    const other = (await gw.query(reviewer('reviewer-other'), ACCEPT, { id: filed.application.id, round: 2 })).data.acceptApplication;
    expect(other.userErrors).toEqual([]);
    expect(other.application.status).toBe('ACCEPTED');
  });

  it('staff who resubmitted any round for the member cannot accept it, however the member resubmits it after', async () => {
    const { gw } = await started();
    const { a } = await twoMembers();
    const admin = { role: 'ADMIN' as const, sub: 'admin-resubmitter' };
    const filed = await submit(gw, memberOf(a), { stay: stay() });
    const returnIt = (round: number) => gw.query(reviewer(), RETURN, { input: { applicationId: filed.application.id, round, reason: 'FIGURES_DIFFER', note: 'please confirm the figures' } });
    await returnIt(1);
    const byAdmin = (await gw.query(admin, RESUBMIT, { input: { applicationId: filed.application.id, stay: stay(), attachments: [] } })).data.resubmitApplication;
    expect(byAdmin.application.submittedBy).toEqual({ subject: 'admin-resubmitter', role: 'ADMIN' });
    await returnIt(2);
    const byMember = (await gw.query(memberOf(a), RESUBMIT, { input: { applicationId: filed.application.id, stay: stay(), attachments: [] } })).data.resubmitApplication;
    expect(byMember.userErrors).toEqual([]);

    const own = (await gw.query(admin, ACCEPT, { id: filed.application.id, round: 3 })).data.acceptApplication;
    expect(own.userErrors).toEqual([expect.objectContaining({ field: 'input.applicationId', code: 'CONFLICT' })]);
    const other = (await gw.query(reviewer('reviewer-other'), ACCEPT, { id: filed.application.id, round: 3 })).data.acceptApplication;
    expect(other.userErrors).toEqual([]);
  });

  it('a reviewer decides only the round they checked: after the member resubmitted other figures, accepting or returning the old round is refused on input.round, nothing settled', async () => {
    const { db, gw } = await started();
    const { a } = await twoMembers();
    const filed = await submit(gw, memberOf(a), { stay: stay() });
    // Reviewer Sun reads round 1 and checks it against the sheet; meanwhile Li returns it and the member
    // resubmits every figure ten times higher, with no new document (allowed: only figures changed).
    const checked = (await gw.query(reviewer('reviewer-sun'), `query($id: ID!) { application(id: $id) { round amounts { totalFeesFen } } }`, { id: filed.application.id })).data.application;
    expect(checked.round).toBe(1);
    await gw.query(reviewer('reviewer-li'), RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'UNREADABLE_DOCUMENT', note: 'the sheet is unreadable' } });
    const tenfold = stay({}, Object.fromEntries(Object.entries(stay().amounts).map(([k, v]) => [k, v === null ? null : (v as number) * 10])));
    const raised = (await gw.query(memberOf(a), RESUBMIT, { input: { applicationId: filed.application.id, stay: tenfold, attachments: [] } })).data.resubmitApplication;
    expect(raised.userErrors).toEqual([]);

    const stale = (await gw.query(reviewer('reviewer-sun'), ACCEPT, { id: filed.application.id, round: 1 })).data.acceptApplication;
    expect(stale).toEqual({ application: null, userErrors: [{ field: 'input.round', code: 'CONFLICT', message: expect.stringMatching(/resubmitted the application since round 1: it is round 2 now/) }] });
    const staleReturn = (await gw.query(reviewer('reviewer-sun'), RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'OTHER', note: 'please sign the form' } })).data.returnApplication;
    expect(staleReturn.userErrors).toEqual([expect.objectContaining({ field: 'input.round', code: 'CONFLICT' })]);
    const id = localId('id', filed.application.id, 'Application');
    const settled = await db.pool.query(`SELECT count(*)::int AS n FROM settlements WHERE source = 'applications' AND setl_id = $1`, [`APP-${id}`]);
    expect(settled.rows[0].n).toBe(0);

    // Read again, the new round is checked and accepted.
    const accepted = (await gw.query(reviewer('reviewer-sun'), ACCEPT, { id: filed.application.id, round: 2 })).data.acceptApplication;
    expect(accepted.userErrors).toEqual([]);
  });

  it('accepting twice makes one settlement, one notification, one audit entry', async () => {
    const { db, gw } = await started();
    const { a } = await twoMembers();
    const filed = await submit(gw, memberOf(a), { stay: stay() });
    const answers = await Promise.all([reviewer('r1'), reviewer('r2'), reviewer('r1')].map((who) => gw.query(who, ACCEPT, { id: filed.application.id })));
    for (const answer of answers) expect(answer.data.acceptApplication.userErrors).toEqual([]);
    const settlementIds = new Set(answers.map((x) => x.data.acceptApplication.application.settlement.id));
    expect(settlementIds.size).toBe(1);
    const id = localId('id', filed.application.id, 'Application');
    const counts = await db.pool.query(
      `SELECT (SELECT count(*)::int FROM settlements WHERE source = 'applications' AND setl_id = $2) AS settlements,
              (SELECT count(*)::int FROM notifications WHERE kind = 'APPLICATION_ACCEPTED' AND subject_id = $1) AS notifications,
              (SELECT count(*)::int FROM audit_log WHERE action = 'application.accept' AND target_id = $3) AS audits`,
      [id, `APP-${id}`, String(id)],
    );
    expect(counts.rows[0]).toEqual({ settlements: 1, notifications: 1, audits: 1 });
  });
});

describe('filings for one stay at once', () => {
  /**
   * The member submits `s` and that submission is held once it stored its application (a transaction
   * held open here stores its document's blob first) while `second` runs as far as it can; then the
   * submission commits. Answers both.
   */
  async function besideHeldSubmission(a: Applicant, s: ReturnType<typeof stay>, second: () => Promise<GraphQLResult>) {
    const { db, gw } = await started();
    const document = pdf(4000 + a.memberId);
    const uploadId = await uploadAttachment(gw, memberOf(a), document);
    let holder = 0;
    let secondAnswer!: Promise<GraphQLResult>;
    const { work: first } = await commitOnceWaitedOn(
      db.pool,
      async (held) => {
        holder = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await insertBlob(held as Tx, createHash('sha256').update(document).digest(), document.length, encryptBytes(gw.keys, document));
      },
      () => gw.query(memberOf(a), SUBMIT, { input: { stay: s, attachments: [{ uploadId, kind: 'SETTLEMENT_SHEET' }] } }),
      async () => {
        let settled = false;
        secondAnswer = second().finally(() => { settled = true; });
        await waitFor('the second filing to wait for the held submission, or to end', async () => settled
          || (await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity w, unnest(pg_blocking_pids(w.pid)) AS b(pid) WHERE $1 = ANY(pg_blocking_pids(b.pid))`, [holder],
          )).rows[0]!.n > 0);
      },
    );
    return { first: (await first).data.submitApplication, second: await secondAnswer };
  }

  it('a second submission while the first is uncommitted waits for it and is refused (CONFLICT on input.stay): one application', async () => {
    const { db, gw } = await started();
    const { a } = await twoMembers();
    const s = stay({ admittedOn: '2025-04-14', dischargedOn: '2025-04-18' });
    const clerk = { role: 'ADMIN' as const, sub: 'counter-clerk' };
    const secondUpload = await uploadAttachment(gw, clerk, pdf(3999));
    const { first, second } = await besideHeldSubmission(a, s, () => gw.query(clerk, SUBMIT, {
      input: { memberId: toGlobalId('Member', a.memberId), channel: 'COUNTER', stay: s, attachments: [{ uploadId: secondUpload, kind: 'SETTLEMENT_SHEET' }] },
    }));
    expect(first.userErrors).toEqual([]);
    const firstId = localId('id', first.application.id, 'Application');
    expect(second.data.submitApplication).toEqual({ application: null, userErrors: [{ field: 'input.stay', code: 'CONFLICT', message: expect.stringContaining(`application ${firstId} is already for this stay`) }] });
    const { rows } = await db.pool.query(`SELECT id FROM applications WHERE member_id = $1`, [a.memberId]);
    expect(rows).toEqual([{ id: firstId }]);
  });

  it('a resubmission for the stay while a submission of it is uncommitted waits for it and is refused (CONFLICT on input.stay)', async () => {
    const { db, gw } = await started();
    const { a } = await twoMembers();
    const s = stay({ admittedOn: '2025-04-21', dischargedOn: '2025-04-25' });
    const returned = await submit(gw, memberOf(a), { stay: stay({ admittedOn: '2025-04-21', dischargedOn: '2025-04-24' }) });
    await gw.query(reviewer(), RETURN, { input: { applicationId: returned.application.id, round: 1, reason: 'DATES_DIFFER', note: 'the discharge summary says 2025-04-25' } });
    const { first, second } = await besideHeldSubmission(a, s, () => gw.query(memberOf(a), RESUBMIT, { input: { applicationId: returned.application.id, stay: s, attachments: [] } }));
    expect(first.userErrors).toEqual([]);
    expect(second.data.resubmitApplication).toEqual({
      application: null, userErrors: [{ field: 'input.stay', code: 'CONFLICT', message: expect.stringContaining(`application ${localId('id', first.application.id, 'Application')} is already for this stay`) }],
    });
    const { rows } = await db.pool.query(`SELECT status, round FROM applications WHERE id = $1`, [localId('id', returned.application.id, 'Application')]);
    expect(rows).toEqual([{ status: 'RETURNED', round: 1 }]);
  });
});

describe('staff racing a move', () => {
  const operatorOf = (m: { creditCode: string }) => ({ role: 'UNIT_OPERATOR' as const, sub: `op-${m.creditCode}`, unit: m.creditCode });

  it('filing for a member ADMIN moves to another unit: the old unit\'s operator is refused once the move commits (NOT_FOUND), nothing filed or attached', async () => {
    const { db, gw } = await started();
    const { a, b } = await twoMembers();
    const uploadId = await uploadAttachment(gw, operatorOf(a), pdf());
    // ADMIN's move of A's member to unit B commits while unit A's operator's filing waits: for the
    // member, or (checked before the move without a lock) at the insert, whose foreign key check waits
    // for the member's row, held FOR UPDATE here as well.
    const { work: filing } = await commitOnceWaitedOn(
      db.pool,
      async (moving) => {
        await moving.query('UPDATE members SET unit_id = $2 WHERE id = $1', [a.memberId, b.unitId]);
        await moving.query('SELECT 1 FROM members WHERE id = $1 FOR UPDATE', [a.memberId]);
      },
      () => gw.query(operatorOf(a), SUBMIT, { input: { memberId: toGlobalId('Member', a.memberId), channel: 'MAIL', stay: stay(), attachments: [{ uploadId, kind: 'SETTLEMENT_SHEET' }] } }),
    );
    const { data } = await filing;
    expect(data.submitApplication).toEqual({ application: null, userErrors: [expect.objectContaining({ field: 'input.memberId', code: 'NOT_FOUND' })] });
    const { rows } = await db.pool.query(
      `SELECT (SELECT count(*)::int FROM applications WHERE member_id = $1) AS applications, (SELECT count(*)::int FROM attachments WHERE member_id = $1) AS attachments`,
      [a.memberId],
    );
    expect(rows[0]).toEqual({ applications: 0, attachments: 0 });
  });

  it('resubmitting for a member ADMIN moves to another unit: the old unit\'s operator is refused once the move commits (NOT_FOUND), the application unchanged', async () => {
    const { db, gw } = await started();
    const { a, b } = await twoMembers();
    const filed = await submit(gw, memberOf(a), { stay: stay() });
    await gw.query(reviewer(), RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'OTHER', note: 'please sign the form' } });
    const id = localId('id', filed.application.id, 'Application');
    const uploadId = await uploadAttachment(gw, operatorOf(a), pdf(500));
    // The application is held too (another request on it, in the same transaction here): the operator's
    // request waits for it, and the old check, a subquery of members under FOR UPDATE, ran again after
    // the wait on the member as it was before the move.
    const { work: resubmitting } = await commitOnceWaitedOn(
      db.pool,
      async (moving) => {
        await moving.query('UPDATE members SET unit_id = $2 WHERE id = $1', [a.memberId, b.unitId]);
        await moving.query('SELECT 1 FROM applications WHERE id = $1 FOR UPDATE', [id]);
      },
      () => gw.query(operatorOf(a), RESUBMIT, { input: { applicationId: filed.application.id, stay: stay(), attachments: [{ uploadId, kind: 'DISCHARGE_SUMMARY' }] } }),
    );
    const { data } = await resubmitting;
    expect(data.resubmitApplication).toEqual({ application: null, userErrors: [expect.objectContaining({ field: 'input.applicationId', code: 'NOT_FOUND' })] });
    const { rows } = await db.pool.query(
      `SELECT status, round, (SELECT count(*)::int FROM attachments WHERE member_id = $2) AS attachments FROM applications WHERE id = $1`,
      [id, a.memberId],
    );
    expect(rows[0]).toEqual({ status: 'RETURNED', round: 1, attachments: 1 });
  });

  it('deciding on a member whose unit ADMIN moves to another organisation: that organisation\'s reviewer is refused once the move commits (NOT_FOUND), nothing decided', async () => {
    const { db, gw } = await started();
    await fujianTree(gw);
    const { a } = await twoMembers();
    await placeUnit(db.pool, a.unitId, 'QZ');
    const filed = await submit(gw, memberOf(a), { stay: stay() });
    const id = localId('id', filed.application.id, 'Application');
    const ofQz = { role: 'REVIEWER' as const, org: 'QZ', sub: 'qz-reviewer' };
    // The unit moves from QZ to XM while QZ's reviewer waits for the application (held in the same transaction here).
    for (const [what, decide] of [
      ['acceptApplication', () => gw.query(ofQz, ACCEPT, { id: filed.application.id })],
      ['returnApplication', () => gw.query(ofQz, RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'OTHER', note: 'please sign the form' } })],
    ] as const) {
      const { work: deciding } = await commitOnceWaitedOn(
        db.pool,
        async (moving) => {
          await placeUnit(moving, a.unitId, 'XM');
          await moving.query('SELECT 1 FROM applications WHERE id = $1 FOR UPDATE', [id]);
        },
        decide,
      );
      const { data } = await deciding;
      expect(Object.values(data)[0], what).toEqual({ application: null, userErrors: [expect.objectContaining({ field: 'input.applicationId', code: 'NOT_FOUND' })] });
      await placeUnit(db.pool, a.unitId, 'QZ');
    }
    const { rows } = await db.pool.query(`SELECT status, decided_by AS "decidedBy", settlement_id AS "settlementId" FROM applications WHERE id = $1`, [id]);
    expect(rows[0]).toEqual({ status: 'SUBMITTED', decidedBy: null, settlementId: null });
  });
});

describe('forged or absurd input', () => {
  async function refused(input: Record<string, unknown>) {
    const { gw } = await started();
    const { a } = await twoMembers();
    const answer = await submit(gw, memberOf(a), input);
    expect(answer.application).toBeNull();
    return answer.userErrors.map((e: { field: string; code: string }) => `${e.code} ${e.field}`).sort();
  }

  it('refuses negative, absurd and inconsistent amounts, naming each field', async () => {
    expect(await refused({ stay: stay({}, { totalFeesFen: -5, cashPaidFen: -1 }) })).toEqual(['INVALID input.stay.amounts.cashPaidFen', 'INVALID input.stay.amounts.totalFeesFen']);
    expect(await refused({ stay: stay({}, { fundsTotalFen: 5_000_000_000, totalFeesFen: 5_001_234_567 }) })).toEqual(['INVALID input.stay.amounts.fundsTotalFen', 'INVALID input.stay.amounts.totalFeesFen']);
    // The parts do not add up to the total / the burden.
    expect(await refused({ stay: stay({}, { totalFeesFen: 9_999_999 }) })).toEqual(['INVALID input.stay.amounts.totalFeesFen']);
    expect(await refused({ stay: stay({}, { cashPaidFen: 1 }) })).toEqual(['INVALID input.stay.amounts.personBurdenFen']);
    expect(await refused({ stay: stay({}, { fullyOwnPayFen: 2_000_000 }) })).toEqual(['INVALID input.stay.amounts.fullyOwnPayFen']);
    expect(await refused({ stay: stay({}, { totalFeesFen: 0, fundsTotalFen: 0, personBurdenFen: 0, cashPaidFen: 0 }) })).toEqual(['INVALID input.stay.amounts.totalFeesFen']);
  });

  it('refuses forged hospital codes, impossible dates and bad diagnoses', async () => {
    expect(await refused({ stay: stay({ hospitalCode: 'X123' }) })).toEqual(['INVALID input.stay.hospitalCode']);
    expect(await refused({ stay: stay({ hospitalCode: 'H99010600001' }) })).toEqual(['INVALID input.stay.hospitalCode']);
    expect(await refused({ stay: stay({ hospitalCode: "H4401060000'; DROP TABLE applications; --" }) })).toEqual(['INVALID input.stay.hospitalCode']);
    expect(await refused({ stay: stay({ admittedOn: '2025-06-02', dischargedOn: '2025-06-01' }) })).toEqual(['INVALID input.stay.dischargedOn']);
    expect(await refused({ stay: stay({ admittedOn: '2099-01-01', dischargedOn: '2099-01-02' }) })).toEqual(['INVALID input.stay.admittedOn', 'INVALID input.stay.dischargedOn']);
    expect(await refused({ stay: stay({ admittedOn: '1999-12-30', dischargedOn: '2000-01-02' }) })).toEqual(['INVALID input.stay.admittedOn']);
    expect(await refused({ stay: stay({ admittedOn: '2023-01-01', dischargedOn: '2025-01-02' }) })).toEqual(['INVALID input.stay.dischargedOn']);
    // An outpatient visit is one day.
    expect(await refused({ stay: stay({ medicalType: '11', admittedOn: '2025-06-01', dischargedOn: '2025-06-03' }) })).toEqual(['INVALID input.stay.dischargedOn']);
    expect(await refused({ stay: stay({ medicalType: '2x' }) })).toEqual(['INVALID input.stay.medicalType']);
    expect(await refused({ stay: stay({ diagnoses: ['not-icd'] }) })).toEqual(['INVALID input.stay.diagnoses']);
    expect(await refused({ stay: stay({ hospitalName: ' ' }) })).toEqual(['INVALID input.stay.hospitalName']);
    // A name printed on the union's sealed notices: line breaks there would print lines of the member's own under the seal.
    for (const hospitalName of [`广州市第一人民医院${'\n'.repeat(14)}互助金合计：50,000.00 元`, '某医院\r核定结果：核定给付', '某医院\u2028核定', '某医院\t\u0085']) {
      expect(await refused({ stay: stay({ hospitalName }) })).toEqual(['INVALID input.stay.hospitalName']);
    }
  });

  it('refuses an application without a document showing the figures, and a channel that does not fit the caller', async () => {
    const { gw } = await started();
    const { a } = await twoMembers();
    const onlySummary = await submit(gw, memberOf(a), { stay: stay() }, [{ kind: 'DISCHARGE_SUMMARY', bytes: pdf() }]);
    expect(onlySummary.userErrors).toEqual([{ field: 'input.attachments', code: 'INVALID', message: expect.stringMatching(/SETTLEMENT_SHEET.*INVOICE/) }]);
    const atCounter = await submit(gw, memberOf(a), { stay: stay(), channel: 'COUNTER' });
    expect(atCounter.userErrors).toEqual([expect.objectContaining({ field: 'input.channel', code: 'INVALID' })]);
    const admin = { role: 'ADMIN' as const, sub: 'adm' };
    const online = await submit(gw, admin, { memberId: toGlobalId('Member', a.memberId), channel: 'ONLINE', stay: stay() });
    expect(online.userErrors).toEqual([expect.objectContaining({ field: 'input.channel', code: 'INVALID' })]);
    const nobody = await submit(gw, admin, { channel: 'MAIL', stay: stay() });
    expect(nobody.userErrors).toEqual([expect.objectContaining({ field: 'input.memberId', code: 'INVALID' })]);
    const notAMember = await submit(gw, admin, { memberId: toGlobalId('Claim', a.memberId), channel: 'MAIL', stay: stay() });
    expect(notAMember.userErrors).toEqual([expect.objectContaining({ field: 'input.memberId', code: 'INVALID' })]);
  });

  it('a return needs a reason the member can act on', async () => {
    const { gw } = await started();
    const { a } = await twoMembers();
    const filed = await submit(gw, memberOf(a), { stay: stay() });
    const short = (await gw.query(reviewer(), RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'OTHER', note: ' no ' } })).data.returnApplication;
    expect(short.userErrors).toEqual([expect.objectContaining({ field: 'input.note', code: 'INVALID' })]);
    const long = (await gw.query(reviewer(), RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'OTHER', note: 'x'.repeat(501) } })).data.returnApplication;
    expect(long.userErrors).toEqual([expect.objectContaining({ field: 'input.note', code: 'INVALID' })]);
    const bad = await gw.query(reviewer(), RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'BECAUSE', note: 'valid note here' } });
    expect(bad.errors).toBeDefined();
  });
});
