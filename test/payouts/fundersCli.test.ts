import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { hub } from '../support/hub.ts';

/** `hub funders add|list` as the server operator runs them: a funder is registered once, its account never replaced. */
let db: TestDatabase;
let env: Record<string, string>;
const ACCOUNT = '1408010109024560001';

beforeAll(async () => {
  db = await freshDatabase();
  await db.pool.query(`INSERT INTO organisations (code, name, level, created_by) VALUES ('FJ', '福建省总工会', 'PROVINCE', 'test')`);
  env = { DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
}, 120_000);
afterAll(async () => {
  await db?.drop();
});

const add = (code: string, account: string) => hub([
  'funders', 'add', '--code', code, '--name', '福建省总工会职工医疗互助补助资金', '--organisation', 'FJ', '--account', account,
  '--account-name', '福建省总工会', '--agent', '102391000015', '--json',
], env);

describe('hub funders', () => {
  it('registers a funder, lists it beside UNION, and refuses to register its code or its account again', async () => {
    const first = await add('FJ', ACCOUNT);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ code: 'FJ', organisation: 'FJ', account: ACCOUNT });

    const again = await add('FJ', '1408010109024560002');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('never changes');
    const sameAccount = await add('FJ-2', ACCOUNT);
    expect(sameAccount.code).not.toBe(0);
    expect(sameAccount.stderr).toContain('another funder');

    const list = await hub(['funders', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as { code: string; account: string }[];
    expect(listed.map((f) => f.code)).toEqual(['FJ', 'UNION']);
    expect(listed.find((f) => f.code === 'FJ')!.account).toBe(ACCOUNT);
    expect((await db.pool.query(`SELECT actor, target_id AS "targetId" FROM audit_log WHERE action = 'funder.add'`)).rows).toEqual([{ actor: 'cli', targetId: 'FJ' }]);
  });
});
