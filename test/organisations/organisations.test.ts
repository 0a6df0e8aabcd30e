import { describe, expect, it } from 'vitest';
import { confirmUnitTerms, ensureUnit, lazyTestGateway } from '../support/gateway.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { organisationByCode, organisationOfUnit, organisationPath } from '../../src/organisations/store.ts';
import { levelBelow } from '../../src/organisations/service.ts';
import { ORGANISATION_LEVELS } from '../../src/organisations/model.ts';
import { importRoster, importUploadedRoster } from '../../src/members/rosterImport.ts';
import { CREATE_ORGANISATION, fujianTree, placeUnit } from './support.ts';

/**
 * The organisation tree (paths kept by the database), who may create what in it, and the unit and
 * enrolment facts that come with it: unit types, small-firm marks, member categories.
 */
const started = lazyTestGateway({ RATE_LIMIT_POINTS: '0' });
let tree: Promise<Awaited<ReturnType<typeof fujianTree>>> | undefined;
const setUp = async () => {
  const { db, gw } = await started();
  return { db, gw, tree: await (tree ??= fujianTree(gw)) };
};
const ADMIN = { role: 'ADMIN', sub: 'admin-lin' } as const;

describe('the tree', () => {
  it('keeps each organisation\'s path from the top down to itself, and the exports read it', async () => {
    const { db } = await setUp();
    const [fj, qz, jj] = await Promise.all(['FJ', 'QZ', 'JJ'].map((code) => organisationByCode(db.pool, code)));
    expect(fj!.path).toEqual([fj!.id]);
    expect(qz!.path).toEqual([fj!.id, qz!.id]);
    expect(jj!.path).toEqual([fj!.id, qz!.id, jj!.id]);
    expect(await organisationPath(db.pool, jj!.id)).toEqual(jj!.path);
    expect(await organisationPath(db.pool, 987_654)).toEqual([]);
    const { gw } = await setUp();
    const unit = localId('unit', await ensureUnit(gw, withCreditCodeCheck('91350500MA2000001')), 'Unit');
    expect((await organisationOfUnit(db.pool, unit))?.code).toBe('UNION'); // registered without one: the hub's own union
    await placeUnit(db.pool, unit, 'JJ');
    expect(await organisationOfUnit(db.pool, unit)).toMatchObject({ code: 'JJ', path: jj!.path });
    expect(await organisationOfUnit(db.pool, 987_654)).toBeNull();
  });

  it('answers parent, ancestors, children and the organisation list in the caller\'s subtree', async () => {
    const { gw, tree } = await setUp();
    const query = `query($code: String!) { organisation(code: $code) { code level parent { code children { code } } ancestors { code } children { code } } }`;
    const county = await gw.query({ role: 'AUDITOR', org: 'JJ' }, query, { code: 'JJ' });
    // Above its own organisation a caller sees names and codes only: not QZ's other children.
    expect(county.data.organisation).toEqual({ code: 'JJ', level: 'COUNTY', parent: { code: 'QZ', children: [] }, ancestors: [{ code: 'FJ' }, { code: 'QZ' }], children: [] });
    expect((await gw.query({ role: 'AUDITOR', org: 'JJ' }, query, { code: 'QZ' })).data.organisation).toBeNull();
    const province = await gw.query({ role: 'AUDITOR', org: 'FJ' }, query, { code: 'QZ' });
    expect(province.data.organisation.children).toEqual([{ code: 'JJ' }]);
    const list = `query($p: ID) { organisations(parentId: $p, first: 50) { edges { node { code } } totalCount } }`;
    const codes = async (who: Parameters<typeof gw.query>[0], p: string | null = null) =>
      (await gw.query(who, list, { p })).data.organisations.edges.map((e: { node: { code: string } }) => e.node.code);
    expect(await codes({ role: 'REVIEWER', org: 'QZ' })).toEqual(['QZ', 'JJ']);
    expect(await codes({ role: 'REVIEWER', org: 'FJ' }, tree.FJ)).toEqual(['QZ', 'XM']);
    expect(await codes({ role: 'REVIEWER', org: 'JJ' }, tree.FJ)).toEqual([]);
    expect(await codes({ role: 'REVIEWER' })).toEqual(expect.arrayContaining(['UNION', 'FJ', 'QZ', 'XM', 'JJ']));
    const unitCode = withCreditCodeCheck('91350500MA2000002');
    await ensureUnit(gw, unitCode);
    for (const who of [{ role: 'UNIT_OPERATOR' as const, unit: unitCode }, { role: 'MEMBER' as const, member: toGlobalId('Member', 1) }]) {
      expect((await gw.query(who, list, { p: null })).errors?.[0]?.extensions?.code, who.role).toBe('FORBIDDEN');
    }
  });

  it('refuses a level not below its parent\'s, a bad or taken code, an empty name — each named', async () => {
    const { gw, tree } = await setUp();
    const create = (input: Record<string, unknown>) => gw.query(ADMIN, CREATE_ORGANISATION, { input });
    expect((await create({ code: 'QZ2', name: '泉州', level: 'CITY', parentId: tree.QZ })).data.createOrganisation.userErrors)
      .toEqual([expect.objectContaining({ field: 'input.level', code: 'CONFLICT' })]);
    expect((await create({ code: 'qz', name: '泉州', level: 'COUNTY', parentId: tree.FJ })).data.createOrganisation.userErrors)
      .toEqual([expect.objectContaining({ field: 'input.code', code: 'CONFLICT' })]); // upper-cased: QZ is taken
    const bad = await create({ code: '1X', name: ' ', level: 'COUNTY', parentId: tree.FJ });
    expect(bad.data.createOrganisation.userErrors.map((e: { field: string }) => e.field).sort()).toEqual(['input.code', 'input.name']);
    expect((await create({ code: 'FQ', name: '福清市总工会', level: 'COUNTY', parentId: tree.FJ })).data.createOrganisation.organisation)
      .toMatchObject({ code: 'FQ', level: 'COUNTY', parent: { code: 'FJ' } });
  });

  it('levelBelow mirrors the database trigger', async () => {
    const { db } = await setUp();
    for (const [i, parent] of ORGANISATION_LEVELS.entries()) {
      for (const [j, level] of ORGANISATION_LEVELS.entries()) {
        const code = `T${i}${j}`;
        const top = await db.pool.query<{ id: number }>(`INSERT INTO organisations (code, name, level, created_by) VALUES ($1, 't', $2, 'test') RETURNING id`, [`${code}P`, parent]);
        const inserted = await db.pool.query(`INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ($1, 't', $2, $3, 'test')`, [code, level, top.rows[0]!.id])
          .then(() => true, () => false);
        expect(inserted, `${level} below ${parent}`).toBe(levelBelow(level, parent));
      }
    }
  });
});

describe('units and enrolments', () => {
  const UNIT_FIELDS = 'id unitType smallMicro organisation { code }';

  it('a unit\'s type defaults from its plan; an organisation\'s ADMIN registers units in its own organisation by default, never outside', async () => {
    const { gw, tree } = await setUp();
    const create = (who: Parameters<typeof gw.query>[0], input: Record<string, unknown>) =>
      gw.query(who, `mutation($i: CreateUnitInput!) { createUnit(input: $i) { unit { ${UNIT_FIELDS} } userErrors { field code } } }`, { i: input });
    const plain = await create(ADMIN, { creditCode: withCreditCodeCheck('91350500MA1000001'), name: '晋江鞋业', planType: 'PRIVATE' });
    expect(plain.data.createUnit.unit).toMatchObject({ unitType: 'NON_PUBLIC', smallMicro: false, organisation: { code: 'UNION' } });
    await confirmUnitTerms(gw, plain.data.createUnit.unit.id);
    const county = await create({ role: 'ADMIN', org: 'JJ' }, { creditCode: withCreditCodeCheck('91350500MA1000002'), name: '晋江陶瓷', planType: 'PRIVATE', unitType: 'SOCIAL_ORGANISATION', smallMicro: true });
    expect(county.data.createUnit.unit).toMatchObject({ unitType: 'SOCIAL_ORGANISATION', smallMicro: true, organisation: { code: 'JJ' } });
    const outside = await create({ role: 'ADMIN', org: 'JJ' }, { creditCode: withCreditCodeCheck('91350500MA1000003'), name: '厦门港务', planType: 'PUBLIC', organisationId: tree.XM });
    expect(outside.data.createUnit.userErrors).toEqual([expect.objectContaining({ field: 'input.organisationId', code: 'NOT_FOUND' })]);

    // A unit's terms are proposed by one ADMIN (with a reason) and take effect when another confirms them.
    const update = (who: Parameters<typeof gw.query>[0], id: string) =>
      gw.query(who, `mutation($id: ID!) { updateUnit(input: { unitId: $id, unitType: STATE_OWNED, smallMicro: true, reason: "工商登记变更" }) {
        unit { ${UNIT_FIELDS} pendingTermsChange { unitType smallMicro proposedAt } } userErrors { field code } } }`, { id });
    expect((await update({ role: 'ADMIN', org: 'JJ' }, plain.data.createUnit.unit.id)).data.updateUnit.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
    const proposed = (await update(ADMIN, plain.data.createUnit.unit.id)).data.updateUnit.unit;
    expect(proposed).toMatchObject({ unitType: 'NON_PUBLIC', smallMicro: false, pendingTermsChange: { unitType: 'STATE_OWNED', smallMicro: true } });
    const confirmed = await gw.query({ role: 'ADMIN', sub: 'admin-chen' },
      `mutation($i: ConfirmUnitTermsChangeInput!) { confirmUnitTermsChange(input: $i) { unit { ${UNIT_FIELDS} pendingTermsChange { unitType } } userErrors { field code } } }`,
      { i: { unitId: plain.data.createUnit.unit.id, proposedAt: proposed.pendingTermsChange.proposedAt } });
    expect(confirmed.data.confirmUnitTermsChange.unit).toMatchObject({ unitType: 'STATE_OWNED', smallMicro: true, pendingTermsChange: null });
  });

  it('member categories: set at enrolment, each once; changed by staff in scope with an audit row', async () => {
    const { db, gw } = await setUp();
    const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "晋江快递", planType: PRIVATE }) { unit { id } } }`, { c: withCreditCodeCheck('91350500MA1000009') });
    const unitId = unit.data.createUnit.unit.id;
    await confirmUnitTerms(gw, unitId);
    const member = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "林骑手", idNumber: $n }) { member { id } } }`,
      { u: unitId, n: withResidentIdCheck('35058219900101123') });
    const memberId = member.data.createMember.member.id;
    const year = Number(chinaToday().slice(0, 4));
    const enrol = (categories: string[] | undefined) => gw.query(ADMIN, `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { enrolment { id memberCategories } userErrors { field message } } }`,
      { i: { memberId, planYear: year, memberCategories: categories } });
    const twice = await enrol(['SANITATION', 'SANITATION']);
    expect(twice.data.enrolMember.userErrors).toEqual([expect.objectContaining({ field: 'input.memberCategories', message: expect.stringContaining('SANITATION twice') })]);
    const enrolled = await enrol(['NEW_EMPLOYMENT_FORM', 'MIGRANT_WORKER']);
    expect(enrolled.data.enrolMember.enrolment.memberCategories).toEqual(['NEW_EMPLOYMENT_FORM', 'MIGRANT_WORKER']);
    // Enrolled again without categories: those recorded are kept.
    expect((await enrol(undefined)).data.enrolMember.enrolment.memberCategories).toEqual(['NEW_EMPLOYMENT_FORM', 'MIGRANT_WORKER']);

    const enrolmentId = enrolled.data.enrolMember.enrolment.id;
    const SET = `mutation($i: SetEnrolmentCategoriesInput!) { setEnrolmentCategories(input: $i) { enrolment { memberCategories } userErrors { field code } } }`;
    const input = { enrolmentId, memberCategories: ['HARDSHIP'], reason: '困难职工建档' };
    // The unit is the hub's own union's: staff of JJ do not see it.
    expect((await gw.query({ role: 'REVIEWER', org: 'JJ' }, SET, { i: input })).data.setEnrolmentCategories.userErrors).toEqual([expect.objectContaining({ field: 'input.enrolmentId', code: 'NOT_FOUND' })]);
    expect((await gw.query({ role: 'FINANCE' }, SET, { i: input })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const changed = await gw.query({ role: 'REVIEWER', sub: 'rev-chen' }, SET, { i: input });
    expect(changed.data.setEnrolmentCategories).toEqual({ enrolment: { memberCategories: ['HARDSHIP'] }, userErrors: [] });
    const audit = await db.pool.query(`SELECT actor, reason, details FROM audit_log WHERE action = 'enrolment.categories'`);
    expect(audit.rows).toEqual([{ actor: 'rev-chen', reason: '困难职工建档', details: expect.objectContaining({ before: ['NEW_EMPLOYMENT_FORM', 'MIGRANT_WORKER'], after: ['HARDSHIP'] }) }]);
  });
});

describe('rosters', () => {
  const newImport = async (db: { pool: import('pg').Pool }) =>
    (await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('r.csv', '\\x', 'test') RETURNING id`)).rows[0]!.id;

  it('member_categories: `;`-separated, an unknown one named as the column\'s error; an empty cell keeps those recorded', async () => {
    const { db, gw } = await setUp();
    const unit = withCreditCodeCheck('91350500MA3000001');
    await ensureUnit(gw, unit);
    const [a, b] = [withResidentIdCheck('35058219850202123'), withResidentIdCheck('35058219850303123')];
    const csv = `name,id_number,unit_credit_code,plan_year,enrolled_on,member_categories\n`
      + `甲,${a},${unit},2025,2025-03-01,sanitation; HARDSHIP\n`
      + `乙,${b},${unit},2025,2025-03-01,SANITATION;COURIER\n`;
    const result = await importRoster(db.pool, gw.keys, csv, { importId: await newImport(db), today: '2025-03-31' });
    expect(result).toMatchObject({ rowsInserted: 1, rowsRejected: 1, enrolmentsCreated: 1 });
    expect(result.errors).toEqual([{ row: 3, field: 'member_categories', reason: expect.stringContaining('unknown category COURIER') }]);
    const categories = async () => (await db.pool.query(
      `SELECT e.member_categories AS c FROM enrolments e JOIN members m ON m.id = e.member_id WHERE m.name = '甲' AND e.plan_year = 2025`)).rows[0].c;
    expect(await categories()).toEqual(['SANITATION', 'HARDSHIP']);
    const kept = await importRoster(db.pool, gw.keys, `name,id_number,unit_credit_code,plan_year,enrolled_on,member_categories\n甲,${a},${unit},2025,2025-03-01,\n`,
      { importId: await newImport(db), today: '2025-03-31' });
    expect(kept).toMatchObject({ rowsRejected: 0, enrolmentsCreated: 0 });
    expect(await categories()).toEqual(['SANITATION', 'HARDSHIP']);
    await importRoster(db.pool, gw.keys, `name,id_number,unit_credit_code,plan_year,enrolled_on,member_categories\n甲,${a},${unit},2025,2025-03-01,MODEL_WORKER\n`,
      { importId: await newImport(db), today: '2025-03-31' });
    expect(await categories()).toEqual(['MODEL_WORKER']);
  });

  it('an organisation\'s ADMIN imports rows for units in its subtree only; its imports are not shown to another organisation\'s staff', async () => {
    const { db, gw } = await setUp();
    const [inside, outside] = [withCreditCodeCheck('91350500MA3000002'), withCreditCodeCheck('91350500MA3000003')];
    await placeUnit(db.pool, localId('u', await ensureUnit(gw, inside), 'Unit'), 'JJ');
    await ensureUnit(gw, outside); // the hub's own union's
    const csv = `name,id_number,unit_credit_code\n丙,${withResidentIdCheck('35058219860404123')},${inside}\n丁,${withResidentIdCheck('35058219870505123')},${outside}\n`;
    const started = await gw.query({ role: 'ADMIN', org: 'QZ' }, `mutation($csv: String!) { importRoster(input: { fileName: "r.csv", csv: $csv }) { rosterImport { id } userErrors { message } } }`, { csv });
    const id = started.data.importRoster.rosterImport.id as string;
    await importUploadedRoster(db.pool, gw.keys, localId('id', id, 'RosterImport'));
    const status = `query($id: ID!) { rosterImport(id: $id) { status rowsInserted errors { row field reason } } }`;
    const seen = await gw.query({ role: 'AUDITOR', org: 'FJ' }, status, { id });
    expect(seen.data.rosterImport).toEqual({ status: 'DONE', rowsInserted: 1, errors: [{ row: 3, field: 'unit_credit_code', reason: `no unit is registered with code ${outside}` }] });
    expect((await gw.query({ role: 'AUDITOR', org: 'XM' }, status, { id })).data.rosterImport).toBeNull();
  });
});
