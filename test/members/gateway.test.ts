import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, countQueries, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { confirmProposal, waitingContributionPayments } from '../reconciliation/support.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers, sampleUnits } from '../../src/demo/sampleData.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { verifyAuditChain } from '../../src/audit/audit.ts';
import { withCreditCodeCheck, withLuhnCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';

let db: TestDatabase;
let gw: TestGateway;
const units = sampleUnits(3, 11);
const members = [...sampleMembers(1200, units, 12)];
const unitIds = new Map<string, number>();

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  const { rows } = await db.pool.query<{ id: number; credit_code: string }>(
    `INSERT INTO units (credit_code, name, plan_type, terms_confirmed) SELECT *, true FROM unnest($1::text[], $2::text[], $3::text[]) RETURNING id, credit_code`,
    [units.map((u) => u.creditCode), units.map((u) => u.name), units.map((u) => u.planType)],
  );
  for (const r of rows) unitIds.set(r.credit_code, r.id);
  const importId = (await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('s', '\\x', 't') RETURNING id`)).rows[0]!.id;
  const csv = ROSTER_HEADER + members.map((m, i) => rosterLine(m, 2025, i % 4 === 0)).join('');
  await importRoster(db.pool, gw.keys, csv, { importId, today: '2025-01-02' });
  // A second year for half of them, so enrolment lists have more than one row.
  const importId2 = (await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('s2', '\\x', 't') RETURNING id`)).rows[0]!.id;
  await importRoster(db.pool, gw.keys, ROSTER_HEADER + members.filter((_, i) => i % 2 === 0).map((m) => rosterLine(m, 2026, false)).join(''), { importId: importId2, today: '2026-01-02' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const ADMIN = { role: 'ADMIN' } as const;

async function memberIdOf(idNumber: string): Promise<string> {
  const r = await gw.query(ADMIN, `query($n: String) { members(filter: { idNumber: $n }) { edges { node { id } } } }`, { n: idNumber });
  return r.data.members.edges[0].node.id;
}

describe('cursor pagination', () => {
  it('walks 1,200 members in pages of 100 without gaps or repeats, with and without filters', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const r: any = await gw.query(ADMIN, `query($after: String) { members(first: 100, after: $after) { edges { cursor node { id idNumberMasked } } pageInfo { hasNextPage endCursor } totalCount } }`, { after });
      expect(r.errors).toBeUndefined();
      seen.push(...r.data.members.edges.map((e: any) => e.node.id));
      expect(r.data.members.totalCount).toBe(1200);
      pages += 1;
      if (!r.data.members.pageInfo.hasNextPage) break;
      after = r.data.members.pageInfo.endCursor;
    }
    expect(pages).toBe(12);
    expect(seen).toHaveLength(1200);
    expect(new Set(seen).size).toBe(1200);

    // Filtered by plan year: only the 600 renewed for 2026.
    const filtered: string[] = [];
    after = null;
    for (;;) {
      const r: any = await gw.query(ADMIN, `query($after: String) { members(first: 75, after: $after, filter: { planYear: 2026 }) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`, { after });
      filtered.push(...r.data.members.edges.map((e: any) => e.node.id));
      if (!r.data.members.pageInfo.hasNextPage) break;
      after = r.data.members.pageInfo.endCursor;
    }
    expect(new Set(filtered).size).toBe(600);
  });

  it('refuses page sizes over 100 and forged cursors, naming the argument', async () => {
    const big = await gw.query(ADMIN, `{ members(first: 101) { edges { node { id } } } }`);
    expect(big.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const forged = await gw.query(ADMIN, `{ members(after: "bm9wZQ") { edges { node { id } } } }`);
    expect(forged.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });
});

describe('DataLoaders', () => {
  const PAGE = `query($n: Int) { members(first: $n) { edges { node { id name unit { name creditCode } enrolments { edges { node { planYear plan contributionPaid unit { name } } } } } } } }`;

  it('serve a page of members with unit and enrolments in a constant number of SQL queries', async () => {
    const small = await countQueries(() => gw.query(ADMIN, PAGE, { n: 10 }));
    const large = await countQueries(() => gw.query(ADMIN, PAGE, { n: 100 }));
    expect((large.result as any).data.members.edges).toHaveLength(100);
    expect((large.result as any).data.members.edges[0].node.enrolments.edges.length).toBeGreaterThan(0);
    expect(large.queries).toBe(small.queries);
    expect(large.queries).toBeLessThanOrEqual(6);
  });
});

describe('masking and audited reveal', () => {
  it('shows ID and card numbers masked, and reveals them only with a reason, writing an audit record', async () => {
    const m = members[7]!;
    const id = await memberIdOf(m.idNumber);
    const masked = await gw.query(ADMIN, `query($id: ID!) { member(id: $id) { idNumberMasked bankAccount { cardNumberMasked bankCode } } }`, { id });
    expect(masked.data.member).toEqual({
      idNumberMasked: `${m.idNumber.slice(0, 4)}**********${m.idNumber.slice(-4)}`,
      bankAccount: { cardNumberMasked: `${m.bankCard.slice(0, 4)} **** **** ${m.bankCard.slice(-4)}`, bankCode: m.bankCode },
    });
    expect(JSON.stringify(masked)).not.toContain(m.idNumber);

    const REVEAL = `mutation($id: ID!, $reason: String!) { revealMemberPersonalData(input: { memberId: $id, reason: $reason }) { personalData { idNumber bankCardNumber member { name } } userErrors { field code } } }`;
    const noReason = await gw.query(ADMIN, REVEAL, { id, reason: ' ' });
    expect(noReason.data.revealMemberPersonalData).toEqual({ personalData: null, userErrors: [{ field: 'input.reason', code: 'INVALID' }] });

    const reviewer = await gw.query({ role: 'REVIEWER' }, REVEAL, { id, reason: 'checking a claim' });
    expect(reviewer.errors![0]!.extensions!.code).toBe('FORBIDDEN');

    const auditBefore = (await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'member.reveal'`)).rows[0].n;
    const revealed = await gw.query({ role: 'ADMIN', sub: 'clerk-li' }, REVEAL, { id, reason: 'bank returned the payout (AC04)' });
    expect(revealed.data.revealMemberPersonalData).toEqual({ personalData: { idNumber: m.idNumber, bankCardNumber: m.bankCard, member: { name: m.name } }, userErrors: [] });
    const audit = await db.pool.query(`SELECT * FROM audit_log WHERE action = 'member.reveal' ORDER BY seq DESC LIMIT 1`);
    expect(auditBefore + 1).toBe((await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'member.reveal'`)).rows[0].n);
    expect(audit.rows[0]).toMatchObject({ actor: 'clerk-li', role: 'ADMIN', target_type: 'Member', reason: 'bank returned the payout (AC04)' });
    expect(JSON.stringify(audit.rows[0].details)).not.toContain(m.idNumber);
    expect((await verifyAuditChain(db.pool)).firstBroken).toBeNull();
  });
});

describe('role scoping', () => {
  const unitA = () => units[0]!.creditCode;
  const memberOfA = () => members[0]!; // i % 3 === 0 -> unit 0
  const memberOfB = () => members[1]!;

  it('a unit operator sees only their unit: another unit\'s member or unit is null, never shown', async () => {
    const operator = { role: 'UNIT_OPERATOR', unit: unitA() } as const;
    const list = await gw.query(operator, `{ members(first: 100) { totalCount edges { node { unit { creditCode } } } } }`);
    expect(list.data.members.totalCount).toBe(400);
    expect(list.data.members.edges.every((e: any) => e.node.unit.creditCode === unitA())).toBe(true);

    const otherId = await memberIdOf(memberOfB().idNumber);
    const other = await gw.query(operator, `query($id: ID!) { member(id: $id) { name } }`, { id: otherId });
    expect(other).toEqual({ data: { member: null } });
    const otherUnit = await gw.query(operator, `query($id: ID!) { unit(id: $id) { name } }`, { id: toGlobalId('Unit', unitIds.get(units[1]!.creditCode)!) });
    expect(otherUnit).toEqual({ data: { unit: null } });
    const viaNode = await gw.query(operator, `query($id: ID!) { node(id: $id) { id ... on Member { name } } }`, { id: otherId });
    expect(viaNode.data.node).toBeNull();
    const byIdNumber = await gw.query(operator, `query($n: String) { members(filter: { idNumber: $n }) { totalCount } }`, { n: memberOfB().idNumber });
    expect(byIdNumber.data.members.totalCount).toBe(0);
    const visibleUnits = await gw.query(operator, `{ units { totalCount edges { node { creditCode } } } }`);
    expect(visibleUnits.data.units.edges.map((e: any) => e.node.creditCode)).toEqual([unitA()]);

    const ownId = await memberIdOf(memberOfA().idNumber);
    const own = await gw.query(operator, `query($id: ID!) { member(id: $id) { name } }`, { id: ownId });
    expect(own.data.member.name).toBe(memberOfA().name);
    const createElsewhere = await gw.query(operator, `mutation($u: ID!) { createMember(input: { unitId: $u, name: "x", idNumber: "${withResidentIdCheck('35052119800101009')}" }) { member { id } userErrors { field code } } }`,
      { u: toGlobalId('Unit', unitIds.get(units[1]!.creditCode)!) });
    expect(createElsewhere.data.createMember).toEqual({ member: null, userErrors: [{ field: 'input.unitId', code: 'NOT_FOUND' }] });
  });

  it('a member sees only themself', async () => {
    const selfId = await memberIdOf(memberOfA().idNumber);
    const me = { role: 'MEMBER', member: selfId } as const;
    const list = await gw.query(me, `{ members { totalCount edges { node { id } } } viewer { role member { name } } }`);
    expect(list.data.members.totalCount).toBe(1);
    expect(list.data.members.edges[0].node.id).toBe(selfId);
    expect(list.data.viewer).toEqual({ role: 'MEMBER', member: { name: memberOfA().name } });
    const otherId = await memberIdOf(memberOfB().idNumber);
    const other = await gw.query(me, `query($id: ID!) { member(id: $id) { name } }`, { id: otherId });
    expect(other).toEqual({ data: { member: null } });
    const write = await gw.query(me, `mutation($id: ID!) { updateMember(input: { memberId: $id, phone: "13900000000" }) { member { id } } }`, { id: selfId });
    expect(write.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    expect(write.data).toBeNull();
  });

  it('refuses missing, forged and incomplete tokens', async () => {
    const none = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ viewer { role } }' }) });
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const forged = await gw.query('eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiQURNSU4iLCJzdWIiOiJ4In0.c2lnbmF0dXJl', '{ viewer { role } }');
    expect(forged.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
    const noUnit = await gw.query({ role: 'UNIT_OPERATOR' }, '{ viewer { role } }');
    expect(noUnit.errors![0]!.message).toContain('unit');
  });
});

describe('mutations', () => {
  it('creates a unit, a member and an enrolment, with field errors for bad input', async () => {
    const bad = await gw.query(ADMIN, `mutation { createUnit(input: { creditCode: "91350100M000100Y44", name: " ", planType: PUBLIC }) { unit { id } userErrors { field code message } } }`);
    expect(bad.data.createUnit).toEqual({ unit: null, userErrors: [
      { field: 'input.creditCode', code: 'INVALID', message: 'input.creditCode: check character is 4, expected 3' },
      { field: 'input.name', code: 'INVALID', message: 'input.name: must be 1 to 200 characters' },
    ] });
    const asOperator = await gw.query({ role: 'UNIT_OPERATOR', unit: units[0]!.creditCode }, `mutation { createUnit(input: { creditCode: "91350100M000100Y43", name: "某公司", planType: PUBLIC }) { unit { id } } }`);
    expect(asOperator.errors![0]!.extensions!.code).toBe('FORBIDDEN');

    const code = withCreditCodeCheck('12350500MB7654321');
    const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "泉州市第九中学", planType: PUBLIC }) { unit { id creditCode planType } } }`, { c: code });
    expect(unit.data.createUnit.unit).toMatchObject({ creditCode: code, planType: 'PUBLIC' });
    const unitId = unit.data.createUnit.unit.id;
    await confirmUnitTerms(gw, unitId);
    const again = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "重复", planType: PUBLIC }) { unit { id } userErrors { field code } } }`, { c: code });
    expect(again.data.createUnit).toEqual({ unit: null, userErrors: [{ field: 'input.creditCode', code: 'CONFLICT' }] });

    const idNumber = withResidentIdCheck('35050219880808001');
    const badId = await gw.query(ADMIN, `mutation($u: ID!) { createMember(input: { unitId: $u, name: "林芳", idNumber: "350502198808080010" }) { userErrors { field code } } }`, { u: unitId });
    expect(badId.data.createMember.userErrors).toEqual([{ field: 'input.idNumber', code: 'INVALID' }]);
    const badCard = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "林芳", idNumber: $n, bankAccount: { cardNumber: "6222021234567890", bankCode: "10239700001" } }) { userErrors { field code } } }`, { u: unitId, n: idNumber });
    expect(badCard.data.createMember.userErrors).toEqual([
      { field: 'input.bankAccount.cardNumber', code: 'INVALID' }, { field: 'input.bankAccount.bankCode', code: 'INVALID' },
    ]);

    const card = withLuhnCheck('621661000012345678');
    const member = await gw.query(ADMIN, `mutation($u: ID!, $n: String!, $c: String!) { createMember(input: { unitId: $u, name: "林芳", idNumber: $n, phone: "13805951234", bankAccount: { cardNumber: $c, bankCode: "104397000010" } }) { member { id birthDate gender bankAccount { bankCode } } } }`, { u: unitId, n: idNumber, c: card });
    expect(member.data.createMember.member).toMatchObject({ birthDate: '1988-08-08', gender: 'M', bankAccount: { bankCode: '104397000010' } });

    const enrol = await gw.query(ADMIN, `mutation($m: ID!) { enrolMember(input: { memberId: $m, planYear: 2025, specialDisease: true, enrolledOn: "2025-03-01", override: { rules: [BACKDATED], reason: "test: a past plan year" } }) { enrolment { plan specialDisease firstEnrolledOn waitingPeriodEndsOn contributionFen contributionPaid } } }`, { m: member.data.createMember.member.id });
    expect(enrol.data.enrolMember.enrolment).toEqual({ plan: 'PUBLIC', specialDisease: true, firstEnrolledOn: '2025-03-01', waitingPeriodEndsOn: '2025-05-29', contributionFen: 12500, contributionPaid: false });

    const PAY = `mutation($u: ID!, $a: Fen!, $r: String!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: $a, reference: $r, paidOn: "2025-03-05" }) { contribution { owedFen paidFen status enrolled paymentReference payments { amountFen reference } } userErrors { field code } } }`;
    const byReviewer = await gw.query({ role: 'REVIEWER' }, PAY, { u: unitId, a: 5000, r: 'BANKREF001' });
    expect(byReviewer.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    // Not a Fen: refused by the scalar before any resolver, as a request error.
    const floatAmount = await gw.query({ role: 'FINANCE' }, PAY, { u: unitId, a: 50.5, r: 'BANKREF001' });
    expect(floatAmount.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    const part = await gw.query({ role: 'FINANCE' }, PAY, { u: unitId, a: 5000, r: 'BANKREF001' });
    expect(part.data.recordContributionPayment.contribution).toMatchObject({ owedFen: 12500, paidFen: 5000, status: 'PARTIALLY_PAID', enrolled: 1, paymentReference: `MAH2025${code}` });
    const dup = await gw.query({ role: 'FINANCE' }, PAY, { u: unitId, a: 5000, r: 'BANKREF001' });
    expect(dup.data.recordContributionPayment).toEqual({ contribution: null, userErrors: [{ field: 'input.reference', code: 'CONFLICT' }] });
    // The rest pays the year, so covers the member: it counts once another FINANCE person confirms it (attack 137).
    const rest = await gw.query({ role: 'FINANCE' }, PAY, { u: unitId, a: 7500, r: 'BANKREF002' });
    expect(rest.data.recordContributionPayment.contribution).toMatchObject({ paidFen: 5000, status: 'PARTIALLY_PAID' });
    const SECOND = { role: 'FINANCE' as const, sub: 'finance-zhao' };
    const waiting = await waitingContributionPayments(gw, SECOND);
    expect(waiting.map((p) => p.decision.reference)).toEqual(['BANKREF002']);
    expect((await confirmProposal(gw, SECOND, waiting[0]!.id)).proposal).toEqual({ status: 'CONFIRMED' });
    const paid = await gw.query(ADMIN, `query($m: ID!) { member(id: $m) { enrolments { edges { node { contributionPaid } } } } }`, { m: member.data.createMember.member.id });
    expect(paid.data.member.enrolments.edges[0].node.contributionPaid).toBe(true);
  });

  it('refuses a name the bank\'s payment file cannot carry, naming input.name: a control character, a character XML 1.0 forbids, over 140 bytes', async () => {
    const CREATE = `mutation($u: ID!, $name: String!, $n: String!) { createMember(input: { unitId: $u, name: $name, idNumber: $n }) { member { id } userErrors { field code message } } }`;
    const u = toGlobalId('Unit', unitIds.get(units[0]!.creditCode)!);
    const n = withResidentIdCheck('35050219900101901');
    for (const [name, message] of [
      ['张\t三', 'input.name: must not contain control characters or line breaks'],
      ['张三\uFFFF', 'input.name: must not contain U+FFFF: XML 1.0 does not allow it'],
      ['泉'.repeat(47), 'input.name: is 141 bytes (utf8), the bank accepts at most 140'],
    ]) {
      const refused = await gw.query(ADMIN, CREATE, { u, name, n });
      expect(refused.data.createMember).toEqual({ member: null, userErrors: [{ field: 'input.name', code: 'INVALID', message }] });
    }
    // 46 CJK characters are 138 bytes: the bank takes them.
    const fits = await gw.query(ADMIN, CREATE, { u, name: '泉'.repeat(46), n });
    expect(fits.data.createMember.userErrors).toEqual([]);
    const UPDATE = `mutation($id: ID!, $name: String!) { updateMember(input: { memberId: $id, name: $name }) { member { name } userErrors { field code } } }`;
    const update = await gw.query(ADMIN, UPDATE, { id: fits.data.createMember.member.id, name: '林\n芳' });
    expect(update.data.updateMember).toEqual({ member: null, userErrors: [{ field: 'input.name', code: 'INVALID' }] });
  });

  it('imports a roster uploaded through the API with the workers', async () => {
    const { startWorkers } = await import('../../jobs/worker.ts');
    const { log } = await import('../../src/log.ts');
    const workers = await startWorkers({ db: db.pool, keys: gw.keys, connection: gw.redis, prefix: gw.prefix, log });
    try {
      const operator = { role: 'UNIT_OPERATOR', unit: units[2]!.creditCode } as const;
      const csv = `name,id_number,plan_year\n蔡明,${withResidentIdCheck('35058319910101001')},2026\n坏行,35058319910101,2026\n`;
      const started = await gw.query(operator, `mutation($csv: String!) { importRoster(input: { fileName: "roster.csv", csv: $csv }) { rosterImport { id status } userErrors { message } } }`, { csv });
      expect(started.errors).toBeUndefined();
      expect(started.data.importRoster.userErrors).toEqual([]);
      let status: any;
      for (let i = 0; i < 100; i++) {
        status = (await gw.query(operator, `query($id: ID!) { rosterImport(id: $id) { status rowsTotal rowsInserted rowsRejected errors { row field reason } } }`, { id: started.data.importRoster.rosterImport.id })).data.rosterImport;
        if (status.status === 'DONE' || status.status === 'FAILED') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toMatchObject({ status: 'DONE', rowsTotal: 2, rowsInserted: 1, rowsRejected: 1 });
      expect(status.errors).toEqual([{ row: 3, field: 'id_number', reason: 'must be 17 digits followed by a digit or X (18 characters)' }]);
      // Another unit's operator cannot see the import.
      const other = await gw.query({ role: 'UNIT_OPERATOR', unit: units[1]!.creditCode }, `query($id: ID!) { rosterImport(id: $id) { status } }`, { id: started.data.importRoster.rosterImport.id });
      expect(other).toEqual({ data: { rosterImport: null } });
    } finally {
      await workers.close();
    }
  });
});
