import { createRemoteJWKSet, importSPKI, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { unauthenticated } from './errors.ts';

export const ROLES = ['ADMIN', 'UNIT_OPERATOR', 'REVIEWER', 'FINANCE', 'AUDITOR', 'MEMBER', 'SERVICE'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The claims a bearer token carries. `unit` is the unit's Unified Social Credit Code (what an
 * identity provider knows), `member` the member's global ID.
 */
const claimsSchema = z
  .object({
    sub: z.string().min(1),
    role: z.enum(ROLES),
    unit: z.string().length(18).optional(),
    member: z.string().min(1).optional(),
  })
  .refine((c) => c.role !== 'UNIT_OPERATOR' || c.unit, { message: 'a UNIT_OPERATOR token needs the unit claim', path: ['unit'] })
  .refine((c) => c.role !== 'MEMBER' || c.member, { message: 'a MEMBER token needs the member claim', path: ['member'] });

export type TokenClaims = z.infer<typeof claimsSchema>;

export interface TokenVerifier {
  verify(token: string): Promise<TokenClaims>;
}

/** HS256 with JWT_SECRET by default; an identity provider's key (PEM or JWKS) when configured. */
export async function createTokenVerifier(config: Config): Promise<TokenVerifier> {
  const idp = { algorithms: [config.JWT_PUBLIC_KEY_ALG], issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
  let verifySignature: (token: string) => Promise<{ payload: JWTPayload }>;
  if (config.JWT_JWKS_URL) {
    const jwks = createRemoteJWKSet(new URL(config.JWT_JWKS_URL));
    verifySignature = (token) => jwtVerify(token, jwks, idp);
  } else if (config.JWT_PUBLIC_KEY) {
    const publicKey = await importSPKI(config.JWT_PUBLIC_KEY, config.JWT_PUBLIC_KEY_ALG);
    verifySignature = (token) => jwtVerify(token, publicKey, idp);
  } else {
    const secret = new TextEncoder().encode(config.JWT_SECRET);
    verifySignature = (token) => jwtVerify(token, secret, { ...idp, algorithms: ['HS256'] });
  }
  return {
    async verify(token) {
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
      return claims.data;
    },
  };
}

/** A development token signed with JWT_SECRET (`hub token`). */
export async function signDevelopmentToken(
  config: Config,
  claims: TokenClaims,
  expiresIn = '12h',
): Promise<string> {
  const jwt = new SignJWT({ role: claims.role, unit: claims.unit, member: claims.member })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn);
  if (config.JWT_ISSUER) jwt.setIssuer(config.JWT_ISSUER);
  if (config.JWT_AUDIENCE) jwt.setAudience(config.JWT_AUDIENCE);
  return jwt.sign(new TextEncoder().encode(config.JWT_SECRET));
}
