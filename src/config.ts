import { z } from 'zod';

/**
 * All configuration comes from environment variables, parsed and validated once.
 * Development defaults exist so `npm run demo` works on a fresh machine; production
 * (`NODE_ENV=production`) refuses to start without real secrets.
 */

// Fixed, public development keys: never valid in production (checked below).
const DEV_PII_KEY = Buffer.alloc(32, 0x11).toString('base64');
const DEV_JWT_SECRET = 'mutual-aid-hub-development-secret-not-for-production';

const base64Key = z
  .string()
  .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)');

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/postgres'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  /** Prefix of every BullMQ key, so several hubs (or tests) can share one Redis. */
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_:-]+$/).default('hub'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** AES-256-GCM key for ID and bank card numbers at rest. */
  PII_KEY: base64Key.default(DEV_PII_KEY),
  /** Optional separate key for the lookup hash (HMAC-SHA256); derived from PII_KEY when absent. */
  PII_HASH_KEY: base64Key.optional(),
  /** HS256 secret for bearer tokens (development and simple deployments). */
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEV_JWT_SECRET),
  /** PEM public key (RS256/ES256) of an identity provider; replaces JWT_SECRET when set. */
  JWT_PUBLIC_KEY: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }).optional(),
  /** JWKS endpoint of an identity provider; replaces JWT_SECRET when set. */
  JWT_JWKS_URL: z.url().optional(),
  /** Signature algorithm of the identity provider's key (JWT_PUBLIC_KEY / JWT_JWKS_URL). */
  JWT_PUBLIC_KEY_ALG: z.enum(['RS256', 'PS256', 'ES256']).default('RS256'),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  /** The medical-insurance platform's settlement interface; when set, the workers pull it as source `platform`. */
  INSURANCE_PLATFORM_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Our institution code on the platform (fixmedins_code of the request envelope, 12 characters). */
  INSURANCE_CLIENT_CODE: z.string().regex(/^[A-Z0-9]{12}$/, 'must be 12 letters or digits').default('MAH350500001'),
  /** Administrative division of the platform (mdtrtarea_admvs), 6 digits. */
  INSURANCE_AREA_CODE: z.string().regex(/^\d{6}$/, 'must be 6 digits').default('350500'),
  /** Transaction number (infno) of the settlement feed under the union's data-sharing agreement. */
  INSURANCE_FEED_INFNO: z.string().regex(/^[0-9A-Z]{4,5}$/).default('9901'),
  /** How often each scheduled settlement source is pulled, and how many records per page. */
  SETTLEMENT_PULL_SECONDS: z.coerce.number().int().min(1).default(60),
  SETTLEMENT_PAGE_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** A directory hospitals drop settlement files into (JSON lines or CSV); when set, pulled as source `drop`. */
  SETTLEMENT_DROP_DIR: z.string().optional(),
  /** Lock of a settlement job (ms): a job whose worker died is run again after about this long. */
  SETTLEMENT_JOB_LOCK_MS: z.coerce.number().int().min(500).default(30_000),
  /** Settlement match jobs run at once per worker process (they are matched in batches). */
  SETTLEMENT_MATCH_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(100),
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {}

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset, as operators expect from shell files.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  if (config.NODE_ENV === 'production') {
    const problems: string[] = [];
    if (config.PII_KEY === DEV_PII_KEY) problems.push('  PII_KEY: the development key cannot be used in production');
    const externalIdp = config.JWT_PUBLIC_KEY || config.JWT_JWKS_URL;
    if (!externalIdp && config.JWT_SECRET === DEV_JWT_SECRET) {
      problems.push('  JWT_SECRET: the development secret cannot be used in production (or set JWT_PUBLIC_KEY / JWT_JWKS_URL)');
    }
    if (problems.length) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  }
  return config;
}

let cached: Config | undefined;

/** The process configuration, parsed on first use. */
export function config(): Config {
  cached ??= parseConfig();
  return cached;
}
