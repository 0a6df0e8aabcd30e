import { XMLBuilder } from 'fast-xml-parser';
import type { FieldProblem } from '../../kernel/problems.ts';

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

/** Namespaces of the message versions the hub speaks (docs/design.md, "Payments and statements"). */
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

/**
 * Parses `xml`, checks the Document namespace and root message element, returns the root. With
 * `streamed`, every element of that name is read as soon as it is complete and its XML dropped
 * (`XmlElement.streamed` returns what was read): a statement's 100,000 entries never sit in
 * memory as XML nodes.
 */
export function readDocument(xml: string, namespace: string, root: string, streamed?: StreamedElements): XmlElement {
  const declared = declarationProblem(xml);
  if (declared) throw new Iso20022Error([declared]);
  let document: XmlNode;
  try {
    document = parseXml(xml, streamed && { name: streamed.name, read: (node, index) => streamed.read(new XmlElement(node, null, streamed.name, index)) });
  } catch (error) {
    if (!(error instanceof XmlSyntaxError)) throw error;
    throw new Iso20022Error([{ field: 'Document', reason: `is not well-formed XML (line ${error.line}, column ${error.column}: ${error.reason})` }]);
  }
  if (document.name !== 'Document') throw new Iso20022Error([{ field: 'Document', reason: 'the root element must be a single Document' }]);
  const actual = document.attributes?.[document.prefix ? `xmlns:${document.prefix}` : 'xmlns'];
  if (actual !== namespace) {
    throw new Iso20022Error([{ field: 'Document', reason: `namespace is ${JSON.stringify(actual ?? null)}, expected ${namespace}` }]);
  }
  return new XmlElement(document, null, 'Document', 0).need(root);
}

const DECLARATION = /<!(?:DOCTYPE|ENTITY)/i;
const ENCODING = /^\uFEFF?<\?xml\s[^>]*?\bencoding\s*=\s*["']([^"']*)["']/;

/**
 * What every received XML document must pass before any parser or validator (ours or xmllint)
 * reads it. ISO 20022 messages have no DTD: a DOCTYPE or ENTITY declaration can only be an attack
 * (entity expansion, external entities reading files or URLs). The hub holds documents as text and
 * hands them on as UTF-8, so another declared encoding (UTF-7 can spell "<!DOCTYPE" without "<")
 * would make a validator read other characters than the hub checked. The problem names the line
 * and the rule, never the document's text.
 */
export function declarationProblem(xml: string): Iso20022Problem | null {
  const declaration = DECLARATION.exec(xml);
  if (declaration) {
    return { field: 'Document', reason: `must not declare a DOCTYPE or an ENTITY (line ${lineAt(xml, declaration.index)}): ISO 20022 messages have no DTD` };
  }
  const encoding = ENCODING.exec(xml.slice(0, 500))?.[1];
  if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
    return { field: 'Document', reason: 'must be UTF-8: the XML declaration names another encoding (line 1)' };
  }
  return null;
}

function lineAt(xml: string, at: number): number {
  let line = 1;
  for (let i = xml.indexOf('\n'); i !== -1 && i < at; i = xml.indexOf('\n', i + 1)) line += 1;
  return line;
}

/** Elements read while the document is parsed; `read` gets each with a path relative to its parent (`Ntry[3]`). */
export interface StreamedElements {
  name: string;
  read(element: XmlElement): unknown;
}

/** `{ key: value }` when the value is present, `{}` otherwise: parsed objects carry no undefined keys. */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * An element as read: local name (namespace prefixes dropped, as ISO 20022 documents use one
 * namespace), attributes by their written name, child elements in order and the element's own
 * text, entity-decoded and trimmed.
 */
export interface XmlNode {
  name: string;
  prefix: string;
  /** Own properties only (a prototype-less object), so any name can be looked up. */
  attributes: Record<string, string> | undefined;
  children: XmlNode[];
  text: string;
  /** What a `NodeStream` read from the children of its name, or the first error it threw. */
  streamed: { results: unknown[]; error?: unknown } | undefined;
}

/** Elements called `name` are handed to `read` (with their 1-based index among their parent's) when complete, instead of being kept. */
export interface NodeStream {
  name: string;
  read(node: XmlNode, index: number): unknown;
}

// Leaves share one empty list: most elements of a statement are leaves.
const NO_CHILDREN: XmlNode[] = [];

export class XmlSyntaxError extends Error {
  readonly line: number;
  readonly column: number;

  constructor(xml: string, at: number, readonly reason: string) {
    let line = 1;
    let lineStart = 0;
    for (let i = xml.indexOf('\n'); i !== -1 && i < at; i = xml.indexOf('\n', i + 1)) {
      line += 1;
      lineStart = i + 1;
    }
    super(`line ${line}: ${reason}`);
    this.line = line;
    this.column = at - lineStart + 1;
  }
}

// A Map, not an object: a reference is untrusted text, and `&constructor;` must not find Object.prototype's.
const ENTITIES = new Map([['lt', '<'], ['gt', '>'], ['amp', '&'], ['quot', '"'], ['apos', "'"]]);

/**
 * A strict, single-pass XML reader: well-formedness (nesting, names, attributes, entity and
 * character references) is checked as the document is read, with no separate validation pass and
 * no intermediate object tree: bank statements run to 100,000 entries and more. No DTD (refused),
 * only the five predefined entities; comments and processing instructions are skipped.
 */
export function parseXml(xml: string, stream?: NodeStream): XmlNode {
  const length = xml.length;
  const fail = (at: number, reason: string): never => {
    throw new XmlSyntaxError(xml, at, reason);
  };
  const stack: { node: XmlNode; qname: string }[] = [];
  let root: XmlNode | undefined;
  let pos = xml.charCodeAt(0) === 0xfeff ? 1 : 0;

  const nameEnd = (from: number): number => {
    let i = from;
    if (i >= length || !isNameStart(xml.charCodeAt(i))) return i;
    for (i += 1; i < length && isNameChar(xml.charCodeAt(i)); i += 1);
    return i;
  };
  const skipSpace = (from: number): number => {
    let i = from;
    while (i < length && isSpace(xml.charCodeAt(i))) i += 1;
    return i;
  };
  const decode = (raw: string, at: number): string => {
    if (!raw.includes('&')) return raw;
    let out = '';
    let last = 0;
    for (let amp = raw.indexOf('&'); amp !== -1; amp = raw.indexOf('&', last)) {
      const semi = raw.indexOf(';', amp);
      const ref = semi === -1 ? '' : raw.slice(amp + 1, semi);
      let char: string | undefined;
      if (ref.startsWith('#x')) char = codePoint(/^[0-9a-fA-F]{1,6}$/.test(ref.slice(2)) ? parseInt(ref.slice(2), 16) : NaN);
      else if (ref.startsWith('#')) char = codePoint(/^[0-9]{1,7}$/.test(ref.slice(1)) ? Number(ref.slice(1)) : NaN);
      else char = ENTITIES.get(ref);
      if (char === undefined) fail(at + amp, `"${raw.slice(amp, semi === -1 ? amp + 12 : semi + 1)}" is not a valid entity or character reference`);
      out += raw.slice(last, amp) + char;
      last = semi + 1;
    }
    return out + raw.slice(last);
  };

  // A streamed element, complete: read it and drop it from its parent (always its last child).
  const detach = (parent: XmlNode, node: XmlNode) => {
    parent.children.pop();
    const streamed = (parent.streamed ??= { results: [] });
    if (streamed.error !== undefined) return;
    try {
      streamed.results.push(stream!.read(node, streamed.results.length + 1));
    } catch (error) {
      // Reported when the parent is read, after the whole document proved well-formed.
      streamed.error = error;
    }
  };

  while (pos < length) {
    const lt = xml.indexOf('<', pos);
    const end = lt === -1 ? length : lt;
    if (end > pos) {
      const top = stack[stack.length - 1];
      if (!top) {
        if (!isBlank(xml, pos, end)) fail(pos, 'text outside the root element');
      } else if (top.node.text !== '' || !isBlank(xml, pos, end)) {
        top.node.text += decode(xml.slice(pos, end), pos);
      }
    }
    if (lt === -1) break;
    const next = xml.charCodeAt(lt + 1);
    if (next === 0x2f /* / */) {
      const stop = nameEnd(lt + 2);
      const close = skipSpace(stop);
      if (xml.charCodeAt(close) !== 0x3e /* > */) fail(lt, 'malformed closing tag');
      const qname = xml.slice(lt + 2, stop);
      const open = stack.pop();
      if (!open) fail(lt, `closing tag </${qname}> without an opening tag`);
      if (open!.qname !== qname) fail(lt, `closing tag </${qname}> does not match <${open!.qname}>`);
      const node = open!.node;
      node.text = node.text.trim();
      if (stream && node.name === stream.name && stack.length > 0) detach(stack[stack.length - 1]!.node, node);
      pos = close + 1;
    } else if (next === 0x21 /* ! */) {
      if (xml.startsWith('<!--', lt)) {
        const close = xml.indexOf('-->', lt + 4);
        if (close === -1) fail(lt, 'comment is not closed');
        pos = close + 3;
      } else if (xml.startsWith('<![CDATA[', lt)) {
        const close = xml.indexOf(']]>', lt + 9);
        if (close === -1) fail(lt, 'CDATA section is not closed');
        const top = stack[stack.length - 1];
        if (!top) fail(lt, 'CDATA outside the root element');
        top!.node.text += xml.slice(lt + 9, close);
        pos = close + 3;
      } else if (xml.startsWith('<!DOCTYPE', lt)) {
        fail(lt, 'a DOCTYPE is not allowed (ISO 20022 messages have no DTD)');
      } else {
        fail(lt, 'unexpected "<!"');
      }
    } else if (next === 0x3f /* ? */) {
      const close = xml.indexOf('?>', lt + 2);
      if (close === -1) fail(lt, 'processing instruction is not closed');
      pos = close + 2;
    } else {
      const stop = nameEnd(lt + 1);
      if (stop === lt + 1) fail(lt, 'an element name must follow "<"');
      const qname = xml.slice(lt + 1, stop);
      const colon = qname.indexOf(':');
      const node: XmlNode = {
        name: colon === -1 ? qname : qname.slice(colon + 1),
        prefix: colon === -1 ? '' : qname.slice(0, colon),
        attributes: undefined,
        children: NO_CHILDREN,
        text: '',
        streamed: undefined,
      };
      let i = stop;
      for (;;) {
        const afterSpace = skipSpace(i);
        const c = xml.charCodeAt(afterSpace);
        if (c === 0x3e /* > */ || (c === 0x2f && xml.charCodeAt(afterSpace + 1) === 0x3e)) {
          i = afterSpace;
          break;
        }
        if (afterSpace === i) fail(i, afterSpace >= length ? `tag <${qname}> is not closed` : `unexpected character in tag <${qname}>`);
        const attrEnd = nameEnd(afterSpace);
        if (attrEnd === afterSpace) fail(afterSpace, `malformed attribute in tag <${qname}>`);
        const attr = xml.slice(afterSpace, attrEnd);
        let j = skipSpace(attrEnd);
        if (xml.charCodeAt(j) !== 0x3d /* = */) fail(j, `attribute ${attr} has no value`);
        j = skipSpace(j + 1);
        const quote = xml.charCodeAt(j);
        if (quote !== 0x22 && quote !== 0x27) fail(j, `the value of attribute ${attr} must be quoted`);
        const close = xml.indexOf(quote === 0x22 ? '"' : "'", j + 1);
        if (close === -1) fail(j, `the value of attribute ${attr} is not closed`);
        const raw = xml.slice(j + 1, close);
        if (raw.includes('<')) fail(j, `the value of attribute ${attr} contains "<"`);
        // No prototype: attribute names are untrusted (`toString`, `__proto__` are ordinary names here).
        node.attributes ??= Object.create(null) as Record<string, string>;
        if (Object.hasOwn(node.attributes, attr)) fail(afterSpace, `attribute ${attr} is repeated`);
        node.attributes[attr] = decode(raw, j + 1);
        i = close + 1;
      }
      const parent = stack[stack.length - 1];
      if (parent) {
        if (parent.node.children === NO_CHILDREN) parent.node.children = [];
        parent.node.children.push(node);
      } else if (root) fail(lt, 'more than one root element');
      else root = node;
      if (xml.charCodeAt(i) === 0x2f) {
        if (stream && node.name === stream.name && parent) detach(parent.node, node);
        pos = i + 2;
      } else {
        stack.push({ node, qname });
        pos = i + 1;
      }
    }
  }
  const open = stack.pop();
  if (open) fail(length, `element <${open.qname}> is not closed`);
  return root ?? fail(length, 'no root element');
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
// XML name characters, ASCII ones checked exactly; any non-ASCII character is accepted in names.
const isNameStart = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a || c >= 0xc0;
const isNameChar = (c: number) => isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0xb7;

function isBlank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i += 1) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

/** XML 1.0's Char production: what a document may hold, read (references) or written (the writers' text checks). */
export function isXmlChar(n: number): boolean {
  return n === 0x9 || n === 0xa || n === 0xd || (n >= 0x20 && n <= 0xd7ff) || (n >= 0xe000 && n <= 0xfffd) || (n >= 0x10000 && n <= 0x10ffff);
}

/** The character of a reference, or undefined when XML does not allow it. */
function codePoint(n: number): string | undefined {
  return isXmlChar(n) ? String.fromCodePoint(n) : undefined;
}

/** One element of a parsed document, with the path its errors name (built only when asked for). */
export class XmlElement {
  /** `index` > 0: the element's position among its parent's children of that name (paths index from 1, as in XPath). */
  constructor(private readonly node: XmlNode, private readonly parent: XmlElement | null, private readonly name: string, private readonly index: number) {}

  get path(): string {
    const step = this.index > 0 ? `${this.name}[${this.index}]` : this.name;
    return this.parent ? `${this.parent.path}/${step}` : step;
  }

  fail(reason: string, field = this.path): never {
    throw new Iso20022Error([{ field, reason }]);
  }

  /** Every child element called `name`. */
  all(name: string): XmlElement[] {
    const found: XmlElement[] = [];
    for (const child of this.node.children) if (child.name === name) found.push(new XmlElement(child, this, name, found.length + 1));
    return found;
  }

  child(name: string): XmlElement | undefined {
    let found: XmlNode | undefined;
    let count = 0;
    for (const child of this.node.children) {
      if (child.name !== name) continue;
      found ??= child;
      count += 1;
    }
    if (count > 1) this.fail(`occurs ${count} times, expected once`, `${this.path}/${name}`);
    return found && new XmlElement(found, this, name, 0);
  }

  need(name: string): XmlElement {
    return this.child(name) ?? this.fail('is required', `${this.path}/${name}`);
  }

  text(): string {
    const value = this.node.text;
    if (value === '') this.fail('must contain text');
    return value;
  }

  /** The text, refused under this element's path with the reason `problem` gives (null: accepted). */
  checkedText(problem: (value: string) => string | null): string {
    const value = this.text();
    const reason = problem(value);
    if (reason !== null) this.fail(reason);
    return value;
  }

  attribute(name: string): string | undefined {
    return this.node.attributes?.[name];
  }

  /** What `readDocument`'s `streamed` read from the children called `name`; its first error, under this element's path. */
  streamed<T>(name: string): T[] {
    const streamed = this.node.streamed;
    if (!streamed) return [];
    const { error } = streamed;
    if (error instanceof Iso20022Error) throw new Iso20022Error(error.problems.map((p) => ({ ...p, field: `${this.path}/${p.field}` })));
    if (error !== undefined) throw error;
    return streamed.results as T[];
  }

  /** The text of an optional child; one holding only spaces (the XSD's text types allow it) is as absent. */
  textOf(name: string): string | undefined {
    const child = this.child(name);
    return child === undefined || child.node.text === '' ? undefined : child.text();
  }

  needText(name: string): string {
    return this.need(name).text();
  }

  /**
   * An `ActiveOrHistoricCurrencyAndAmount` in fen: the account's currency (CNY) and whole fen, written
   * any way xs:decimal allows (`8.850`, `008.85`, `+8.85`, `.5`).
   */
  amountFen(): number {
    const currency = this.attribute('Ccy');
    if (currency !== CURRENCY) this.fail(`currency is ${currency ?? 'missing'}, expected ${CURRENCY}`);
    return this.decimalFen();
  }

  /** A decimal amount (an amount's value, `DecimalNumber` CtrlSum or Sum) in fen. */
  decimalFen(): number {
    const fen = decimalToFen(this.text());
    if (typeof fen === 'string') this.fail(fen);
    return fen;
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

  /** An XSD `Number` (a decimal without fraction: ElctrncSeqNb, LglSeqNb), e.g. `+007` or `12.0`. */
  wholeNumber(): number {
    const match = /^\+?0*(\d+)(?:\.0*)?$/.exec(this.text());
    const value = match ? Number(match[1]) : NaN;
    if (!Number.isSafeInteger(value)) this.fail(`${this.text()} is not a count`);
    return value;
  }
}

const XS_DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/**
 * An xs:decimal (as the XSD's amounts are) in whole fen, digit by digit, never via a float; or why
 * not. Leading and trailing zeros are the same value (`08.850` is 8.85); a third significant
 * decimal is a fraction of a fen, which no CNY account holds.
 */
export function decimalToFen(text: string): number | string {
  const match = XS_DECIMAL.exec(text);
  const [, sign = '', whole = '', fraction = ''] = match ?? [];
  if (!match || (whole === '' && fraction === '')) return `is not an amount in CNY (${JSON.stringify(text)})`;
  const decimals = fraction.replace(/0+$/, '');
  if (decimals.length > 2) return `has more than 2 decimals (${text})`;
  const digits = `${whole.replace(/^0+/, '')}${decimals.padEnd(2, '0')}`.replace(/^0+/, '');
  const fen = Number(digits === '' ? '0' : digits);
  if (digits.length > 16 || !Number.isSafeInteger(fen)) return 'is out of range';
  if (sign === '-' && fen !== 0) return 'must not be negative';
  return fen;
}
