import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { demoSample } from '../../src/demo/sampleData.ts';
import { MEMBER_CATEGORIES, UNIT_TYPES, type MemberCategory } from '../../src/members/model.ts';
import { payContribution, seedMember, seedSettlement } from '../benefits/seed.ts';
import { fen } from '../benefits/support.ts';

/**
 * The demo's sample units and members (src/demo/sampleData.ts) spread over an organisation tree
 * 福建 FJ → 泉州 QZ → 晋江 JJ, 鲤城 LC and 福建 FJ → 厦门 XM, enrolled for 2025 and 2026 with member
 * categories, contributions paid, 2025 settlements adjudicated by the real engine (some decisions
 * dated back into 2025) and payouts paid in both years. Expected figures are counted from the raw
 * rows in JavaScript, never with the SQL under test.
 */

export const YEAR = 2026;
export const MEMBERS = 900;

export interface Tree { FJ: number; QZ: number; JJ: number; LC: number; XM: number }

async function organisation(db: pg.Pool, code: string, name: string, level: string, parentId: number | null): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ($1, $2, $3, $4, 'test') RETURNING id`, [code, name, level, parentId]);
  return Number(rows[0]!.id);
}

export const categoriesOf = (i: number): MemberCategory[] => MEMBER_CATEGORIES.filter((_, k) => i % (k + 3) === 0);

export async function seedFigures(db: pg.Pool): Promise<Tree> {
  const FJ = await organisation(db, 'FJ', '福建省总工会', 'PROVINCE', null);
  const QZ = await organisation(db, 'QZ', '泉州市总工会', 'CITY', FJ);
  const JJ = await organisation(db, 'JJ', '晋江市总工会', 'COUNTY', QZ);
  const LC = await organisation(db, 'LC', '鲤城区总工会', 'COUNTY', QZ);
  const XM = await organisation(db, 'XM', '厦门市总工会', 'CITY', FJ);
  const tree = { FJ, QZ, JJ, LC, XM };

  const { units, members } = demoSample(MEMBERS);
  const homes = [JJ, LC, QZ, XM];
  const { rows: unitRows } = await db.query<{ id: string; credit_code: string }>(
    `INSERT INTO units (credit_code, name, plan_type, organisation_id, unit_type, terms_confirmed)
     SELECT *, true FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) RETURNING id, credit_code`,
    [units.map((u) => u.creditCode), units.map((u) => u.name), units.map((u) => u.planType),
     units.map((_, i) => homes[i % homes.length]), units.map((_, i) => UNIT_TYPES[i % UNIT_TYPES.length])],
  );
  const unitId = new Map(unitRows.map((u) => [u.credit_code, Number(u.id)]));
  const planOf = new Map(units.map((u) => [u.creditCode, u.planType]));

  const { rows: memberRows } = await db.query<{ id: string }>(
    `INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
     SELECT u, n, '\\x00', h, '3505**********0000', '1980-01-01', 'M' FROM unnest($1::bigint[], $2::text[], $3::bytea[]) AS t(u, n, h)
     RETURNING id`,
    [members.map((m) => unitId.get(m.unitCreditCode)), members.map((m) => m.name), members.map(() => randomBytes(16))],
  );
  const memberIds = memberRows.map((r) => Number(r.id));

  // Claimants: 36 members enrolled in 2025 (below).
  const claimants = members.map((m, i) => ({ m, i })).filter(({ i }) => i % 3 !== 0).filter((_, k) => k % 16 === 0).slice(0, 36);
  const claimant = new Set(claimants.map(({ i }) => i));
  // 2026: all but every tenth member; 2025: all but every third. Enrolled in the month i % 12 + 1;
  // a few of 2026 already in December 2025 (counted in the year, not in a month). The claimants
  // renewed in January 2025, within the back-dating limit: a renewal later in the year is a gap,
  // and its stays before the renewal and its waiting period are refused.
  const enrol: unknown[][] = [[], [], [], [], [], [], []];
  members.forEach((m, i) => {
    for (const year of [2025, 2026]) {
      if ((year === 2026 && i % 10 === 0) || (year === 2025 && i % 3 === 0)) continue;
      const enrolledOn = year === 2026 && i % 97 === 1 ? '2025-12-20'
        : `${year}-${String(year === 2025 && claimant.has(i) ? 1 : (i % 12) + 1).padStart(2, '0')}-05`;
      enrol[0]!.push(memberIds[i]); enrol[1]!.push(unitId.get(m.unitCreditCode)); enrol[2]!.push(year);
      enrol[3]!.push(planOf.get(m.unitCreditCode)); enrol[4]!.push(i % 7 === 0); enrol[5]!.push(enrolledOn);
      enrol[6]!.push(`{${categoriesOf(i).join(',')}}`);
    }
  });
  await db.query(
    `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on, member_categories)
     SELECT m, u, y, p, s, d, least(d, '2020-01-01'::date), c::text[]
       FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::boolean[], $6::date[], $7::text[]) AS t(m, u, y, p, s, d, c)`,
    enrol,
  );

  // Contributions: two payments a unit and year (March and July), different amounts.
  let ref = 0;
  for (const [i, u] of unitRows.entries()) {
    for (const year of [2025, 2026]) {
      for (const [month, amount] of [['03', 100_000 + i * 1_000], ['07', 55_000 + year - 2025]] as const) {
        await db.query(
          `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by) VALUES ($1, $2, $3, $4, $5, 'MANUAL', 'test')`,
          [Number(u.id), year, amount, `FIG${(ref += 1)}`, `${year}-${month}-15`],
        );
      }
    }
  }

  // Claims: 2025 settlements of the claimants, adjudicated by the rules.
  const settlementIds: number[] = [];
  for (const { m, i } of claimants) {
    const { rows: [e] } = await db.query<{ id: string }>(`SELECT id FROM enrolments WHERE member_id = $1 AND plan_year = 2025`, [memberIds[i]]);
    settlementIds.push(await seedSettlement(db, { unitId: unitId.get(m.unitCreditCode)!, creditCode: m.unitCreditCode, memberId: memberIds[i]!, enrolmentId: Number(e!.id) }, {
      psn: `${8_000 + (i % 5) * 1_000}.00`, setlTime: `2025-0${(i % 8) + 1}-10 10:00:00`,
    }));
  }
  await adjudicateSettlements(db, settlementIds, { autoApproveMaxFen: fen('100,000.00') });
  // History: a third of the claims were decided in 2025 (late May, a working day after receipt).
  await db.query(
    `UPDATE claims SET decided_at = '2025-05-28 10:00:00+08' WHERE id IN (SELECT id FROM claims WHERE decided_at IS NOT NULL ORDER BY id) AND id % 3 = 0`);
  // Payouts of approved claims: paid in the year they were decided, two weeks later; every fifth is still unpaid.
  await db.query(
    `WITH c AS (SELECT id, member_id, unit_id, total_fen, decided_at FROM claims WHERE status = 'APPROVED' AND total_fen > 0 AND id % 5 <> 0),
          p AS (INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, paid_at)
                SELECT id, member_id, unit_id, total_fen, 'PAID', decided_at + interval '14 days' FROM c RETURNING id, claim_id)
     INSERT INTO payout_lines (benefit_line_id, payout_id, amount_fen)
     SELECT bl.id, p.id, coalesce(bl.adjusted_fen, bl.amount_fen) FROM p JOIN benefit_lines bl ON bl.claim_id = p.claim_id
      WHERE coalesce(bl.adjusted_fen, bl.amount_fen) > 0`);
  return tree;
}

/** Raw rows, read plainly, for counting by hand. */
export async function rawRows(db: pg.Pool) {
  const q = async <T extends pg.QueryResultRow>(sql: string) => (await db.query<T>(sql)).rows;
  return {
    organisations: await q<{ id: string; code: string; path: string[] }>(`SELECT id, code, path::text[] AS path FROM organisations`),
    units: await q<{ id: string; organisation_id: string; unit_type: string }>(`SELECT id, organisation_id, unit_type FROM units`),
    enrolments: await q<{ unit_id: string; plan_year: number; plan: string; special_disease: boolean; enrolled_on: string; member_categories: string[] }>(
      `SELECT unit_id, plan_year, plan, special_disease, to_char(enrolled_on, 'YYYY-MM-DD') AS enrolled_on, member_categories FROM enrolments`),
    payments: await q<{ unit_id: string; plan_year: number; amount_fen: string; paid_on: string }>(
      `SELECT unit_id, plan_year, amount_fen, to_char(paid_on, 'YYYY-MM-DD') AS paid_on FROM contribution_payments`),
    claims: await q<{ id: string; member_id: string; unit_id: string; status: string; decided_at: Date | null }>(`SELECT id, member_id, unit_id, status, decided_at FROM claims`),
    lines: await q<{ claim_id: string; programme: string; status: string; amount_fen: string; adjusted_fen: string | null }>(
      `SELECT claim_id, programme, status, amount_fen, adjusted_fen FROM benefit_lines`),
    payouts: await q<{ id: string; member_id: string; unit_id: string; claim_id: string | null; status: string; amount_fen: string; paid_at: Date | null }>(
      `SELECT id, member_id, unit_id, claim_id, status, amount_fen, paid_at FROM payouts`),
  };
}

/** The China calendar year of an instant. */
export const chinaYear = (d: Date) => new Date(d.getTime() + 8 * 3_600_000).getUTCFullYear();

/** The sample's claimants share one unit: a third move (with their claims) to a unit of 晋江, a third to one of 厦门. */
export async function spreadClaimants(db: pg.Pool, tree: Tree): Promise<void> {
  await db.query(
    `WITH n AS (SELECT member_id, row_number() OVER (ORDER BY member_id) AS k FROM (SELECT DISTINCT member_id FROM claims) d),
          m AS (SELECT member_id, CASE WHEN k % 3 = 0 THEN $1::bigint ELSE $2::bigint END AS org FROM n WHERE k % 3 <> 1),
          target AS (SELECT m.member_id, (SELECT min(u.id) FROM units u WHERE u.organisation_id = m.org) AS unit_id FROM m),
          moved AS (UPDATE members x SET unit_id = t.unit_id FROM target t WHERE x.id = t.member_id RETURNING x.id, x.unit_id)
     UPDATE claims c SET unit_id = moved.unit_id FROM moved WHERE c.member_id = moved.id`, [tree.JJ, tree.XM]);
}

/**
 * A county of ten members under `parentId` (泉州 in the disclosure tests), the first its model worker; each of `claims` (member, China
 * date) is decided on that date and paid the next day. Returns the county's id and each claim's approved fen.
 */
export async function paidCounty(db: pg.Pool, parentId: number, code: string, name: string, claims: [member: number, day: string][]): Promise<{ id: number; approvedFen: number[] }> {
  const { rows: [org] } = await db.query(`INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ($1, $2, 'COUNTY', $3, 't') RETURNING id`, [code, name, parentId]);
  const { rows: [unit] } = await db.query(
    `INSERT INTO units (credit_code, name, plan_type, organisation_id, terms_confirmed) VALUES ($1, '某公司工会', 'PUBLIC', $2, true) RETURNING id`, [`91350582MA2XXXX${code}8`, org.id]);
  const unitId = Number(unit.id);
  const members: { memberId: number; enrolmentId: number; unitId: number; creditCode: string }[] = [];
  for (let i = 0; i < 10; i += 1) {
    const memberId = await seedMember(db, unitId);
    const { rows: [e] } = await db.query(
      `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on, member_categories)
       VALUES ($1, $2, 2025, 'PUBLIC', false, '2025-01-01', '2020-01-01', $3) RETURNING id`, [memberId, unitId, i === 0 ? '{MODEL_WORKER}' : '{}']);
    members.push({ memberId, enrolmentId: Number(e.id), unitId, creditCode: '' });
  }
  await payContribution(db, unitId, 2025);
  const approvedFen: number[] = [];
  for (const [member, day] of claims) {
    const stay = await seedSettlement(db, members[member]!, { psn: '12,345.60', setlTime: `${day} 08:00:00` });
    await adjudicateSettlements(db, [stay], { autoApproveMaxFen: Number.MAX_SAFE_INTEGER });
    const { rows: [c] } = await db.query(
      `UPDATE claims SET decided_at = ($2 || ' 10:00+08')::timestamptz WHERE settlement_id = $1 RETURNING id, total_fen`, [stay, day]);
    await db.query(
      `WITH p AS (INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, paid_at)
                  SELECT id, member_id, unit_id, total_fen, 'PAID', decided_at + interval '1 day' FROM claims WHERE id = $1 RETURNING id, claim_id)
       INSERT INTO payout_lines (benefit_line_id, payout_id, amount_fen)
       SELECT bl.id, p.id, coalesce(bl.adjusted_fen, bl.amount_fen) FROM p JOIN benefit_lines bl ON bl.claim_id = p.claim_id
        WHERE coalesce(bl.adjusted_fen, bl.amount_fen) > 0`, [c.id]);
    approvedFen.push(Number(c.total_fen));
  }
  return { id: Number(org.id), approvedFen };
}
