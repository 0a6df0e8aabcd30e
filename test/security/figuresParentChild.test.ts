import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNDER_MIN, WITHHELD, type PublishedRow } from '../../src/figures/disclosure.ts';
import { figuresQuery, yearlyReport, type YearlyReport } from '../../src/figures/service.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { paidCounty } from '../figures/support.ts';

/**
 * Differencing a parent's published report against its children's: 泉州 has two counties. 晋江's
 * model worker had its one case in May (晋江's report prints "<5" and a dash for May); 鲤城 had six
 * cases in May (printed). 泉州's May row printed 7 cases and their amount, so 泉州's May minus 鲤城's
 * May gave back 晋江's one case and what it was paid — the cell 晋江's own report withheld.
 */
let db: TestDatabase;
let quanzhou: number;
const MIN_CELL = 5;

beforeAll(async () => {
  db = await freshDatabase();
  const { rows: [qz] } = await db.pool.query(`INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ('QZ', '泉州市总工会', 'CITY', NULL, 't') RETURNING id`);
  quanzhou = Number(qz.id);
});
afterAll(async () => {
  await db?.drop();
});


const report = async (organisationId: number): Promise<YearlyReport> =>
  yearlyReport(db.pool, UNSCOPED, await figuresQuery(db.pool, UNSCOPED, { organisationId, planYear: 2025 }), { holidays: [], minCell: MIN_CELL });

type Measure = 'claims' | 'claimsApprovedFen' | 'payouts' | 'paidFen';
const MEASURES: readonly Measure[] = ['claims', 'claimsApprovedFen', 'payouts', 'paidFen'];
const withheld = (v: unknown) => v === UNDER_MIN || v === WITHHELD;
const byKey = (rows: readonly PublishedRow[]) => new Map(rows.map((r) => [r.key, r]));

/**
 * What a reader of the parent's and the other children's reports works out of one child's
 * breakdown cell: the parent's printed value minus every sibling's, or null when one of them is
 * withheld (then the sum of several children's withheld cells is all that follows).
 */
function differenced(parent: readonly PublishedRow[], siblings: readonly (readonly PublishedRow[])[], key: string, m: Measure): number | null {
  const values = [byKey(parent).get(key)![m], ...siblings.map((s) => byKey(s).get(key)![m])];
  if (values.some(withheld)) return null;
  const [total, ...others] = values as number[];
  return total! - others.reduce((a, b) => a + b, 0);
}

describe('a city\'s report read against its counties\' reports', () => {
  it('gives back no cell a county\'s own report withheld: the city withholds what a county withholds, in every breakdown', async () => {
    // 晋江: its model worker's one case in May, six others in June. 鲤城: six cases in May.
    const jj = await paidCounty(db.pool, quanzhou, 'JJ', '晋江市总工会', [[0, '2025-05-21'], ...[1, 2, 3, 4, 5, 6].map((m): [number, string] => [m, '2025-06-11'])]);
    const lc = await paidCounty(db.pool, quanzhou, 'LC', '鲤城区总工会', [1, 2, 3, 4, 5, 6].map((m): [number, string] => [m, '2025-05-12']));
    const [city, jinjiang, licheng] = await Promise.all([report(quanzhou), report(jj.id), report(lc.id)]);

    // 晋江's own report withholds May: one case, the model worker's.
    const jjMay = byKey(jinjiang.byMonth).get('5')!;
    expect([jjMay.claims, jjMay.claimsApprovedFen, jjMay.payouts, jjMay.paidFen]).toEqual([UNDER_MIN, WITHHELD, UNDER_MIN, WITHHELD]);
    // 鲤城 prints its May as it is (six cases).
    expect(byKey(licheng.byMonth).get('5')!.claims).toBe(6);

    // Whatever 晋江 withholds, 泉州's row minus 鲤城's does not give back.
    for (const by of ['byMonth', 'byProgramme', 'byCategory', 'byUnitType'] as const) {
      for (const row of jinjiang[by]) {
        for (const m of MEASURES) {
          if (!withheld(row[m])) continue;
          expect(differenced(city[by], [licheng[by]], row.key, m), `${by} ${row.key} ${m}`).toBeNull();
        }
      }
    }
    // In particular the model worker's amount is nowhere to be worked out from May.
    expect(differenced(city.byMonth, [licheng.byMonth], '5', 'claimsApprovedFen')).not.toBe(jj.approvedFen[0]);

    // The city still prints the months no county withholds (0 stays 0), and its own totals.
    const cityMonths = byKey(city.byMonth);
    expect(cityMonths.get('7')!.claims).toBe(0);
    expect(city.totals.claims).toBe(13);
    expect(city.totals.claimsApprovedFen).toBe([...jj.approvedFen, ...lc.approvedFen].reduce((a, b) => a + b, 0));
  });
});
