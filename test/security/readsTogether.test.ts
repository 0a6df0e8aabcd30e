import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';

/**
 * A request's reads go out together on a pipelined connection (src/db/reads.ts), their answers taken
 * in order: callers of different units asking at once must each get their own unit's rows and never
 * another request's answer, whichever connection and batch their statements shared a moment apart.
 */

let db: TestDatabase;
let gw: TestGateway;
const UNITS = [withCreditCodeCheck('91350500MA0000021'), withCreditCodeCheck('12350500MB0000021')];
const MEMBERS_EACH = [7, 11];

const PAGE = `query { members(first: 50) { edges { node { id name unit { creditCode } enrolments { edges { node { planYear } } } } } } }`;
type Page = { members: { edges: { node: { name: string; unit: { creditCode: string }; enrolments: { edges: { node: { planYear: number } }[] } } }[] } };

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0', RESPONSE_CACHE_MB: '0' });
  for (const [u, code] of UNITS.entries()) {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO units (credit_code, name, plan_type, terms_confirmed) VALUES ($1, $2, 'PUBLIC', true) RETURNING id`, [code, `单位${u}`],
    );
    await db.pool.query(
      `INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
       SELECT $1, $2 || i, '\\x00', sha256(($2 || i)::bytea), '3505**********0000', '1980-01-01', 'F' FROM generate_series(1, $3::int) i`,
      [rows[0]!.id, `单位${u}会员`, MEMBERS_EACH[u]],
    );
    await db.pool.query(
      `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
       SELECT id, unit_id, 2025 + $2::int, 'PUBLIC', false, make_date(2025 + $2::int, 1, 1), '2024-01-01' FROM members WHERE unit_id = $1`,
      [rows[0]!.id, u],
    );
  }
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('reads sent together, callers of different units at once', () => {
  it("answers each caller with its own unit's members and their enrolments, never another request's rows", async () => {
    const callers = Array.from({ length: 40 }, (_, i) => i % 2);
    const tokens = await Promise.all(UNITS.map((unit, u) => gw.token({ role: 'UNIT_OPERATOR', unit, sub: `operator-${u}` })));
    const answers = await Promise.all(callers.map((u) => gw.query<Page>(tokens[u]!, PAGE)));
    for (const [i, answer] of answers.entries()) {
      const u = callers[i]!;
      expect(answer.errors).toBeUndefined();
      const nodes = answer.data!.members.edges.map((e) => e.node);
      expect(nodes).toHaveLength(MEMBERS_EACH[u]!);
      expect(new Set(nodes.map((n) => n.unit.creditCode))).toEqual(new Set([UNITS[u]]));
      expect(nodes.every((n) => n.name.startsWith(`单位${u}会员`))).toBe(true);
      // Each unit's members are enrolled in a year of their own: another request's enrolments would show.
      expect(new Set(nodes.flatMap((n) => n.enrolments.edges.map((e) => e.node.planYear)))).toEqual(new Set([2025 + u]));
    }
  });
});
