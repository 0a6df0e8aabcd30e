import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { decodeJwt } from 'jose';
import { describeFailure } from '../src/cliErrors.ts';
import { jsonOption, result, say, useJson } from '../src/cliOutput.ts';
import { config, ConfigError, requireNodeEnv } from '../src/config.ts';
import { TEXT_ENCODINGS, type TextEncodingName } from '../src/csv.ts';
import { ORGANISATION_SCOPED_ROLES, ROLES, signDevelopmentToken, tokenLifetimeProblem, type Role } from '../src/gateway/auth.ts';
import { configuredMigration, migrate } from '../src/db/migrate.ts';
import { verifyAuditChain } from '../src/audit/audit.ts';
import { registerBankSimulatorCommands } from '../src/banks/simulator/cli.ts';
import { registerSealCommands } from '../src/seals/cli.ts';
import { registerBenefitsCommands } from '../src/benefits/cli.ts';
import { registerNoticeCommands } from '../src/notices/cli.ts';
import { registerFiguresCommands } from '../src/figures/cli.ts';
import { registerNotificationCommands } from '../src/notifications/cli.ts';
import { registerSettlementCommands } from '../src/settlements/cli.ts';
import { registerStatementCommands } from '../src/reconciliation/cli.ts';
import { registerOrganisationCommands } from '../src/organisations/cli.ts';
import { registerFunderCommands } from '../src/payouts/cli.ts';
import { SUBGRAPHS } from '../src/gateway/federation/subgraphs.ts';

/** The `hub` command: operators' entry point (docs/design.md, Contracts other tools rely on). */
const program = new Command('hub').description('Mutual Aid Hub (职工医疗互助) — gateway, workers and operator commands');
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
// Commander's usage errors (unknown option, missing argument) throw instead of exiting 1, which means
// "rejected rows" here: the failure is mapped below with everything else. Subcommands inherit it.
program.version(version).exitOverride();

// Development helpers run as development when NODE_ENV is unset, and never in production: they
// sign tokens, write a CA or use the public development keys. Every other command needs NODE_ENV.
// Every simulator (`sim …`) is one, by its group: a new simulator cannot be left out.
const DEVELOPMENT_COMMANDS = new Set(['demo', 'mock', 'token', 'certs dev']);
program.hook('preAction', (_program, command) => {
  useJson(Boolean(command.opts().json));
  const group = command.parent && command.parent !== program ? command.parent.name() : null;
  const path = group ? `${group} ${command.name()}` : command.name();
  if (!DEVELOPMENT_COMMANDS.has(path) && group !== 'sim') return requireNodeEnv(process.env);
  if (!process.env.NODE_ENV) process.env.NODE_ENV = 'development';
  if (process.env.NODE_ENV === 'production') throw new ConfigError(`hub ${path} is a development helper: it does not run with NODE_ENV=production`);
});

program
  .command('migrate')
  .description('apply pending database migrations (safe to repeat); with MIGRATION_DATABASE_URL, as its role, granting DATABASE_URL\'s role what the hub needs at run time')
  .addOption(jsonOption())
  .action(async () => {
    const applied = await migrate(configuredMigration(config()));
    say(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
    result({ applied });
  });

program
  .command('serve')
  .description('run the GraphQL gateway: the whole API in-process (default), one subgraph, or a federation gateway over subgraph URLs (docs/federation.md)')
  .option('--port <port>', 'port to listen on (default: PORT)', parsePort)
  .option('--host <host>', 'address to bind', '127.0.0.1')
  .addOption(new Option('--subgraph <name>', 'serve one subgraph (with _entities) instead of the whole API').choices(SUBGRAPHS.map((s) => s.name)).conflicts('gateway'))
  .option('--gateway', 'plan each operation over remote subgraphs with @apollo/gateway (needs their URLs)')
  .option('--subgraph-urls <list>', 'gateway mode: where each subgraph listens, name=url,... (default: SUBGRAPH_URLS)')
  .option('--supergraph <file>', 'gateway mode: the composed supergraph SDL', 'schema/published/supergraph.graphql')
  .action(async (options: { port?: number; host: string; subgraph?: string; gateway?: boolean; subgraphUrls?: string; supergraph: string }) => {
    const { serveGateway } = await import('./serve.ts');
    const urls = options.subgraphUrls ?? process.env.SUBGRAPH_URLS;
    if (options.gateway && !urls) throw new InvalidArgumentError('--gateway needs the subgraphs\' URLs: --subgraph-urls or SUBGRAPH_URLS (name=url,...)');
    await serveGateway({
      port: options.port ?? config().PORT, host: options.host, portSetting: options.port === undefined ? 'PORT' : '--port',
      subgraph: options.subgraph, remote: options.gateway ? { supergraphFile: options.supergraph, urls: urls! } : undefined,
    });
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

program
  .command('mock')
  .description('serve the published schema with made-up data for front-end work: POST /graphql, no database, no token')
  .option('--port <port>', 'port to listen on (0 picks a free one)', parsePort, 4001)
  .option('--seed <n>', 'the same seed gives the same answers to the same requests', parseCount, 1)
  .action(async (options: { port: number; seed: number }) => {
    const { serveMock } = await import('../src/gateway/mock.ts');
    const mock = await serveMock({ port: options.port, seed: options.seed, config: config() });
    say(`mock API (seed ${options.seed}): POST ${mock.url}`);
  });

const members = program.command('members').description('member registry');
members
  .command('import <file>')
  .description('import a roster CSV (name,id_number,phone,bank_card,bank_code,unit_credit_code,plan_year,plan,special_disease,enrolled_on)')
  .option('--unit <creditCode>', 'unit for rows without unit_credit_code')
  .addOption(new Option('--encoding <encoding>', 'the file\'s encoding (Excel on Chinese Windows saves GBK); detected when left out').choices(TEXT_ENCODINGS))
  .addOption(jsonOption())
  .action(async (file: string, options: { unit?: string; encoding?: TextEncodingName }) => {
    const { importRosterFile } = await import('../src/members/cli.ts');
    const code = await importRosterFile(file, options.unit, options.encoding);
    process.exitCode = code;
  });

program
  .command('token')
  .description('print a development bearer token signed with JWT_SECRET')
  .addOption(new Option('--role <role>', 'role').choices(ROLES).makeOptionMandatory())
  .option('--subject <sub>', 'subject (user id)', 'dev-user')
  .option('--unit <creditCode>', 'unit (UNIT_OPERATOR)')
  .option('--member <memberId>', 'member global ID (MEMBER)')
  .option('--org <code>', 'organisation code (ADMIN, REVIEWER, FINANCE, AUDITOR): they then work only inside its subtree')
  .option('--expires <span>', 'lifetime, e.g. 12h or 90m; at most TOKEN_MAX_LIFETIME_HOURS (24 h by default)', parseSpan, '12h')
  .addOption(jsonOption())
  .action(async (options: { role: Role; subject: string; unit?: string; member?: string; org?: string; expires: string }) => {
    if (options.role === 'UNIT_OPERATOR' && !options.unit) throw new InvalidArgumentError('--unit is required for UNIT_OPERATOR');
    if (options.role === 'MEMBER' && !options.member) throw new InvalidArgumentError('--member is required for MEMBER');
    if (options.unit !== undefined && options.role !== 'UNIT_OPERATOR') throw new InvalidArgumentError('--unit goes with UNIT_OPERATOR only');
    if (options.member !== undefined && options.role !== 'MEMBER') throw new InvalidArgumentError('--member goes with MEMBER only');
    if (options.org !== undefined && !ORGANISATION_SCOPED_ROLES.includes(options.role)) {
      throw new InvalidArgumentError(`--org goes with ${ORGANISATION_SCOPED_ROLES.join(', ')} only`);
    }
    const token = await signDevelopmentToken(config(), {
      sub: options.subject, role: options.role, unit: options.unit, member: options.member, org: options.org?.toUpperCase(),
    }, options.expires);
    // The gateway would refuse a longer-lived token: say so now rather than print one that never works.
    const { exp, iat } = decodeJwt(token);
    const tooLong = tokenLifetimeProblem(config(), exp!, iat);
    if (tooLong) throw new InvalidArgumentError(`--expires ${options.expires}: ${tooLong}`);
    say(token);
    result({ token, role: options.role, subject: options.subject, expiresAt: new Date(exp! * 1000).toISOString() });
  });

const audit = program.command('audit').description('the hash-chained audit log');
audit
  .command('verify')
  .description('recompute the audit chain; exits 1 naming the first edited or missing row')
  .addOption(jsonOption())
  .action(async () => {
    const { createPool } = await import('../src/db/pool.ts');
    const db = createPool({ max: 1 });
    try {
      const chain = await verifyAuditChain(db);
      if (chain.firstBroken) {
        console.error(`audit chain broken at row ${chain.firstBroken.seq}: ${chain.firstBroken.problem}`);
        process.exitCode = 1;
      } else {
        say(`audit chain intact: ${chain.rows} rows`);
      }
      result({ intact: !chain.firstBroken, rows: chain.rows, firstBroken: chain.firstBroken });
    } finally {
      await db.end();
    }
  });

// Domain command groups (each in its own src/<domain>/ module).
registerBankSimulatorCommands(program);
registerSealCommands(program);
registerBenefitsCommands(program);
registerNoticeCommands(program);
registerFiguresCommands(program);
registerNotificationCommands(program);
registerSettlementCommands(program);
registerStatementCommands(program);
registerOrganisationCommands(program);
registerFunderCommands(program);

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number');
  return port;
}

// Checked here: jose would refuse "forever" only when signing, with a stack trace.
function parseSpan(value: string): string {
  if (!/^[1-9]\d*(s|m|h|d)$/.test(value)) throw new InvalidArgumentError('must be a number and a unit s, m, h or d, e.g. 90m or 12h');
  return value;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

try {
  await program.parseAsync();
} catch (error) {
  const { line, exitCode } = describeFailure(error);
  if (line) console.error(line);
  if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') console.error(error);
  // Exit now: connections (Redis reconnecting, a pool) would keep a failed command alive.
  process.exit(exitCode);
}
