import { InvalidArgumentError, type Command } from 'commander';
import { fromSetting } from '../../cliErrors.ts';

/** `hub sim bank`: the bank simulator (server.ts), loaded only when the command runs. */
export function registerBankSimulatorCommands(program: Command): void {
  // Simulators of other outside systems share the `sim` group; whoever registers first creates it.
  const sim = program.commands.find((c) => c.name() === 'sim') ?? program.command('sim').description('simulators of the outside systems the hub talks to');
  sim
    .command('bank')
    .description('run the bank simulator: takes sealed pain.001 files over HTTP, answers sealed pain.002, camt.053 and camt.054')
    .option('--port <port>', 'port to listen on', wholeNumber(65535), 4800)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--seed <n>', 'seed of the starting balances of our accounts', wholeNumber(Number.MAX_SAFE_INTEGER), 1)
    .option('--certs <dir>', 'certificates written by `hub certs dev` (default: CERTS_DIR)')
    .option('--customer-cert <file>', 'PEM certificate(s) whose seals on files are accepted (default: <certs>/seal.pem)')
    .option('--state <file>', 'keep the books in this JSON file across restarts (default: in memory only)')
    .option('--account <number>', 'our account credited by POST /admin/credits without one')
    .action(async (options: { port: number; host: string; seed: number; certs?: string; customerCert?: string; state?: string; account?: string }) => {
      const [{ startBankSimulator, DEFAULT_UNION_ACCOUNT }, { simulatorCertificates }, { parseSealSettings }] = await Promise.all([
        import('./server.ts'),
        import('./certificates.ts'),
        import('../../seals/settings.ts'),
      ]);
      const certsDir = options.certs ?? parseSealSettings().certsDir;
      const simulator = await fromSetting('--port', startBankSimulator({
        ...simulatorCertificates(certsDir, options.customerCert),
        port: options.port,
        host: options.host,
        seed: options.seed,
        stateFile: options.state,
        defaultAccount: options.account ?? DEFAULT_UNION_ACCOUNT,
      }));
      console.log(`bank simulator: ${simulator.url} (certificates from ${certsDir}${options.state ? `, books in ${options.state}` : ', books in memory'})`);
      console.log(`  point the hub at it: BANK_URL=${simulator.url} BANK_CERT=${certsDir}/bank.pem`);
      console.log('  faults: POST /admin/faults {"timeoutNext":1}; the ledger: GET /ledger');
      const stop = () => void simulator.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}

/** Commander parser of a whole number from 0 to `max`. */
function wholeNumber(max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new InvalidArgumentError(`must be a whole number from 0 to ${max}`);
    return n;
  };
}
