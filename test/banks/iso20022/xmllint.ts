import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_XSD_DIR } from '../../../src/reconciliation/xsd.ts';

/** The official XSDs vendored in the repository; xmllint checks against them from outside the hub. */
export const SCHEMA_DIR = DEFAULT_XSD_DIR;

export type Schema = 'pain.001.001.03' | 'pain.002.001.03' | 'camt.053.001.02' | 'camt.054.001.02';

/**
 * Validates the documents against the real XSD with one `xmllint` run (it is slow to start).
 * `valid` counts the files xmllint says validate; `output` is its report.
 */
export function xmllint(schema: Schema, documents: string[]): { status: number | null; valid: number; output: string } {
  // A directory of its own: test files run in parallel.
  const dir = mkdtempSync(join(tmpdir(), 'iso20022-'));
  try {
    const files = documents.map((xml, i) => {
      const file = join(dir, `document-${i}.xml`);
      writeFileSync(file, xml);
      return file;
    });
    const run = spawnSync('xmllint', ['--noout', '--schema', join(SCHEMA_DIR, `${schema}.xsd`), ...files], { encoding: 'utf8' });
    if (run.error) throw new Error(`xmllint did not run (${run.error.message}); install it: apt-get install -y libxml2-utils`);
    return { status: run.status, valid: run.stderr.split('\n').filter((line) => line.endsWith(' validates')).length, output: run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Asserts with xmllint's own report as the message. */
export function expectSchemaValid(schema: Schema, documents: string[]): void {
  const result = xmllint(schema, documents);
  if (result.status !== 0 || result.valid !== documents.length) {
    throw new Error(`xmllint --schema ${schema}.xsd: exit ${result.status}, ${result.valid}/${documents.length} valid\n${result.output}`);
  }
}
