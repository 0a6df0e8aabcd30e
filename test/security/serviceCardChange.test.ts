import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { hub } from '../support/hub.ts';
import { localId } from '../../src/gateway/globalId.ts';
import { lookupHash } from '../../src/privacy/personalData.ts';
import { withCreditCodeCheck, withLuhnCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';

/**
 * A replaced bank card is paid early only when a second person confirms it. A card replaced by a
 * service — the `hub members import` command (recorded as `cli`) or a SERVICE token — names no
 * person: the operator who ran it could confirm it under their own FINANCE login, alone. Nobody
 * confirms such a change; it waits out its cooling-off, the member told meanwhile.
 */

let db: TestDatabase;
let gw: TestGateway;
const work = mkdtempSync(join(tmpdir(), 'hub-service-card-'));
const UNIT = { code: withCreditCodeCheck('91350500MA0000070'), name: '晋江某纺织有限公司' };
const BANK = '102397000011';
const card = (n: number) => withLuhnCheck(`62220213${String(n).padStart(10, '0')}`);
const idNumber = (n: number) => withResidentIdCheck(`35052119850312${String(n).padStart(3, '0')}`);

const ADMIN = { role: 'ADMIN', sub: 'admin-zhang' } as const;
// The operator who runs `hub` on the server, and their own login to the API.
const FINANCE = { role: 'FINANCE', sub: 'finance-wang' } as const;
const HR_SYSTEM = { role: 'SERVICE', sub: 'hr-system' } as const;
let unitId: string;

const ACCOUNT = 'bankAccount { cardNumberMasked changedAt changedBy confirmedAt confirmedBy payableFrom }';
const CREATE = `mutation($input: CreateMemberInput!) { createMember(input: $input) { member { id ${ACCOUNT} } userErrors { field code message } } }`;
const UPDATE = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { id ${ACCOUNT} } userErrors { field code message } } }`;
const CONFIRM = `mutation($input: ConfirmBankCardChangeInput!) { confirmBankCardChange(input: $input) { member { ${ACCOUNT} } userErrors { field code message } } }`;
const READ = `query($id: ID!) { member(id: $id) { ${ACCOUNT} } }`;

async function memberWithCard(n: number): Promise<string> {
  const created = await gw.query(ADMIN, CREATE, {
    input: { unitId, name: `会员${n}`, idNumber: idNumber(n), phone: '13800000070', bankAccount: { cardNumber: card(n), bankCode: BANK } },
  });
  expect(created.data.createMember.userErrors).toEqual([]);
  return created.data.createMember.member.id;
}

async function stored(memberId: string) {
  const { rows } = await db.pool.query(
    `SELECT bank_card_hash, bank_card_changed_by, bank_card_confirmed_by, bank_card_confirmed_at FROM members WHERE id = $1`,
    [localId('id', memberId, 'Member')],
  );
  return rows[0];
}

/** The confirmation is refused and the account stays payable only from the end of its cooling-off. */
async function expectUnconfirmable(memberId: string, changedBy: string): Promise<void> {
  const account = (await gw.query(FINANCE, READ, { id: memberId })).data.member.bankAccount;
  expect(account).toMatchObject({ changedBy, confirmedAt: null });
  const confirm = await gw.query(FINANCE, CONFIRM, { input: { memberId, changedAt: account.changedAt, reason: '电话核实本人并核对银行卡' } });
  expect(confirm.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect(confirm.errors![0]!.message).toContain('cooling-off');
  const after = (await gw.query(FINANCE, READ, { id: memberId })).data.member.bankAccount;
  expect(after).toMatchObject({ confirmedAt: null, confirmedBy: null });
  expect(Date.parse(after.payableFrom) - Date.parse(after.changedAt)).toBe(gw.config.BANK_CARD_COOLING_OFF_DAYS * 86_400_000);
  expect(await stored(memberId)).toMatchObject({ bank_card_confirmed_by: null, bank_card_confirmed_at: null });
  const audit = await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'member.confirmBankCard' AND target_id = $1`,
    [String(localId('id', memberId, 'Member'))]);
  expect(audit.rows[0].n).toBe(0);
  // Nor around the code: the database refuses it.
  await expect(db.pool.query(`UPDATE members SET bank_card_confirmed_at = now(), bank_card_confirmed_by = 'finance-wang' WHERE id = $1`,
    [localId('id', memberId, 'Member')])).rejects.toThrow('members_bank_card_service_change');
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  const created = await gw.query(ADMIN, `mutation($c: String!, $n: String!) { createUnit(input: { creditCode: $c, name: $n, planType: PRIVATE }) { unit { id } } }`,
    { c: UNIT.code, n: UNIT.name });
  unitId = created.data.createUnit.unit.id;
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
});

describe('a bank card replaced by a service is confirmed by no one', () => {
  it('a card the operator replaced with `hub members import` cannot be confirmed by the same operator\'s FINANCE login, nor anyone\'s', async () => {
    const memberId = await memberWithCard(1);
    const file = join(work, 'roster.csv');
    writeFileSync(file, `name,id_number,bank_card,bank_code\n会员1,${idNumber(1)},${card(701)},${BANK}\n`);
    const imported = await hub(['members', 'import', file, '--unit', UNIT.code, '--json'], { DATABASE_URL: db.url, LOG_LEVEL: 'silent' });
    expect(imported.code, imported.stderr).toBe(0);
    expect(await stored(memberId)).toMatchObject({ bank_card_hash: lookupHash(gw.keys, card(701)), bank_card_changed_by: 'cli' });

    await expectUnconfirmable(memberId, 'cli');
  });

  it('a card a SERVICE token replaced cannot be confirmed either; one a person replaced still can, by another', async () => {
    const memberId = await memberWithCard(2);
    const replaced = await gw.query(HR_SYSTEM, UPDATE, { input: { memberId, bankAccount: { cardNumber: card(702), bankCode: BANK } } });
    expect(replaced.data.updateMember.userErrors).toEqual([]);
    await expectUnconfirmable(memberId, 'hr-system');

    // A person's replacement afterwards is theirs, and another person confirms it as before.
    const byAdmin = await gw.query(ADMIN, UPDATE, { input: { memberId, bankAccount: { cardNumber: card(712), bankCode: BANK } } });
    const account = byAdmin.data.updateMember.member.bankAccount;
    expect(account.changedBy).toBe('admin-zhang');
    const confirmed = await gw.query(FINANCE, CONFIRM, { input: { memberId, changedAt: account.changedAt, reason: '电话核实本人并核对银行卡' } });
    expect(confirmed.data.confirmBankCardChange.userErrors).toEqual([]);
    expect(confirmed.data.confirmBankCardChange.member.bankAccount.confirmedBy).toBe('finance-wang');
  });
});
