import { describe, expect, it } from 'vitest';
import { ensureUnit, lazyTestGateway } from '../support/gateway.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';

/**
 * Argument values GraphQL accepts but PostgreSQL cannot store (year 0000, U+0000, lone surrogates):
 * refused as BAD_USER_INPUT naming the argument, never an INTERNAL_SERVER_ERROR. Bugs the bad-input
 * sweep (issue 8) found and fixed; each comment says the exact input, what happened before the fix
 * and what happens now.
 */

const gateway = lazyTestGateway({ RATE_LIMIT_POINTS: '0' });
const UNIT = withCreditCodeCheck('91350500MA0000001');

describe('GraphQL variables', () => {
  // BUG 9 (API side; the roster side: test/members/malformedRosters.test.ts). The Date scalar
  // (src/gateway/scalars.ts, via isIsoDate) accepts "0000-01-01".
  // Input: settlements(filter: {settledFrom: "0000-01-01"}), recordContributionPayment(paidOn:
  // "0000-01-01"), enrolMember(enrolledOn: "0000-01-01"). Before the fix: PostgreSQL 'date/time field value out of
  // range' -> INTERNAL_SERVER_ERROR. Now: BAD_USER_INPUT (Date must be yyyy-MM-dd), nothing stored.
  it('refuses the Date 0000-01-01 as BAD_USER_INPUT', async () => {
    const { gw: g } = await gateway();
    const u = await ensureUnit(g, UNIT);
    const answers = [
      await g.query({ role: 'ADMIN' }, `query($d: Date) { settlements(filter: { settledFrom: $d }) { totalCount } }`, { d: '0000-01-01' }),
      await g.query({ role: 'ADMIN' }, `query($d: Date) { settlements(filter: { settledTo: $d }) { totalCount } }`, { d: '0000-12-31' }),
      await g.query({ role: 'FINANCE' }, `mutation($u: ID!, $d: Date!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: 5, reference: "B9", paidOn: $d }) { contribution { paidFen } } }`, { u, d: '0000-01-01' }),
    ];
    for (const a of answers) expect(a.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  // BUG 10. U+0000 in a String variable reached PostgreSQL, which refuses it ('invalid byte sequence for
  // encoding "UTF8": 0x00'): INTERNAL_SERVER_ERROR. Inputs (each): members(filter: {name: "a\u0000"}),
  // units(filter: {name: "a\u0000"}), settlements(filter: {source: "a\u0000"}),
  // settlementRejections(filter: {source: "a\u0000"}), settlementIngestionRuns(source: "a\u0000"),
  // createUnit(input: {name: "a\u0000b", ...}), createMember(input: {name: "a\u0000", ...}),
  // uploadSettlements(input: {fileName: "a\u0000.jsonl", ...}). Now: BAD_USER_INPUT naming the argument
  // (filter.name: 'must not contain U+0000 (NUL)'), from one guard on every resolver's arguments
  // (src/gateway/argumentText.ts), with a lone surrogate refused the same way.
  it('refuses U+0000 in string variables with BAD_USER_INPUT', async () => {
    const { gw: g } = await gateway();
    const u = await ensureUnit(g, UNIT);
    const cases: [string, Record<string, unknown>, string][] = [
      [`query($s: String) { members(filter: { name: $s }) { totalCount } }`, { s: 'a\u0000' }, 'filter.name'],
      [`query($s: String) { units(filter: { name: $s }) { totalCount } }`, { s: 'a\u0000' }, 'filter.name'],
      [`query($s: String) { settlements(filter: { source: $s }) { totalCount } }`, { s: 'a\u0000' }, 'filter.source'],
      [`query($s: String) { settlementRejections(filter: { source: $s }) { totalCount } }`, { s: 'a\u0000' }, 'filter.source'],
      [`query($s: String) { settlementIngestionRuns(source: $s) { totalCount } }`, { s: 'a\u0000' }, 'source'],
      [`query($s: String) { settlementIngestionRuns(source: $s) { totalCount } }`, { s: 'a\ud800' }, 'source'],
      [`mutation($s: String!) { createUnit(input: { creditCode: "${withCreditCodeCheck('91350500MA0000008')}", name: $s, planType: PUBLIC }) { userErrors { field code } } }`, { s: 'a\u0000b' }, 'input.name'],
      [`mutation($u: ID!, $s: String!) { createMember(input: { unitId: $u, name: $s, idNumber: "${withResidentIdCheck('35052119850312005')}" }) { userErrors { field code } } }`, { u, s: 'a\u0000' }, 'input.name'],
      [`mutation($s: String!) { uploadSettlements(input: { fileName: $s, content: "{}" }) { userErrors { field code } } }`, { s: 'a\u0000.jsonl' }, 'input.fileName'],
    ];
    for (const [query, variables, field] of cases) {
      const result = await g.query({ role: 'ADMIN' }, query, variables);
      // A mutation reports it in its payload's userErrors, a query as a top-level error.
      if (query.startsWith('mutation')) expect(Object.values(result.data)[0], query).toEqual({ userErrors: [{ field, code: 'INVALID' }] });
      else expect(result.errors?.[0]?.extensions, query).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });
});
