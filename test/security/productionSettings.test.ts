import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { importPKCS8, SignJWT } from 'jose';
import { parseConfig } from '../../src/config.ts';
import { configRefusal, PAYING_ACCOUNT, productionConfig, productionEnv, strongKey } from '../support/config.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';
import { batchDocument } from '../../src/payouts/files.ts';
import { initiatingParty } from '../../src/payouts/settings.ts';
import { createTokenVerifier } from '../../src/gateway/auth.ts';

/**
 * What production asks of the settings that reach outside the hub: the services it calls are
 * reached over TLS (whoever sits on a plain-http path could serve their own JWKS key and mint ADMIN
 * tokens, inject settlements or read payees' card numbers), an identity provider's tokens count only
 * when issued by it for this hub, payments name the union's own account, not the bank simulator's,
 * and the /metrics token is no easier to guess than the other secrets.
 */
const CREDIT_CODE = withCreditCodeCheck('81350500MA3456789');
const IDENTITY_PROVIDER = { JWT_ISSUER: 'https://idp.union.example', JWT_AUDIENCE: 'mutual-aid-hub' };
const publicKeyPem = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('outside services in production', () => {
  it.each([
    ['JWT_JWKS_URL', 'http://idp.union.example/jwks', 'https://idp.union.example/jwks'],
    ['INSURANCE_PLATFORM_URL', 'http://platform.example/fsi/api/rsfComIfsService/callService', 'https://platform.example/fsi/api/rsfComIfsService/callService'],
    ['BANK_URL', 'http://bank.example:4800', 'https://bank.example:4800'],
    ['NOTIFY_SMS_URL', 'http://sms.example', 'https://sms.example'],
    ['NOTIFY_WECHAT_URL', 'http://api.weixin.example', 'https://api.weixin.example'],
  ])('%s: https only, or plain http to a loopback host (a TLS sidecar)', (name, plain, tls) => {
    // The settings production asks for alongside an identity provider, so only the URL is judged.
    const env = IDENTITY_PROVIDER;
    const refused = [plain, 'http://127.0.0.1.evil.example/', 'http://localhost.evil.example/', 'http://10.0.0.7:4800/'];
    // The others' schema takes http(s) only, in every environment; the JWKS URL's any scheme.
    if (name === 'JWT_JWKS_URL') refused.push('ftp://idp.union.example/jwks');
    for (const url of refused) {
      const lines = configRefusal(() => productionConfig({ ...env, [name]: url })).split('\n');
      expect(lines, url).toHaveLength(2);
      expect(lines[1], url).toMatch(new RegExp(`^ {2}${name}: must be https: in production \\(.+\\); plain http only to a loopback host \\(127\\.0\\.0\\.1, ::1, localhost: a TLS sidecar on the same machine\\)$`));
    }
    for (const url of [tls, 'http://127.0.0.1:4800/', 'http://[::1]:4800/', 'http://localhost:4800/']) {
      expect(productionConfig({ ...env, [name]: url })[name as 'BANK_URL'], url).toBe(url);
    }
    // Development and tests keep their plain-http simulators.
    for (const NODE_ENV of ['development', 'test']) expect(parseConfig({ NODE_ENV, [name]: plain })[name as 'BANK_URL']).toBe(plain);
  });
});

describe('an identity provider in production', () => {
  const missing = (name: string) =>
    `  ${name}: must be set in production with an identity provider (JWT_PUBLIC_KEY / JWT_JWKS_URL), or the tokens it issues for any other application, carrying a role claim, are accepted`;

  it('needs JWT_ISSUER and JWT_AUDIENCE, so its tokens for other applications are refused', async () => {
    const providers: Record<string, string>[] = [{ JWT_PUBLIC_KEY: publicKeyPem() }, { JWT_JWKS_URL: 'https://idp.union.example/jwks' }];
    for (const provider of providers) {
      expect(configRefusal(() => productionConfig(provider)).split('\n').slice(1)).toEqual([missing('JWT_ISSUER'), missing('JWT_AUDIENCE')]);
      expect(configRefusal(() => productionConfig({ ...provider, JWT_ISSUER: IDENTITY_PROVIDER.JWT_ISSUER })).split('\n').slice(1)).toEqual([missing('JWT_AUDIENCE')]);
      expect(configRefusal(() => productionConfig({ ...provider, JWT_AUDIENCE: IDENTITY_PROVIDER.JWT_AUDIENCE })).split('\n').slice(1)).toEqual([missing('JWT_ISSUER')]);
      expect(productionConfig({ ...provider, ...IDENTITY_PROVIDER })).toMatchObject(IDENTITY_PROVIDER);
      // Outside production, and with the hub's own HS256 secret, nothing more is asked.
      expect(parseConfig({ NODE_ENV: 'development', ...provider }).JWT_AUDIENCE).toBeUndefined();
    }
    expect(productionConfig({}).JWT_ISSUER).toBeUndefined();

    // What the two settings buy: the provider's token for another of its applications, with a role claim, is refused.
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const verifier = await createTokenVerifier(productionConfig({ JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(), ...IDENTITY_PROVIDER }));
    const key = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');
    const token = (audience: string) => new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'RS256' }).setSubject('staff-1')
      .setIssuer(IDENTITY_PROVIDER.JWT_ISSUER).setAudience(audience).setIssuedAt().setExpirationTime('5m').sign(key);
    expect(await verifier.verify(await token('mutual-aid-hub'))).toMatchObject({ role: 'ADMIN' });
    await expect(verifier.verify(await token('canteen-app'))).rejects.toThrow(/invalid token.*aud/);
  });
});

describe('the paying account in production', () => {
  const missing = (name: string) =>
    `  ${name}: must be set in production (the default is the development payer, the bank simulator's account: UNION batches the gateway creates would be paid from it, and hub funders add would check new funders' accounts against it, whether or not BANK_URL is set)`;

  it('PAYOUT_ACCOUNT, PAYOUT_ACCOUNT_NAME, PAYOUT_AGENT and PAYOUT_INITIATING_PARTY_NAME are set explicitly, not the simulator\'s, with or without BANK_URL', () => {
    // Without BANK_URL too: the gateway creates UNION batches and `hub funders add` checks accounts with them (audit P).
    const { PAYOUT_ACCOUNT: _a, PAYOUT_ACCOUNT_NAME: _n, PAYOUT_AGENT: _g, PAYOUT_INITIATING_PARTY_NAME: _i, ...unnamed } = productionEnv();
    for (const bank of [{}, { BANK_URL: 'https://bank.example' }] as Record<string, string>[]) {
      expect(configRefusal(() => parseConfig({ ...unnamed, ...bank })).split('\n').slice(1))
        .toEqual([missing('PAYOUT_ACCOUNT'), missing('PAYOUT_ACCOUNT_NAME'), missing('PAYOUT_AGENT'), missing('PAYOUT_INITIATING_PARTY_NAME')]);
      for (const name of Object.keys(PAYING_ACCOUNT)) {
        // An empty variable counts as unset, as everywhere.
        expect(configRefusal(() => productionConfig({ ...bank, [name]: '' })).split('\n').slice(1), name).toEqual([missing(name)]);
      }
      expect(productionConfig(bank)).toMatchObject(PAYING_ACCOUNT);
    }
    // Outside production the simulator's account stays the default.
    expect(parseConfig({ NODE_ENV: 'development', BANK_URL: 'http://127.0.0.1:4800' }).PAYOUT_ACCOUNT).toBe('1408010109024561234');
  });
});

describe('the union\'s name in production', () => {
  it('NOTICE_UNION_NAME is set explicitly: the placeholder would go round the seal of members\' notices and the yearly report', () => {
    const { NOTICE_UNION_NAME: _, ...withoutName } = productionEnv();
    expect(configRefusal(() => parseConfig(withoutName)).split('\n').slice(1)).toEqual([
      '  NOTICE_UNION_NAME: must be set in production (the default is a placeholder, which members\' sealed notices and the yearly report would carry around their seal)',
    ]);
    expect(configRefusal(() => parseConfig({ ...withoutName, NOTICE_UNION_NAME: '' })).split('\n')).toHaveLength(2);
    expect(productionConfig({ NOTICE_UNION_NAME: '厦门市总工会' }).NOTICE_UNION_NAME).toBe('厦门市总工会');
    expect(parseConfig({ NODE_ENV: 'development' }).NOTICE_UNION_NAME).toBe('某市总工会');
  });

  it('payment files name the configured union, with its credit code when set; a code failing its check character is refused by name', () => {
    const configured = productionConfig({ BANK_URL: 'https://bank.example', PAYOUT_INITIATING_PARTY_ID: CREDIT_CODE });
    const document = batchDocument({
      msgId: 'HUB-B1', pmtInfId: 'HUB-P1', requestedExecutionDate: '2026-12-07',
      debtor: { name: configured.PAYOUT_ACCOUNT_NAME, account: configured.PAYOUT_ACCOUNT, agent: configured.PAYOUT_AGENT },
      initiatingParty: initiatingParty(configured),
      attempts: [{ endToEndId: 'HUB-E1', amountFen: 12_345, creditorName: '张三', creditorAccount: '6222021234567890123', creditorAgent: '102100099996', remittanceInfo: '医疗互助' }],
    }, new Date('2026-12-07T02:00:00Z'));
    expect(document.replace(/>\s+</g, '><')).toContain(`<InitgPty><Nm>泉州市总工会</Nm><Id><OrgId><Othr><Id>${CREDIT_CODE}</Id></Othr></OrgId></Id></InitgPty>`);
    expect(initiatingParty(productionConfig({ BANK_URL: 'https://bank.example' }))).toEqual({ name: '泉州市总工会' });
    const wrongCheck = CREDIT_CODE.slice(0, 17) + (CREDIT_CODE[17] === '0' ? '1' : '0');
    expect(configRefusal(() => parseConfig({ NODE_ENV: 'development', PAYOUT_INITIATING_PARTY_ID: wrongCheck })))
      .toBe(`Invalid configuration:\n  PAYOUT_INITIATING_PARTY_ID: a Unified Social Credit Code check character is ${wrongCheck[17]}, expected ${CREDIT_CODE[17]}`);
  });
});

describe('METRICS_TOKEN', () => {
  it('is refused in production when guessable, like the other secrets, and must fit in an HTTP header anywhere', () => {
    for (const token of ['a'.repeat(40), 'abababababababababababababababababababab', 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP']) {
      expect(configRefusal(() => productionConfig({ METRICS_TOKEN: token })), token).toMatch(/^ {2}METRICS_TOKEN: too predictable \(under 128 bits estimated/m);
    }
    expect(configRefusal(() => parseConfig({ NODE_ENV: 'development', METRICS_TOKEN: `${strongKey()} ${strongKey()}` }))).toMatch(/^ {2}METRICS_TOKEN: must be printable ASCII without spaces/m);
    expect(configRefusal(() => parseConfig({ NODE_ENV: 'development', METRICS_TOKEN: 'short' }))).toMatch(/^ {2}METRICS_TOKEN: must be at least 32 characters/m);
    const token = strongKey();
    expect(productionConfig({ METRICS_TOKEN: token }).METRICS_TOKEN).toBe(token);
  });
});
