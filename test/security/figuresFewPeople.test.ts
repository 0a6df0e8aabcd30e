import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNDER_MIN, WITHHELD } from '../../src/figures/disclosure.ts';
import { figuresQuery, yearlyReport } from '../../src/figures/service.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { paidCounty } from '../figures/support.ts';

/**
 * The published yearly report counted cases (人次), not people: a county where one member had six
 * stays in June (and six other members one each in September) printed June as 6 cases and the
 * amounts approved and paid, which are that one person's whole benefit for the stays; so did the
 * city's row of a county whose cases were all one member's. A row's benefits are withheld when
 * fewer than FIGURES_MIN_CELL people had them, however many the cases.
 */
let db: TestDatabase;
let quanzhou: number;

beforeAll(async () => {
  db = await freshDatabase();
  const { rows: [qz] } = await db.pool.query(`INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ('QZ', '泉州市总工会', 'CITY', NULL, 't') RETURNING id`);
  quanzhou = Number(qz.id);
});
afterAll(async () => {
  await db?.drop();
});

const report = async (organisationId: number) =>
  yearlyReport(db.pool, UNSCOPED, await figuresQuery(db.pool, UNSCOPED, { organisationId, planYear: 2025 }), { holidays: [], minCell: 5 });
const cases = (r: { claims: unknown; claimsApprovedFen: unknown; payouts: unknown; paidFen: unknown }) => [r.claims, r.claimsApprovedFen, r.payouts, r.paidFen];

const JUNE = ['2025-06-02', '2025-06-05', '2025-06-09', '2025-06-12', '2025-06-16', '2025-06-19'];

describe('a breakdown row of N cases or more, all of fewer than N people', () => {
  it('withholds June, six stays of one member, and September with it (the row the total would give it back from)', async () => {
    const jj = await paidCounty(db.pool, quanzhou, 'JJ', '晋江市总工会', [
      ...JUNE.map((day): [number, string] => [0, day]),
      ...[1, 2, 3, 4, 5, 6].map((m): [number, string] => [m, '2025-09-10']),
    ]);
    const oneMemberFen = jj.approvedFen.slice(0, 6).reduce((a, b) => a + b, 0);
    expect(oneMemberFen).toBeGreaterThan(0);
    const { byMonth, totals } = await report(jj.id);
    expect(totals.claims).toBe(12);
    expect(cases(byMonth.find((r) => r.key === '6')!)).toEqual([WITHHELD, WITHHELD, WITHHELD, WITHHELD]);
    expect(cases(byMonth.find((r) => r.key === '9')!)).toEqual([WITHHELD, WITHHELD, WITHHELD, WITHHELD]);
    for (const row of byMonth) expect([row.claimsApprovedFen, row.paidFen]).not.toContain(oneMemberFen);
  });

  it('withholds, in the city\'s report, the row of a county whose six cases are one member\'s', async () => {
    const lc = await paidCounty(db.pool, quanzhou, 'LC', '鲤城区总工会', JUNE.map((day): [number, string] => [0, day]));
    const oneMemberFen = lc.approvedFen.reduce((a, b) => a + b, 0);
    const { byOrganisation } = await report(quanzhou);
    const row = byOrganisation.find((r) => r.key === 'LC')!;
    expect(cases(row)).toEqual([WITHHELD, WITHHELD, WITHHELD, WITHHELD]);
    expect(row.claims).not.toBe(UNDER_MIN); // six cases: "<5" would not be true of it
    for (const r of byOrganisation) expect([r.claimsApprovedFen, r.paidFen]).not.toContain(oneMemberFen);
  });

  it('still prints a row of N cases of N people', async () => {
    const xm = await paidCounty(db.pool, quanzhou, 'XA', '翔安区总工会', [0, 1, 2, 3, 4].map((m): [number, string] => [m, '2025-07-08']));
    const { byMonth } = await report(xm.id);
    const july = byMonth.find((r) => r.key === '7')!;
    expect(july.claims).toBe(5);
    expect(july.claimsApprovedFen).toBe(xm.approvedFen.reduce((a, b) => a + b, 0));
  });
});
