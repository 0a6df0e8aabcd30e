import { describe, expect, it } from 'vitest';
import { lazyTestGateway, type TestGateway } from '../support/gateway.ts';
import { commitOnceWaitedOn, type TestDatabase } from '../support/db.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { decidedClaim, FILE_APPEAL, DECIDE_APPEAL, memberToken } from '../appeals/support.ts';
import { ACCEPT, memberOf, seedApplicant, stay, submit } from '../applications/support.ts';
import { approvedClaims } from '../payouts/support.ts';
import { seedEnrolledMember, seedUnit } from '../benefits/seed.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { CONFIRM_UNIT_MOVE, CREATE_ORGANISATION, fujianTree, MOVE_UNIT, placeUnit } from '../organisations/support.ts';

/**
 * Organisation-scoped staff as an attacker would use them: staff of county JJ (under city QZ under
 * province FJ) reaching for a member of a unit that belongs to QZ itself, outside JJ — by ID, in
 * lists, and by deciding on it; a forged or misplaced `org` claim; creating or moving outside the
 * caller's subtree; the proposer of a unit move confirming it; a move proposed from, or confirmed
 * out of, an organisation the unit has left meanwhile.
 */
const started = lazyTestGateway();

interface Side {
  unitId: number;
  memberGid: string;
  pendingClaimGid: string;
  appealGid: string;
  applicationGid: string;
  payoutGid: string;
}

let world: Promise<{ db: TestDatabase; gw: TestGateway; tree: Awaited<ReturnType<typeof fujianTree>>; jj: Side; qz: Side }> | undefined;

/** One member of a JJ unit and one of a QZ unit, each with a claim waiting for review, an open appeal, a submitted application and a payout. */
async function side(db: TestDatabase, gw: TestGateway, code: string): Promise<Side> {
  const pending = await decidedClaim(db.pool, gw, 'PENDING_REVIEW');
  const { member } = pending;
  // The same member's second claim, rejected and appealed.
  const rejected = await decidedClaim(db.pool, gw, 'REJECTED');
  await db.pool.query('UPDATE members SET unit_id = $1 WHERE id = $2', [member.unitId, rejected.member.memberId]);
  const filed = await gw.query(memberToken(rejected.member), FILE_APPEAL, { input: { claimId: rejected.claimGid, reason: 'please look again' } });
  expect(filed.data.fileAppeal.userErrors).toEqual([]);
  const applicant = await seedApplicant(db.pool, gw.keys, member.unitId);
  const application = await submit(gw, memberOf(applicant), { stay: stay() });
  expect(application.userErrors).toEqual([]);
  const [paid] = await approvedClaims(db.pool, 1);
  await db.pool.query('UPDATE members SET unit_id = $1 WHERE id = $2', [member.unitId, paid!.memberId]);
  await planPayouts(db.pool, { coolingOffDays: 0 });
  const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM payouts WHERE claim_id = $1', [paid!.claimId]);
  expect(rows).toHaveLength(1);
  await placeUnit(db.pool, member.unitId, code);
  return {
    unitId: member.unitId,
    memberGid: toGlobalId('Member', member.memberId),
    pendingClaimGid: pending.claimGid,
    appealGid: filed.data.fileAppeal.appeal.id,
    applicationGid: application.application.id,
    payoutGid: toGlobalId('Payout', rows[0]!.id),
  };
}

const setUp = () => (world ??= (async () => {
  const { db, gw } = await started();
  const tree = await fujianTree(gw);
  return { db, gw, tree, jj: await side(db, gw, 'JJ'), qz: await side(db, gw, 'QZ') };
})());

const READ = `query($member: ID!, $claim: ID!, $appeal: ID!, $application: ID!, $payout: ID!) {
  member: node(id: $member) { id } claim: node(id: $claim) { id } appeal: node(id: $appeal) { id }
  application: node(id: $application) { id } payout: node(id: $payout) { id } }`;
const readVars = (s: Side) => ({ member: s.memberGid, claim: s.pendingClaimGid, appeal: s.appealGid, application: s.applicationGid, payout: s.payoutGid });
const seesAll = (s: Side) => ({ member: { id: s.memberGid }, claim: { id: s.pendingClaimGid }, appeal: { id: s.appealGid }, application: { id: s.applicationGid }, payout: { id: s.payoutGid } });
const seesNothing = { member: null, claim: null, appeal: null, application: null, payout: null };

const LISTS = `{ members(first: 100) { edges { node { id } } totalCount } claims(first: 100) { edges { node { id } } totalCount }
  appeals(first: 100) { edges { node { id } } totalCount } applications(first: 100) { edges { node { id } } totalCount }
  payouts(first: 100) { edges { node { id } } totalCount } }`;

describe('an organisation\'s staff read only their subtree', () => {
  it('JJ staff see JJ\'s member, claim, appeal, application and payout, and none of QZ\'s (null, as for a missing object)', async () => {
    const { gw, jj, qz } = await setUp();
    for (const role of ['ADMIN', 'REVIEWER', 'AUDITOR'] as const) {
      const own = await gw.query({ role, org: 'JJ' }, READ, readVars(jj));
      expect(own.data, `${role} ${JSON.stringify(own.errors)}`).toEqual(seesAll(jj));
      const other = await gw.query({ role, org: 'JJ' }, READ, readVars(qz));
      expect(other.data, role).toEqual(seesNothing);
    }
  });

  it('QZ staff see JJ\'s too; FJ staff see both; XM staff see neither', async () => {
    const { gw, jj, qz } = await setUp();
    for (const side of [jj, qz]) {
      expect((await gw.query({ role: 'REVIEWER', org: 'QZ' }, READ, readVars(side))).data).toEqual(seesAll(side));
      expect((await gw.query({ role: 'AUDITOR', org: 'FJ' }, READ, readVars(side))).data).toEqual(seesAll(side));
      expect((await gw.query({ role: 'AUDITOR', org: 'XM' }, READ, readVars(side))).data).toEqual(seesNothing);
    }
  });

  it('lists hold only the subtree\'s rows, and count only those', async () => {
    const { gw, jj, qz } = await setUp();
    const ids = (answer: { data?: Record<string, { edges: { node: { id: string } }[]; totalCount: number }> }) =>
      new Set(Object.values(answer.data!).flatMap((c) => c.edges.map((e) => e.node.id)));
    const county = await gw.query({ role: 'ADMIN', org: 'JJ' }, LISTS);
    expect(county.errors).toBeUndefined();
    const countyIds = ids(county);
    for (const id of Object.values(readVars(jj))) expect(countyIds.has(id), id).toBe(true);
    for (const id of Object.values(readVars(qz))) expect(countyIds.has(id), id).toBe(false);
    for (const connection of Object.values(county.data as Record<string, { edges: unknown[]; totalCount: number }>)) {
      expect(connection.totalCount).toBe(connection.edges.length);
    }
    const cityIds = ids(await gw.query({ role: 'ADMIN', org: 'QZ' }, LISTS));
    for (const id of [...Object.values(readVars(jj)), ...Object.values(readVars(qz))]) expect(cityIds.has(id), id).toBe(true);
  });
});

describe('an organisation\'s staff act only inside their subtree', () => {
  const userErrors = (answer: { data?: Record<string, { userErrors: unknown[] }> }) => Object.values(answer.data ?? {})[0]?.userErrors;

  it('a JJ reviewer cannot approve, reject or adjust a QZ claim, decide its appeal or accept its application: NOT_FOUND, nothing changed', async () => {
    const { db, gw, qz } = await setUp();
    const reviewer = { role: 'REVIEWER' as const, org: 'JJ', sub: 'jj-reviewer' };
    const line = await gw.query({ role: 'ADMIN' }, 'query($id: ID!) { claim(id: $id) { totalFen lines { id } } }', { id: qz.pendingClaimGid });
    const lineId = line.data.claim.lines[0].id;
    const attempts = [
      [`mutation($id: ID!, $total: Fen!) { approveClaim(input: { claimId: $id, checkedTotalFen: $total }) { claim { status } userErrors { field code } } }`,
        { id: qz.pendingClaimGid, total: line.data.claim.totalFen }, 'input.claimId'],
      [`mutation($id: ID!) { rejectClaim(input: { claimId: $id, reason: "no discharge summary" }) { claim { status } userErrors { field code } } }`, { id: qz.pendingClaimGid }, 'input.claimId'],
      [`mutation($id: ID!) { adjustClaimLine(input: { lineId: $id, amountFen: 1, reason: "capped by the fund" }) { claim { status } userErrors { field code } } }`, { id: lineId }, 'input.lineId'],
      [DECIDE_APPEAL, { input: { appealId: qz.appealGid, decision: 'DISMISS', reason: 'the decision stands' } }, 'input.appealId'],
      [ACCEPT, { id: qz.applicationGid }, 'input.applicationId'],
    ] as const;
    const audited = async () => (await db.pool.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n;
    const before = await audited();
    for (const [mutation, variables, field] of attempts) {
      const answer = await gw.query(reviewer, mutation, variables);
      expect(userErrors(answer), mutation).toEqual([expect.objectContaining({ field, code: 'NOT_FOUND' })]);
    }
    expect(await audited()).toBe(before);
    const still = await gw.query({ role: 'ADMIN' }, READ, readVars(qz));
    expect(still.data).toEqual(seesAll(qz));
    const states = await gw.query({ role: 'ADMIN' }, 'query($c: ID!, $a: ID!) { claim(id: $c) { status } node(id: $a) { ... on Appeal { status } } }', { c: qz.pendingClaimGid, a: qz.appealGid });
    expect(states.data).toEqual({ claim: { status: 'PENDING_REVIEW' }, node: { status: 'OPEN' } });
  });

  it('a QZ claim\'s line answers a JJ reviewer\'s adjustment exactly as a line that does not exist', async () => {
    const { gw, qz } = await setUp();
    const line = await gw.query({ role: 'ADMIN' }, 'query($id: ID!) { claim(id: $id) { lines { id } } }', { id: qz.pendingClaimGid });
    const ADJUST = `mutation($id: ID!) { adjustClaimLine(input: { lineId: $id, amountFen: 1, reason: "capped by the fund" }) { claim { status } userErrors { field code message } } }`;
    const adjust = async (id: string) => (await gw.query({ role: 'REVIEWER', org: 'JJ', sub: 'jj-reviewer' }, ADJUST, { id })).data.adjustClaimLine;
    const outside = await adjust(line.data.claim.lines[0].id);
    expect(outside).toEqual({ claim: null, userErrors: [expect.objectContaining({ field: 'input.lineId', code: 'NOT_FOUND' })] });
    expect(await adjust(toGlobalId('BenefitLine', 999_999_999))).toEqual(outside);
  });

  it('the same reviewer decides a JJ claim; a QZ reviewer decides a JJ appeal', async () => {
    const { gw, jj } = await setUp();
    const rejected = await gw.query({ role: 'REVIEWER', org: 'JJ', sub: 'jj-reviewer' },
      `mutation($id: ID!) { rejectClaim(input: { claimId: $id, reason: "no discharge summary" }) { claim { status } userErrors { field code } } }`, { id: jj.pendingClaimGid });
    expect(rejected.data.rejectClaim).toEqual({ claim: { status: 'REJECTED' }, userErrors: [] });
    const decided = await gw.query({ role: 'REVIEWER', org: 'QZ', sub: 'qz-reviewer' }, DECIDE_APPEAL, { input: { appealId: jj.appealGid, decision: 'DISMISS', reason: 'the decision stands' } });
    expect(decided.data.decideAppeal.userErrors).toEqual([]);
    expect(decided.data.decideAppeal.appeal.status).toBe('DISMISSED');
  });
});

describe('the org claim', () => {
  it('the hub\'s own work across every organisation (settlement sources, ingestion and its rejections) is refused to them: FORBIDDEN', async () => {
    const { gw } = await setUp();
    for (const [role, query] of [
      ['ADMIN', '{ settlementSources { name } }'],
      ['AUDITOR', '{ settlementRejections(first: 5) { totalCount } }'],
      ['ADMIN', '{ settlementIngestionRuns(first: 5) { totalCount } }'],
    ] as const) {
      const bound = await gw.query({ role, org: 'FJ' }, query);
      expect(bound.errors?.[0]?.extensions?.code, `${role} ${query}`).toBe('FORBIDDEN');
      const hub = await gw.query({ role }, query);
      expect(hub.errors, `${role} ${query}`).toBeUndefined();
    }
  });

  it('an unknown organisation, or one on a UNIT_OPERATOR or MEMBER token: 401', async () => {
    const { gw, jj } = await setUp();
    const { rows } = await (await setUp()).db.pool.query<{ credit_code: string }>('SELECT credit_code FROM units WHERE id = $1', [jj.unitId]);
    for (const claims of [
      { role: 'ADMIN' as const, org: 'NOPE' },
      { role: 'REVIEWER' as const, org: 'jj\u0000' },
      { role: 'UNIT_OPERATOR' as const, unit: rows[0]!.credit_code, org: 'JJ' },
      { role: 'MEMBER' as const, member: jj.memberGid, org: 'JJ' },
      { role: 'SERVICE' as const, org: 'JJ' },
    ]) {
      const response = await fetch(gw.url, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await gw.token(claims)}` }, body: JSON.stringify({ query: '{ viewer { role } }' }),
      });
      expect(response.status, JSON.stringify(claims)).toBe(401);
      expect((await response.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
  });
});

describe('the tree and unit moves', () => {
  it('an organisation\'s ADMIN creates only inside its subtree, never a new tree; other roles not at all', async () => {
    const { gw, tree } = await setUp();
    const jjAdmin = { role: 'ADMIN' as const, org: 'JJ' };
    const outside = await gw.query(jjAdmin, CREATE_ORGANISATION, { input: { code: 'NA', name: '南安市总工会', level: 'COUNTY', parentId: tree.QZ } });
    expect(outside.data.createOrganisation.userErrors).toEqual([expect.objectContaining({ field: 'input.parentId', code: 'NOT_FOUND' })]);
    const top = await gw.query(jjAdmin, CREATE_ORGANISATION, { input: { code: 'ZJ', name: '浙江省总工会', level: 'PROVINCE' } });
    expect(top.data.createOrganisation.userErrors).toEqual([expect.objectContaining({ field: 'input.parentId', code: 'NOT_FOUND' })]);
    const reviewer = await gw.query({ role: 'REVIEWER' }, CREATE_ORGANISATION, { input: { code: 'NA', name: '南安市总工会', level: 'COUNTY', parentId: tree.QZ } });
    expect(reviewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const inside = await gw.query({ role: 'ADMIN', org: 'QZ' }, CREATE_ORGANISATION, { input: { code: 'NA', name: '南安市总工会', level: 'COUNTY', parentId: tree.QZ } });
    expect(inside.data.createOrganisation.organisation).toMatchObject({ code: 'NA', parent: { code: 'QZ' }, ancestors: [{ code: 'FJ' }, { code: 'QZ' }] });
  });

  it('moving a unit: both organisations in the caller\'s subtree, and never confirmed by its proposer (code and database)', async () => {
    const { db, gw, tree, jj, qz } = await setUp();
    const unit = toGlobalId('Unit', qz.unitId);
    // JJ's ADMIN cannot take a QZ unit, nor send a JJ unit to XM.
    const take = await gw.query({ role: 'ADMIN', org: 'JJ' }, MOVE_UNIT, { input: { unitId: unit, organisationId: tree.JJ, reason: 'the firm moved' } });
    expect(take.data.moveUnit.userErrors).toEqual([expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })]);
    const send = await gw.query({ role: 'ADMIN', org: 'QZ' }, MOVE_UNIT, { input: { unitId: toGlobalId('Unit', jj.unitId), organisationId: tree.XM, reason: 'the firm moved' } });
    expect(send.data.moveUnit.userErrors).toEqual([expect.objectContaining({ field: 'input.organisationId', code: 'NOT_FOUND' })]);

    const proposed = await gw.query({ role: 'ADMIN', org: 'QZ', sub: 'qz-admin-a' }, MOVE_UNIT, { input: { unitId: unit, organisationId: tree.JJ, reason: 'the firm moved to Jinjiang' } });
    expect(proposed.data.moveUnit).toMatchObject({ move: { confirmed: false, from: { code: 'QZ' }, to: { code: 'JJ' } }, userErrors: [] });
    const own = await gw.query({ role: 'ADMIN', org: 'QZ', sub: 'qz-admin-a' }, CONFIRM_UNIT_MOVE, { unitId: unit, proposedAt: proposed.data.moveUnit.move.proposedAt });
    expect(own.data.confirmUnitMove.userErrors).toEqual([expect.objectContaining({ field: 'input.unitId', code: 'CONFLICT' })]);
    // Going round the service: the database refuses the proposer as confirmer too.
    await expect(db.pool.query(`UPDATE unit_moves SET status = 'CONFIRMED', confirmed_by = proposed_by, confirmed_at = now() WHERE unit_id = $1 AND status = 'PROPOSED'`, [qz.unitId]))
      .rejects.toThrow(/unit_moves_four_eyes/);
    // JJ's ADMIN cannot confirm it either: the unit is not (yet) in JJ.
    const county = await gw.query({ role: 'ADMIN', org: 'JJ', sub: 'jj-admin' }, CONFIRM_UNIT_MOVE, { unitId: unit, proposedAt: proposed.data.moveUnit.move.proposedAt });
    expect(county.data.confirmUnitMove.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
    expect((await gw.query({ role: 'REVIEWER', org: 'JJ' }, READ, readVars(qz))).data).toEqual(seesNothing);

    const confirmed = await gw.query({ role: 'ADMIN', org: 'FJ', sub: 'fj-admin' }, CONFIRM_UNIT_MOVE, { unitId: unit, proposedAt: proposed.data.moveUnit.move.proposedAt });
    expect(confirmed.data.confirmUnitMove).toEqual({ move: { confirmed: true, confirmedBy: { subject: 'fj-admin' }, unit: { organisation: { code: 'JJ' } } }, userErrors: [] });
    // Now JJ's staff see the moved unit's rows; move it back for the other tests.
    expect((await gw.query({ role: 'REVIEWER', org: 'JJ' }, READ, readVars(qz))).data).toEqual(seesAll(qz));
    await placeUnit(db.pool, qz.unitId, 'QZ');
    const audit = await db.pool.query(`SELECT action, actor AS subject FROM audit_log WHERE action LIKE 'unit.move.%' ORDER BY seq`);
    expect(audit.rows).toEqual([{ action: 'unit.move.propose', subject: 'qz-admin-a' }, { action: 'unit.move.confirm', subject: 'fj-admin' }]);
  });

  /** A unit of QZ of its own, so the move it waits on or is refused leaves the other tests' units alone. */
  async function qzUnit(db: TestDatabase): Promise<{ id: number; gid: string }> {
    const { id } = await seedUnit(db.pool);
    await placeUnit(db.pool, id, 'QZ');
    return { id, gid: toGlobalId('Unit', id) };
  }
  const placeOf = async (db: TestDatabase, unitId: number) =>
    (await db.pool.query(`SELECT o.code FROM units u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = $1`, [unitId])).rows[0].code;

  it('a QZ ADMIN proposing while FJ\'s move of the unit to XM commits is refused once it has: NOT_FOUND, no move recorded from QZ', async () => {
    const { db, gw, tree } = await setUp();
    const unit = await qzUnit(db);
    const earlier = await gw.query({ role: 'ADMIN', org: 'FJ', sub: 'fj-admin-a' }, MOVE_UNIT, { input: { unitId: unit.gid, organisationId: tree.XM, reason: 'the firm moved to Xiamen' } });
    expect(earlier.data.moveUnit.userErrors).toEqual([]);
    const { work: proposing } = await commitOnceWaitedOn(
      db.pool,
      async (confirming) => {
        await confirming.query(`UPDATE unit_moves SET status = 'CONFIRMED', confirmed_by = 'fj-admin-b', confirmed_at = now() WHERE unit_id = $1 AND status = 'PROPOSED'`, [unit.id]);
        await confirming.query(`UPDATE units SET organisation_id = (SELECT id FROM organisations WHERE code = 'XM') WHERE id = $1`, [unit.id]);
      },
      () => gw.query({ role: 'ADMIN', org: 'QZ', sub: 'qz-admin-b' }, MOVE_UNIT, { input: { unitId: unit.gid, organisationId: tree.JJ, reason: 'the firm moved to Jinjiang' } }),
    );
    const { data } = await proposing;
    expect(data.moveUnit).toEqual({ move: null, userErrors: [expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })] });
    const open = await db.pool.query(`SELECT count(*)::int AS n FROM unit_moves WHERE unit_id = $1 AND status = 'PROPOSED'`, [unit.id]);
    expect(open.rows[0].n).toBe(0);
    expect(await placeOf(db, unit.id)).toBe('XM');
  });

  it('a move proposed from QZ is refused at confirmation once the unit is no longer in QZ: CONFLICT, the unit stays, nothing written', async () => {
    const { db, gw } = await setUp();
    const unit = await qzUnit(db);
    // The unit has left QZ since, a move from QZ still waiting: a stale proposal from before proposals
    // locked the unit (now it moves only by its waiting move's confirmation, 0074), so written here.
    await placeUnit(db.pool, unit.id, 'XM');
    const { rows: [stale] } = await db.pool.query<{ proposed_at: Date }>(`INSERT INTO unit_moves (unit_id, from_organisation_id, to_organisation_id, reason, proposed_by)
      SELECT $1, f.id, t.id, 'the firm moved to Jinjiang', 'qz-admin-a' FROM organisations f, organisations t WHERE f.code = 'QZ' AND t.code = 'JJ' RETURNING proposed_at`, [unit.id]);
    const audited = async () => (await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE target_type = 'Unit' AND target_id = $1`, [String(unit.id)])).rows[0].n;
    const before = await audited();
    const confirmed = await gw.query({ role: 'ADMIN', org: 'FJ', sub: 'fj-admin' }, CONFIRM_UNIT_MOVE, { unitId: unit.gid, proposedAt: stale!.proposed_at.toISOString() });
    expect(confirmed.data.confirmUnitMove).toEqual({
      move: null, userErrors: [expect.objectContaining({ field: 'input.unitId', code: 'CONFLICT', message: expect.stringContaining('no longer belongs to QZ') })],
    });
    expect(await placeOf(db, unit.id)).toBe('XM');
    const moves = await db.pool.query(`SELECT status, confirmed_by FROM unit_moves WHERE unit_id = $1 AND proposed_by = 'qz-admin-a'`, [unit.id]);
    expect(moves.rows).toEqual([{ status: 'PROPOSED', confirmed_by: null }]);
    expect(await audited()).toBe(before);
  });

  it('withdrawing a waiting move: any ADMIN with both organisations in scope, the proposer included; it never takes effect, and the unit may be moved again', async () => {
    const { db, gw, tree } = await setUp();
    const unit = await qzUnit(db);
    const WITHDRAW = `mutation($input: WithdrawUnitMoveInput!) { withdrawUnitMove(input: $input) {
      move { confirmed withdrawn withdrawnBy { subject } withdrawalReason } userErrors { field code message } } }`;
    const input = { unitId: unit.gid, reason: 'proposed for the wrong unit' };
    const proposed = await gw.query({ role: 'ADMIN', org: 'QZ', sub: 'qz-admin-a' }, MOVE_UNIT, { input: { unitId: unit.gid, organisationId: tree.JJ, reason: 'the firm moved to Jinjiang' } });
    expect(proposed.data.moveUnit.userErrors).toEqual([]);
    // Other roles may not; an ADMIN outside the unit's organisation does not find it; a reason is needed.
    expect((await gw.query({ role: 'REVIEWER', org: 'QZ' }, WITHDRAW, { input })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gw.query({ role: 'ADMIN', org: 'XM' }, WITHDRAW, { input })).data.withdrawUnitMove.userErrors).toEqual([expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })]);
    expect((await gw.query({ role: 'ADMIN', org: 'QZ' }, WITHDRAW, { input: { ...input, reason: ' no ' } })).data.withdrawUnitMove.userErrors)
      .toEqual([expect.objectContaining({ field: 'input.reason', code: 'INVALID' })]);
    const withdrawn = await gw.query({ role: 'ADMIN', org: 'QZ', sub: 'qz-admin-a' }, WITHDRAW, { input });
    expect(withdrawn.data.withdrawUnitMove).toEqual({
      move: { confirmed: false, withdrawn: true, withdrawnBy: { subject: 'qz-admin-a' }, withdrawalReason: 'proposed for the wrong unit' }, userErrors: [],
    });
    // Nothing to confirm or withdraw now; the unit stays; the database keeps a withdrawn move as it is.
    const confirmed = await gw.query({ role: 'ADMIN', org: 'FJ', sub: 'fj-admin' }, CONFIRM_UNIT_MOVE, { unitId: unit.gid, proposedAt: proposed.data.moveUnit.move.proposedAt });
    expect(confirmed.data.confirmUnitMove.userErrors).toEqual([expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })]);
    expect((await gw.query({ role: 'ADMIN', org: 'QZ' }, WITHDRAW, { input })).data.withdrawUnitMove.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
    expect(await placeOf(db, unit.id)).toBe('QZ');
    await expect(db.pool.query(`UPDATE unit_moves SET status = 'CONFIRMED', confirmed_by = 'fj-admin', confirmed_at = now() WHERE unit_id = $1`, [unit.id]))
      .rejects.toThrow(/only a proposal's confirmation or withdrawal/);
    // Another move may be proposed.
    const again = await gw.query({ role: 'ADMIN', org: 'FJ', sub: 'fj-admin' }, MOVE_UNIT, { input: { unitId: unit.gid, organisationId: tree.XM, reason: 'the firm moved to Xiamen' } });
    expect(again.data.moveUnit).toMatchObject({ move: { from: { code: 'QZ' }, to: { code: 'XM' } }, userErrors: [] });
    const audit = await db.pool.query(`SELECT action, reason FROM audit_log WHERE target_type = 'Unit' AND target_id = $1 AND action LIKE 'unit.move.%' ORDER BY seq`, [String(unit.id)]);
    expect(audit.rows).toEqual([
      { action: 'unit.move.propose', reason: 'the firm moved to Jinjiang' },
      { action: 'unit.move.withdraw', reason: 'proposed for the wrong unit' },
      { action: 'unit.move.propose', reason: 'the firm moved to Xiamen' },
    ]);
  });

  it('a unit move confirmed while a roster import merges the unit is refused after a short wait, not left hanging: CONFLICT, the unit stays', async () => {
    const { db, gw, tree } = await setUp();
    const unit = await qzUnit(db);
    const proposed = await gw.query({ role: 'ADMIN', org: 'QZ', sub: 'qz-admin-a' }, MOVE_UNIT, { input: { unitId: unit.gid, organisationId: tree.JJ, reason: 'the firm moved to Jinjiang' } });
    expect(proposed.data.moveUnit.userErrors).toEqual([]);
    // An import merging the unit's rows holds it (FOR SHARE) until it commits: minutes for a big file.
    const merging = await db.pool.connect();
    try {
      await merging.query('BEGIN');
      await merging.query('SELECT 1 FROM units WHERE id = $1 FOR SHARE', [unit.id]);
      const confirmed = await gw.query({ role: 'ADMIN', org: 'FJ', sub: 'fj-admin' }, CONFIRM_UNIT_MOVE, { unitId: unit.gid, proposedAt: proposed.data.moveUnit.move.proposedAt });
      expect(confirmed.data.confirmUnitMove).toEqual({
        move: null, userErrors: [expect.objectContaining({ field: 'input.unitId', code: 'CONFLICT', message: expect.stringContaining('roster import is merging') })],
      });
    } finally {
      await merging.query('ROLLBACK');
      merging.release();
    }
    expect(await placeOf(db, unit.id)).toBe('QZ');
  });

  it('an ADMIN of JJ moving an XM unit a roster import is merging finds no unit, as for a missing one: NOT_FOUND, not the wait\'s CONFLICT', async () => {
    const { db, gw, tree } = await setUp();
    const unit = await qzUnit(db);
    await placeUnit(db.pool, unit.id, 'XM');
    const proposed = await gw.query({ role: 'ADMIN', org: 'FJ', sub: 'fj-admin-a' }, MOVE_UNIT, { input: { unitId: unit.gid, organisationId: tree.QZ, reason: 'the firm moved to Quanzhou' } });
    expect(proposed.data.moveUnit.userErrors).toEqual([]);
    const merging = await db.pool.connect();
    try {
      await merging.query('BEGIN');
      await merging.query('SELECT 1 FROM units WHERE id = $1 FOR SHARE', [unit.id]);
      const jjAdmin = { role: 'ADMIN' as const, org: 'JJ', sub: 'jj-admin' };
      const move = await gw.query(jjAdmin, MOVE_UNIT, { input: { unitId: unit.gid, organisationId: tree.JJ, reason: 'the firm moved to Jinjiang' } });
      expect(move.data.moveUnit).toEqual({ move: null, userErrors: [expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })] });
      const confirm = await gw.query(jjAdmin, CONFIRM_UNIT_MOVE, { unitId: unit.gid, proposedAt: proposed.data.moveUnit.move.proposedAt });
      expect(confirm.data.confirmUnitMove).toEqual({ move: null, userErrors: [expect.objectContaining({ field: 'input.unitId', code: 'NOT_FOUND' })] });
    } finally {
      await merging.query('ROLLBACK');
      merging.release();
    }
    expect(await placeOf(db, unit.id)).toBe('XM');
  });
});

describe('a member\'s old unit, after the member moved to another organisation\'s', () => {
  const OLD_UNIT = `query($id: ID!) { member(id: $id) { enrolments { edges { node { planYear unit {
    name contribution(planYear: 2025) { owedFen paidFen payments { reference amountFen } } } } } } } }`;
  const OLD_UNIT_MOVE = `query($id: ID!) { member(id: $id) { enrolments { edges { node { unit { pendingMove { reason } } } } } } }`;

  it('XM staff read neither its contribution (NOT_FOUND, as for a missing unit) nor its waiting move; FJ staff, over both, read them', async () => {
    const { db, gw, tree } = await setUp();
    // Unit A of JJ, its member enrolled for 2025 and its contribution paid; unit B of XM.
    const a = await seedEnrolledMember(db.pool);
    await placeUnit(db.pool, a.unitId, 'JJ');
    const b = await seedUnit(db.pool);
    await placeUnit(db.pool, b.id, 'XM');
    const unitA = toGlobalId('Unit', a.unitId);
    const member = toGlobalId('Member', a.memberId);
    const fjAdmin = { role: 'ADMIN' as const, org: 'FJ', sub: 'fj-admin' };
    const moved = await gw.query(fjAdmin, `mutation($input: MoveMemberInput!) { moveMember(input: $input) { userErrors { code } } }`,
      { input: { memberId: member, unitId: toGlobalId('Unit', b.id), reason: 'changed employer' } });
    expect(moved.data.moveMember.userErrors).toEqual([]);
    const proposed = await gw.query(fjAdmin, MOVE_UNIT, { input: { unitId: unitA, organisationId: tree.QZ, reason: 'the firm is a city firm now' } });
    expect(proposed.data.moveUnit.userErrors).toEqual([]);
    const { rows: [payment] } = await db.pool.query<{ reference: string }>('SELECT reference FROM contribution_payments WHERE unit_id = $1', [a.unitId]);

    const xm = { role: 'AUDITOR' as const, org: 'XM' };
    expect((await gw.query(xm, `query($id: ID!) { unit(id: $id) { id } }`, { id: unitA })).data.unit).toBeNull();
    const leak = await gw.query(xm, OLD_UNIT, { id: member });
    expect(leak.errors?.map((e: { path?: unknown[]; extensions?: { code?: string } }) => [e.path?.at(-1), e.extensions?.code])).toEqual([['contribution', 'NOT_FOUND']]);
    expect(JSON.stringify(leak.data)).not.toContain(payment!.reference);
    const move = await gw.query({ role: 'ADMIN', org: 'XM' }, OLD_UNIT_MOVE, { id: member });
    expect(move.errors).toBeUndefined();
    expect(move.data.member.enrolments.edges).toEqual([{ node: { unit: { pendingMove: null } } }]);

    const fj = await gw.query({ role: 'AUDITOR', org: 'FJ' }, OLD_UNIT, { id: member });
    expect(fj.errors).toBeUndefined();
    expect(fj.data.member.enrolments.edges[0].node.unit.contribution).toMatchObject({ payments: [{ reference: payment!.reference }] });
    expect((await gw.query(fjAdmin, OLD_UNIT_MOVE, { id: member })).data.member.enrolments.edges)
      .toEqual([{ node: { unit: { pendingMove: { reason: 'the firm is a city firm now' } } } }]);
  });
});
