import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXCEPTION_KINDS, MATCH_KINDS, MATCH_RULES } from '../../src/reconciliation/matching/types.ts';
import { DOCUMENT_TRANSITIONS, ENTRY_TRANSITIONS, EXCEPTION_TRANSITIONS, PROPOSAL_TRANSITIONS, RECONCILIATION_RUN_TRANSITIONS } from '../../src/reconciliation/model.ts';
import { checkedValues, freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The statuses and kinds reconciliation's code knows are exactly those its tables allow: each
 * transition table of model.ts (and each of the matcher's kinds) against the column's CHECK.
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('reconciliation model', () => {
  it.each([
    ['bank_documents', 'status', Object.keys(DOCUMENT_TRANSITIONS)],
    ['statement_entry_states', 'state', Object.keys(ENTRY_TRANSITIONS)],
    ['reconciliation_exceptions', 'status', Object.keys(EXCEPTION_TRANSITIONS)],
    ['reconciliation_runs', 'status', Object.keys(RECONCILIATION_RUN_TRANSITIONS)],
    ['four_eyes_proposals', 'status', Object.keys(PROPOSAL_TRANSITIONS)],
    ['reconciliation_exceptions', 'kind', [...EXCEPTION_KINDS]],
    ['reconciliation_matches', 'kind', [...MATCH_KINDS]],
    ['reconciliation_matches', 'rule', [...MATCH_RULES]],
  ])('knows the values %s.%s allows', async (table, column, known) => {
    expect(await checkedValues(db, table, column)).toEqual([...known].sort());
  });
});
