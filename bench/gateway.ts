/**
 * Gateway throughput, with autocannon on loopback, in one run:
 *  (a) a trivial query (`{ hello }`) on a bare Apollo Server on express (the ceiling of the stack);
 *  (b) a page of 50 members with their unit and enrolments on the hub gateway, with everything a
 *      production request goes through: token check, the Redis rate limit (set high enough not to
 *      refuse), document limits, metrics, request logs (at warn level, as the bench runs), DataLoaders.
 * (b) is answered from the gateway's roster response cache after its first request (the roster epoch
 * is still read for every request), as when staff page through members. (d) is the same page with the
 * cache off (RESPONSE_CACHE_MB=0): every request executed (compiled by graphql-jit, src/gateway/execution.ts),
 * three SQL queries. Beside it, executed on the same gateway: 50 claims, 50 payouts and 50 settlements,
 * each with the nested fields their list shows (test/gateway/pageDocuments.ts).
 * Also (c), for the record: `{ viewer { role } }` on the hub, the cost of its layers without data;
 * (e), the floor of (d): bare Apollo Server answering the same page built by PostgreSQL in one
 * statement (PAGE_SQL) and passed through as one JSON value, with no token, limits, cursors or field
 * walk, the least an executed page of 50 members can cost through Apollo here;
 * and with GATEWAY_MODE=1, (g): the page of (d) in gateway mode, the six subgraphs and the federation
 * gateway each a `hub serve` process, as deployed (`--subgraph NAME`; `--gateway --subgraph-urls …`
 * over the committed supergraph), the response cache off in all of them: query planning and one more
 * hop (seven more processes on the machine, so not in every run).
 * Targets: (b) reaches at least 50% of (a)'s requests per second; (d) and each executed page at least
 * 25%. Each server runs in a process of its own so the load generator does not share its event loop,
 * all with NODE_ENV=production (as deployed: graphql-js then skips its development checks). The rows
 * are measured in turns over several rounds and reported as medians: the machine is shared, and a
 * burst of other work then falls on all. Beside each row's requests per second, the CPU its requests
 * took, each: in the server's process and in PostgreSQL (all its processes), which the machine's
 * other work disturbs far less, so trees measured at different hours compare.
 * `npx tsx bench/gateway.ts` (CONNECTIONS=n, ROUNDS=n, SECONDS=n per row and round; GATEWAY_MODE=1;
 * CPU_PROF=dir writes each server's CPU profile there).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import net from 'node:net';
import autocannon from 'autocannon';
import express from 'express';
import { pino } from 'pino';
import type pg from 'pg';
import { Redis } from 'ioredis';
import { ApolloServer } from '@apollo/server';
import { GraphQLScalarType } from 'graphql';
import { expressMiddleware } from '@as-integrations/express5';
import { config, parseConfig } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { createGateway } from '../src/gateway/server.ts';
import { signDevelopmentToken } from '../src/gateway/auth.ts';
import { personalDataKeys } from '../src/privacy/personalData.ts';
import { reportFigures, rounded, type Figure } from './_report.ts';
import { postgresCpu, postgresCpuSince, processCpuSeconds } from './province/measure.ts';
import { createQueues } from '../src/queues.ts';
import { SUBGRAPHS } from '../src/gateway/federation/subgraphs.ts';
import { adjudicateSettlements } from '../src/benefits/adjudicate.ts';
import { planPayouts } from '../src/payouts/plan.ts';
import { approveBatch, createBatch, requestSubmission } from '../src/payouts/decisions.ts';
import { payoutSettings } from '../src/payouts/settings.ts';
import { encrypt, lookupHash, maskBankCard } from '../src/privacy/personalData.ts';
import { PAGE_DOCUMENTS, type PageKind } from '../test/gateway/pageDocuments.ts';

/** Items on each page of the rows (b), (d) and the claims, payouts and settlements rows. */
const PAGE_SIZE = 50;
/** The executed pages measured beside (d), each on the gateway with the response cache off. */
const EXECUTED_PAGES = ['claims', 'payouts', 'settlements'] as const;
/** The bench's paying account (the bank simulator's union account). */
const ACCOUNT = { channel: 'SIM', account: '1408010109024561234', name: '泉州市总工会职工医疗互助专户', agent: '102397000015' } as const;

// Production refuses the development keys: the bench brings its own.
const PRODUCTION = { NODE_ENV: 'production', PII_KEY: randomBytes(32).toString('base64'), JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0000' };

/** Child process: one server, printing `port N` once it listens. */
async function serve(kind: string, schema: string, prefix: string): Promise<void> {
  process.once('SIGTERM', () => process.exit(0)); // a normal exit, so that --cpu-prof writes its profile
  const app = express();
  if (kind === 'bare' || kind === 'sql-page') {
    const apollo = kind === 'bare'
      ? new ApolloServer({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'world' } } })
      : pageBuiltByPostgres(schema);
    await apollo.start();
    app.use('/graphql', express.json(), expressMiddleware(apollo));
    const server = app.listen(0, '127.0.0.1', () => console.log(`port ${(server.address() as { port: number }).port}`));
    return;
  }
  const hubConfig = parseConfig({
    ...process.env, QUEUE_PREFIX: prefix, RATE_LIMIT_POINTS: '1000000000', LOG_LEVEL: 'warn', ...(kind === 'hub-uncached' ? { RESPONSE_CACHE_MB: '0' } : {}),
  });
  const redis = new Redis(hubConfig.REDIS_URL, { maxRetriesPerRequest: null });
  const db = createPool({ connectionString: hubConfig.DATABASE_URL, schema });
  const gateway = await createGateway(
    { db, keys: personalDataKeys(hubConfig.PII_KEY), queues: createQueues(redis, prefix), redis }, hubConfig, pino({ level: 'warn' }, pino.destination(2)),
  );
  console.log(`port ${await gateway.listen(0)}`);
}

/**
 * A claim for each member's 2025 enrolment: a MATCHED settlement of a hospital stay, adjudicated by
 * the shipped rules and approved; a payout of each to the member's bank card, all in one approved
 * batch (its attempts), as the payouts list shows them.
 */
async function seedClaimsAndPayouts(db: pg.Pool): Promise<void> {
  const hubConfig = parseConfig({ ...process.env, ...PRODUCTION });
  const keys = personalDataKeys(hubConfig.PII_KEY);
  await db.query(`INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
                  SELECT id, 2025, 100000000, 'B' || id, '2025-01-10', 'MANUAL', 'bench' FROM units`);
  await db.query(`INSERT INTO settlement_sources (name, kind) VALUES ('bench', 'FILE') ON CONFLICT DO NOTHING`);
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO settlements (source, setl_id, infno, kind, mdtrt_id, psn_no, psn_name_enc, psn_name_masked, certno_enc, certno_hash, certno_masked,
                              insutype, med_type, setl_time, diagnoses, medfee_sumamt, fulamt_ownpay_amt, overlmt_selfpay, fund_pay_sumamt,
                              psn_part_amt, acct_pay, psn_cash_pay, raw_enc, status, member_id, enrolment_id, unit_id, matched_at)
     SELECT 'bench', 'S' || e.id, '2304', 'SETTLEMENT', 'S' || e.id, 'P' || e.member_id, '\\x00', '测*', '\\x00', '\\x00', '3505**********0000',
            '310', '21', timestamp '2025-06-01 10:00:00' + e.member_id * interval '1 minute', '{}', 2000000 + e.member_id * 100037, 0, 0, 2000000,
            e.member_id * 100037, 0, e.member_id * 100037, '\\x00', 'MATCHED', e.member_id, e.id, e.unit_id, now()
       FROM enrolments e WHERE e.plan_year = 2025 RETURNING id`,
  );
  await adjudicateSettlements(db, rows.map((r) => r.id), { autoApproveMaxFen: Number.MAX_SAFE_INTEGER });
  const { rows: members } = await db.query<{ id: number }>('SELECT id FROM members');
  for (const { id } of members) {
    const card = `62220214080${String(id).padStart(7, '0')}5`;
    await db.query(`UPDATE members SET bank_card_enc = $2, bank_card_hash = $3, bank_card_masked = $4, bank_code = '102397000023' WHERE id = $1`,
      [id, encrypt(keys, card), lookupHash(keys, card), maskBankCard(card)]);
  }
  const settings = { ...payoutSettings(hubConfig), account: ACCOUNT };
  await planPayouts(db, settings);
  const batch = await createBatch(db, { subject: 'bench-clerk', role: 'ADMIN' }, settings, 1000);
  if (!batch) throw new Error('no payout was ready for a batch');
  const finance = { subject: 'bench-finance', role: 'FINANCE' };
  await approveBatch(db, finance, batch.id);
  await requestSubmission(db, finance, batch.id);
}

interface Figures { requestsPerSecond: number; p99: number; errors: number; requests: number }

/** CPU milliseconds a row's requests took, each: in the server's process, and in PostgreSQL (every process of it). */
interface CpuPerRequest { serverMs: number; postgresMs: number }

interface Server { kind: string; port: number; pid: number; stop(): Promise<void> }

/**
 * The members page of (d) as PostgreSQL can build it in one statement: the same fields, global ids
 * encoded as the hub encodes them (base64url of `Type:id`), enrolments newest year first as the hub lists them.
 */
const globalIdSql = (type: string, column: string) => `rtrim(translate(encode(convert_to('${type}:' || ${column}, 'UTF8'), 'base64'), '+/', '-_'), '=')`;
const PAGE_SQL = `SELECT json_build_object('edges', coalesce(json_agg(json_build_object('node', json_build_object(
    'id', ${globalIdSql('Member', 'm.id')}, 'name', m.name, 'idNumberMasked', m.id_number_masked,
    'unit', json_build_object('id', ${globalIdSql('Unit', 'u.id')}, 'name', u.name, 'creditCode', u.credit_code),
    'enrolments', json_build_object('edges', (SELECT coalesce(json_agg(json_build_object('node', json_build_object(
        'id', ${globalIdSql('Enrolment', 'e.id')}, 'planYear', e.plan_year, 'plan', e.plan, 'specialDisease', e.special_disease,
        'enrolledOn', e.enrolled_on)) ORDER BY e.plan_year DESC), '[]') FROM enrolments e WHERE e.member_id = m.id))))
  ORDER BY m.id), '[]'))::text AS page
  FROM (SELECT * FROM members ORDER BY id LIMIT $1) m JOIN units u ON u.id = m.unit_id`;

/** (e): `{ members(first: n) }` answered with PAGE_SQL's page, a scalar graphql-js passes through without walking its fields. */
function pageBuiltByPostgres(schema: string): ApolloServer {
  const db = createPool({ connectionString: parseConfig(process.env).DATABASE_URL, schema });
  const Json = new GraphQLScalarType({ name: 'Json', serialize: (value) => value });
  return new ApolloServer({
    typeDefs: 'scalar Json\ntype Query { members(first: Int!): Json }',
    resolvers: {
      Json,
      Query: { members: async (_: unknown, { first }: { first: number }) => JSON.parse((await db.query<{ page: string }>({ name: 'page', text: PAGE_SQL, values: [first] })).rows[0]!.page) },
    },
  });
}

/** Node running `args` (with a CPU profile when CPU_PROF is set); stdout as `stdout` says. */
function node(args: string[], env: NodeJS.ProcessEnv, stdout: 'pipe' | 'ignore'): ChildProcess {
  const profile = process.env.CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.CPU_PROF] : [];
  return spawn(process.execPath, [...profile, ...args], { stdio: ['ignore', stdout, 'inherit'], env, cwd: fileURLToPath(new URL('..', import.meta.url)) });
}

const exited = (child: ChildProcess, kind: string) =>
  new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the ${kind} server exited with ${code}`))));

/** SIGTERM, resolved once the process is gone (a hub finishes its requests first). */
function stopper(child: ChildProcess): () => Promise<void> {
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return () => {
    child.kill('SIGTERM');
    return gone;
  };
}

async function start(kind: string, schema: string, prefix: string): Promise<Server> {
  const child = node(['--import', 'tsx', fileURLToPath(import.meta.url), 'serve', kind, schema, prefix], { ...process.env, ...PRODUCTION }, 'pipe');
  const port = await Promise.race([
    exited(child, kind),
    new Promise<number>((resolve) => child.stdout!.on('data', (chunk: Buffer) => {
      const match = /port (\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    })),
  ]);
  return { kind, port, pid: child.pid!, stop: stopper(child) };
}

/** A loopback port free now: `hub serve` is given its port, as in a deployment. */
function freePort(): Promise<number> {
  const probe = net.createServer();
  return new Promise((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** `hub serve ARGS` on a free port, once its /readyz says it can serve (as a load balancer waits). */
async function startHub(kind: string, args: string[], env: NodeJS.ProcessEnv): Promise<Server> {
  const port = await freePort();
  const child = node([fileURLToPath(new URL('../bin/hub.mjs', import.meta.url)), 'serve', '--port', String(port), ...args], env, 'ignore');
  const ready = async () => {
    while (child.exitCode === null && child.signalCode === null) {
      const status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
      if (status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  await Promise.race([exited(child, kind), ready()]);
  return { kind, port, pid: child.pid!, stop: stopper(child) };
}

/**
 * Gateway mode as deployed: each subgraph a `hub serve --subgraph NAME` process, and `hub serve
 * --gateway` over them; each joins `running` once it is ready (so that it is stopped whatever fails).
 */
async function startFederation(schema: string, prefix: string, running: Server[]): Promise<void> {
  // `hub serve` takes its database from the environment alone: libpq's PGOPTIONS points it at the bench's schema.
  const env = {
    ...process.env, ...PRODUCTION, PGOPTIONS: `-c search_path=${schema},public`, QUEUE_PREFIX: prefix,
    RATE_LIMIT_POINTS: '1000000000', LOG_LEVEL: 'warn', RESPONSE_CACHE_MB: '0',
  };
  const started = await Promise.allSettled(SUBGRAPHS.map(async ({ name }) => {
    const server = await startHub(`subgraph ${name}`, ['--subgraph', name], env);
    running.push(server);
    return `${name}=http://127.0.0.1:${server.port}/graphql`;
  }));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  const urls = started.map((s) => (s as PromiseFulfilledResult<string>).value).join(',');
  running.push(await startHub('gateway-mode', ['--gateway', '--subgraph-urls', urls], env));
}

async function answer(server: Server, body: string, token: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
    method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
  return response.text();
}

async function load(server: Server, body: string, token: string | null, seconds: number): Promise<Figures> {
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/graphql`, method: 'POST', body, duration: seconds,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    connections: Number(process.env.CONNECTIONS ?? 20),
  });
  return { requestsPerSecond: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx, requests: result.requests.total };
}

/**
 * `load`, with the CPU its requests took: a figure the machine's other work disturbs far less than
 * requests per second, so trees measured hours apart compare (the load generator's own CPU left out).
 */
async function loadCounted(server: Server, body: string, token: string | null, seconds: number): Promise<Figures & CpuPerRequest> {
  const before = { server: processCpuSeconds(server.pid) ?? 0, postgres: postgresCpu() };
  const figures = await load(server, body, token, seconds);
  const perRequest = (s: number) => (1000 * s) / Math.max(1, figures.requests);
  return {
    ...figures,
    serverMs: perRequest((processCpuSeconds(server.pid) ?? 0) - before.server), postgresMs: perRequest(postgresCpuSince(before.postgres)),
  };
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

if (process.argv[2] === 'serve') {
  await serve(process.argv[3]!, process.argv[4]!, process.argv[5]!);
} else {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const databaseUrl = config().DATABASE_URL;
  await migrate({ databaseUrl, schema });
  const db = createPool({ connectionString: databaseUrl, schema, max: 2 });
  try {
    // 200 members in 20 units, each enrolled in 2024 and 2025.
    await db.query(`INSERT INTO units (credit_code, name, plan_type, terms_confirmed) SELECT lpad(i::text, 18, '0'), 'unit ' || i, 'PUBLIC', true FROM generate_series(1, 20) i`);
    await db.query(`INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
                    SELECT 1 + i % 20, 'member ' || i, '\\x00', sha256(i::text::bytea), '3505**********0000', '1980-01-01', 'F'
                      FROM generate_series(1, 200) i`);
    await db.query(`INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
                    SELECT m.id, m.unit_id, y, 'PUBLIC', false, make_date(y, 1, 1), '2024-01-01' FROM members m, generate_series(2024, 2025) y`);
    await seedClaimsAndPayouts(db);
    await db.query('ANALYZE');
    const token = await signDevelopmentToken(parseConfig({ ...process.env, ...PRODUCTION }), { sub: 'bench', role: 'ADMIN' });

    // All servers up at once, then measured in turns, round after round: whatever else the machine
    // does (it is shared) falls on every row alike, and the medians are reported.
    const pageOf = (kind: PageKind) => JSON.stringify({ query: PAGE_DOCUMENTS[kind], variables: { n: PAGE_SIZE } });
    const page = pageOf('members');
    const sqlPage = JSON.stringify({ query: `{ members(first: ${PAGE_SIZE}) }` });
    const gatewayMode = process.env.GATEWAY_MODE === '1';
    const rows = [
      { name: 'a', label: '(a) bare Apollo Server, { hello }', server: 'bare', body: JSON.stringify({ query: '{ hello }' }), token: null },
      { name: 'b', label: `(b) hub gateway, ${PAGE_SIZE} members with unit and enrolments (response cache on, as deployed)`, server: 'hub', body: page, token },
      { name: 'c', label: '(c) hub gateway, { viewer { role } } (token, rate limit, limits, metrics; no data)', server: 'hub', body: JSON.stringify({ query: '{ viewer { role } }' }), token },
      { name: 'd', label: '(d) hub gateway, the page of (b) with the response cache off (executed every time)', server: 'hub-uncached', body: page, token },
      { name: 'e', label: "(e) bare Apollo Server, the page of (d) built by PostgreSQL in one statement and passed through (the floor of (d))", server: 'sql-page', body: sqlPage, token: null },
      ...EXECUTED_PAGES.map((kind) => ({
        name: kind, label: `(${kind}) hub gateway, ${PAGE_SIZE} ${kind} with what their list shows (executed every time)`, server: 'hub-uncached', body: pageOf(kind), token,
      })),
      ...(gatewayMode ? [{ name: 'g', label: '(g) gateway mode over the six subgraphs, each a process, the page of (d) (response cache off)', server: 'gateway-mode', body: page, token }] : []),
    ];
    const rounds = Number(process.env.ROUNDS ?? 5);
    const seconds = Number(process.env.SECONDS ?? 5);
    const figures = rows.map(() => [] as (Figures & CpuPerRequest)[]);
    const running: Server[] = [];
    try {
      for (const kind of ['bare', 'sql-page', 'hub', 'hub-uncached']) running.push(await start(kind, schema, prefix));
      if (gatewayMode) await startFederation(schema, prefix, running);
      const servers = Object.fromEntries(running.map((s) => [s.kind, s]));
      // Every page is whole and without errors (they come with status 200), or its figure measures something else.
      type PageAnswer = { data?: Record<string, { edges: unknown[] }>; errors?: unknown };
      const pages = new Map<PageKind, PageAnswer>();
      for (const kind of ['members', ...EXECUTED_PAGES] as const) {
        const answered = JSON.parse(await answer(servers['hub-uncached']!, pageOf(kind), token)) as PageAnswer;
        if (answered.errors || answered.data?.[kind]?.edges.length !== PAGE_SIZE) throw new Error(`the ${kind} page is not ${PAGE_SIZE} items without errors: ${JSON.stringify(answered).slice(0, 300)}`);
        pages.set(kind, answered);
      }
      // The floor answers the page the hub answers, field for field.
      const built = JSON.parse(await answer(servers['sql-page']!, sqlPage, token)) as { data: { members: unknown } };
      if (JSON.stringify(built.data.members) !== JSON.stringify(pages.get('members')!.data!.members)) {
        throw new Error(`the page built by PostgreSQL is not the hub's:\n${JSON.stringify(built).slice(0, 300)}\n${JSON.stringify(pages.get('members')).slice(0, 300)}`);
      }
      // Gateway mode must answer what in-process does.
      if (gatewayMode) {
        const [executed, federated] = [await answer(servers['hub-uncached']!, page, token), await answer(servers['gateway-mode']!, page, token)];
        if (federated !== executed) throw new Error(`gateway mode answered otherwise than in-process:\n${federated.slice(0, 300)}\n${executed.slice(0, 300)}`);
      }
      for (const row of rows) await load(servers[row.server]!, row.body, row.token, 3); // warm-up: JIT, pools, caches
      for (let round = 0; round < rounds; round++) {
        for (const [i, row] of rows.entries()) figures[i]!.push(await loadCounted(servers[row.server]!, row.body, row.token, seconds));
        const perSecond = (name: string) => figures[rows.findIndex((r) => r.name === name)]!.at(-1)!.requestsPerSecond;
        console.log(`round ${round + 1}: ${rows.map((r) => `(${r.name}) ${Math.round(perSecond(r.name))}`).join(', ')} req/s, ` +
          `(b)/(a) ${((100 * perSecond('b')) / perSecond('a')).toFixed(1)}%, (d)/(a) ${((100 * perSecond('d')) / perSecond('a')).toFixed(1)}%`);
      }
    } finally {
      // Last started first: the gateway before the subgraphs it forwards to, all gone before the schema is dropped.
      for (const server of running.reverse()) await server.stop();
    }
    const summary = figures.map((list) => ({
      requestsPerSecond: median(list.map((f) => f.requestsPerSecond)), p99: median(list.map((f) => f.p99)), errors: list.reduce((n, f) => n + f.errors, 0),
      serverMs: median(list.map((f) => f.serverMs)), postgresMs: median(list.map((f) => f.postgresMs)),
    }));
    for (const [i, row] of rows.entries()) {
      const f = summary[i]!;
      console.log(`${row.label}: ${Math.round(f.requestsPerSecond)} req/s, p99 ${f.p99} ms, CPU a request ${f.serverMs.toFixed(2)} ms in the server + ${f.postgresMs.toFixed(2)} ms in PostgreSQL (medians of ${rounds} rounds)${f.errors ? `, ${f.errors} errors or non-2xx` : ''}`);
    }
    const loadAverage = loadavg();
    const ratios = figures[1]!.map((b, i) => (100 * b.requestsPerSecond) / figures[0]![i]!.requestsPerSecond);
    console.log(`(b)/(a) = ${((100 * summary[1]!.requestsPerSecond) / summary[0]!.requestsPerSecond).toFixed(1)}% of medians; per round ` +
      `${Math.min(...ratios).toFixed(1)}–${Math.max(...ratios).toFixed(1)}% (target ≥ 50%; executed pages ≥ 25%); ${process.env.CONNECTIONS ?? 20} connections, ` +
      `${rounds} rounds of ${seconds} s; load average ${loadAverage.map((l) => l.toFixed(2)).join(' ')}`);
    const a = summary[0]!;
    const byRow: Record<string, Figure> = {};
    for (const [i, row] of rows.entries()) {
      const f = summary[i]!;
      Object.assign(byRow, {
        [`${row.name}_reqPerSecond`]: rounded(f.requestsPerSecond), [`${row.name}_p99Ms`]: f.p99, [`${row.name}_errors`]: f.errors,
        [`${row.name}_serverCpuMsPerRequest`]: rounded(f.serverMs, 3), [`${row.name}_postgresCpuMsPerRequest`]: rounded(f.postgresMs, 3),
      });
      if (row.name !== 'a') byRow[`${row.name}_over_a`] = rounded(f.requestsPerSecond / a.requestsPerSecond, 3);
    }
    reportFigures(import.meta.url, {
      ...byRow,
      b_over_a_perRoundMin: rounded(Math.min(...ratios) / 100, 3), b_over_a_perRoundMax: rounded(Math.max(...ratios) / 100, 3),
      connections: Number(process.env.CONNECTIONS ?? 20), rounds, secondsPerRowAndRound: seconds, loadAverage1m: rounded(loadAverage[0]!, 2),
    });
    if (summary.some((f) => f.errors)) process.exitCode = 1;
  } finally {
    await db.query(`DROP SCHEMA ${schema} CASCADE`);
    await db.end();
    const redis = new Redis(config().REDIS_URL);
    const left = await redis.keys(`${prefix}:*`);
    if (left.length) await redis.del(...left);
    redis.disconnect();
  }
}
