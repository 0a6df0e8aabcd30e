import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type pg from 'pg';
import { parseGlobalId } from '../../src/gateway/globalId.ts';
import { seedEnrolment, seedSettlement, seedUnit, type MemberSetup } from '../benefits/seed.ts';
import type { TestGateway } from './gateway.ts';

/**
 * Rows for walking connections both ways: members, claims and payouts whose sort values repeat
 * (ties), differ by a microsecond (a cursor must keep the database's precision) or are missing
 * (undecided claims), written with SQL so each value is chosen. Another unit's rows sit among
 * them, so a scoped walk can show it never reaches them.
 */

const NAMES = ['陈', '林', '陈', '黄', 'Lin', '林'];
const REGISTERED = ['2025-01-01 00:00:00.000001+00', '2025-01-01 00:00:00.000002+00', '2025-01-01 00:00:00.000002+00', '2024-12-31 23:00:00+00'];
const TOTALS = [0, 5000, 5000, 12000];
const DECIDED = [null, '2025-06-02 09:00:00.000001+08', '2025-06-02 09:00:00.000001+08', '2025-06-02 09:00:00.000002+08', '2025-06-01 12:00:00+08'];
const SETTLED = ['2025-06-01 10:00:00', '2025-06-01 10:00:00', '2025-05-20 08:30:00'];
const PAYOUTS = [
  { status: 'READY', amountFen: 100 }, { status: 'PAID', amountFen: 250 }, { status: 'READY', amountFen: 100 },
  { status: 'HELD', amountFen: 100 }, { status: 'SETTLED', amountFen: 4000 },
];
const PAYOUT_CREATED = ['2025-06-03 10:00:00.000001+08', '2025-06-03 10:00:00.000001+08', '2025-06-03 10:00:00.000002+08'];

export interface PagedUnit {
  id: number;
  creditCode: string;
  memberIds: number[];
}

/** A unit of `members` members with claims (0 to 3 each) and a payout for most claims; returns its ids. */
export async function seedPagedUnit(db: pg.Pool, members: number, offset = 0): Promise<PagedUnit> {
  const unit = await seedUnit(db);
  const memberIds: number[] = [];
  for (let i = offset; i < offset + members; i += 1) {
    const { rows: [member] } = await db.query<{ id: number }>(
      `INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender, created_at)
       VALUES ($1, $2, '\\x00', $3, '3505**********0000', '1980-01-01', 'M', $4) RETURNING id`,
      [unit.id, NAMES[i % NAMES.length], randomBytes(16), REGISTERED[i % REGISTERED.length]],
    );
    memberIds.push(member!.id);
    const setup: MemberSetup = { unitId: unit.id, creditCode: unit.creditCode, memberId: member!.id, enrolmentId: 0 };
    setup.enrolmentId = await seedEnrolment(db, member!.id, unit.id);
    for (let c = 0; c < i % 4; c += 1) {
      const k = i * 3 + c;
      const settlementId = await seedSettlement(db, setup, { setlTime: SETTLED[k % SETTLED.length] });
      const decided = DECIDED[k % DECIDED.length];
      const { rows: [claim] } = await db.query<{ id: number }>(
        `INSERT INTO claims (settlement_id, member_id, unit_id, enrolment_id, plan_year, setl_time, status, eligible, psn_part_amt,
                             computed_total_fen, total_fen, decided_by, decided_at)
         SELECT s.id, s.member_id, s.unit_id, s.enrolment_id, 2025, s.setl_time, $2, true, s.psn_part_amt, $3, $3, $4, $5
           FROM settlements s WHERE s.id = $1 RETURNING id`,
        [settlementId, decided ? 'APPROVED' : 'PENDING_REVIEW', TOTALS[k % TOTALS.length], decided ? 'reviewer' : null, decided],
      );
      if (k % 5 === 4) continue; // a claim without a payout
      const payout = PAYOUTS[k % PAYOUTS.length]!;
      await db.query(
        `INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, status_reason, paid_at, settled_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [claim!.id, member!.id, unit.id, payout.amountFen, payout.status, payout.status === 'HELD' ? 'no bank account' : null,
         ['PAID', 'SETTLED'].includes(payout.status) ? '2025-06-04 10:00:00+08' : null, payout.status === 'SETTLED' ? '2025-06-05 10:00:00+08' : null,
         PAYOUT_CREATED[k % PAYOUT_CREATED.length]],
      );
    }
  }
  return { id: unit.id, creditCode: unit.creditCode, memberIds };
}

export interface PageVariables {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
  orderBy?: { field: string; direction: 'ASC' | 'DESC' } | null;
}

export interface PageResult {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  edges: { cursor: string; node: { id: string } }[];
}

/** Reads one page: `read` asks the gateway and returns the connection. */
export type ReadPage = (variables: PageVariables) => Promise<PageResult>;

export const localIdOf = (globalId: string): number => parseGlobalId(globalId)!.id;

/**
 * Every item of a connection, walked forward (`first`/`after`) or backward (`last`/`before`) in
 * pages of `size`, checking each page's PageInfo against what is known of the whole list (`total`
 * items): the side read towards exactly, the cursor's side as the client came from it.
 */
export async function walk(read: ReadPage, size: number, way: 'forward' | 'backward', orderBy: PageVariables['orderBy'], total: number): Promise<number[]> {
  const seen: number[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages <= total + 1; pages += 1) {
    const page: PageResult = await read(way === 'forward'
      ? { first: size, after: cursor, orderBy }
      : { last: size, before: cursor, orderBy });
    const ids = page.edges.map((e) => localIdOf(e.node.id));
    if (way === 'forward') seen.push(...ids);
    else seen.unshift(...ids);
    const more = seen.length < total;
    const context = `${way} ${size} ${JSON.stringify(orderBy)} after ${seen.length}`;
    expect(page.totalCount, context).toBe(total);
    expect(page.edges.length, context).toBe(Math.min(size, total - (seen.length - ids.length)));
    expect(page.pageInfo.startCursor, context).toBe(page.edges[0]?.cursor ?? null);
    expect(page.pageInfo.endCursor, context).toBe(page.edges.at(-1)?.cursor ?? null);
    if (way === 'forward') {
      expect(page.pageInfo, context).toMatchObject({ hasNextPage: more, hasPreviousPage: cursor !== null });
      cursor = page.pageInfo.endCursor;
      if (!page.pageInfo.hasNextPage) return seen;
    } else {
      expect(page.pageInfo, context).toMatchObject({ hasPreviousPage: more, hasNextPage: cursor !== null });
      cursor = page.pageInfo.startCursor;
      if (!page.pageInfo.hasPreviousPage) return seen;
    }
  }
  throw new Error('the walk did not end');
}

/** The GraphQL variables' declaration and arguments of a paged field, to splice into a query. */
export const PAGE_PARAMS = '$first: Int, $after: String, $last: Int, $before: String';
export const PAGE_ARGS = 'first: $first, after: $after, last: $last, before: $before';
export const PAGE_SELECTION = 'totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } }';

/** Asks `query` and returns the connection at `path`, failing on any error. */
export function reader(gw: TestGateway, auth: Parameters<TestGateway['query']>[0], query: string, path: string[], extra: Record<string, unknown> = {}): ReadPage {
  return async (variables) => {
    const result = await gw.query(auth, query, { ...extra, ...variables });
    expect(result.errors, JSON.stringify(variables)).toBeUndefined();
    return path.reduce((value: any, key) => value[key], result.data) as PageResult; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
}
