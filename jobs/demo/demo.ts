import { CONFIG_SETTINGS, parseConfig, type Config } from '../../src/config.ts';
import { sealConfigShape } from '../../src/seals/settings.ts';
import { benefitSettingsShape } from '../../src/benefits/settings.ts';
import { migrate } from '../../src/db/migrate.ts';
import { signDevelopmentToken } from '../../src/gateway/auth.ts';
import { GRAPHIQL_PATH } from '../../src/gateway/graphiql.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { closeOnSignal, startGateway, startRuntimeWorkers } from '../serve.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { contributionReference } from '../../src/members/model.ts';
import { contributionFigures, countMembers, insertContributionPayments, insertRunningRosterImport, unitsByCreditCodes } from '../../src/members/store.ts';
import { registerSampleUnits } from '../../src/members/unitTerms.ts';
import { dateSampleRegistrations } from '../../src/members/store/registrations.ts';
import { ensureDemoServices, MissingServiceError, redact } from './services.ts';
import { DEMO_SCHEMA, DemoBusyError, resetDemoState } from './state.ts';
import { demoSample, ROSTER_HEADER, rosterLine, sampleCategories, sampleMembers } from '../../src/demo/sampleData.ts';
import { approver, playCondolence, proposer, proposeNextYear, publishDemoFigures, setUpProgrammes } from './programmes.ts';
import { DASHBOARD_PATH } from '../../src/gateway/dashboard.ts';
import { ingestDemoSettlements } from './settlements.ts';
import { approveClaim } from '../../src/benefits/review.ts';
import { memberWaitLine, payDemoClaims, setUpStandingPolicy, startDemoBank } from './payouts.ts';
import { reconcileDemo, type DemoReconciliation } from './reconciliation.ts';
import { playMemberChannel } from './channel.ts';
import { pollUntil } from './wait.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { fenToCnyGrouped } from '../../src/kernel/money.ts';
import { claimsWithStatus, claimTotalsByStatus, countClaims, paidClaimCount, unadjudicatedSettlementIds } from '../../src/benefits/store.ts';
import { countDistinctSettlements } from '../../src/settlements/store.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';

/**
 * `hub demo`: everything a newcomer needs to see the hub work, on a fresh machine.
 * Sample units and members enrolled for two plan years, contributions, the organisations with this
 * year's rule sets (programmes.ts), settlements from the platform simulator, claims, payouts paid
 * through the bank simulator from each funder's account, the gateway and workers, a token and a
 * query that works, one member's own channel (application, appeal, sealed notice), a condolence
 * payment, and the year's figures and report. Last line: one JSON object of counts. Each run starts from nothing in a schema and queue
 * prefix of its own (state.ts), so a rerun after any crash ends the same way.
 */
export interface DemoOptions {
  once: boolean;
  members: number;
  /** Inject bank faults after the happy path (a return of a paid payout, an unannounced credit). */
  bankFaults?: boolean;
}

const SAMPLE_QUERY = `query DemoMembers {
  members(first: 5) {
    totalCount
    edges { node { id name idNumberMasked unit { name planType } enrolments(first: 2) { edges { node { planYear plan specialDisease contributionPaid } } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/**
 * The settings the demo takes from the shell: where PostgreSQL and Redis are (it works in a schema
 * and queue prefix of its own there, state.ts), the gateway's port, how much it logs, and NODE_ENV
 * (the CLI made it development when unset, and refused production). Names the schema knows: one
 * renamed there does not compile here.
 */
export const DEMO_SETTINGS: ReadonlySet<string> = new Set(['NODE_ENV', 'DATABASE_URL', 'REDIS_URL', 'QUEUE_PREFIX', 'PORT', 'LOG_LEVEL'] satisfies (keyof Config)[]);

/**
 * Leaves out every other setting the hub reads, so that in a shell carrying a deployment's the demo
 * touches nothing outside its own schema, queue prefix and `.data/`: the outside services it stands
 * in for with its own simulators, the secrets whose public development values it uses (it prints an
 * ADMIN token it signed), the deployment's folders and the union as payer. What it keeps is named,
 * not what it leaves out: a setting added later is left out too. Variables that are no setting of
 * the hub's (PATH, HOME, PG*) stay.
 */
export function leaveOutDeploymentSettings(env: NodeJS.ProcessEnv): void {
  // Named by the schemas themselves: src/config.ts's, the seal's and the benefits'.
  const hubSettings = [...CONFIG_SETTINGS, ...Object.keys(sealConfigShape), ...Object.keys(benefitSettingsShape)];
  for (const name of hubSettings) if (!DEMO_SETTINGS.has(name)) delete env[name];
}

export async function runDemo(options: DemoOptions): Promise<void> {
  // Left out of the process's own environment, not a copy: the configuration, the seal's settings and
  // the workers' read it, and the demo is a process of its own.
  leaveOutDeploymentSettings(process.env);
  const base = parseConfig();
  let services;
  try {
    services = await ensureDemoServices(base.DATABASE_URL, base.REDIS_URL);
  } catch (error) {
    if (error instanceof MissingServiceError) {
      console.error(`hub demo: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  for (const note of services.notes) console.log(note);
  let state;
  try {
    state = await resetDemoState({ ...base, DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl });
  } catch (error) {
    if (error instanceof DemoBusyError) {
      console.error(`hub demo: ${error.message}`);
      await services.stop();
      process.exit(2);
    }
    throw error;
  }
  const config = parseConfig({ ...process.env, DATABASE_URL: state.databaseUrl, REDIS_URL: services.redisUrl, QUEUE_PREFIX: state.queuePrefix });

  const applied = await migrate({ databaseUrl: services.databaseUrl, schema: DEMO_SCHEMA });
  console.log(`demo data: schema ${DEMO_SCHEMA} and queue prefix ${state.queuePrefix}, reset at every start (${applied.length} migrations applied); ` +
    `other commands on it: DATABASE_URL='${redact(state.databaseUrl)}' QUEUE_PREFIX=${state.queuePrefix}`);

  const runtime = createRuntime(config);
  const loaded = await loadSampleRegistry(runtime, options.members);
  console.log(`sample registry: ${loaded.units.length} units, ${loaded.members} members (${loaded.inserted} new), ` +
    `enrolled for ${loaded.years.join(' and ')}`);
  const thisYear = loaded.years.at(-1)!;
  const programmes = await setUpProgrammes(runtime, loaded.units, thisYear);
  for (const line of programmes.lines) console.log(line);

  const bank = await startDemoBank(runtime);
  console.log(`bank simulator: ${bank.simulator.url} (BANK_URL for \`hub work\`; its ledger: ${bank.simulator.url}/ledger)`);
  const workers = await startRuntimeWorkers(runtime, bank.payouts);
  const settlements = await ingestDemoSettlements(runtime, workers.queues, loaded.sample);
  console.log(settlements.summary);
  console.log(await awaitAdjudication(runtime));
  // In force once the sample's feed is in (its reversals among it): a claim paid at once and then
  // reversed would end as a recovery, not the clean tie-out the demo closes with.
  console.log(await setUpStandingPolicy(runtime));
  console.log(await reviewDemoClaims(runtime));
  console.log(await proposeNextYear(runtime, thisYear));
  // PORT (4000 unless the shell names one), not a new port every run: the printed URLs, and a
  // front-end's proxy to :4000, stay the same from run to run. Taken (a gateway already on this
  // machine): any free one, said.
  let server;
  try {
    server = await startGateway(runtime, config.PORT, '127.0.0.1');
  } catch (error) {
    if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
    server = await startGateway(runtime, 0, '127.0.0.1');
    console.log(`port ${config.PORT} is taken; using ${server.port}`);
  }
  const origin = `http://127.0.0.1:${server.port}`;
  const url = `${origin}/graphql`;
  const token = await signDevelopmentToken(config, { sub: 'demo-admin', role: 'ADMIN' });
  // Before the payout run, so the member's claim is paid and reconciled with the others.
  for (const line of (await playMemberChannel(config, origin, token)).lines) console.log(line);
  // A worker on the city unit's roster, never enrolled: one beyond the sample (so a distinct ID number).
  const worker = [...sampleMembers(options.members + 1, loaded.units)].at(-1)!;
  console.log(await playCondolence(config, origin, programmes.cityUnit, worker));
  console.log(await payDemoClaims(runtime, workers.queues));
  console.log(await memberWaitLine(runtime));
  const reconciliation = await reconcileDemo(runtime, { url: bank.simulator.url, adapter: bank.payouts.adapter }, { faults: options.bankFaults });
  console.log(reconciliation.summary);
  for (const line of reconciliation.proofLines) console.log(`  ${line}`);
  for (const line of await publishDemoFigures(runtime, thisYear)) console.log(line);

  const answer = await postQuery(url, token, SAMPLE_QUERY);
  const shown = answer.data?.members?.edges?.length ?? 0;
  if (answer.errors?.length || shown === 0) throw new Error(`the sample query failed: ${JSON.stringify(answer.errors ?? answer)}`);

  console.log('');
  console.log(`GraphQL gateway: ${url}`);
  // In the fragment, the token stays in the browser: it is never sent to the server or written to its logs.
  console.log(`GraphiQL, signed in: ${origin}${GRAPHIQL_PATH}#token=${token}`);
  console.log(`Dashboard (figures, drill-down by organisation, reconciliation calendar), signed in: ${origin}${DASHBOARD_PATH}#token=${token}`);
  console.log('Development token (ADMIN, 12h); in a shell:');
  console.log(`  export TOKEN=${token}`);
  console.log(`  curl -s ${url} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\`);
  console.log(`    -d '${JSON.stringify({ query: SAMPLE_QUERY.replace(/\s+/g, ' ') })}'`);
  console.log(`The sample query answered with ${shown} of ${answer.data.members.totalCount} members.`);

  const summary = await countSummary(runtime, reconciliation);
  console.log(JSON.stringify(summary));

  const parts = [server, settlements, workers, bank, { close: state.release }, { close: services.stop }];
  if (options.once) {
    for (const part of parts) await part.close();
    await runtime.close();
    process.exit(0);
  }
  console.log('Serving; Ctrl-C to stop.');
  closeOnSignal(runtime, parts);
}

/** The sample units and members (two plan years) and their contributions, as `hub demo` loads them. */
export async function loadSampleRegistry(runtime: Pick<Runtime, "db" | "keys">, memberCount: number) {
  const { units, members } = demoSample(memberCount);
  // Their terms proposed by one ADMIN and confirmed by another, as any unit's: only then are members enrolled.
  await registerSampleUnits(runtime.db, units, proposer, approver);
  const thisYear = Number(chinaToday().slice(0, 4));
  const years = [thisYear - 1, thisYear];
  let inserted = 0;
  for (const year of years) {
    // Most members renew (no new waiting period); every tenth joins only this year.
    const listed = members.map((m, i) => [m, i] as const).filter(([, i]) => year === thisYear || i % 10 !== 0);
    const lines = listed.map(([m, i], j) => rosterLine(m, year, j % 7 === 0, sampleCategories(i)));
    const importId = await insertRunningRosterImport(runtime.db, { fileName: `demo-roster-${year}.csv`, defaultUnitId: null, createdBy: 'demo' });
    const today = `${year}-01-05`;
    const result = await importRoster(runtime.db, runtime.keys, ROSTER_HEADER + lines.join(''), { importId, today });
    inserted += result.rowsInserted;
    // Registered on the roster's day, as the sample stands for: a standing policy counts a card from registration.
    await dateSampleRegistrations(runtime.db, units.map((u) => u.creditCode), today);
  }
  // Every unit paid last year; all but every fifth unit have paid this year too.
  const unitRows = await unitsByCreditCodes(runtime.db, units.map((u) => u.creditCode));
  const keys = unitRows.flatMap((u) => years.map((planYear) => ({ unitId: u.id, planYear, creditCode: u.creditCode })));
  const figures = await contributionFigures(runtime.db, keys);
  const owed = { rows: keys.map((k, i) => ({ ...k, owedFen: figures[i]!.owedFen })).filter((r) => r.owedFen > 0) };
  const paid = owed.rows.filter((r) => r.planYear < thisYear || r.unitId % 5 !== 0);
  await insertContributionPayments(runtime.db, paid.map((r) => ({
    unitId: r.unitId, planYear: r.planYear, amountFen: r.owedFen, reference: contributionReference(r.creditCode, r.planYear), paidOn: `${r.planYear}-01-20`,
  })), 'MANUAL', 'demo');
  return { units, members: members.length, inserted, years, sample: members };
}

interface GraphQLAnswer {
  data?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- the demo prints what came back
  errors?: { message: string }[];
}

async function postQuery(url: string, token: string, query: string): Promise<GraphQLAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as GraphQLAnswer;
}

/** Waits until every matched settlement has its claim (or its reversal applied), then reports claims by status. */
async function awaitAdjudication(runtime: Runtime): Promise<string> {
  await pollUntil(async () => ((await unadjudicatedSettlementIds(runtime.db, 0, 1)).length > 0 ? null : true),
    () => 'adjudication did not finish within 2 minutes');
  const rows = await claimTotalsByStatus(runtime.db);
  return `claims: ${rows.map((r) => `${r.status} ${r.claims} (${fenToCnyGrouped(r.totalFen)} CNY)`).join(', ') || 'none'}`;
}

/** Plays the REVIEWER: claims above the automatic-approval threshold are approved, one by one, audited. */
async function reviewDemoClaims(runtime: Runtime): Promise<string> {
  const claims = await claimsWithStatus(runtime.db, 'PENDING_REVIEW');
  for (const { id, totalFen } of claims) {
    await approveClaim(runtime.db, { subject: 'demo-reviewer', role: 'REVIEWER' }, UNSCOPED, id, totalFen, 'demo: reviewed and approved');
  }
  return `review: ${claims.length} claim(s) above the automatic-approval threshold approved by demo-reviewer`;
}

/** The demo's closing line (docs/design.md contract): counts over the whole pipeline. */
async function countSummary(runtime: Runtime, reconciliation: Pick<DemoReconciliation, 'reconciled' | 'exceptions'>) {
  const { db } = runtime;
  return {
    members: await countMembers(db, UNSCOPED, {}), settlements: await countDistinctSettlements(db),
    claims: await countClaims(db, UNSCOPED, {}), paid: await paidClaimCount(db),
    reconciled: reconciliation.reconciled, exceptions: reconciliation.exceptions,
  };
}
