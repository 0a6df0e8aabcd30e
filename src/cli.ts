import { Command, InvalidArgumentError, Option } from 'commander';
import { decodeJwt } from 'jose';
import { config, ConfigError, requireNodeEnv } from './config.ts';
import { ROLES, signDevelopmentToken, tokenLifetimeProblem, type Role } from './gateway/auth.ts';
import { migrate } from './db/migrate.ts';
import { verifyAuditChain } from './audit/audit.ts';
import { registerBankSimulatorCommands } from './banks/simulator/cli.ts';
import { registerSealCommands } from './seals/cli.ts';
import { registerBenefitsCommands } from './benefits/previewCli.ts';
import { registerSettlementCommands } from './settlements/cli.ts';
import { registerStatementCommands } from './reconciliation/cli.ts';

/** The `hub` command: operators' entry point (DESIGN.md, Contracts other tools rely on). */
const program = new Command('hub').description('Mutual Aid Hub (职工医疗互助) — gateway, workers and operator commands');

// Development helpers run as development when NODE_ENV is unset, and never in production: they
// sign tokens, write a CA or use the public development keys. Every other command needs NODE_ENV.
const DEVELOPMENT_COMMANDS = new Set(['demo', 'token', 'certs dev', 'sim bank', 'sim insurance']);
program.hook('preAction', (_program, command) => {
  const path = command.parent && command.parent !== program ? `${command.parent.name()} ${command.name()}` : command.name();
  if (!DEVELOPMENT_COMMANDS.has(path)) return requireNodeEnv(process.env);
  if (!process.env.NODE_ENV) process.env.NODE_ENV = 'development';
  if (process.env.NODE_ENV === 'production') throw new ConfigError(`hub ${path} is a development helper: it does not run with NODE_ENV=production`);
});

program
  .command('migrate')
  .description('apply pending database migrations (safe to repeat)')
  .action(async () => {
    const applied = await migrate({ databaseUrl: config().DATABASE_URL });
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  });

program
  .command('serve')
  .description('run the GraphQL gateway')
  .option('--port <port>', 'port to listen on (default: PORT)', parsePort)
  .option('--host <host>', 'address to bind', '127.0.0.1')
  .action(async (options: { port?: number; host: string }) => {
    const { serveGateway } = await import('./serve.ts');
    await serveGateway({ port: options.port ?? config().PORT, host: options.host });
  });

program
  .command('work')
  .description('run the BullMQ workers')
  .action(async () => {
    const { runWorkers } = await import('./serve.ts');
    await runWorkers();
  });

program
  .command('demo')
  .description('migrate, make dev certificates, load sample data, start simulators, gateway and workers, pay and reconcile sample claims, print how to use them')
  .option('--once', 'print the summary and exit instead of serving')
  .option('--members <n>', 'number of sample members', parseCount, 3000)
  .option('--bank-faults', 'after the happy path, the bank returns a paid payout (退票) and books an unannounced credit: reconciliation shows them as exceptions')
  .action(async (options: { once?: boolean; members: number; bankFaults?: boolean }) => {
    const { runDemo } = await import('./demo/demo.ts');
    await runDemo({ once: Boolean(options.once), members: options.members, bankFaults: Boolean(options.bankFaults) });
  });

const members = program.command('members').description('member registry');
members
  .command('import <file>')
  .description('import a roster CSV (name,id_number,phone,bank_card,bank_code,unit_credit_code,plan_year,plan,special_disease,enrolled_on)')
  .option('--unit <creditCode>', 'unit for rows without unit_credit_code')
  .action(async (file: string, options: { unit?: string }) => {
    const { importRosterFile } = await import('./members/rosterCli.ts');
    const code = await importRosterFile(file, options.unit);
    process.exitCode = code;
  });

program
  .command('token')
  .description('print a development bearer token signed with JWT_SECRET')
  .addOption(new Option('--role <role>', 'role').choices(ROLES).makeOptionMandatory())
  .option('--subject <sub>', 'subject (user id)', 'dev-user')
  .option('--unit <creditCode>', 'unit (UNIT_OPERATOR)')
  .option('--member <memberId>', 'member global ID (MEMBER)')
  .option('--expires <span>', 'lifetime, e.g. 12h or 90m; at most TOKEN_MAX_LIFETIME_HOURS (24 h by default)', '12h')
  .action(async (options: { role: Role; subject: string; unit?: string; member?: string; expires: string }) => {
    if (options.role === 'UNIT_OPERATOR' && !options.unit) throw new InvalidArgumentError('--unit is required for UNIT_OPERATOR');
    if (options.role === 'MEMBER' && !options.member) throw new InvalidArgumentError('--member is required for MEMBER');
    const token = await signDevelopmentToken(config(), { sub: options.subject, role: options.role, unit: options.unit, member: options.member }, options.expires);
    // The gateway would refuse a longer-lived token: say so now rather than print one that never works.
    const { exp, iat } = decodeJwt(token);
    const tooLong = tokenLifetimeProblem(config(), exp!, iat);
    if (tooLong) throw new InvalidArgumentError(`--expires ${options.expires}: ${tooLong}`);
    console.log(token);
  });

const audit = program.command('audit').description('the hash-chained audit log');
audit
  .command('verify')
  .description('recompute the audit chain; exits 1 naming the first edited or missing row')
  .action(async () => {
    const { createPool } = await import('./db/pool.ts');
    const db = createPool({ max: 1 });
    try {
      const result = await verifyAuditChain(db);
      if (result.firstBroken) {
        console.error(`audit chain broken at row ${result.firstBroken.seq}: ${result.firstBroken.problem}`);
        process.exitCode = 1;
      } else {
        console.log(`audit chain intact: ${result.rows} rows`);
      }
    } finally {
      await db.end();
    }
  });

// Domain command groups (each in its own src/<domain>/ module).
registerBankSimulatorCommands(program);
registerSealCommands(program);
registerBenefitsCommands(program);
registerSettlementCommands(program);
registerStatementCommands(program);

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number');
  return port;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof ConfigError || error instanceof InvalidArgumentError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
