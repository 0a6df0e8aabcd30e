import { InvalidArgumentError, Option, type Command } from 'commander';
import { jsonOption } from '../cliOutput.ts';

/**
 * `hub settlements ...` (sources, pulls, file imports, re-matching) and `hub sim insurance` (the
 * platform simulator). The work lives in cliActions.ts, loaded only when a command runs.
 */
export function registerSettlementCommands(program: Command): void {
  const settlements = program.command('settlements').description('medical-insurance settlements (结算): sources, pulls, file imports');

  settlements
    .command('pull')
    .description('pull a source now, page by page from its stored cursor, and match what is new')
    .requiredOption('--source <name>', 'the source to pull (see `hub settlements sources`)')
    .option('--max-pages <n>', 'stop after this many pages', positive)
    .addOption(jsonOption())
    .action(async (options: { source: string; maxPages?: number }) => {
      const { pullCommand } = await import('./cliActions.ts');
      process.exitCode = await pullCommand(options.source, options.maxPages);
    });

  settlements
    .command('import <file>')
    .description('import a file of settlements (JSON lines or CSV in the platform\'s field names) and match them')
    .option('--source <name>', 'the FILE source to record them under', 'file')
    .addOption(new Option('--format <format>', 'file format (default: from the file name)').choices(['jsonl', 'csv']))
    .addOption(jsonOption())
    .action(async (file: string, options: { source: string; format?: 'jsonl' | 'csv' }) => {
      const { importCommand } = await import('./cliActions.ts');
      process.exitCode = await importCommand(file, options.source, options.format);
    });

  settlements
    .command('sources')
    .description('list the sources, their cursors and counts')
    .addOption(jsonOption())
    .action(async () => {
      const { sourcesCommand } = await import('./cliActions.ts');
      process.exitCode = await sourcesCommand();
    });

  settlements
    .command('source <name>')
    .description('register or change a pulled source (the workers schedule it within a minute)')
    .option('--url <url>', 'the platform interface URL (a PLATFORM source)')
    .option('--dir <dir>', 'a drop directory (a DROP source)')
    .option('--every <seconds>', 'pull every this many seconds (default: on demand only)', positive)
    .option('--page-size <n>', 'records per page', positive)
    .option('--disable', 'stop pulling it')
    .addOption(jsonOption())
    .action(async (name: string, options: { url?: string; dir?: string; every?: number; pageSize?: number; disable?: boolean }) => {
      if (Boolean(options.url) === Boolean(options.dir)) throw new InvalidArgumentError('give exactly one of --url and --dir');
      const { sourceCommand } = await import('./cliActions.ts');
      process.exitCode = await sourceCommand(name, options);
    });

  settlements
    .command('rematch')
    .description('match UNMATCHED settlements again (e.g. after a roster import registered their members)')
    .addOption(new Option('--reason <reason>', 'only those unmatched for this reason').choices(['NO_MEMBER', 'NO_ENROLMENT', 'ORIGINAL_NOT_FOUND']))
    .addOption(jsonOption())
    .action(async (options: { reason?: 'NO_MEMBER' | 'NO_ENROLMENT' | 'ORIGINAL_NOT_FOUND' }) => {
      const { rematchCommand } = await import('./cliActions.ts');
      process.exitCode = await rematchCommand(options.reason ?? null);
    });

  // Other simulators of outside systems may share the `sim` group.
  const sim = program.commands.find((c) => c.name() === 'sim') ?? program.command('sim').description('simulators of the outside systems the hub talks to');
  sim
    .command('insurance')
    .description('run the medical-insurance platform simulator: a settlement feed in the platform\'s envelope, deterministic by seed')
    .option('--port <port>', 'port to listen on', positive, 4700)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--seed <n>', 'seed: same seed, same settlements', positive, 1)
    .option('--count <n>', 'settlements in the feed', positive, 1000)
    .option('--demo-members <n>', 'settle for the members `hub demo --members n` registers', positive)
    .option('--roster <file>', 'settle for the members of a roster CSV (columns name, id_number)')
    .option('--today <date>', 'last day settlements fall on (default: today, China time)')
    .action(async (options: { port: number; host: string; seed: number; count: number; demoMembers?: number; roster?: string; today?: string }) => {
      const { simulatorCommand } = await import('./cliActions.ts');
      await simulatorCommand(options);
    });
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}
