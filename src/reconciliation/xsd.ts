import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { declarationProblem, type Iso20022Problem } from '../banks/iso20022/xml.ts';
import type { DocumentKind } from './documents.ts';

/**
 * Validation of received statements against the official XSDs (ISO20022_XSD_DIR, by default
 * `../shared/iso20022/` beside the repository) with libxml2's `xmllint` in streaming mode: a
 * 150 MB statement validates in a few seconds, in its own process, while the hub parses it.
 *
 * The document is untrusted: one declaring a DOCTYPE or ENTITY never reaches xmllint, which runs
 * with `--nonet` (no network, whatever the document says), and its messages are cut down to the
 * line and the rule: xmllint quotes the offending text, which is not ours to echo.
 */

export const DEFAULT_XSD_DIR = fileURLToPath(new URL('../../../shared/iso20022/', import.meta.url));

/** xmllint is missing or the schemas cannot be read: the document is not at fault (it stays RECEIVED and is tried again). */
export class XsdUnavailableError extends Error {
  /** The stored document that waits for it, once known. */
  documentId: number | null = null;
}

const MAX_PROBLEMS = 20;

/** The document's schema problems (empty when valid), each with its line. */
export function validateAgainstXsd(xml: string, kind: DocumentKind, xsdDir = DEFAULT_XSD_DIR): Promise<Iso20022Problem[]> {
  const declared = declarationProblem(xml);
  if (declared) return Promise.resolve([declared]);
  const schema = path.join(xsdDir, `${kind}.001.02.xsd`);
  if (!existsSync(schema)) return Promise.reject(new XsdUnavailableError(`the schema ${schema} is missing (set ISO20022_XSD_DIR)`));
  return new Promise((resolve, reject) => {
    const child = spawn('xmllint', ['--noout', '--nonet', '--stream', '--schema', schema, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let report = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (report.length < 64_000) report += chunk;
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(new XsdUnavailableError(error.code === 'ENOENT' ? 'xmllint is not installed (Debian: apt-get install libxml2-utils)' : `xmllint failed: ${error.message}`));
    });
    child.stdin.on('error', () => undefined); // xmllint may stop reading early; its exit status says why
    child.on('close', (code) => {
      if (code === 0) return resolve([]);
      // Lines not starting with "-:" are the document's own text xmllint echoes under a parser error.
      const problems = report.split('\n')
        .filter((line) => line.startsWith('-:'))
        .slice(0, MAX_PROBLEMS)
        .map((line): Iso20022Problem => {
          const match = /^-:(\d+): (?:.*?error : )?(.*)$/.exec(line);
          return { field: match ? `line ${match[1]}` : 'Document', reason: `${kind} schema: ${match ? withoutDocumentText(match[2]!) : 'does not validate'}` };
        });
      if (problems.length > 0) return resolve(problems);
      // Exit 1..4 without a located message: unreadable input; anything else is xmllint's own trouble.
      if (code !== null && code <= 4) return resolve([{ field: 'Document', reason: `${kind} schema: is not readable XML` }]);
      reject(new XsdUnavailableError(`xmllint exited with ${code}${schemaLines(report, schema)}`));
    });
    child.stdin.end(xml);
  });
}

/**
 * An xmllint message with the values it quotes from the document left out: element and attribute
 * names, types, facets and the XSD's patterns stay (they are the rule), the value does not.
 * Greedy: a value containing the phrase that ends it is still left out whole.
 */
export function withoutDocumentText(message: string): string {
  return message
    .replace(/\{urn:[^}]+\}/g, '')
    .replace(/(^|': )'.*'(?= is not a valid value)/, '$1the value')
    .replace(/The value '.*'(?= (?:is|has) )/, 'The value')
    .trim();
}

/** xmllint's complaints about the schema itself (they name the XSD file), for the operator. */
function schemaLines(report: string, schema: string): string {
  const lines = report.split('\n').filter((line) => line.startsWith(schema)).slice(0, 3);
  return lines.length > 0 ? `: ${lines.join('; ')}` : '';
}
