import type { Job } from 'bullmq';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitOnceWaitedOn, freshDatabase, lockWaits, type TestDatabase } from '../support/db.ts';
import { waitFor } from '../support/waitFor.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { lookupHash, maskBankCard } from '../../src/privacy/personalData.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { fujianTree, placeUnit } from '../organisations/support.ts';
import { verifyAuditChain } from '../../src/audit/audit.ts';
import { log } from '../../src/log.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { withCreditCodeCheck, withLuhnCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { rosterImportProcessor } from '../../jobs/members.ts';
import type { RosterImportJob } from '../../src/members/queue.ts';

/**
 * Issue 13, members: no unit operator (nor any import) takes over another unit's member, every
 * change to a member is recorded masked and audited, a replaced bank card waits for a cooling-off
 * or a second person, and a member reads only their own records.
 */

let db: TestDatabase;
let gw: TestGateway;
const UNIT_A = { code: withCreditCodeCheck('91350500MA0000013'), name: '晋江某鞋业有限公司' };
const UNIT_B = { code: withCreditCodeCheck('12350500MB0000013'), name: '泉州市某医院' };
const BANK = '102397000011';
const OTHER_BANK = '104397000010';
const card = (n: number) => withLuhnCheck(`62220213${String(n).padStart(10, '0')}`);
const idNumber = (n: number) => withResidentIdCheck(`35052119850312${String(n).padStart(3, '0')}`);

// The imports' own today is in this plan year: an empty enrolled_on (that day) falls in it.
const YEAR = Number(chinaToday().slice(0, 4));
const ADMIN = { role: 'ADMIN', sub: 'admin-zhang' } as const;
const OTHER_ADMIN = { role: 'ADMIN', sub: 'admin-chen' } as const;
const FINANCE = { role: 'FINANCE', sub: 'finance-wang' } as const;
const AUDITOR = { role: 'AUDITOR', sub: 'auditor-lin' } as const;
const OPERATOR_A = { role: 'UNIT_OPERATOR', unit: UNIT_A.code, sub: 'operator-a' } as const;
const OPERATOR_B = { role: 'UNIT_OPERATOR', unit: UNIT_B.code, sub: 'operator-b' } as const;
let unitA: string;
let unitB: string;

const MEMBER_FIELDS = 'id name phone unit { creditCode } bankAccount { cardNumberMasked bankCode changedAt changedBy confirmedAt confirmedBy payableFrom }';
const USER_ERRORS = 'userErrors { field code message }';
const CREATE = `mutation($input: CreateMemberInput!) { createMember(input: $input) { member { ${MEMBER_FIELDS} } ${USER_ERRORS} } }`;
const UPDATE = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { ${MEMBER_FIELDS} } ${USER_ERRORS} } }`;
const MOVE = `mutation($input: MoveMemberInput!) { moveMember(input: $input) { member { ${MEMBER_FIELDS} } ${USER_ERRORS} } }`;
const CONFIRM = `mutation($input: ConfirmBankCardChangeInput!) { confirmBankCardChange(input: $input) { member { ${MEMBER_FIELDS} } ${USER_ERRORS} } }`;
const IMPORT = `mutation($input: ImportRosterInput!) { importRoster(input: $input) { rosterImport { id } ${USER_ERRORS} } }`;
const IMPORT_STATUS = `query($id: ID!) { rosterImport(id: $id) { status rowsRejected rowsUpdated enrolmentsCreated errors { row field reason } } }`;
const CREATE_UNIT = `mutation($c: String!, $n: String!) { createUnit(input: { creditCode: $c, name: $n, planType: PRIVATE }) { unit { id } } }`;
const CHANGES = `query($id: ID!) { member(id: $id) { changes { edges { node { field before after actor actorRole action rosterImportId reason } } } } }`;

/** A member of unit A registered by ADMIN, with a first bank card. */
async function memberOfA(n: number, withCard = true): Promise<{ id: string; idNumber: string; card: string }> {
  const input = {
    unitId: unitA, name: `会员${n}`, idNumber: idNumber(n), phone: '13800000001',
    ...(withCard ? { bankAccount: { cardNumber: card(n), bankCode: BANK } } : {}),
  };
  const created = await gw.query(ADMIN, CREATE, { input });
  expect(created.data.createMember.userErrors).toEqual([]);
  return { id: created.data.createMember.member.id, idNumber: idNumber(n), card: card(n) };
}

/** The stored row, as a payout would read it. */
async function stored(memberId: string) {
  const { rows } = await db.pool.query(
    `SELECT m.unit_id, u.credit_code, m.name, m.phone, m.bank_card_hash, m.bank_code, m.updated_at,
            m.bank_card_changed_at, m.bank_card_changed_by, m.bank_card_confirmed_at, m.bank_card_confirmed_by
       FROM members m JOIN units u ON u.id = m.unit_id WHERE m.id = $1`,
    [localId('id', memberId, 'Member')],
  );
  return rows[0];
}

/** Uploads a roster as `who` and runs the worker on it; returns the import's result. */
async function importAs(who: Record<string, string>, csv: string, unitId?: string) {
  const started = await gw.query(who as typeof ADMIN, IMPORT, { input: { fileName: 'roster.csv', csv, unitId } });
  expect(started.data.importRoster.userErrors).toEqual([]);
  const id = started.data.importRoster.rosterImport.id as string;
  await rosterImportProcessor(db.pool, gw.keys, log)({ data: { importId: localId('id', id, 'RosterImport') } } as Job<RosterImportJob>);
  return { id, ...(await gw.query(ADMIN, IMPORT_STATUS, { id })).data.rosterImport };
}

/** What a refusal must not reveal to another unit: where the member is, or that they exist. */
function expectDiscreet(text: string): void {
  for (const secret of [UNIT_A.code, UNIT_A.name, unitA]) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/exist|already|another unit|other unit/i);
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  for (const unit of [UNIT_A, UNIT_B]) {
    const created = await gw.query(ADMIN, CREATE_UNIT, { c: unit.code, n: unit.name });
    await confirmUnitTerms(gw, created.data.createUnit.unit.id);
    if (unit === UNIT_A) unitA = created.data.createUnit.unit.id;
    else unitB = created.data.createUnit.unit.id;
  }
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('attack 1: member takeover across units', () => {
  it('an operator\'s roster import with another unit\'s member is a rejected row; the member keeps unit, name and card', async () => {
    const victim = await memberOfA(1);
    const before = await stored(victim.id);
    const attack = `name,id_number,phone,bank_card,bank_code,plan_year\n冒名顶替,${victim.idNumber},13999999999,${card(901)},${OTHER_BANK},${YEAR}\n`;

    const result = await importAs(OPERATOR_B, attack);
    expect(result).toMatchObject({ status: 'DONE', rowsRejected: 1, rowsUpdated: 0 });
    expect(result.errors).toEqual([{ row: 2, field: 'id_number', reason: 'cannot be registered by this unit — the city union (ADMIN) moves members between units' }]);
    expectDiscreet(result.errors[0].reason);
    // Kept like any rejected row: the operator sees it on their import.
    const own = await gw.query(OPERATOR_B, IMPORT_STATUS, { id: result.id });
    expect(own.data.rosterImport.errors).toHaveLength(1);

    // No import moves a member, ADMIN's included: moving is moveMember, with a reason.
    const byAdmin = await importAs(ADMIN, `name,id_number,unit_credit_code\n会员1,${victim.idNumber},${UNIT_B.code}\n`);
    expect(byAdmin.errors).toEqual([{ row: 2, field: 'id_number', reason: expect.stringContaining('cannot be registered by this unit') }]);

    expect(await stored(victim.id)).toEqual(before);
    const enrolments = await db.pool.query(`SELECT count(*)::int AS n FROM enrolments WHERE member_id = $1`, [localId('id', victim.id, 'Member')]);
    expect(enrolments.rows[0].n).toBe(0);
    const changes = await db.pool.query(`SELECT count(*)::int AS n FROM member_changes WHERE member_id = $1`, [localId('id', victim.id, 'Member')]);
    expect(changes.rows[0].n).toBe(0);
  });

  it('a back-dated row for another unit\'s member is refused alike whether that member is enrolled or not: the import learns nothing of them', async () => {
    const [enrolled, notEnrolled] = [await memberOfA(45), await memberOfA(46)];
    const on = addDays(chinaToday(), -75); // beyond the 30 days allowed
    const year = Number(on.slice(0, 4));
    await db.pool.query(
      `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, enrolled_on, first_enrolled_on) VALUES ($1, $2, $3, 'PRIVATE', $4, $4)`,
      [localId('id', enrolled.id, 'Member'), localId('id', unitA, 'Unit'), year, on],
    );
    const result = await importAs(OPERATOR_B, `name,id_number,plan_year,enrolled_on\n甲,${enrolled.idNumber},${year},${on}\n乙,${notEnrolled.idNumber},${year},${on}\n`);
    expect(result).toMatchObject({ status: 'DONE', rowsRejected: 2, enrolmentsCreated: 0 });
    const [first, second] = result.errors as { row: number; field: string; reason: string }[];
    expect([first!.row, second!.row]).toEqual([2, 3]);
    expect({ field: first!.field, reason: first!.reason }).toEqual({ field: second!.field, reason: second!.reason });
    expectDiscreet(first!.reason);
  });

  it('a member unit A registers while unit B\'s roster is being imported keeps unit and enrolment: the row is rejected', async () => {
    // B's import refuses other units' members first, then merges: A's member, not yet committed
    // when B looks, appears in between. The merge waits for it and must leave it to A.
    const who = idNumber(40);
    const { held: member, work: importing } = await commitOnceWaitedOn(
      db.pool,
      async (held) => {
        const { rows: [inserted] } = await held.query<{ id: number }>(
          `INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
           VALUES ($1, '会员40', '\\x00', $2, '350521**********40', '1985-03-12', 'M') RETURNING id`,
          [localId('id', unitA, 'Unit'), lookupHash(gw.keys, who)],
        );
        await held.query(
          `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, enrolled_on, first_enrolled_on) VALUES ($1, $2, $3, 'PRIVATE', $4, $4)`,
          [inserted!.id, localId('id', unitA, 'Unit'), YEAR, `${YEAR}-01-01`],
        );
        return inserted!;
      },
      () => importAs(OPERATOR_B, `name,id_number,phone,bank_card,bank_code,plan_year\n冒名顶替,${who},13999999999,${card(940)},${OTHER_BANK},${YEAR}\n`),
    );

    const result = await importing;
    expect(result).toMatchObject({ status: 'DONE', rowsRejected: 1, rowsUpdated: 0 });
    expect(result.errors).toEqual([{ row: 2, field: 'id_number', reason: expect.stringContaining('cannot be registered by this unit') }]);
    const { rows } = await db.pool.query(
      `SELECT m.unit_id AS "memberUnit", m.name, m.bank_card_hash AS card, e.unit_id AS "enrolmentUnit"
         FROM members m JOIN enrolments e ON e.member_id = m.id AND e.plan_year = $2 WHERE m.id = $1`,
      [member.id, YEAR],
    );
    const a = localId('id', unitA, 'Unit');
    expect(rows).toEqual([{ memberUnit: a, name: '会员40', card: null, enrolmentUnit: a }]);
  });

  it('a member ADMIN moves while their unit\'s roster is being merged moves once the import commits: a row reported enrolled is enrolled, none reported rejected is', async () => {
    const [member, other] = [await memberOfA(42), await memberOfA(43)];
    const year = Number(chinaToday().slice(0, 4));
    const [a, memberId] = [localId('id', unitA, 'Unit'), localId('id', member.id, 'Member')];
    let moving: ReturnType<typeof gw.query<{ moveMember: { userErrors: unknown[] } }>> | undefined;
    let moved = false;
    const { work: importing } = await commitOnceWaitedOn(
      db.pool,
      // Another of unit A's enrolments for the year, being written, holds the unit's count of that year,
      // which the enrolments merge updates after writing its rows: the merge waits there.
      (held) => held.query(
        `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, enrolled_on, first_enrolled_on) VALUES ($1, $2, $3, 'PRIVATE', $4, $4)`,
        [localId('id', other.id, 'Member'), a, year, `${year}-01-01`],
      ),
      () => importAs(OPERATOR_A, `name,id_number,phone,bank_card,bank_code,plan_year\n会员42,${member.idNumber},13800000001,${member.card},${BANK},${year}\n`),
      // ADMIN moves the member to unit B meanwhile: the move waits for the import, or commits while the merge waits.
      async () => {
        moving = gw.query(ADMIN, MOVE, { input: { memberId: member.id, unitId: unitB, reason: '调动到新单位' } });
        void moving.finally(() => { moved = true; });
        await waitFor('the move to end or to wait', async () => moved || (await lockWaits(db.pool)) >= 2);
      },
    );
    const result = await importing;
    expect((await moving!).data!.moveMember.userErrors).toEqual([]);
    const { rows } = await db.pool.query(`SELECT unit_id AS "unitId" FROM enrolments WHERE member_id = $1 AND plan_year = $2`, [memberId, year]);
    // Enrolled while still in unit A, then moved: the import's report says so.
    expect({ rejected: result.rowsRejected, enrolled: result.enrolmentsCreated, enrolments: rows }).toEqual({ rejected: 0, enrolled: 1, enrolments: [{ unitId: a }] });
    expect((await stored(member.id)).credit_code).toBe(UNIT_B.code);
  });

  it('a member\'s move out of a unit whose roster import is merging is refused after a short wait, not left hanging: CONFLICT, the member stays', async () => {
    const member = await memberOfA(44);
    // An import merging unit A holds the unit (FOR SHARE) until it commits: minutes for a big file.
    const merging = await db.pool.connect();
    try {
      await merging.query('BEGIN');
      await merging.query('SELECT 1 FROM units WHERE id = $1 FOR SHARE', [localId('id', unitA, 'Unit')]);
      const moved = await gw.query(ADMIN, MOVE, { input: { memberId: member.id, unitId: unitB, reason: '调动到新单位' } });
      expect(moved.data.moveMember).toEqual({ member: null, userErrors: [{ field: 'input.memberId', code: 'CONFLICT', message: expect.stringContaining('roster import is merging') }] });
    } finally {
      await merging.query('ROLLBACK');
      merging.release();
    }
    expect((await stored(member.id)).credit_code).toBe(UNIT_A.code);
  });

  it('createMember and updateMember by another unit\'s operator change nothing and reveal nothing', async () => {
    const victim = await memberOfA(2);
    const before = await stored(victim.id);

    const create = await gw.query(OPERATOR_B, CREATE, { input: { unitId: unitB, name: '冒名顶替', idNumber: victim.idNumber, bankAccount: { cardNumber: card(902), bankCode: BANK } } });
    expect(create.data.createMember).toEqual({ member: null, userErrors: [{ field: 'input.idNumber', code: 'CONFLICT', message: expect.stringContaining('cannot be registered by this unit') }] });
    expectDiscreet(create.data.createMember.userErrors[0].message);

    const update = await gw.query(OPERATOR_B, UPDATE, { input: { memberId: victim.id, name: '冒名顶替', bankAccount: { cardNumber: card(902), bankCode: BANK } } });
    expect(update.data.updateMember).toEqual({ member: null, userErrors: [{ field: 'input.memberId', code: 'NOT_FOUND', message: 'member not found' }] });
    // updateMember no longer takes a unit, from anyone.
    const moveByUpdate = await gw.query(ADMIN, `mutation($id: ID!, $u: ID!) { updateMember(input: { memberId: $id, unitId: $u }) { member { id } } }`, { id: victim.id, u: unitB });
    expect(moveByUpdate.errors![0]!.message).toContain('unitId');

    expect(await stored(victim.id)).toEqual(before);
  });

  it('createMember for another unit\'s member is refused with the same reason whoever asks, ADMIN and SERVICE included', async () => {
    const member = await memberOfA(8);
    for (const who of [ADMIN, { role: 'SERVICE', sub: 'hr-system' } as const, OPERATOR_B]) {
      const create = await gw.query(who, CREATE, { input: { unitId: unitB, name: '会员8', idNumber: member.idNumber } });
      expect(create.data.createMember, who.role).toEqual({
        member: null, userErrors: [{ field: 'input.idNumber', code: 'CONFLICT', message: 'input.idNumber: cannot be registered by this unit — the city union (ADMIN) moves members between units' }],
      });
    }
    // In the member's own unit, it is just a member already there.
    const again = await gw.query(ADMIN, CREATE, { input: { unitId: unitA, name: '会员8', idNumber: member.idNumber } });
    expect(again.data.createMember.userErrors).toEqual([{ field: 'input.idNumber', code: 'CONFLICT', message: 'a member with this ID number already exists' }]);
    expect((await stored(member.id)).credit_code).toBe(UNIT_A.code);
  });

  it('a member ADMIN moves to another unit is out of the old unit\'s reach the moment the move commits', async () => {
    const member = await memberOfA(41);
    const before = await stored(member.id);
    const ENROL = `mutation($input: EnrolMemberInput!) { enrolMember(input: $input) { enrolment { id } ${USER_ERRORS} } }`;
    // Unit A's operator acts on what they read just before ADMIN's move to unit B commits.
    for (const [what, act] of [
      ['updateMember', () => gw.query(OPERATOR_A, UPDATE, { input: { memberId: member.id, name: '改名', bankAccount: { cardNumber: card(941), bankCode: OTHER_BANK } } })],
      ['enrolMember', () => gw.query(OPERATOR_A, ENROL, { input: { memberId: member.id, planYear: Number(chinaToday().slice(0, 4)) } })],
    ] as const) {
      const { work: acting } = await commitOnceWaitedOn(
        db.pool,
        (moving) => moving.query('UPDATE members SET unit_id = $2 WHERE id = $1', [localId('id', member.id, 'Member'), localId('id', unitB, 'Unit')]),
        act,
      );
      const { data } = await acting;
      expect(Object.values(data)[0], what).toMatchObject({ userErrors: [{ field: 'input.memberId', code: 'NOT_FOUND' }] });
      await db.pool.query('UPDATE members SET unit_id = $2 WHERE id = $1', [localId('id', member.id, 'Member'), localId('id', unitA, 'Unit')]);
    }
    expect(await stored(member.id)).toMatchObject({ name: before.name, bank_card_hash: before.bank_card_hash, bank_code: before.bank_code });
    const enrolments = await db.pool.query(`SELECT count(*)::int AS n FROM enrolments WHERE member_id = $1`, [localId('id', member.id, 'Member')]);
    expect(enrolments.rows[0].n).toBe(0);
  });

  it('moveMember is ADMIN only, needs a reason, and is audited and recorded', async () => {
    const member = await memberOfA(3);
    for (const who of [OPERATOR_A, OPERATOR_B, FINANCE]) {
      const refused = await gw.query(who, MOVE, { input: { memberId: member.id, unitId: unitB, reason: '调动到新单位' } });
      expect(refused.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    }
    const noReason = await gw.query(ADMIN, MOVE, { input: { memberId: member.id, unitId: unitB, reason: '  ' } });
    expect(noReason.data.moveMember).toMatchObject({ member: null, userErrors: [{ field: 'input.reason', code: 'INVALID' }] });
    expect((await stored(member.id)).credit_code).toBe(UNIT_A.code);

    const moved = await gw.query(ADMIN, MOVE, { input: { memberId: member.id, unitId: unitB, reason: '劳动关系转入泉州市某医院' } });
    expect(moved.data.moveMember.userErrors).toEqual([]);
    expect(moved.data.moveMember.member.unit.creditCode).toBe(UNIT_B.code);
    const history = await gw.query(ADMIN, CHANGES, { id: member.id });
    expect(history.data.member.changes.edges.map((e: any) => e.node)).toEqual([{
      field: 'UNIT', before: UNIT_A.code, after: UNIT_B.code, actor: 'admin-zhang', actorRole: 'ADMIN',
      action: 'MEMBER_MOVE', rosterImportId: null, reason: '劳动关系转入泉州市某医院',
    }]);
    const audit = await db.pool.query(`SELECT actor, reason, details FROM audit_log WHERE action = 'member.move' AND target_id = $1`, [String(localId('id', member.id, 'Member'))]);
    expect(audit.rows).toEqual([expect.objectContaining({ actor: 'admin-zhang', reason: '劳动关系转入泉州市某医院' })]);
  });

  it('every change (mutation or import) is recorded with masked before/after values and audited, never a clear ID or card number', async () => {
    const member = await memberOfA(4);
    const memberId = localId('id', member.id, 'Member');
    const newCard = card(904);
    const renamed = await gw.query(OPERATOR_A, UPDATE, { input: { memberId: member.id, name: '会员四', phone: '13800000004' } });
    expect(renamed.data.updateMember.userErrors).toEqual([]);
    const recarded = await gw.query(ADMIN, UPDATE, { input: { memberId: member.id, bankAccount: { cardNumber: newCard, bankCode: BANK } } });
    expect(recarded.data.updateMember.userErrors).toEqual([]);
    const imported = await importAs(OPERATOR_A, `name,id_number\n会员肆,${member.idNumber}\n`);
    expect(imported).toMatchObject({ status: 'DONE', rowsUpdated: 1, rowsRejected: 0 });

    const history = await gw.query(AUDITOR, CHANGES, { id: member.id });
    expect(history.errors).toBeUndefined();
    expect(history.data.member.changes.edges.map((e: any) => e.node)).toEqual([
      { field: 'NAME', before: '会员四', after: '会员肆', actor: 'operator-a', actorRole: 'UNIT_OPERATOR', action: 'ROSTER_IMPORT', rosterImportId: imported.id, reason: null },
      { field: 'BANK_ACCOUNT', before: `${maskBankCard(member.card)} / ${BANK}`, after: `${maskBankCard(newCard)} / ${BANK}`, actor: 'admin-zhang', actorRole: 'ADMIN', action: 'MEMBER_UPDATE', rosterImportId: null, reason: null },
      { field: 'PHONE', before: '13800000001', after: '13800000004', actor: 'operator-a', actorRole: 'UNIT_OPERATOR', action: 'MEMBER_UPDATE', rosterImportId: null, reason: null },
      { field: 'NAME', before: '会员4', after: '会员四', actor: 'operator-a', actorRole: 'UNIT_OPERATOR', action: 'MEMBER_UPDATE', rosterImportId: null, reason: null },
    ]);
    // One audit entry per mutation and per import, pointing at the recorded changes.
    const audit = await db.pool.query(
      `SELECT action, actor, target_type, target_id, details FROM audit_log
        WHERE (target_type = 'Member' AND target_id = $1 AND action = 'member.update') OR (target_type = 'RosterImport' AND target_id = $2) ORDER BY seq`,
      [String(memberId), String(localId('id', imported.id, 'RosterImport'))],
    );
    expect(audit.rows.map((r) => [r.action, r.actor])).toEqual([['member.update', 'operator-a'], ['member.update', 'admin-zhang'], ['roster.import', 'operator-a']]);
    expect(audit.rows[1].details.bankAccount).toEqual({ before: `${maskBankCard(member.card)} / ${BANK}`, after: `${maskBankCard(newCard)} / ${BANK}` });
    expect(audit.rows[2].details).toMatchObject({ rowsUpdated: 1, changedFields: { NAME: 1 } });
    const recorded = await db.pool.query(`SELECT id FROM member_changes WHERE member_id = $1 AND action = 'member.update' ORDER BY id`, [memberId]);
    expect([...audit.rows[0].details.memberChanges, ...audit.rows[1].details.memberChanges]).toEqual(recorded.rows.map((r) => Number(r.id)));

    const everything = await db.pool.query(`SELECT (SELECT json_agg(c)::text FROM member_changes c) || (SELECT json_agg(a)::text FROM audit_log a) AS t`);
    for (const secret of [member.idNumber, member.card, newCard]) expect(everything.rows[0].t).not.toContain(secret);
    expect((await verifyAuditChain(db.pool)).firstBroken).toBeNull();

    // The history is for staff who may read the member: not for the member, nor another unit.
    const self = await gw.query({ role: 'MEMBER', member: member.id }, CHANGES, { id: member.id });
    expect(self.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    const otherUnit = await gw.query(OPERATOR_B, CHANGES, { id: member.id });
    expect(otherUnit).toEqual({ data: { member: null } });
    expect((await gw.query(OPERATOR_A, CHANGES, { id: member.id })).data.member.changes.edges).toHaveLength(4);
    const firstPage = await gw.query(OPERATOR_A, `query($id: ID!) { member(id: $id) { changes(first: 1) { totalCount edges { node { field } } } } }`, { id: member.id });
    expect(firstPage.data.member.changes).toMatchObject({ totalCount: 4, edges: [{ node: { field: expect.any(String) } }] });
    // Recorded changes stay as written.
    await expect(db.pool.query(`UPDATE member_changes SET after = 'x' WHERE member_id = $1`, [memberId])).rejects.toThrow('append-only');
  });

  it('a replaced bank card waits: the changer cannot confirm it, another person can; a first card does not wait', async () => {
    const member = await memberOfA(5, false);
    const first = await gw.query(OPERATOR_A, UPDATE, { input: { memberId: member.id, bankAccount: { cardNumber: card(5), bankCode: BANK } } });
    expect(first.data.updateMember.member.bankAccount).toMatchObject({ changedAt: null, confirmedAt: null, payableFrom: null });
    const nothingToConfirm = await gw.query(FINANCE, CONFIRM, { input: { memberId: member.id, changedAt: new Date().toISOString(), reason: '电话核实本人' } });
    expect(nothingToConfirm.data.confirmBankCardChange).toMatchObject({ member: null, userErrors: [{ field: 'input.memberId', code: 'CONFLICT' }] });

    const replaced = await gw.query(ADMIN, UPDATE, { input: { memberId: member.id, bankAccount: { cardNumber: card(905), bankCode: BANK } } });
    const account = replaced.data.updateMember.member.bankAccount;
    expect(account).toMatchObject({ cardNumberMasked: maskBankCard(card(905)), changedBy: 'admin-zhang', confirmedAt: null, confirmedBy: null });
    expect(Date.parse(account.payableFrom) - Date.parse(account.changedAt)).toBe(gw.config.BANK_CARD_COOLING_OFF_DAYS * 86_400_000);
    expect(await stored(member.id)).toMatchObject({ bank_card_changed_by: 'admin-zhang', bank_card_confirmed_by: null });

    const bySelf = await gw.query(ADMIN, CONFIRM, { input: { memberId: member.id, changedAt: account.changedAt, reason: '我自己确认' } });
    expect(bySelf.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    const byOperator = await gw.query(OPERATOR_A, CONFIRM, { input: { memberId: member.id, changedAt: account.changedAt, reason: '单位确认' } });
    expect(byOperator.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    const noReason = await gw.query(FINANCE, CONFIRM, { input: { memberId: member.id, changedAt: account.changedAt, reason: '' } });
    expect(noReason.data.confirmBankCardChange.userErrors).toMatchObject([{ field: 'input.reason', code: 'INVALID' }]);
    expect((await stored(member.id)).bank_card_confirmed_by).toBeNull();

    const confirmed = await gw.query(FINANCE, CONFIRM, { input: { memberId: member.id, changedAt: account.changedAt, reason: '电话核实本人并核对银行卡' } });
    expect(confirmed.data.confirmBankCardChange.userErrors).toEqual([]);
    expect(confirmed.data.confirmBankCardChange.member.bankAccount).toMatchObject({ confirmedBy: 'finance-wang', payableFrom: confirmed.data.confirmBankCardChange.member.bankAccount.confirmedAt });
    const audit = await db.pool.query(`SELECT actor, reason FROM audit_log WHERE action = 'member.confirmBankCard' AND target_id = $1`, [String(localId('id', member.id, 'Member'))]);
    expect(audit.rows).toEqual([{ actor: 'finance-wang', reason: '电话核实本人并核对银行卡' }]);
    const again = await gw.query(OTHER_ADMIN, CONFIRM, { input: { memberId: member.id, changedAt: account.changedAt, reason: '再确认一次' } });
    expect(again.data.confirmBankCardChange.userErrors).toMatchObject([{ code: 'CONFLICT' }]);

    // An import replacing the card starts the cooling-off again, under the uploader, unconfirmed.
    const reimport = await importAs(OPERATOR_A, `name,id_number,bank_card,bank_code\n会员5,${member.idNumber},${card(915)},${OTHER_BANK}\n`);
    expect(reimport).toMatchObject({ rowsUpdated: 1, rowsRejected: 0 });
    const after = await stored(member.id);
    expect(after).toMatchObject({ bank_card_hash: lookupHash(gw.keys, card(915)), bank_card_changed_by: 'operator-a', bank_card_confirmed_by: null, bank_card_confirmed_at: null });
    // The database refuses a self-confirmation whatever the code path.
    await expect(db.pool.query(
      `UPDATE members SET bank_card_confirmed_at = now(), bank_card_confirmed_by = bank_card_changed_by WHERE id = $1`,
      [localId('id', member.id, 'Member')],
    )).rejects.toThrow('members_bank_card_confirmation');
    const reimported = (await gw.query(ADMIN, `query($id: ID!) { member(id: $id) { ${MEMBER_FIELDS} } }`, { id: member.id })).data.member.bankAccount;
    const byOtherAdmin = await gw.query(OTHER_ADMIN, CONFIRM, { input: { memberId: member.id, changedAt: reimported.changedAt, reason: '电话核实本人' } });
    expect(byOtherAdmin.data.confirmBankCardChange.member.bankAccount.confirmedBy).toBe('admin-chen');
  });

  it('a confirmation holds for the account that was checked: one replaced again meanwhile stays unconfirmed', async () => {
    const member = await memberOfA(7);
    const replaced = await gw.query(OPERATOR_A, UPDATE, { input: { memberId: member.id, bankAccount: { cardNumber: card(907), bankCode: BANK } } });
    const checked = replaced.data.updateMember.member.bankAccount;
    expect(checked).toMatchObject({ cardNumberMasked: maskBankCard(card(907)), confirmedAt: null });
    // While FINANCE calls the member back about card 907, someone replaces it with their own card.
    await new Promise((resolve) => setTimeout(resolve, 5)); // a later change time, to the millisecond
    const swapped = await gw.query(OPERATOR_A, UPDATE, { input: { memberId: member.id, bankAccount: { cardNumber: card(908), bankCode: OTHER_BANK } } });
    expect(swapped.data.updateMember.member.bankAccount.changedAt).not.toBe(checked.changedAt);

    const confirm = await gw.query(FINANCE, CONFIRM, { input: { memberId: member.id, changedAt: checked.changedAt, reason: '电话核实本人，卡号907' } });
    expect(confirm.data.confirmBankCardChange).toEqual({ member: null, userErrors: [{ field: 'input.changedAt', code: 'CONFLICT', message: expect.stringContaining('replaced again') }] });
    expect(await stored(member.id)).toMatchObject({ bank_card_hash: lookupHash(gw.keys, card(908)), bank_card_confirmed_by: null, bank_card_confirmed_at: null });
    const audit = await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'member.confirmBankCard' AND target_id = $1`, [String(localId('id', member.id, 'Member'))]);
    expect(audit.rows[0].n).toBe(0);

    // Checking the account now waiting confirms that one.
    const confirmed = await gw.query(FINANCE, CONFIRM, { input: { memberId: member.id, changedAt: swapped.data.updateMember.member.bankAccount.changedAt, reason: '电话核实本人，卡号908' } });
    expect(confirmed.data.confirmBankCardChange.member.bankAccount).toMatchObject({ cardNumberMasked: maskBankCard(card(908)), confirmedBy: 'finance-wang' });
  });
});

describe('an organisation\'s staff and moves committing while they act', () => {
  const [ADMIN_JJ, FINANCE_JJ] = [{ role: 'ADMIN', org: 'JJ', sub: 'admin-jj' }, { role: 'FINANCE', org: 'JJ', sub: 'finance-jj' }] as const;
  const ENROL = `mutation($input: EnrolMemberInput!) { enrolMember(input: $input) { enrolment { id } ${USER_ERRORS} } }`;
  // JJ2: a second unit of JJ's.
  const units: Record<'JJ' | 'JJ2' | 'XM', number> = { JJ: 0, JJ2: 0, XM: 0 };

  beforeAll(async () => {
    await fujianTree(gw);
    for (const [code, n, organisation] of [['JJ', 21, 'JJ'], ['XM', 22, 'XM'], ['JJ2', 23, 'JJ']] as const) {
      const created = await gw.query(ADMIN, CREATE_UNIT, { c: withCreditCodeCheck(`91350500MA00000${n}`), n: `${code}某公司` });
      units[code] = localId('id', created.data.createUnit.unit.id, 'Unit');
      await confirmUnitTerms(gw, created.data.createUnit.unit.id);
      await placeUnit(db.pool, units[code], organisation);
    }
  });

  /** A member of the JJ unit whose card ADMIN replaced: the replacement waits for a second person. */
  async function memberOfJJ(n: number) {
    const created = await gw.query(ADMIN, CREATE, { input: { unitId: toGlobalId('Unit', units.JJ), name: `会员${n}`, idNumber: idNumber(n), bankAccount: { cardNumber: card(n), bankCode: BANK } } });
    const id = created.data.createMember.member.id as string;
    const replaced = await gw.query(ADMIN, UPDATE, { input: { memberId: id, bankAccount: { cardNumber: card(n + 500), bankCode: BANK } } });
    return { id, changedAt: replaced.data.updateMember.member.bankAccount.changedAt as string };
  }

  const acts = (m: { id: string; changedAt: string }) => [
    ['updateMember', () => gw.query(ADMIN_JJ, UPDATE, { input: { memberId: m.id, name: '改名', bankAccount: { cardNumber: card(960), bankCode: OTHER_BANK } } })],
    ['confirmBankCardChange', () => gw.query(FINANCE_JJ, CONFIRM, { input: { memberId: m.id, changedAt: m.changedAt, reason: '电话核实本人' } })],
    ['enrolMember', () => gw.query(ADMIN_JJ, ENROL, { input: { memberId: m.id, planYear: Number(chinaToday().slice(0, 4)) } })],
  ] as const;

  /**
   * Each act of JJ's staff, sent while `move` is being committed, is refused with `code` (NOT_FOUND:
   * out of their reach; CONFLICT: moved within it, to be looked at again); nothing about the member changes.
   */
  async function outOfReach(
    member: { id: string; changedAt: string }, move: (moving: pg.PoolClient, memberId: number) => Promise<unknown>, undo: (memberId: number) => Promise<unknown>,
    code: 'NOT_FOUND' | 'CONFLICT' = 'NOT_FOUND',
  ) {
    const before = await stored(member.id);
    const memberId = localId('id', member.id, 'Member');
    for (const [what, act] of acts(member)) {
      const { work: acting } = await commitOnceWaitedOn(db.pool, (moving) => move(moving, memberId), act);
      const { data } = await acting;
      expect(Object.values(data)[0], what).toMatchObject({ userErrors: [{ field: 'input.memberId', code }] });
      await undo(memberId);
    }
    expect(await stored(member.id)).toEqual(before);
    const enrolments = await db.pool.query(`SELECT count(*)::int AS n FROM enrolments WHERE member_id = $1`, [memberId]);
    expect(enrolments.rows[0].n).toBe(0);
  }

  it('the member\'s unit moved to another organisation is out of the old organisation\'s reach once the move commits', async () => {
    await outOfReach(await memberOfJJ(61), (moving) => placeUnit(moving, units.JJ, 'XM'), () => placeUnit(db.pool, units.JJ, 'JJ'));
  });

  it('a contribution payment the old organisation\'s FINANCE records while the unit moves to another organisation is refused once the move commits', async () => {
    const PAY = `mutation($u: ID!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: 10000, reference: "TRANSFER-MOVING", paidOn: "2025-03-05" }) { contribution { paidFen } ${USER_ERRORS} } }`;
    // The unit is held as well (FOR UPDATE), so a payment checked before the move waits at its insert.
    const { work: paying } = await commitOnceWaitedOn(
      db.pool,
      async (moving) => {
        await placeUnit(moving, units.JJ, 'XM');
        await moving.query('SELECT 1 FROM units WHERE id = $1 FOR UPDATE', [units.JJ]);
      },
      () => gw.query(FINANCE_JJ, PAY, { u: toGlobalId('Unit', units.JJ) }),
    );
    const { data } = await paying;
    await placeUnit(db.pool, units.JJ, 'JJ');
    expect(data.recordContributionPayment).toEqual({ contribution: null, userErrors: [expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })] });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM contribution_payments WHERE unit_id = $1`, [units.JJ]);
    expect(rows[0].n).toBe(0);
  });

  it('an organisation\'s roster import refuses the rows of a unit moved to another organisation while the file was imported', async () => {
    const csv = `name,id_number,phone,bank_card,bank_code,plan_year\n会员71,${idNumber(71)},13800000071,${card(71)},${BANK},\n会员72,${idNumber(72)},13800000072,${card(72)},${BANK},\n`;
    // Held with the unit's move: a member registered in the unit with the first row's ID number, not
    // yet committed, which an import that checked its units only at the start waits for in its merge.
    const { work: importing } = await commitOnceWaitedOn(
      db.pool,
      async (moving) => {
        await placeUnit(moving, units.JJ, 'XM');
        await moving.query(
          `INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
           VALUES ($1, '会员71', '\\x00', $2, '350521**********71', '1985-03-12', 'M')`,
          [units.JJ, lookupHash(gw.keys, idNumber(71))],
        );
      },
      () => importAs(ADMIN_JJ, csv, toGlobalId('Unit', units.JJ)),
    );
    const result = await importing;
    await placeUnit(db.pool, units.JJ, 'JJ');
    const reason = 'the unit moved to another organisation while the file was imported';
    expect(result).toMatchObject({ status: 'DONE', rowsRejected: 2, rowsUpdated: 0 });
    expect(result.errors).toEqual([{ row: 2, field: 'unit_credit_code', reason }, { row: 3, field: 'unit_credit_code', reason }]);
    const { rows } = await db.pool.query(`SELECT name, phone FROM members WHERE id_number_hash = ANY($1) ORDER BY name`, [[71, 72].map((n) => lookupHash(gw.keys, idNumber(n)))]);
    expect(rows).toEqual([{ name: '会员71', phone: null }]);
  });

  const toUnit = (queryable: pg.Pool | pg.PoolClient, memberId: number, unitId: number) => queryable.query('UPDATE members SET unit_id = $2 WHERE id = $1', [memberId, unitId]);

  it('the member moved to a unit of another organisation is out of the old organisation\'s reach once the move commits', async () => {
    await outOfReach(await memberOfJJ(62), (moving, memberId) => toUnit(moving, memberId, units.XM), (memberId) => toUnit(db.pool, memberId, units.JJ));
  });

  it('the member moved to another unit of the same organisation is a CONFLICT to look at again, not a member not found', async () => {
    await outOfReach(await memberOfJJ(63), (moving, memberId) => toUnit(moving, memberId, units.JJ2), (memberId) => toUnit(db.pool, memberId, units.JJ), 'CONFLICT');
  });
});

describe('a moved member\'s enrolment stays with the unit it was made in', () => {
  const UNIT_V = { code: withCreditCodeCheck('91350500MA0000031'), name: '晋江某陶瓷有限公司' };
  const UNIT_U = { code: withCreditCodeCheck('91350500MA0000032'), name: '晋江某食品有限公司' };
  const OPERATOR_U = { role: 'UNIT_OPERATOR', unit: UNIT_U.code, sub: 'operator-u' } as const;
  const ENROL = `mutation($input: EnrolMemberInput!) { enrolMember(input: $input) { enrolment { id } ${USER_ERRORS} } }`;
  const PRIVATE_FEN = 4800;

  it('the new unit\'s import and enrolMember leave it there: the old unit owes and paid for it, the new unit\'s members paid for stay covered', async () => {
    const [v, u] = [await gw.query(ADMIN, CREATE_UNIT, { c: UNIT_V.code, n: UNIT_V.name }), await gw.query(ADMIN, CREATE_UNIT, { c: UNIT_U.code, n: UNIT_U.name })]
      .map((r) => r.data.createUnit.unit.id as string);
    for (const unitId of [v, u]) await confirmUnitTerms(gw, unitId!);
    const join = async (unitId: string, n: number) => {
      const created = await gw.query(ADMIN, CREATE, { input: { unitId, name: `会员${n}`, idNumber: idNumber(n) } });
      const id = created.data.createMember.member.id as string;
      // Enrolled today, in this order: coverage follows the date, then the order of registration.
      expect((await gw.query(ADMIN, ENROL, { input: { memberId: id, planYear: YEAR } })).data.enrolMember.userErrors).toEqual([]);
      return { id, idNumber: idNumber(n), name: `会员${n}` };
    };
    const x = await join(v!, 50);
    const [p, q] = [await join(u!, 51), await join(u!, 52)];
    // Each unit pays exactly what it owes.
    for (const [unit, fen] of [[v!, PRIVATE_FEN], [u!, 2 * PRIVATE_FEN]] as const) {
      await db.pool.query(
        `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by) VALUES ($1, $2, $3, $4, $5, 'MANUAL', 'test')`,
        [localId('id', unit, 'Unit'), YEAR, fen, `MOVE-${unit}`.slice(0, 35), chinaToday()],
      );
    }
    expect((await gw.query(ADMIN, MOVE, { input: { memberId: x.id, unitId: u, reason: '劳动关系转入晋江某食品有限公司' } })).data.moveMember.userErrors).toEqual([]);

    const result = await importAs(OPERATOR_U, `name,id_number,plan_year\n${[x, p, q].map((m) => `${m.name},${m.idNumber},${YEAR}`).join('\n')}\n`);
    expect(result).toMatchObject({ status: 'DONE', rowsRejected: 1, enrolmentsCreated: 0 });
    expect(result.errors).toEqual([{ row: 2, field: 'plan_year', reason: 'the member\'s enrolment of this plan year is with the unit it was made in and stays there' }]);
    const enrol = await gw.query(OPERATOR_U, ENROL, { input: { memberId: x.id, planYear: YEAR, specialDisease: true } });
    expect(enrol.data.enrolMember).toEqual({
      enrolment: null, userErrors: [{ field: 'input.planYear', code: 'CONFLICT', message: 'input.planYear: the member\'s enrolment of this plan year is with the unit it was made in and stays there' }],
    });

    const { rows } = await db.pool.query(`SELECT unit_id AS "unitId", special_disease AS "specialDisease" FROM enrolments WHERE member_id = $1 AND plan_year = $2`, [localId('id', x.id, 'Member'), YEAR]);
    expect(rows).toEqual([{ unitId: localId('id', v!, 'Unit'), specialDisease: false }]);
    const CONTRIBUTION = `query($id: ID!, $y: Int!) { unit(id: $id) { contribution(planYear: $y) { owedFen paidFen } } }`;
    expect((await gw.query(ADMIN, CONTRIBUTION, { id: v, y: YEAR })).data.unit.contribution).toEqual({ owedFen: PRIVATE_FEN, paidFen: PRIVATE_FEN });
    expect((await gw.query(ADMIN, CONTRIBUTION, { id: u, y: YEAR })).data.unit.contribution).toEqual({ owedFen: 2 * PRIVATE_FEN, paidFen: 2 * PRIVATE_FEN });
    const COVERED = `query($id: ID!, $y: Int!) { member(id: $id) { enrolments(filter: { planYear: $y }) { edges { node { contributionCovered } } } } }`;
    for (const m of [x, p, q]) {
      expect((await gw.query(ADMIN, COVERED, { id: m.id, y: YEAR })).data.member.enrolments.edges, m.name).toEqual([{ node: { contributionCovered: true } }]);
    }
  });
});

describe('attack 9: a member reads only their own records', () => {
  it('a MEMBER cannot read their unit\'s contributions; the unit\'s operator can', async () => {
    const member = await memberOfA(6);
    const me = { role: 'MEMBER', member: member.id } as const;
    const viaUnits = await gw.query(me, `{ units { edges { node { name contribution(planYear: 2025) { owedFen paidFen payments { reference } } } } } }`);
    expect(viaUnits.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    expect(JSON.stringify(viaUnits.data ?? null)).not.toContain('owedFen');
    const viaMember = await gw.query(me, `query($id: ID!) { member(id: $id) { unit { contribution(planYear: 2025) { owedFen } } } }`, { id: member.id });
    expect(viaMember.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    // Their own record stays readable.
    const own = await gw.query(me, `query($id: ID!) { member(id: $id) { name bankAccount { cardNumberMasked } } }`, { id: member.id });
    expect(own.data.member).toEqual({ name: '会员6', bankAccount: { cardNumberMasked: maskBankCard(member.card) } });
    const operator = await gw.query(OPERATOR_A, `query($id: ID!) { unit(id: $id) { contribution(planYear: 2025) { owedFen } } }`, { id: unitA });
    expect(operator.errors).toBeUndefined();
  });
});

describe('a reveal\'s reason', () => {
  it('is at most 2,000 characters, as every reason: a 200,000-character one reveals nothing and is not audited', async () => {
    const member = await memberOfA(9);
    const REVEAL = `mutation($input: RevealMemberPersonalDataInput!) { revealMemberPersonalData(input: $input) { personalData { idNumber bankCardNumber } ${USER_ERRORS} } }`;
    const refused = await gw.query(AUDITOR, REVEAL, { input: { memberId: member.id, reason: '核对'.repeat(100_000) } });
    expect(refused.data.revealMemberPersonalData).toEqual({
      personalData: null, userErrors: [{ field: 'input.reason', code: 'INVALID', message: 'input.reason: must be at most 2000 characters (200000 given)' }],
    });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'member.reveal' AND target_id = $1`, [String(localId('id', member.id, 'Member'))]);
    expect(rows[0].n).toBe(0);
  });
});

describe('a name the bank\'s payment file cannot carry', () => {
  it('is refused from a unit operator on every path (create, update, roster row): one such name would hold every payment of the batches it joins', async () => {
    const member = await memberOfA(171);
    const before = await stored(member.id);
    const created = await gw.query(OPERATOR_A, CREATE, { input: { unitId: unitA, name: '张\t三', idNumber: idNumber(172) } });
    expect(created.data.createMember).toEqual({
      member: null, userErrors: [{ field: 'input.name', code: 'INVALID', message: 'input.name: must not contain control characters or line breaks' }],
    });
    const updated = await gw.query(OPERATOR_A, UPDATE, { input: { memberId: member.id, name: '泉'.repeat(47) } });
    expect(updated.data.updateMember).toEqual({
      member: null, userErrors: [{ field: 'input.name', code: 'INVALID', message: 'input.name: is 141 bytes (utf8), the bank accepts at most 140' }],
    });
    const imported = await importAs(OPERATOR_A, `name,id_number\n会员171\uFFFF,${member.idNumber}\n`);
    expect(imported).toMatchObject({ status: 'DONE', rowsRejected: 1, rowsUpdated: 0 });
    expect(imported.errors).toEqual([{ row: 2, field: 'name', reason: 'must not contain U+FFFF: XML 1.0 does not allow it' }]);
    expect(await stored(member.id)).toEqual(before);
  });
});
