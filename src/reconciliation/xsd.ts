import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryPages, validateXML, type XMLFileInfo } from 'xmllint-wasm';
import { declarationProblem, type Iso20022Problem } from '../banks/iso20022/xml.ts';
import type { DocumentKind } from './model.ts';

/**
 * Validation of received statements against the official XSDs (the copy vendored in
 * src/banks/iso20022/xsd/, or ISO20022_XSD_DIR) in process: libxml2's xmllint compiled to
 * WebAssembly (npm xmllint-wasm), in streaming mode, on a worker thread of its own that ends with
 * the call, so a 150 MB statement neither blocks the event loop nor leaves its memory behind.
 *
 * The document is untrusted: one declaring a DOCTYPE or ENTITY never reaches the validator, which
 * sees only an in-memory file system holding the document and the schema (no host files, no
 * network, and `--nonet` whatever the document says). Its messages are cut down to the line and
 * the rule: xmllint quotes the offending text, which is not ours to echo.
 */

export const DEFAULT_XSD_DIR = fileURLToPath(new URL('../banks/iso20022/xsd/', import.meta.url));

/** The schemas cannot be read or compiled, or the validator failed: the document is not at fault (it stays RECEIVED and is tried again). */
export class XsdUnavailableError extends Error {
  /** The stored document that waits for it, once known. */
  documentId: number | null = null;
}

const MAX_PROBLEMS = 20;
/**
 * The WebAssembly heap's cap. The document sits in the worker's in-memory file system, outside it;
 * the streaming validator needs a few MB (a 155 MB statement validates within the default 32 MB),
 * so this is headroom, not a reservation.
 */
const MAX_MEMORY_PAGES = 256 * memoryPages.MiB;

/** The document's schema problems (empty when valid), each with its line. */
export async function validateAgainstXsd(xml: string, kind: DocumentKind, xsdDir = DEFAULT_XSD_DIR): Promise<Iso20022Problem[]> {
  const declared = declarationProblem(xml);
  if (declared) return [declared];
  const schema = path.join(xsdDir, `${kind}.001.02.xsd`);
  let xsd: Buffer;
  try {
    // Read at once (a few dozen KB): the validator's worker then starts before the caller goes on to parse.
    xsd = readFileSync(schema);
  } catch (error) {
    throw new XsdUnavailableError(`the schema ${schema} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); set ISO20022_XSD_DIR to a folder holding it`);
  }
  // Fresh names each time: a line of the document that xmllint echoes cannot pass for one of its messages.
  const run = randomUUID();
  const files: Files = { document: { fileName: `${run}.xml`, contents: Buffer.from(xml) }, schema: { fileName: `${run}.xsd`, contents: xsd } };
  const { status, report: validation } = await xmllintStream(files, true);
  if (status === 0) return [];
  const schemaTrouble = schemaLines(validation, files.schema.fileName);
  if (schemaTrouble || ![1, 3, 4].includes(status)) throw new XsdUnavailableError(`xmllint exited with ${status} validating against ${schema}${schemaTrouble}`);
  // Exit 1: the document does not parse. The validating reader does not say where; a plain streaming parse does.
  const report = status === 1 ? (await xmllintStream(files, false)).report : validation;
  const problems = report.split('\n')
    .filter((line) => line.startsWith(`${files.document.fileName}:`))
    .slice(0, MAX_PROBLEMS)
    .map((line): Iso20022Problem => {
      const match = /^[^:]+:(\d+): (?:.*?error : )?(.*)$/.exec(line);
      return { field: match ? `line ${match[1]}` : 'Document', reason: `${kind} schema: ${match ? withoutDocumentText(match[2]!) : 'does not validate'}` };
    });
  if (problems.length > 0) return problems;
  return [{ field: 'Document', reason: `${kind} schema: ${status === 1 ? 'is not readable XML' : 'does not validate'}` }];
}

interface Files {
  document: XMLFileInfo;
  schema: XMLFileInfo;
}

/** One streaming xmllint run, validating or only parsing: its exit status (0; 1: does not parse; 3, 4: invalid; more: xmllint's own trouble) and report. */
async function xmllintStream(files: Files, validate: boolean): Promise<{ status: number; report: string }> {
  try {
    const result = await validateXML({
      xml: files.document,
      schema: files.schema,
      maxMemoryPages: MAX_MEMORY_PAGES,
      modifyArguments: () => ['--nonet', '--noout', '--stream', ...(validate ? ['--schema', files.schema.fileName] : []), files.document.fileName],
    });
    return { status: result.valid ? 0 : 3, report: result.rawOutput };
  } catch (error) {
    // xmllint-wasm rejects on any exit status but 0, 3 and 4, with the status as `code` and xmllint's report as the message.
    const status = (error as { code?: unknown }).code;
    if (typeof status !== 'number') throw new XsdUnavailableError(`the XSD validator failed: ${String(error)}`);
    return { status, report: (error as Error).message };
  }
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
function schemaLines(report: string, schemaName: string): string {
  const lines = report.split('\n').filter((line) => line.startsWith(`${schemaName}:`) || line.includes(`schema ${schemaName} failed to compile`)).slice(0, 3);
  return lines.length > 0 ? `: ${lines.join('; ').replaceAll(schemaName, 'the XSD')}` : '';
}
