import type { Command } from 'commander';
import { jsonOption, result, say } from '../cliOutput.ts';
import { config } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { UNSCOPED } from '../kernel/scope.ts';
import { maskBankCard } from '../privacy/personalData.ts';
import { addFunder } from './funders.ts';
import { funderPayingAccount } from './model.ts';
import { payoutSettings } from './settings.ts';
import { listFunders } from './store/funders.ts';

/**
 * `hub funders add|list`: the server operator registers funders (出资方) and the account each pays
 * from (audited as the operator `cli`). An account is set once: a funder's account never changes
 * (register a new funder for a new account); the UNION funder pays from PAYOUT_ACCOUNT.
 */
export function registerFunderCommands(program: Command): void {
  const funders = program.command('funders').description('funders (出资方): whose money benefit lines and payouts are, and the account each pays from');
  funders
    .command('add')
    .description('register a funder of an organisation with the account its payouts are paid from (never changed afterwards)')
    .requiredOption('--code <code>', 'its code: capital letters, digits and "-", at most 32')
    .requiredOption('--name <name>', 'its name, e.g. 福建省总工会职工医疗互助补助资金')
    .requiredOption('--organisation <code>', 'the code of the organisation whose fund it is')
    .requiredOption('--account <number>', 'the account its payouts are paid from (6 to 34 digits)')
    .requiredOption('--account-name <name>', "the account holder's name, as the bank has it")
    .requiredOption('--agent <cnaps>', "the account's bank, its 12-digit CNAPS code")
    .addOption(jsonOption())
    .action(async (options: { code: string; name: string; organisation: string; account: string; accountName: string; agent: string }) => {
      const db = createPool({ max: 2 });
      try {
        const funder = await addFunder(db, { subject: 'cli', role: 'ADMIN' }, {
          code: options.code, name: options.name, organisationCode: options.organisation, account: options.account, accountName: options.accountName, agent: options.agent,
        }, config().PAYOUT_ACCOUNT);
        say(`registered funder ${funder.code} (${funder.name}) of ${options.organisation}, paying from ${maskBankCard(options.account)}`);
        result({ id: funder.id, code: funder.code, name: funder.name, organisation: options.organisation, account: funder.account });
      } finally {
        await db.end();
      }
    });
  funders
    .command('list')
    .description('every funder and the account it pays from')
    .addOption(jsonOption())
    .action(async () => {
      const db = createPool({ max: 2 });
      try {
        const settings = payoutSettings(config());
        const rows = await listFunders(db, UNSCOPED);
        for (const f of rows) say(`${f.code}  ${funderPayingAccount(settings, f).account}${f.account === null ? ' (PAYOUT_ACCOUNT)' : ''}  ${f.name}`);
        result(rows.map((f) => ({ code: f.code, name: f.name, organisationId: f.organisationId, account: funderPayingAccount(settings, f).account })));
      } finally {
        await db.end();
      }
    });
}
