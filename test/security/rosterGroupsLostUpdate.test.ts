import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { setEnrolmentCategories } from '../../src/members/store.ts';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import { commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * A lost update of a member's targeted groups (重点群体). A roster row whose groups cell is empty keeps
 * the groups recorded; a row that changes the plan or the add-on is merged with the groups its
 * statement read when it began. Staff set HARDSHIP on the enrolment (setEnrolmentCategories) while an
 * import of the unit runs: the import's merge waits for the staff's row, and then wrote back the
 * groups read before the change: the group staff set (and audited) silently gone, the member's
 * HARDSHIP-only lines no longer figured. The other way round, a group staff removed came back.
 * What keeps both: setting the groups takes the unit's lock the import holds for its whole
 * transaction (src/members/store.ts setEnrolmentCategories), so one waits for the other and the
 * import's merge reads the groups as committed.
 */
const keys = personalDataKeys(Buffer.alloc(32, 7).toString('base64'));
const UNIT = withCreditCodeCheck('91350500MA7710001');
const TODAY = '2026-03-02';
let db: TestDatabase;

async function newImport(): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('t.csv', '\\x', 'operator-a') RETURNING id`,
  );
  return rows[0]!.id;
}
const roster = (idNumber: string, specialDisease: boolean, groups: string) =>
  `name,id_number,unit_credit_code,plan_year,plan,special_disease,enrolled_on,member_categories\n林芳,${idNumber},${UNIT},2026,PRIVATE,${specialDisease},${TODAY},${groups}\n`;
const enrolmentOf = async (idNumberSuffix: string) => (await db.pool.query<{ id: number; memberCategories: string[]; specialDisease: boolean; setBy: string[] }>(
  `SELECT e.id, e.member_categories AS "memberCategories", e.special_disease AS "specialDisease", e.categories_set_by AS "setBy"
     FROM enrolments e JOIN members m ON m.id = e.member_id WHERE m.id_number_masked LIKE '%' || $1`, [idNumberSuffix],
)).rows[0]!;

beforeAll(async () => {
  db = await freshDatabase();
  await db.pool.query(`INSERT INTO units (credit_code, name, plan_type, terms_confirmed) VALUES ($1, '晋江某纺织有限公司', 'PRIVATE', true)`, [UNIT]);
});
afterAll(async () => {
  await db?.drop();
});

describe('a roster row with an empty groups cell, merged while staff change the groups', () => {
  it.each([
    { change: 'set', before: '', after: ['HARDSHIP'], suffix: '0011' },
    { change: 'removed', before: 'HARDSHIP', after: [], suffix: '0022' },
  ])('keeps the groups staff $change while the import waited', async ({ before, after, suffix }) => {
    const idNumber = withResidentIdCheck(`35052119850312${suffix.slice(0, 3)}`);
    const first = await importRoster(db.pool, keys, roster(idNumber, true, before), { importId: await newImport(), today: TODAY });
    expect(first).toMatchObject({ rowsRejected: 0, enrolmentsCreated: 1 });
    const enrolment = await enrolmentOf(idNumber.slice(-4));

    // Staff change the groups in a transaction still open when the unit's next roster arrives: the
    // row turns the add-on off and leaves the groups cell empty (keep what is recorded).
    const importId = await newImport();
    const { work } = await commitOnceWaitedOn(
      db.pool,
      (held) => setEnrolmentCategories(held as never, enrolment.id, UNSCOPED, after as never, 'staff-b'),
      () => importRoster(db.pool, keys, roster(idNumber, false, ''), { importId, today: TODAY }),
    );
    expect(await work).toMatchObject({ rowsRejected: 0 });

    expect(await enrolmentOf(idNumber.slice(-4))).toMatchObject({ specialDisease: false, memberCategories: after });
  });
});
