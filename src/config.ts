import { z } from 'zod';
import { creditCodeProblem } from './kernel/identifiers.ts';

/**
 * All configuration comes from environment variables, parsed and validated once.
 * NODE_ENV must be set: `production`, or `development` for local work (`hub demo` and the
 * development helpers set it themselves; tests use `test`). Development defaults exist so
 * `npm run demo` works on a fresh machine; production refuses to start without real secrets.
 */

// Fixed, public development keys: never valid in production (checked below).
const DEV_PII_KEY = Buffer.alloc(32, 0x11).toString('base64');
const DEV_JWT_SECRET = 'mutual-aid-hub-development-secret-not-for-production';

/** Least estimated entropy (bits, `estimatedEntropyBits`) of a production secret or key. */
export const MIN_SECRET_BITS = 128;

/**
 * A conservative estimate of a secret's entropy in bits: the Shannon entropy of its symbols'
 * frequencies times their number, and the same over the differences of neighbouring symbols,
 * whichever is lower. Repeated characters (`aaaa…`), few distinct ones (`abab…`) and runs
 * (`abcd…`, bytes 0, 1, 2…) score low; `openssl rand -base64 32` scores about 210 bits (a
 * PII key's 32 random bytes about 150). It cannot see a dictionary phrase: it is a floor, not a proof.
 */
export function estimatedEntropyBits(symbols: ArrayLike<number>): number {
  const bits = (values: number[]) => {
    const counts = new Map<number, number>();
    for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
    let total = 0;
    for (const c of counts.values()) total -= c * Math.log2(c / values.length);
    return total;
  };
  const values = Array.from(symbols);
  return Math.min(bits(values), bits(values.slice(1).map((v, i) => v - values[i]!)));
}

// Canonical base64 only: no missing padding, white space or stray characters, which Node's decoder
// would silently skip (the development key without its `=` decodes to the same bytes).
const base64Key = z
  .string()
  .refine((v) => {
    const bytes = Buffer.from(v, 'base64');
    return bytes.length === 32 && bytes.toString('base64') === v;
  }, 'must be 32 bytes, base64-encoded with its padding and nothing else (openssl rand -base64 32)');

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const schema = z.object({
  /** Required (see parseConfig): production, development (local work) or test. */
  NODE_ENV: z.enum(['development', 'test', 'production']),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/postgres'),
  /**
   * The role that owns the hub's tables and runs `hub migrate`, granting DATABASE_URL's role only
   * what the hub needs at run time (src/db/runtimeRole.ts): that role then cannot switch the
   * database's guards off. Unset: DATABASE_URL's role migrates and owns the tables.
   */
  MIGRATION_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  /** Prefix of every BullMQ key, so several hubs (or tests) can share one Redis. */
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_:-]+$/).default('hub'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  // Gateway abuse limits (src/gateway/limits.ts); each refusal names the limit and its value.
  /** Deepest selection nesting an operation may have. */
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(12),
  /** Static cost of an operation (graphql-armor: objects 2, scalars 1, ×1.5 per level of depth). */
  GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(30_000),
  /** Aliases in one operation. */
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(15),
  /** Lexical tokens in one document (bounds parsing work before anything else runs). */
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(1).default(2_000),
  /** Directives in one operation. */
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(20),
  /** Objects one request may ask for: the product of `first` along nested connections, summed. */
  GRAPHQL_MAX_NODES: z.coerce.number().int().min(1).default(10_000),
  /** Largest request body in bytes; upload operations have GRAPHQL_MAX_UPLOAD_BYTES (src/gateway/limits.ts). */
  GRAPHQL_MAX_BODY_BYTES: z.coerce.number().int().min(1_024).default(1024 * 1024),
  /** An operation still running after this long is answered with OPERATION_TIMEOUT. */
  GRAPHQL_TIMEOUT_MS: z.coerce.number().int().min(1).default(60_000),
  /** Requests per client (token subject) per window, counted in Redis across gateway instances; 0 turns the limit off. */
  RATE_LIMIT_POINTS: z.coerce.number().int().min(0).default(1_200),
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).default(60),
  /** Subscriptions one WebSocket may hold at once; each event is read again for every subscription that follows it. */
  SUBSCRIPTIONS_PER_SOCKET: z.coerce.number().int().min(1).default(20),
  /**
   * WebSockets one client (token subject) may hold open at once on one gateway: each holds its
   * subscriptions until the token expires, and every subscription hears every status event.
   */
  SOCKETS_PER_CLIENT: z.coerce.number().int().min(1).default(10),
  /** Query documents kept compiled by graphql-jit (src/gateway/execution.ts); 0 turns compiling off: graphql-js executes every operation. */
  GRAPHQL_COMPILED_DOCUMENTS: z.coerce.number().int().min(0).max(100_000).default(1_000),
  /** Memory for whole answers to roster queries (src/gateway/responseCache.ts), in MiB; 0 turns the cache off. */
  RESPONSE_CACHE_MB: z.coerce.number().int().min(0).max(4096).default(64),
  /** Trusted-documents manifest (`{ "sha256:<hash>": "<document>" }`, from codegen's client preset); in production only these operations run. */
  TRUSTED_DOCUMENTS: z.string().optional(),
  /** Port of `hub work`'s operations endpoints (/healthz, /readyz, /metrics); 0 picks a free one. */
  WORKER_PORT: z.coerce.number().int().min(0).max(65535).default(4001),
  /**
   * Bearer token /metrics asks for (gateway and WORKER_PORT): it shows the paying account and the
   * operations figures. Without it /metrics is open outside production and absent (404) in production.
   */
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters').regex(/^[!-~]+$/, 'must be printable ASCII without spaces (it is sent in an HTTP header)').optional(),
  /** AES-256-GCM key for ID and bank card numbers at rest. */
  PII_KEY: base64Key.default(DEV_PII_KEY),
  /** Optional separate key for the lookup hash (HMAC-SHA256); derived from PII_KEY when absent. */
  PII_HASH_KEY: base64Key.optional(),
  /** HS256 secret for bearer tokens (development and simple deployments). */
  JWT_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters')
    .refine((v) => v.trim() === v, 'must not begin or end with white space')
    .default(DEV_JWT_SECRET),
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
  /** Settlement match jobs run at once per worker process (each carries up to 500 settlements, matched in one transaction). */
  SETTLEMENT_MATCH_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(4),
  /** Seconds between a worker process's sweeps, which re-add from PostgreSQL any work Redis lost. */
  SWEEP_SECONDS: z.coerce.number().int().min(1).default(60),
  /** The union's account payouts are paid from (its number at the bank, ≤ 34 characters; the simulator's by default). */
  PAYOUT_ACCOUNT: z.string().regex(/^[0-9A-Za-z]{1,34}$/, 'must be 1 to 34 letters or digits').default('1408010109024561234'),
  /** The account holder's name as the bank knows it (Dbtr/Nm of every pain.001). */
  PAYOUT_ACCOUNT_NAME: z.string().min(1).default('某市总工会职工医疗互助专户'),
  /** The union as initiating party of every pain.001 (InitgPty/Nm); production asks for it. */
  PAYOUT_INITIATING_PARTY_NAME: z.string().trim().min(1).max(140).default('市总工会职工医疗互助'),
  /** The union's Unified Social Credit Code (统一社会信用代码, InitgPty/Id/OrgId/Othr/Id), when its bank asks for it. */
  PAYOUT_INITIATING_PARTY_ID: z.string().superRefine((value, ctx) => {
    const problem = creditCodeProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `a Unified Social Credit Code ${problem}` });
  }).optional(),
  /** The paying bank's 12-digit CNAPS code (DbtrAgt). */
  PAYOUT_AGENT: z.string().regex(/^\d{12}$/, 'must be the 12-digit CNAPS code').default('102100099996'),
  /** Name of the bank channel batches go through (one per configured bank adapter). */
  PAYOUT_CHANNEL: z.string().regex(/^[A-Z0-9_]{1,20}$/).default('BANK'),
  /** Base URL of the bank's host-to-host channel (银企直连); the simulator: `hub sim bank`, http://127.0.0.1:4800. Without it no batch is sent. */
  BANK_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** PEM with the bank's seal certificate(s); default CERTS_DIR/bank.pem (the development bank). */
  BANK_CERT: z.string().optional(),
  /** How long one request to the bank may take before its outcome counts as unknown (ms). */
  BANK_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** How often approved claims are turned into payouts (s). */
  PAYOUT_PLAN_SECONDS: z.coerce.number().int().min(1).default(60),
  /**
   * How often the payout worker, while a standing payment policy is in force, turns approved claims
   * into payouts and releases those within the policy to the bank (s; 即时办).
   */
  PAYOUT_RELEASE_SECONDS: z.coerce.number().int().min(1).default(10),
  /** Most payouts in one batch released under a payment policy: small batches, sent continuously. */
  PAYOUT_RELEASE_BATCH_MAX: z.coerce.number().int().min(1).max(100_000).default(200),
  /** How long to wait between status queries of a batch sent to the bank (ms). */
  PAYOUT_POLL_MS: z.coerce.number().int().min(100).default(5_000),
  /** Lock of a payout batch job (ms): a job whose worker died is run again after about this long. */
  PAYOUT_JOB_LOCK_MS: z.coerce.number().int().min(500).default(30_000),
  /** Most payouts in one batch (one pain.001). */
  PAYOUT_BATCH_MAX: z.coerce.number().int().min(1).max(100_000).default(5_000),
  /** Where batch files and their seals are written (`<MsgId>.xml`, `<MsgId>.xml.p7s`). */
  PAYOUT_OUT_DIR: z.string().default('.data/out'),
  /** The union's name on sealed notices, yearly reports and around their seal image (src/notices, src/figures); production asks for it. */
  NOTICE_UNION_NAME: z.string().trim().min(2).max(16).default('某市总工会'),
  /** Fewest cases (人次) a breakdown row of the published yearly report shows; fewer print "<N" (src/figures/disclosure.ts). */
  FIGURES_MIN_CELL: z.coerce.number().int().min(2).default(5),
  // Reconciliation (src/reconciliation/settings.ts).
  /** Our accounts whose statements are fetched and reconciled, comma-separated (default PAYOUT_ACCOUNT; accounts of payout batches are added). */
  RECONCILIATION_ACCOUNTS: z.string().regex(/^[0-9A-Za-z]{1,34}(,[0-9A-Za-z]{1,34})*$/, 'must be account numbers separated by commas').transform((v) => v.split(',')).optional(),
  /** How often statements and notifications are fetched from the bank (s). */
  RECONCILIATION_FETCH_SECONDS: z.coerce.number().int().min(10).default(300),
  /** How many days back a fetch asks for statements the hub has no final version of. */
  RECONCILIATION_LOOKBACK_DAYS: z.coerce.number().int().min(0).max(90).default(3),
  /** T+N: business days the bank has to show a credited payout's debit before it is a MISSING_DEBIT exception. */
  RECONCILIATION_DEBIT_DAYS: z.coerce.number().int().min(0).max(30).default(2),
  /** Bank holidays (yyyy-MM-dd, comma-separated) that are not business days. */
  BANK_HOLIDAYS: z.string().regex(/^\d{4}-\d{2}-\d{2}(,\d{4}-\d{2}-\d{2})*$/, 'must be dates yyyy-MM-dd separated by commas').transform((v) => v.split(',')).default([]),
  // Notifications (src/notifications/settings.ts): without a channel's URL nothing is sent on it (deliveries wait).
  /** Base URL of the SMS provider (template SMS); the simulator: `hub sim notify`. */
  NOTIFY_SMS_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** The registered SMS signature (签名) of every SMS. */
  NOTIFY_SMS_SIGN: z.string().min(1).max(20).default('职工医疗互助'),
  /** SMS template codes by kind as JSON ({"PAYOUT_PAID": "SMS_123"}); a kind not named uses SMS_MAH_<KIND>. */
  NOTIFY_SMS_TEMPLATES: z.string().refine((v) => {
    try {
      const parsed: unknown = JSON.parse(v);
      return !!parsed && typeof parsed === 'object' && !Array.isArray(parsed) && Object.values(parsed).every((code) => typeof code === 'string' && code !== '');
    } catch {
      return false;
    }
  }, 'must be a JSON object of kind -> template code ({"PAYOUT_PAID": "SMS_123"})').optional(),
  /** Base URL of the WeChat message API (template/subscribe messages). */
  NOTIFY_WECHAT_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** The WeChat template id every notification is sent with (keywords thing1, amount2, character_string3, phrase4). */
  NOTIFY_WECHAT_TEMPLATE_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('MAH-NOTICE-001'),
  /** The mini-program page a tap on a WeChat message opens. */
  NOTIFY_WECHAT_PAGE: z.string().max(128).default('pages/notifications/index'),
  /** How long one call to a channel may take before its outcome counts as unknown (ms). */
  NOTIFY_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Sends of one delivery that certainly failed before it is FAILED (staff may retry it). */
  NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  /** First wait before a failed or unknown delivery is tried (or asked about) again; doubles each time, at most an hour (ms). */
  NOTIFY_RETRY_BASE_MS: z.coerce.number().int().min(10).default(30_000),
  /** How often the notification worker looks for due deliveries (ms). */
  NOTIFY_POLL_MS: z.coerce.number().int().min(50).default(5_000),
  // Turnaround promise (src/kernel/workingDays.ts): counted in working days from receipt.
  /** Working days from receipt within which a claim or application is promised a decision. */
  DECISION_PROMISE_WORKING_DAYS: z.coerce.number().int().min(0).max(365).default(5),
  /** Working days from receipt within which an approved claim or application is promised its payment. */
  PAYMENT_PROMISE_WORKING_DAYS: z.coerce.number().int().min(0).max(365).default(10),
  /** Public holidays (yyyy-MM-dd, comma-separated) that the promise does not count as working days. */
  PROMISE_HOLIDAYS: z.string().regex(/^\d{4}-\d{2}-\d{2}(,\d{4}-\d{2}-\d{2})*$/, 'must be dates yyyy-MM-dd separated by commas').transform((v) => v.split(',')).default([]),
  // Trust boundaries (docs/trust-model.md).
  /** Hours a bearer token may live at most (exp − iat, or exp − now without iat); a longer one is refused. */
  TOKEN_MAX_LIFETIME_HOURS: z.coerce.number().int().min(1).max(24 * 31).default(24),
  /** Days a replaced bank card waits before payouts go to it, unless a second person confirms it; 0 pays at once. */
  BANK_CARD_COOLING_OFF_DAYS: z.coerce.number().int().min(0).max(365).default(7),
  /** Manual contribution payments, exception matches and write-offs above this many fen need a second person's confirmation. */
  FOUR_EYES_ABOVE_FEN: z.coerce.number().int().min(0).default(100_000),
  /** Largest body of an upload operation (roster, settlement file, bank statement) in bytes; other requests keep GRAPHQL_MAX_BODY_BYTES. */
  GRAPHQL_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1_024).default(21 * 1024 * 1024),
  /** HMAC-SHA256 key of signed file URLs (uploads, batch files and seals); derived from PII_KEY when absent. Whoever holds it can mint URLs. */
  FILE_URL_KEY: base64Key.optional(),
  /** How long a signed file URL stays valid, in seconds. */
  FILE_URL_TTL_SECONDS: z.coerce.number().int().min(10).max(3_600).default(300),
  /** Largest file sent to an upload URL, in bytes (its own limit: the URL's route reads no JSON). */
  FILE_UPLOAD_MAX_BYTES: z.coerce.number().int().min(1_024).default(64 * 1024 * 1024),
  /** Where uploaded files wait, encrypted, for the mutation that uses them (shared by every gateway instance behind one address). */
  FILE_UPLOAD_DIR: z.string().default('.data/uploads'),
  /** Largest document a member attaches (PDF, JPEG, PNG), in bytes; a larger upload is refused by the mutation that takes it. */
  ATTACHMENT_MAX_BYTES: z.coerce.number().int().min(1_024).default(10 * 1024 * 1024),
  /** Days after a claim's decision within which its member may appeal it (复核申请期限). */
  APPEAL_PERIOD_DAYS: z.coerce.number().int().min(1).max(3_650).default(60),
  /** Directory of the ISO 20022 XSDs statements are validated against (default: the copy vendored in src/banks/iso20022/xsd/). */
  ISO20022_XSD_DIR: z.string().optional(),
});

export type Config = z.infer<typeof schema>;

/** The name of every setting the schema reads (`hub demo` keeps its own few from the shell and leaves the others out). */
export const CONFIG_SETTINGS = Object.keys(schema.shape) as readonly (keyof Config)[];

export class ConfigError extends Error {}

/** Without NODE_ENV a production host would quietly run with the development secrets: refused, in one line. */
export function requireNodeEnv(env: NodeJS.ProcessEnv): void {
  if (!env.NODE_ENV) throw new ConfigError('NODE_ENV is not set: set NODE_ENV=production (or NODE_ENV=development for local work)');
}

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset, as operators expect from shell files.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  requireNodeEnv(present);
  const result = schema.safeParse(present);
  if (!result.success) {
    // zod's own wording for a non-number ("expected number, received NaN") tells an operator little.
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.code === 'invalid_type' && i.expected === 'number' ? 'must be a number' : i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  const roleProblem = databaseRoleProblem(config);
  if (roleProblem) throw new ConfigError(`Invalid configuration:\n  ${roleProblem}`);
  if (config.NODE_ENV === 'production') {
    const problems = [...productionSecretProblems(config), ...productionServiceProblems(config, present)];
    if (problems.length) throw new ConfigError(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
  return config;
}

/** The role a postgres URL logs in as, when it names one (libpq would otherwise pick PGUSER or the system user). */
export function urlRole(databaseUrl: string): string | undefined {
  const user = new URL(databaseUrl).username;
  return user ? decodeURIComponent(user) : undefined;
}

/** With MIGRATION_DATABASE_URL, DATABASE_URL must name the role to grant, and another one than the owner's. */
function databaseRoleProblem(config: Config): string | null {
  if (!config.MIGRATION_DATABASE_URL) return null;
  const runtime = urlRole(config.DATABASE_URL);
  if (!runtime) return 'DATABASE_URL: must name its role (postgres://ROLE@host/database) when MIGRATION_DATABASE_URL is set: that role is granted the hub\'s run-time privileges';
  if (runtime === urlRole(config.MIGRATION_DATABASE_URL)) return `MIGRATION_DATABASE_URL: must name another role than DATABASE_URL's (${runtime}): the owner of the tables can switch their guards off`;
  return null;
}

const tooPredictable = (name: string, symbols: 'bytes' | 'characters') =>
  `${name}: too predictable (under ${MIN_SECRET_BITS} bits estimated: repeated, few distinct or sequential ${symbols}); use openssl rand -base64 32`;

/** Production refuses the public development secrets and guessable ones (MIN_SECRET_BITS). */
function productionSecretProblems(config: Config): string[] {
  const problems: string[] = [];
  const devKey = Buffer.from(DEV_PII_KEY, 'base64');
  for (const name of ['PII_KEY', 'PII_HASH_KEY', 'FILE_URL_KEY'] as const) {
    const value = config[name];
    if (value === undefined) continue;
    // Compared as bytes: another spelling of the development key is still the development key.
    const key = Buffer.from(value, 'base64');
    if (key.equals(devKey)) problems.push(`${name}: the development key cannot be used in production`);
    else if (estimatedEntropyBits(key) < MIN_SECRET_BITS) problems.push(tooPredictable(name, 'bytes'));
  }
  if (!config.JWT_PUBLIC_KEY && !config.JWT_JWKS_URL) {
    const secret = Buffer.from(config.JWT_SECRET, 'utf8');
    if (config.JWT_SECRET.includes(DEV_JWT_SECRET)) {
      problems.push('JWT_SECRET: the development secret cannot be used in production (or set JWT_PUBLIC_KEY / JWT_JWKS_URL)');
    } else if (estimatedEntropyBits(secret) < MIN_SECRET_BITS) {
      problems.push(tooPredictable('JWT_SECRET', 'characters'));
    }
  }
  if (config.METRICS_TOKEN !== undefined && estimatedEntropyBits(Buffer.from(config.METRICS_TOKEN, 'utf8')) < MIN_SECRET_BITS) {
    problems.push(tooPredictable('METRICS_TOKEN', 'characters'));
  }
  return problems;
}

/**
 * The outside services the hub calls, and what anyone on the network path between could do over
 * plain http: in production they are reached over TLS only.
 */
export const OUTSIDE_SERVICE_URLS = {
  JWT_JWKS_URL: 'whoever answers it serves the keys that decide who is ADMIN',
  INSURANCE_PLATFORM_URL: 'its settlements decide which claims are paid',
  BANK_URL: 'payment files carry members\' card numbers in clear and the bank\'s answers settle payouts',
  NOTIFY_SMS_URL: 'messages carry members\' phone numbers and what they were paid',
  NOTIFY_WECHAT_URL: 'messages carry members\' openids and what they were paid',
} as const;

/** Hosts plain http may name in production: a TLS sidecar on the same machine. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Why production may not call the outside service at `url` (null when it may): over TLS only, or
 * plain http to a loopback host. `risk`: what anyone on a plain-http path could do (OUTSIDE_SERVICE_URLS).
 */
export function plainHttpProblem(url: URL, risk: string): string | null {
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return null;
  return `must be https: in production (${risk}); plain http only to a loopback host (127.0.0.1, ::1, localhost: a TLS sidecar on the same machine)`;
}

/** The development payer (the defaults of these settings: the simulator's account, a placeholder union), which production must not pay as. */
const PAYING_ACCOUNT_SETTINGS = ['PAYOUT_ACCOUNT', 'PAYOUT_ACCOUNT_NAME', 'PAYOUT_AGENT', 'PAYOUT_INITIATING_PARTY_NAME'] as const;

/**
 * Production talks to outside services over TLS, accepts only tokens its identity provider issued
 * for this hub, and pays from an account the operator named. `env`: the variables as set, before
 * zod's defaults.
 */
function productionServiceProblems(config: Config, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  for (const [name, risk] of Object.entries(OUTSIDE_SERVICE_URLS)) {
    const value = config[name as keyof typeof OUTSIDE_SERVICE_URLS];
    if (value === undefined) continue;
    const problem = plainHttpProblem(new URL(value), risk);
    if (problem) problems.push(`${name}: ${problem}`);
  }
  if (config.JWT_PUBLIC_KEY || config.JWT_JWKS_URL) {
    for (const name of ['JWT_ISSUER', 'JWT_AUDIENCE'] as const) {
      if (config[name] === undefined) {
        problems.push(`${name}: must be set in production with an identity provider (JWT_PUBLIC_KEY / JWT_JWKS_URL), or the tokens it issues for any other application, carrying a role claim, are accepted`);
      }
    }
  }
  // With or without BANK_URL: the gateway takes a UNION batch's debtor from it, `hub funders add`
  // keeps it from other funders, and the workers seal what the batches hold.
  for (const name of PAYING_ACCOUNT_SETTINGS) {
    if (env[name] === undefined) {
      problems.push(`${name}: must be set in production (the default is the development payer, the bank simulator's account: UNION batches the gateway creates would be paid from it, and hub funders add would check new funders' accounts against it, whether or not BANK_URL is set)`);
    }
  }
  if (env.NOTICE_UNION_NAME === undefined) {
    problems.push('NOTICE_UNION_NAME: must be set in production (the default is a placeholder, which members\' sealed notices and the yearly report would carry around their seal)');
  }
  return problems;
}

let cached: Config | undefined;

/** The process configuration, parsed on first use. */
export function config(): Config {
  cached ??= parseConfig();
  return cached;
}
