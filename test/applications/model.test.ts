import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { APPLICATION_TRANSITIONS } from '../../src/applications/model.ts';

/** The model's statuses are the ones the table allows: the migration's CHECK and the transition table name the same. */
const migration = readFileSync(new URL('../../src/db/migrations/0016_applications.sql', import.meta.url), 'utf8');

function allowed(column: string): string[] {
  const body = /CREATE TABLE applications \(([\s\S]*?)\n\);/.exec(migration)?.[1];
  const list = body && new RegExp(`\\b${column}\\s+text NOT NULL(?: DEFAULT '\\w+')? CHECK \\(${column} IN \\(([^)]*)\\)`).exec(body)?.[1];
  if (!list) throw new Error(`no CHECK (${column} IN ...) in applications`);
  return list.split(',').map((v) => v.trim().replace(/^'|'$/g, '')).sort();
}

describe('the applications model', () => {
  it('knows every status the table allows, no more, and each move leads to a known status', () => {
    expect(Object.keys(APPLICATION_TRANSITIONS).sort()).toEqual(allowed('status'));
    for (const targets of Object.values(APPLICATION_TRANSITIONS)) for (const to of targets) expect(Object.keys(APPLICATION_TRANSITIONS)).toContain(to);
    // Accepted is final: a settlement exists for it.
    expect(APPLICATION_TRANSITIONS.ACCEPTED).toEqual([]);
  });

  it('knows the channels the table allows', () => {
    expect(allowed('channel')).toEqual(['COUNTER', 'MAIL', 'ONLINE']);
  });
});
