import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REJECTION_TRANSITIONS, RUN_TRANSITIONS, SETTLEMENT_INFNOS, SETTLEMENT_TRANSITIONS } from '../../src/settlements/model.ts';

/** The model's statuses are the ones the tables allow: the migration's CHECKs and the transition tables name the same. */

const migration = readFileSync(new URL('../../src/db/migrations/0002_settlements.sql', import.meta.url), 'utf8');

/** The values `CHECK (column IN (...))` allows in `table`. */
function allowed(table: string, column: string): string[] {
  const body = new RegExp(`CREATE TABLE ${table} \\(([\\s\\S]*?)\\n\\);`).exec(migration)?.[1];
  const list = body && new RegExp(`\\b${column} IN \\(([^)]*)\\)`).exec(body)?.[1];
  if (!list) throw new Error(`no CHECK (${column} IN ...) in ${table}`);
  return list.split(',').map((v) => v.trim().replace(/^'|'$/g, '')).sort();
}

describe('the settlements model', () => {
  it('knows every status the tables allow, no more', () => {
    expect(Object.keys(SETTLEMENT_TRANSITIONS).sort()).toEqual(allowed('settlements', 'status'));
    expect(Object.keys(REJECTION_TRANSITIONS).sort()).toEqual(allowed('settlement_rejections', 'status'));
    expect(Object.keys(RUN_TRANSITIONS).sort()).toEqual(allowed('settlement_runs', 'status'));
  });

  it('knows every transaction and kind the settlements table allows', () => {
    expect(Object.keys(SETTLEMENT_INFNOS).sort()).toEqual(allowed('settlements', 'infno'));
    expect([...new Set(Object.values(SETTLEMENT_INFNOS))].sort()).toEqual(allowed('settlements', 'kind'));
  });
});
