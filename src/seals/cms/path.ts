import type { X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';
import { oneLine, subjectLine } from './asn1.ts';

/**
 * The certification path of a seal (RFC 5280 6.1) at the moment the hub received it: built with
 * node:crypto (OpenSSL checks each signature, the name chaining and the issuer's keyCertSign),
 * its certificates' extensions read with PKIjs. PKIjs's own chain engine is not used: it is async
 * (WebCrypto) and does not enforce pathLenConstraint or refuse unknown critical extensions.
 */

const MAX_CHAIN_LENGTH = 8;

const EXTENSION = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

/** What this verifier acts on; any other critical extension makes the certificate unusable (RFC 5280 4.2). */
const UNDERSTOOD = new Set<string>(Object.values(EXTENSION));

// GeneralName choices (RFC 5280 4.2.1.6) whose name constraints are checked; constraints on
// other forms refuse certificates that carry such names, rather than pass them unchecked.
const RFC822 = 1;
const DNS = 2;
const DIRECTORY = 4;
const NAME_FORMS = ['otherName', 'rfc822Name', 'dNSName', 'x400Address', 'directoryName', 'ediPartyName', 'uniformResourceIdentifier', 'iPAddress', 'registeredID'];
const EMAIL_ADDRESS = '1.2.840.113549.1.9.1';

/** [signer, intermediates..., anchor], each signed by the next; or why there is no such path. */
export function certificationPath(signer: X509Certificate, embedded: X509Certificate[], anchors: X509Certificate[]): X509Certificate[] | string {
  const path = [signer];
  for (let current = signer; path.length <= MAX_CHAIN_LENGTH; ) {
    const anchor = anchors.find((candidate) => issuedBy(current, candidate));
    if (anchor) return [...path, anchor];
    const intermediate = embedded.find((candidate) => candidate.ca && !path.includes(candidate) && issuedBy(current, candidate));
    if (!intermediate) {
      return `${describe(current, signer)} is not issued by a trusted CA (issuer: ${oneLine(current.issuer)})`;
    }
    path.push(intermediate);
    current = intermediate;
  }
  return `certificate chain is longer than ${MAX_CHAIN_LENGTH}`;
}

function issuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
}

export function describe(certificate: X509Certificate, signer: X509Certificate): string {
  return certificate === signer ? 'signer certificate' : `CA certificate "${subjectLine(certificate)}"`;
}

/**
 * Why the path (from certificationPath) cannot be relied on at `receivedAt`, or undefined: every
 * certificate valid then (not at the signing time the signer wrote, which a holder of an expired
 * certificate's key could back-date), no unknown critical extension, every issuer a CA whose
 * pathLenConstraint and name constraints the certificates below it keep.
 */
export function pathProblem(path: X509Certificate[], receivedAt: Date): string | undefined {
  const label = (i: number) => describe(path[i]!, path[0]!);
  let parsed: pkijs.Certificate[];
  try {
    parsed = path.map((certificate) => pkijs.Certificate.fromBER(certificate.raw));
  } catch (error) {
    return `a certificate of the chain cannot be read: ${(error as Error).message}`;
  }
  for (const [i, certificate] of path.entries()) {
    const problem = validityProblem(certificate, receivedAt, label(i)) ?? extensionsProblem(parsed[i]!, label(i));
    if (problem) return problem;
  }
  for (let i = 1; i < path.length; i++) {
    const problem = issuerProblem(parsed, i, label) ?? nameConstraintsProblem(parsed, i, label, (j) => subjectLine(path[j]!));
    if (problem) return problem;
  }
  return undefined;
}

function validityProblem(certificate: X509Certificate, receivedAt: Date, label: string): string | undefined {
  const notBefore = new Date(certificate.validFrom);
  const notAfter = new Date(certificate.validTo);
  if (receivedAt > notAfter) return `${label} expired on ${iso(notAfter)} (received ${iso(receivedAt)})`;
  if (receivedAt < notBefore) return `${label} is not valid before ${iso(notBefore)} (received ${iso(receivedAt)})`;
  return undefined;
}

function extensionsProblem(certificate: pkijs.Certificate, label: string): string | undefined {
  for (const extension of certificate.extensions ?? []) {
    if (!UNDERSTOOD.has(extension.extnID)) {
      if (extension.critical) return `${label} has an unknown critical extension ${extension.extnID}`;
    } else if (extension.parsedValue === undefined) {
      return `${label} has an unreadable extension ${extension.extnID}`;
    }
  }
  return undefined;
}

function extensionValue(certificate: pkijs.Certificate, oid: string): unknown {
  return certificate.extensions?.find((extension) => extension.extnID === oid)?.parsedValue;
}

/** path[i] issued path[i - 1]: it must be a CA, and no more CA certificates may lie below it than its pathLenConstraint allows. */
function issuerProblem(path: pkijs.Certificate[], i: number, label: (i: number) => string): string | undefined {
  const constraints = extensionValue(path[i]!, EXTENSION.basicConstraints);
  if (!(constraints instanceof pkijs.BasicConstraints) || !constraints.cA) return `${label(i)} is not a CA certificate (basicConstraints cA)`;
  // A large INTEGER stays an asn1js.Integer: no practical limit.
  const limit = typeof constraints.pathLenConstraint === 'number' ? constraints.pathLenConstraint : Infinity;
  // Self-issued CA certificates (key rollover) do not count (RFC 5280 6.1.4 l).
  const below = path.slice(1, i).filter((certificate) => !selfIssued(certificate)).length;
  if (below > limit) return `${label(i)} allows ${limit} CA certificate(s) below it (pathLenConstraint), the chain has ${below}`;
  return undefined;
}

function selfIssued(certificate: pkijs.Certificate): boolean {
  return certificate.subject.isEqual(certificate.issuer);
}

/** path[i]'s name constraints over every certificate below it (not self-issued intermediates, RFC 5280 6.1.3 b). */
function nameConstraintsProblem(path: pkijs.Certificate[], i: number, label: (i: number) => string, subject: (j: number) => string): string | undefined {
  const constraints = extensionValue(path[i]!, EXTENSION.nameConstraints);
  if (!(constraints instanceof pkijs.NameConstraints)) return undefined;
  for (let j = 0; j < i; j++) {
    if (j > 0 && selfIssued(path[j]!)) continue;
    for (const name of namesOf(path[j]!)) {
      const permitted = (constraints.permittedSubtrees ?? []).filter((subtree) => subtree.base.type === name.type);
      const excluded = (constraints.excludedSubtrees ?? []).filter((subtree) => subtree.base.type === name.type);
      if (permitted.length + excluded.length === 0) continue;
      const form = NAME_FORMS[name.type] ?? `GeneralName [${name.type}]`;
      if (![RFC822, DNS, DIRECTORY].includes(name.type)) return `${label(i)} constrains ${form} names, which this verifier does not check`;
      const shown = name.type === DIRECTORY ? subject(j) : String(name.value);
      if (permitted.length && !permitted.some((subtree) => within(name, subtree.base))) {
        return `${label(j)} ${form} "${shown}" is outside the names ${label(i)} permits (name constraints)`;
      }
      if (excluded.some((subtree) => within(name, subtree.base))) {
        return `${label(j)} ${form} "${shown}" is excluded by ${label(i)} (name constraints)`;
      }
    }
  }
  return undefined;
}

interface Name {
  type: number;
  value: unknown;
}

/** The names constraints apply to: the subject, emailAddress attributes in it, subjectAltName entries. */
function namesOf(certificate: pkijs.Certificate): Name[] {
  const names: Name[] = [];
  if (certificate.subject.typesAndValues.length) names.push({ type: DIRECTORY, value: certificate.subject });
  for (const attribute of certificate.subject.typesAndValues) {
    if (attribute.type === EMAIL_ADDRESS) names.push({ type: RFC822, value: attribute.value.valueBlock.value });
  }
  const altNames = extensionValue(certificate, EXTENSION.subjectAltName);
  if (altNames instanceof pkijs.AltName) names.push(...altNames.altNames.map(({ type, value }) => ({ type, value })));
  return names;
}

function within(name: Name, base: pkijs.GeneralName): boolean {
  if (name.type === DIRECTORY) {
    // The constraint's RDNs must begin the subject's.
    const subject = (name.value as pkijs.RelativeDistinguishedNames).typesAndValues;
    const prefix = (base.value as pkijs.RelativeDistinguishedNames).typesAndValues;
    return prefix.length <= subject.length && prefix.every((attribute, k) => subject[k]!.isEqual(attribute));
  }
  const value = String(name.value).toLowerCase();
  const constraint = String(base.value).toLowerCase();
  if (name.type === DNS) {
    const domain = constraint.replace(/^\./, '');
    return domain === '' || value === domain || value.endsWith(`.${domain}`);
  }
  // rfc822Name: a mailbox, a host, or (leading dot) any host in a domain (RFC 5280 4.2.1.10).
  if (constraint.includes('@')) return value === constraint;
  const host = value.slice(value.lastIndexOf('@') + 1);
  return constraint.startsWith('.') ? host.endsWith(constraint) : host === constraint;
}

export function iso(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}
