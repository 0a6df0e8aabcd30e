import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Iso20022Problem } from '../banks/iso20022/xml.ts';
import type { DocumentKind } from './documents.ts';

/**
 * Validation of received statements against the official XSDs (ISO20022_XSD_DIR, by default
 * `../shared/iso20022/` beside the repository) with libxml2's `xmllint` in streaming mode: a
 * 150 MB statement validates in a few seconds, in its own process, while the hub parses it.
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
  const schema = path.join(xsdDir, `${kind}.001.02.xsd`);
  if (!existsSync(schema)) return Promise.reject(new XsdUnavailableError(`the schema ${schema} is missing (set ISO20022_XSD_DIR)`));
  return new Promise((resolve, reject) => {
    const child = spawn('xmllint', ['--noout', '--stream', '--schema', schema, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
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
      const problems = report.split('\n')
        .filter((line) => line.startsWith('-:'))
        .slice(0, MAX_PROBLEMS)
        .map((line): Iso20022Problem => {
          const match = /^-:(\d+): (?:.*?error : )?(.*)$/.exec(line);
          return { field: match ? `line ${match[1]}` : 'Document', reason: `${kind} schema: ${(match?.[2] ?? line).replace(/\{urn:[^}]+\}/g, '').trim()}` };
        });
      if (problems.length > 0) return resolve(problems);
      // Exit 1..4 without a located message: unreadable input; anything else is xmllint's own trouble.
      if (code !== null && code <= 4) return resolve([{ field: 'Document', reason: `${kind} schema: ${report.trim().split('\n').slice(0, 3).join(' ') || 'does not validate'}` }]);
      reject(new XsdUnavailableError(`xmllint exited with ${code}: ${report.slice(0, 500)}`));
    });
    child.stdin.end(xml);
  });
}
