import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { checkAll, conflict, notFound } from '../kernel/errors.ts';
import type { Db } from '../kernel/transaction.ts';
import type { FunderRow } from './model.ts';
import { funderByCode, insertFunder, unionBatchPaidFrom, type NewFunder } from './store/funders.ts';

/**
 * Funders (出资方) as the server operator registers them. A funder's account is where its payouts
 * are paid from and what its statements are reconciled against: it is set once, with the funder,
 * and never changes (the database refuses it) — money moved from another account is another
 * funder's.
 */

const CODE = /^[A-Z][A-Z0-9-]{0,31}$/;

/**
 * A new funder of an existing organisation, paying from its own account (never UNION's: neither
 * `unionAccount`, the configured PAYOUT_ACCOUNT, nor an account any UNION batch was paid from); audited.
 */
export async function addFunder(db: Db, actor: Actor, input: NewFunder, unionAccount: string): Promise<FunderRow> {
  checkAll({
    code: CODE.test(input.code) ? null : 'capital letters, digits and -, starting with a letter, at most 32',
    name: input.name.trim().length >= 1 && input.name.length <= 140 ? null : 'between 1 and 140 characters',
    organisation: CODE.test(input.organisationCode) ? null : 'an organisation code (capital letters, digits and -)',
    account: !/^[0-9]{6,34}$/.test(input.account) ? '6 to 34 digits'
      : input.account === unionAccount ? "is the hub's own paying account (PAYOUT_ACCOUNT), which the UNION funder pays from" : null,
    accountName: input.accountName.trim().length >= 1 && input.accountName.length <= 140 ? null : 'between 1 and 140 characters',
    agent: /^[0-9]{12}$/.test(input.agent) ? null : "the bank's 12-digit code (CNAPS)",
  });
  return inTransaction(db, async (tx) => {
    const existing = await funderByCode(tx, input.code);
    if (existing) throw conflict(`funder ${input.code} exists already; its account never changes (register a new funder for a new account)`, 'code');
    // `unionAccount` is only this process's setting: the account UNION batches were paid from is the union's whatever it says.
    if (await unionBatchPaidFrom(tx, input.account)) {
      throw conflict(`account ${input.account} is the union's: UNION payout batches name it as the account they are paid from, so another funder's payouts would be paid with the union's money`, 'account');
    }
    let funder: FunderRow | null;
    try {
      funder = await insertFunder(tx, input, actor);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw conflict(`account ${input.account} is another funder's already`, 'account');
      throw error;
    }
    if (!funder) throw notFound(`organisation ${input.organisationCode}`, 'organisation');
    await recordAudit(tx, actor, {
      action: 'funder.add', targetType: 'Funder', targetId: funder.code,
      details: { funderId: funder.id, organisationId: funder.organisationId, account: funder.account, agent: funder.agent },
    });
    return funder;
  });
}
