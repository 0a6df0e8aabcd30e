import { readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { jsonOption, result, say } from '../cliOutput.ts';

/**
 * `hub seal sign|verify` and `hub certs dev` (docs/design.md, Contracts other tools rely on).
 * Modules load inside the actions so other commands do not pay for node-forge.
 */
export function registerSealCommands(program: Command): void {
  const seal = program.command('seal').description('CMS seals (detached signatures) on files for and from the banks');
  seal
    .command('sign <file>')
    .description('write FILE.p7s (DER), sealed with SEAL_P12_PATH or else the development seal')
    .addOption(jsonOption())
    .action(async (file: string) => {
      const [{ sealDocument }, { configuredSeal, parseSealSettings }] = await Promise.all([import('./cms/seal.ts'), import('./settings.ts')]);
      const p7s = sealDocument(readArgument(file), configuredSeal(parseSealSettings()));
      writeFileSync(`${file}.p7s`, p7s);
      say(`sealed: ${file}.p7s`);
      result({ file, p7s: `${file}.p7s` });
    });
  seal
    .command('verify <file> <p7s>')
    .description('check a seal against SEAL_TRUST_ANCHORS and SEAL_CRLS; exits 0 when valid, 1 with the reason when not')
    .option('--received <time>', 'when the hub received the file (ISO 8601), for a file kept since; default now', receivedTime)
    .addOption(jsonOption())
    .action(async (file: string, p7s: string, options: { received?: Date }) => {
      const [{ verifySeal }, { configuredTrust, parseSealSettings }] = await Promise.all([import('./cms/verify.ts'), import('./settings.ts')]);
      const verdict = verifySeal(readArgument(file), readArgument(p7s), configuredTrust(parseSealSettings()), options.received);
      if (verdict.valid) {
        say(`valid: ${verdict.signer}, signed ${verdict.signingTime.toISOString()}`);
      } else {
        console.error(`invalid: ${verdict.reason}`);
        process.exitCode = 1;
      }
      result(verdict);
    });

  program
    .command('certs')
    .description('seal certificates')
    .command('dev')
    .description('write a development CA, union and bank seal certificates and a CRL to CERTS_DIR (.data/certs)')
    .option('--force', 'replace existing certificates')
    .addOption(jsonOption())
    .action(async (options: { force?: boolean }) => {
      const [{ writeDevCertificates }, { parseSealSettings }] = await Promise.all([import('../../certs/devCa.ts'), import('./settings.ts')]);
      const settings = parseSealSettings();
      const written = writeDevCertificates(settings.certsDir, { force: options.force, p12Passphrase: settings.p12Passphrase });
      result({ created: written.created, certsDir: settings.certsDir });
      say(
        written.created
          ? `wrote development certificates to ${settings.certsDir}`
          : `development certificates already exist in ${settings.certsDir} (--force replaces them)`,
      );
    });
}

function receivedTime(value: string): Date {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new InvalidArgumentError(`not a time: ${value} (ISO 8601 expected, e.g. 2025-06-01T10:00:00Z)`);
  return time;
}

/** A file named on the command line; unreadable is a usage error (exit 2), not an invalid seal (exit 1). */
function readArgument(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
