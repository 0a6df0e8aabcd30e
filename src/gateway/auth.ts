import { createSecretKey } from 'node:crypto';
import { createRemoteJWKSet, importSPKI, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { GraphQLError } from 'graphql';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { unitByCreditCode } from '../members/store.ts';
import { organisationByCode } from '../organisations/store.ts';
import { unauthenticated } from './errors.ts';
import { parseGlobalId } from './globalId.ts';
import { textProblem } from '../kernel/text.ts';

export const ROLES = ['ADMIN', 'UNIT_OPERATOR', 'REVIEWER', 'FINANCE', 'AUDITOR', 'MEMBER', 'SERVICE'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The authenticated caller. `unitId`/`memberId` bound what a UNIT_OPERATOR or MEMBER may see,
 * `organisationId` what staff of an organisation may see (that organisation and everything below it).
 */
export interface Principal {
  subject: string;
  role: Role;
  unitId: number | null;
  memberId: number | null;
  /** The organisation named by the token's `org` claim (staff roles only); null or absent for staff of the whole hub. */
  organisationId?: number | null;
  /** When the token expires (epoch ms): a WebSocket holding it closes then. */
  expiresAt: number;
}

// Claims reach SQL (the unit lookup, every audit entry): text PostgreSQL refuses is refused here, as 401.
const claimText = () => z.string().refine((s) => textProblem(s) === null, 'must not contain U+0000 (NUL) or an unpaired surrogate');

/** Staff roles a token may bind to an organisation (`org`): unit operators and members have their own scope. */
export const ORGANISATION_SCOPED_ROLES: readonly Role[] = ['ADMIN', 'REVIEWER', 'FINANCE', 'AUDITOR'];

/**
 * Subjects the hub's own services act as. A person never does: a claim decided by `adjudication` or
 * `redecision` counts as approved by the rules alone, which a payment policy pays without a
 * per-batch approval (claim_approved_by_rules, migration 0027); what the `hub` command does is
 * recorded as `cli` (`hub figures` for its reports), which four-eyes checks tell apart from a person;
 * what configuration set when the workers started (a settlement source's URL) as `configuration`.
 */
const SERVICE_SUBJECTS = /^(adjudication|redecision|reversal|payout-worker|bank|notices|payment-policy-\d+|cli|hub figures|configuration)$/;

/**
 * The claims a bearer token carries. `unit` is the unit's Unified Social Credit Code (what an
 * identity provider knows), `member` the member's global ID, `org` the code of the organisation
 * whose subtree a staff member works in.
 */
const claimsSchema = z
  .object({
    sub: claimText().min(1),
    role: z.enum(ROLES),
    unit: claimText().length(18).optional(),
    member: claimText().min(1).optional(),
    org: claimText().min(1).max(32).optional(),
  })
  .refine((c) => !SERVICE_SUBJECTS.test(c.sub), { message: 'the subject is one of the hub\'s own services, never a person', path: ['sub'] })
  .refine((c) => c.role !== 'UNIT_OPERATOR' || c.unit, { message: 'a UNIT_OPERATOR token needs the unit claim', path: ['unit'] })
  .refine((c) => c.role !== 'MEMBER' || c.member, { message: 'a MEMBER token needs the member claim', path: ['member'] })
  // Each role has one scope (scopeOf): a claim of another role's scope would leave code to guess which one holds.
  .refine((c) => c.unit === undefined || c.role === 'UNIT_OPERATOR', { message: 'only UNIT_OPERATOR tokens may name a unit', path: ['unit'] })
  .refine((c) => c.member === undefined || c.role === 'MEMBER', { message: 'only MEMBER tokens may name a member', path: ['member'] })
  .refine((c) => c.org === undefined || ORGANISATION_SCOPED_ROLES.includes(c.role), {
    message: `only ${ORGANISATION_SCOPED_ROLES.join(', ')} tokens may name an organisation`, path: ['org'],
  });

export type TokenClaims = z.infer<typeof claimsSchema>;

/** Verified claims and when the token expires (epoch ms). */
export type VerifiedToken = TokenClaims & { expiresAt: number };

const VERIFIED_FOR_MS = 5 * 60_000;

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

/**
 * Why a token lives too long, or null: exp − iat over TOKEN_MAX_LIFETIME_HOURS, measured from now
 * when there is no iat or it lies ahead (a forged iat must not stretch the limit).
 */
export function tokenLifetimeProblem(config: Pick<Config, 'TOKEN_MAX_LIFETIME_HOURS'>, exp: number, iat: number | undefined, nowSeconds = Date.now() / 1000): string | null {
  const lifetime = exp - Math.min(iat ?? nowSeconds, nowSeconds);
  const max = config.TOKEN_MAX_LIFETIME_HOURS * 3600;
  return lifetime > max ? `the token lives ${Math.ceil(lifetime / 3600)} h; at most ${config.TOKEN_MAX_LIFETIME_HOURS} h are accepted (TOKEN_MAX_LIFETIME_HOURS)` : null;
}

/** HS256 with JWT_SECRET by default; an identity provider's key (PEM or JWKS) when configured. */
export async function createTokenVerifier(config: Config): Promise<TokenVerifier> {
  // A token without exp would never expire: `hub token` and identity providers always set one.
  const idp = { algorithms: [config.JWT_PUBLIC_KEY_ALG], issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, requiredClaims: ['exp'] };
  let verifySignature: (token: string) => Promise<{ payload: JWTPayload }>;
  if (config.JWT_JWKS_URL) {
    const jwks = createRemoteJWKSet(new URL(config.JWT_JWKS_URL));
    verifySignature = (token) => jwtVerify(token, jwks, idp);
  } else if (config.JWT_PUBLIC_KEY) {
    const publicKey = await importSPKI(config.JWT_PUBLIC_KEY, config.JWT_PUBLIC_KEY_ALG);
    verifySignature = (token) => jwtVerify(token, publicKey, idp);
  } else {
    // A KeyObject, not bytes: jose then imports the key once, not on every verification.
    const secret = createSecretKey(Buffer.from(config.JWT_SECRET, 'utf8'));
    verifySignature = (token) => jwtVerify(token, secret, { ...idp, algorithms: ['HS256'] });
  }
  // A client sends the same token with every request until it expires: its verified claims are
  // kept (at most VERIFIED_FOR_MS, never past exp) instead of checking the signature each time.
  // The lifetime is checked with the signature, so a kept token costs no more than before.
  const verified = new LRUCache<string, { claims: VerifiedToken; until: number }>({ max: 10_000 });
  return {
    async verify(token) {
      const known = verified.get(token);
      if (known && Date.now() < known.until) return known.claims;
      let payload: JWTPayload;
      try {
        ({ payload } = await verifySignature(token));
      } catch (error) {
        throw unauthenticated(`invalid token: ${(error as Error).message}`);
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) {
        const issue = claims.error.issues[0]!;
        throw unauthenticated(`invalid token claim ${issue.path.join('.') || '(token)'}: ${issue.message}`);
      }
      const tooLong = tokenLifetimeProblem(config, payload.exp!, payload.iat);
      if (tooLong) throw unauthenticated(`invalid token: ${tooLong}`);
      const result = { ...claims.data, expiresAt: payload.exp! * 1000 };
      verified.set(token, { claims: result, until: Math.min(result.expiresAt, Date.now() + VERIFIED_FOR_MS) });
      return result;
    },
  };
}

/**
 * Who is calling, from an `Authorization` header value (HTTP) or connection-init payload
 * (WebSocket): the verified token's claims, with the unit's credit code resolved to its row.
 * Refusals carry HTTP status 401.
 */
export type Authenticate = (authorization: string | undefined) => Promise<Principal>;

export async function createAuthenticator(config: Config, db: pg.Pool): Promise<Authenticate> {
  const verifier = await createTokenVerifier(config);
  return async (authorization) => {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) throw unauthenticated401('send a bearer token: Authorization: Bearer <token>');
    const claims = await verifier.verify(match[1]!).catch((error: GraphQLError) => {
      throw unauthenticated401(error.message);
    });
    let unitId: number | null = null;
    if (claims.unit) {
      const unit = await unitByCreditCode(db, claims.unit);
      if (!unit) throw unauthenticated401(`the token's unit ${claims.unit} is not registered`);
      unitId = unit.id;
    }
    let memberId: number | null = null;
    if (claims.member) {
      const parsed = parseGlobalId(claims.member);
      if (!parsed || parsed.type !== 'Member') throw unauthenticated401('the token\'s member claim is not a Member ID');
      memberId = parsed.id;
    }
    let organisationId: number | null = null;
    if (claims.org !== undefined) {
      const organisation = await organisationByCode(db, claims.org);
      if (!organisation) throw unauthenticated401(`the token's organisation ${claims.org} is not registered`);
      organisationId = organisation.id;
    }
    return { subject: claims.sub, role: claims.role, unitId, memberId, organisationId, expiresAt: claims.expiresAt };
  };
}

function unauthenticated401(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

/** A development token signed with JWT_SECRET (`hub token`); `expiresIn` as jose reads it (`12h`, `90m`, `-1s`). */
export async function signDevelopmentToken(
  config: Config,
  claims: TokenClaims,
  expiresIn = '12h',
): Promise<string> {
  const jwt = new SignJWT({ role: claims.role, unit: claims.unit, member: claims.member, org: claims.org })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn);
  if (config.JWT_ISSUER) jwt.setIssuer(config.JWT_ISSUER);
  if (config.JWT_AUDIENCE) jwt.setAudience(config.JWT_AUDIENCE);
  return jwt.sign(new TextEncoder().encode(config.JWT_SECRET));
}
