import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { parseConfig, ConfigError } from '../../src/config.ts';
import { createTokenVerifier, signDevelopmentToken } from '../../src/gateway/auth.ts';

const DEV = { NODE_ENV: 'development' };

describe('configuration', () => {
  it('names each wrong variable and why', () => {
    expect(() => parseConfig({ NODE_ENV: 'development', PORT: 'eighty', PII_KEY: 'short', DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    try {
      parseConfig({ NODE_ENV: 'development', PORT: 'eighty', PII_KEY: 'short', DATABASE_URL: 'mysql://x' });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('PORT:');
      expect(message).toContain('PII_KEY: must be 32 bytes, base64-encoded');
      expect(message).toContain('DATABASE_URL:');
    }
  });
  it('refuses development secrets in production', () => {
    expect(() => parseConfig({ NODE_ENV: 'production' })).toThrow(/PII_KEY: the development key cannot be used in production/);
  });
  it('has working defaults for development', () => {
    expect(parseConfig(DEV)).toMatchObject({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres', REDIS_URL: 'redis://127.0.0.1:6379', PORT: 4000 });
  });
});

describe('bearer tokens', () => {
  it('verifies development HS256 tokens and their claims', async () => {
    const config = parseConfig(DEV);
    const verifier = await createTokenVerifier(config);
    const token = await signDevelopmentToken(config, { sub: 'u1', role: 'UNIT_OPERATOR', unit: '91350100M000100Y43' });
    expect(await verifier.verify(token)).toMatchObject({ sub: 'u1', role: 'UNIT_OPERATOR', unit: '91350100M000100Y43' });
    const other = parseConfig({ ...DEV, JWT_SECRET: 'another-secret-that-is-long-enough-000000' });
    await expect(verifier.verify(await signDevelopmentToken(other, { sub: 'u1', role: 'ADMIN' }))).rejects.toThrow(/invalid token/);
    await expect(verifier.verify(await signDevelopmentToken(config, { sub: 'u1', role: 'ADMIN' }, '-1s'))).rejects.toThrow(/invalid token/);
  });

  it('keeps a verified token\'s claims for the next request, but never past its expiry', async () => {
    const config = parseConfig(DEV);
    const verifier = await createTokenVerifier(config);
    const token = await signDevelopmentToken(config, { sub: 'short', role: 'REVIEWER' }, '2s');
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    expect(await verifier.verify(token)).toMatchObject({ sub: 'short' });
    expect(await verifier.verify(token)).toMatchObject({ sub: 'short' });
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
    await expect(verifier.verify(token)).rejects.toThrow(/invalid token.*exp/);
  });

  it('verifies an identity provider\'s RS256 tokens with its public key, checking issuer and audience', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const config = parseConfig({
      ...DEV,
      JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      JWT_ISSUER: 'https://idp.union.example', JWT_AUDIENCE: 'mutual-aid-hub',
    });
    const verifier = await createTokenVerifier(config);
    const key = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');
    const sign = (issuer: string) =>
      new SignJWT({ role: 'FINANCE' }).setProtectedHeader({ alg: 'RS256' }).setSubject('fin-1').setIssuer(issuer)
        .setAudience('mutual-aid-hub').setExpirationTime('5m').sign(key);
    expect(await verifier.verify(await sign('https://idp.union.example'))).toMatchObject({ role: 'FINANCE', sub: 'fin-1' });
    await expect(verifier.verify(await sign('https://evil.example'))).rejects.toThrow(/iss/);
    // The HS256 development secret no longer works once an identity provider is configured.
    await expect(verifier.verify(await signDevelopmentToken(config, { sub: 'x', role: 'ADMIN' }))).rejects.toThrow(/invalid token/);
  });

  it('refuses tokens without a role or with an unknown one', async () => {
    const config = parseConfig(DEV);
    const verifier = await createTokenVerifier(config);
    const secret = new TextEncoder().encode(config.JWT_SECRET);
    const token = await new SignJWT({ role: 'ROOT' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setExpirationTime('5m').sign(secret);
    await expect(verifier.verify(token)).rejects.toThrow(/claim role/);
  });
});
