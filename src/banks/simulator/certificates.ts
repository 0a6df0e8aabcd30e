import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config.ts';
import { parseCrlsPem } from '../../seals/cms/crl.ts';
import { certificatesFromPem, sealFromPem } from '../../seals/cms/keys.ts';
import type { Seal } from '../../seals/cms/seal.ts';
import { devCertificateFiles } from '../../seals/settings.ts';
import type { SealedBy } from '../adapter.ts';

/**
 * The simulator's certificates from a directory `hub certs dev` wrote: it seals with the bank
 * certificate (bank.pem, bank.key.pem) and accepts files sealed with the union seal (seal.pem,
 * or `customerCertificates`) chained to ca.pem and not revoked by crl.pem.
 */
export function simulatorCertificates(certsDir: string, customerCertificates?: string): { bankSeal: Seal; customers: SealedBy } {
  const files = devCertificateFiles(certsDir);
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (run \`hub certs dev\`)`);
    }
  };
  return {
    bankSeal: sealFromPem(read(files.bank), read(files.bankKey)),
    customers: {
      trust: { anchors: certificatesFromPem(read(files.ca)), crls: parseCrlsPem(read(files.crl)) },
      certificates: certificatesFromPem(read(customerCertificates ?? files.seal)),
    },
  };
}
