/**
 * XSD validation of a received statement at scale: the camt.053 of 100,000 entries (~155 MB) the
 * reconciliation bench uses, validated in process (xmllint-wasm, src/reconciliation/xsd.ts, from
 * the string the hub holds) and, as the baseline in the same run, by the system's
 * `xmllint --stream` reading the file (skipped when xmllint is not installed). Prints ms, MB/s and
 * this process's peak RSS (the validator's worker thread included), then one JSON line.
 * `npm run bench -- xsd` (ENTRIES to change the size).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_XSD_DIR, validateAgainstXsd } from '../src/reconciliation/xsd.ts';
import { statementFile } from './_camtStatement.ts';
import { reportFigures, rounded } from './_report.ts';

const ENTRIES = Number(process.env.ENTRIES ?? 100_000);
const rssMb = () => process.resourceUsage().maxRSS / 1024;
const mbPerS = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1);

const file = statementFile(ENTRIES);
const xml = readFileSync(file, 'utf8');
const bytes = Buffer.byteLength(xml);
console.log(`statement: ${ENTRIES.toLocaleString('en')} entries, ${(bytes / 1e6).toFixed(1)} MB (${file}); peak RSS holding it ${rssMb().toFixed(0)} MB`);

let started = performance.now();
const problems = await validateAgainstXsd(xml, 'camt.053');
const inProcessMs = performance.now() - started;
if (problems.length > 0) throw new Error(`expected the statement valid: ${JSON.stringify(problems.slice(0, 3))}`);
const peakRssMb = rssMb();
console.log(`in process (xmllint-wasm, streaming): ${(inProcessMs / 1000).toFixed(2)} s, ${mbPerS(bytes, inProcessMs)} MB/s; peak RSS ${peakRssMb.toFixed(0)} MB`);

let xmllintMs: number | null = null;
started = performance.now();
const baseline = spawnSync('xmllint', ['--noout', '--nonet', '--stream', '--schema', path.join(DEFAULT_XSD_DIR, 'camt.053.001.02.xsd'), file], { encoding: 'utf8' });
if (baseline.error) {
  console.log(`xmllint --stream: skipped (${baseline.error.message}; Debian: apt-get install libxml2-utils)`);
} else {
  xmllintMs = performance.now() - started;
  if (baseline.status !== 0) throw new Error(`xmllint says the statement is not valid (exit ${baseline.status}): ${baseline.stderr.slice(0, 500)}`);
  console.log(`xmllint --stream (system binary, own process): ${(xmllintMs / 1000).toFixed(2)} s, ${mbPerS(bytes, xmllintMs)} MB/s; in process / xmllint = ${(inProcessMs / xmllintMs).toFixed(2)}`);
}

reportFigures(import.meta.url, {
  entries: ENTRIES, bytes, inProcessMs: rounded(inProcessMs), xmllintMs: xmllintMs === null ? null : rounded(xmllintMs),
  ratio: xmllintMs === null ? null : rounded(inProcessMs / xmllintMs, 2), peakRssMb: rounded(peakRssMb),
});
