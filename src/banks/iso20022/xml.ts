import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import type { FieldProblem } from '../../members/memberFields.ts';
import { AmountError, parseFen } from '../../money.ts';

/**
 * XML plumbing shared by the ISO 20022 writers and parsers: one error type that names every
 * problem by path, a tree builder that keeps the XSD's element order, and a reader that walks a
 * parsed document with XPath-like paths (1-based, e.g. `Stmt[1]/Ntry[3]/Amt`) for its errors.
 */

export type Iso20022Problem = FieldProblem<string>;

export class Iso20022Error extends Error {
  constructor(readonly problems: Iso20022Problem[], what = 'ISO 20022 message') {
    super(`${what}: ${problems.map((p) => `${p.field}: ${p.reason}`).join('; ')}`);
  }
}

/** Namespaces of the message versions the hub speaks (DESIGN.md "Payments"). */
export const NAMESPACES = {
  pain001: 'urn:iso:std:iso:20022:tech:xsd:pain.001.001.03',
  pain002: 'urn:iso:std:iso:20022:tech:xsd:pain.002.001.03',
  camt053: 'urn:iso:std:iso:20022:tech:xsd:camt.053.001.02',
  camt054: 'urn:iso:std:iso:20022:tech:xsd:camt.054.001.02',
} as const;

export const CURRENCY = 'CNY';

// ---------------------------------------------------------------- building

/** Element content in XSD order; `undefined` leaves an optional element out. */
export type XmlValue = string | XmlTree | XmlValue[] | undefined;
export interface XmlTree {
  [element: string]: XmlValue;
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, indentBy: '  ' });

export function buildDocument(namespace: string, root: string, body: XmlTree): string {
  const document = { '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' }, Document: { '@_xmlns': namespace, [root]: body } };
  return builder.build(document) as string;
}

// ---------------------------------------------------------------- reading

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Identifiers and amounts stay text: "007" and "1.10" must not become numbers.
  parseTagValue: false,
  parseAttributeValue: false,
  // Without it fast-xml-parser leaves numeric character references (&#x5F20;) undecoded, and banks use them for CJK names.
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

/** Parses `xml`, checks the Document namespace and root message element, returns the root. */
export function readDocument(xml: string, namespace: string, root: string): XmlElement {
  // ISO 20022 messages have no DTD; one in a received file can only be an entity-expansion attack.
  if (/<!DOCTYPE/i.test(xml)) throw new Iso20022Error([{ field: 'Document', reason: 'must not declare a DOCTYPE' }]);
  const wellFormed = XMLValidator.validate(xml);
  if (wellFormed !== true) {
    const { msg, line, col } = wellFormed.err;
    throw new Iso20022Error([{ field: 'Document', reason: `is not well-formed XML (line ${line}, column ${col}: ${msg})` }]);
  }
  const top = parser.parse(xml) as Record<string, unknown>;
  const [documentKey, ...others] = Object.keys(top);
  if (!documentKey || others.length > 0 || localName(documentKey) !== 'Document') {
    throw new Iso20022Error([{ field: 'Document', reason: 'the root element must be a single Document' }]);
  }
  const prefix = documentKey.includes(':') ? documentKey.slice(0, documentKey.indexOf(':')) : '';
  const document = top[documentKey] as Record<string, unknown>;
  const actual = document[prefix ? `@_xmlns:${prefix}` : '@_xmlns'];
  if (actual !== namespace) {
    throw new Iso20022Error([{ field: 'Document', reason: `namespace is ${JSON.stringify(actual ?? null)}, expected ${namespace}` }]);
  }
  return new XmlElement(withoutPrefixes(document), 'Document').need(root);
}

/** `{ key: value }` when the value is present, `{}` otherwise: parsed objects carry no undefined keys. */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

const localName = (name: string): string => name.slice(name.indexOf(':') + 1);

function withoutPrefixes(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutPrefixes);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key.startsWith('@_') ? key : localName(key), withoutPrefixes(value)]),
  );
}

/** One element of a parsed document, with the path its errors name. */
export class XmlElement {
  constructor(private readonly node: unknown, readonly path: string) {}

  fail(reason: string, field = this.path): never {
    throw new Iso20022Error([{ field, reason }]);
  }

  /** Every child element called `name` (paths indexed from 1, as in XPath). */
  all(name: string): XmlElement[] {
    const value = this.node !== null && typeof this.node === 'object' ? (this.node as Record<string, unknown>)[name] : undefined;
    if (value === undefined) return [];
    const list = Array.isArray(value) ? value : [value];
    return list.map((child, i) => new XmlElement(child, `${this.path}/${name}[${i + 1}]`));
  }

  child(name: string): XmlElement | undefined {
    const list = this.all(name);
    if (list.length > 1) this.fail(`occurs ${list.length} times, expected once`, `${this.path}/${name}`);
    return list[0] && new XmlElement(list[0].node, `${this.path}/${name}`);
  }

  need(name: string): XmlElement {
    return this.child(name) ?? this.fail('is required', `${this.path}/${name}`);
  }

  text(): string {
    const value = typeof this.node === 'object' && this.node !== null ? (this.node as Record<string, unknown>)['#text'] : this.node;
    if (typeof value !== 'string' || value === '') this.fail('must contain text');
    return value;
  }

  attribute(name: string): string | undefined {
    const value = typeof this.node === 'object' && this.node !== null ? (this.node as Record<string, unknown>)[`@_${name}`] : undefined;
    return typeof value === 'string' ? value : undefined;
  }

  textOf(name: string): string | undefined {
    return this.child(name)?.text();
  }

  needText(name: string): string {
    return this.need(name).text();
  }

  /** An `ActiveOrHistoricCurrencyAndAmount` in fen; CNY with at most 2 decimals. */
  amountFen(): number {
    const currency = this.attribute('Ccy');
    if (currency !== CURRENCY) this.fail(`currency is ${currency ?? 'missing'}, expected ${CURRENCY}`);
    return this.decimalFen();
  }

  /** A `DecimalNumber` (CtrlSum, Sum) in fen. */
  decimalFen(): number {
    try {
      return parseFen(this.text(), this.path);
    } catch (error) {
      if (error instanceof AmountError) this.fail(error.reason);
      throw error;
    }
  }

  /** One of the allowed codes, typed as such. */
  code<C extends string>(allowed: readonly C[]): C {
    const value = this.text();
    if (!(allowed as readonly string[]).includes(value)) this.fail(`${value} is not one of ${allowed.join(', ')}`);
    return value as C;
  }

  /** xs:boolean. */
  boolean(): boolean {
    const value = this.code(['true', 'false', '1', '0']);
    return value === 'true' || value === '1';
  }

  count(): number {
    const value = this.text();
    if (!/^\d{1,15}$/.test(value)) this.fail(`${value} is not a count`);
    return Number(value);
  }
}
