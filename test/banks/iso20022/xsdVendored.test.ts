import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_XSD_DIR } from '../../../src/reconciliation/xsd.ts';

describe('the vendored ISO 20022 XSDs', () => {
  it('are the files, byte for byte, whose SHA-256 their README records', () => {
    const readme = readFileSync(join(DEFAULT_XSD_DIR, 'README.md'), 'utf8');
    const recorded = new Map([...readme.matchAll(/^([0-9a-f]{64}) {2}(\S+\.xsd)$/gm)].map((m) => [m[2]!, m[1]!]));
    const files = readdirSync(DEFAULT_XSD_DIR).filter((f) => f.endsWith('.xsd')).sort();
    expect(files).toEqual(['camt.053.001.02.xsd', 'camt.054.001.02.xsd', 'pain.001.001.03.xsd', 'pain.002.001.03.xsd']);
    expect([...recorded.keys()].sort()).toEqual(files);
    for (const file of files) {
      expect(createHash('sha256').update(readFileSync(join(DEFAULT_XSD_DIR, file))).digest('hex'), file).toBe(recorded.get(file));
    }
  });
});
