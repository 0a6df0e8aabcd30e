import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { seedEnrolledMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { setBankCard } from '../payouts/support.ts';

/**
 * Attacks on the typed fields of issue 16: permission hints and object links asked about objects
 * out of the caller's scope, and JSON inputs carrying prototype keys.
 */

let db: TestDatabase;
let gw: TestGateway;
let a: MemberSetup;
let b: MemberSetup;
let claimOfB: string;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  a = await seedEnrolledMember(db.pool);
  b = await seedEnrolledMember(db.pool);
  await setBankCard(db.pool, b.memberId, '6222020200112233452');
  const settlement = await seedSettlement(db.pool, b, { psn: '40,000.00' });
  await adjudicateSettlements(db.pool, [settlement], { autoApproveMaxFen: 0 });
  const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM claims WHERE settlement_id = $1`, [settlement]);
  claimOfB = toGlobalId('Claim', rows[0]!.id);
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('hints and links out of scope', () => {
  it('another unit\'s operator or a member learns nothing of another unit\'s objects through hints, ids or links', async () => {
    const operatorA = { role: 'UNIT_OPERATOR', unit: a.creditCode, sub: 'operator-a' } as const;
    const memberA = { role: 'MEMBER', member: toGlobalId('Member', a.memberId), sub: 'member-a' } as const;
    const memberB = toGlobalId('Member', b.memberId);
    const ids = [claimOfB, memberB, toGlobalId('BankAccount', b.memberId), toGlobalId('Contribution', `${b.unitId}-2025`), toGlobalId('SettlementSource', 'test')];
    for (const auth of [operatorA, memberA]) {
      const res = await gw.query(auth, `query($ids: [ID!]!, $c: ID!, $m: ID!) {
        nodes(ids: $ids) { id }
        claim(id: $c) { viewerCanApprove viewerCanReject viewerCanAdjust }
        member(id: $m) { viewerCanRevealPersonalData viewerCanEdit }
        claims { edges { node { id } } }
      }`, { ids, c: claimOfB, m: memberB });
      expect(res.errors, auth.role).toBeUndefined();
      expect(res.data, auth.role).toEqual({ nodes: ids.map(() => null), claim: null, member: null, claims: { edges: [] } });
    }
  });

  it('a role that may not read batches or reconciliation gets no hint about them', async () => {
    for (const role of ['MEMBER', 'UNIT_OPERATOR', 'REVIEWER', 'SERVICE'] as const) {
      const auth = { role, sub: `probe-${role}`, ...(role === 'MEMBER' ? { member: toGlobalId('Member', a.memberId) } : role === 'UNIT_OPERATOR' ? { unit: a.creditCode } : {}) };
      const res = await gw.query(auth, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, {
        ids: [toGlobalId('PayoutBatch', 1), toGlobalId('BankDocument', 1), toGlobalId('FourEyesProposal', 1), toGlobalId('DailyProof', 1), toGlobalId('ReconciliationException', 1)],
      });
      expect(res.errors, role).toBeUndefined();
      expect(res.data.nodes, role).toEqual([null, null, null, null, null]);
    }
  });

  it('a keyed id made up by a client is just an unknown id', async () => {
    const forged = ['Contribution:1-2025; DROP TABLE units', 'RuleSet:../../etc@1', 'SettlementSource:constructor', 'Contribution:__proto__', 'RuleSet:default-2025@99999999999']
      .map((text) => Buffer.from(text).toString('base64url'));
    const res = await gw.query({ role: 'ADMIN' }, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: forged });
    expect(res.errors).toBeUndefined();
    expect(res.data.nodes).toEqual(forged.map(() => null));
  });
});

describe('JSON inputs', () => {
  const PREVIEW = `query($i: JSON!) { benefitPreview(ruleSetId: "default-2025", input: $i) { totalFen } }`;

  it('refuses prototype keys anywhere in a JSON variable, as bad input, and pollutes nothing', async () => {
    const token = await gw.token({ role: 'ADMIN' });
    // Raw request bodies: JSON.parse makes "__proto__" an own key, as a server receives it.
    for (const input of ['{"__proto__":{"polluted":true}}', '{"settlement":{"constructor":{"prototype":{"polluted":true}}}}', '{"plan":"PUBLIC","prototype":1}', '[{"__proto__":{}}]']) {
      const response = await fetch(gw.url, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: `{"query":${JSON.stringify(PREVIEW)},"variables":{"i":${input}}}`,
      });
      const body = await response.json() as { errors?: { message: string; extensions?: { code?: string } }[] };
      expect(body.errors?.[0]?.extensions?.code, input).toBe('BAD_USER_INPUT');
      expect(body.errors?.[0]?.message, input).toMatch(/is not accepted/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses prototype keys written in the query itself', async () => {
    for (const literal of ['{ __proto__: { polluted: true } }', '{ settlement: { constructor: { prototype: { polluted: true } } } }']) {
      const res = await gw.query({ role: 'ADMIN' }, `{ benefitPreview(ruleSetId: "default-2025", input: ${literal}) { totalFen } }`);
      expect(res.errors?.[0]?.message, literal).toMatch(/is not accepted/);
      expect(res.errors?.[0]?.extensions?.code, literal).not.toBe('INTERNAL_SERVER_ERROR');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a JSON value nested beyond any document the hub reads, without running out of stack', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const token = await gw.token({ role: 'ADMIN' });
    const response = await fetch(gw.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: `{"query":${JSON.stringify(PREVIEW)},"variables":{"i":${deep}}}`,
    });
    const body = await response.json() as { errors?: { extensions?: { code?: string } }[] };
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
