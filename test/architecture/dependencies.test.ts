// The dependency rule (docs/layers.md), checked on every `npm test`: the rules live in
// .dependency-cruiser.cjs; this file runs them in-process over src/ and jobs/, and checks from the
// same cruise the one rule dependency-cruiser cannot state: no cycle between domains' services.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cruise, type ICruiseOptions, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const root = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = 'test/architecture/fixtures';

async function cruiseTree(paths: string[]): Promise<ICruiseResult> {
  const options: ICruiseOptions = await extractDepcruiseOptions(`${root}.dependency-cruiser.cjs`);
  // Names in the result (and in the rules) are relative to the repository root, wherever vitest runs.
  options.baseDir = root;
  const tsConfig = extractTSConfig(`${root}tsconfig.json`);
  const { output } = await cruise(paths, options, {}, { tsConfig });
  return typeof output === 'string' ? (JSON.parse(output) as ICruiseResult) : output;
}

/** `from -> to (rule)`, with the cycle spelled out for cycle rules. */
function describeViolation(v: IViolation): string {
  const cycle = v.cycle?.length ? ` via ${[v.from, ...v.cycle.map((c) => c.name)].join(' -> ')}` : '';
  return `${v.from} -> ${v.to} (${v.rule.name})${cycle}`;
}

// ---- the domain graph ---------------------------------------------------------------------------
// A domain A depends on a domain B when a service of A imports a service of B. Models, stores,
// queue.ts and the cores import no service, so no cycle runs through them; entry points (resolvers,
// loaders, cli) may import anything and nothing imports them. What is left, the services (settings.ts
// included), must not form a cycle between domains: dependency-cruiser's `no-import-cycles`
// sees cycles of files, not two domains whose services call each other through different files.

// The same fragments .dependency-cruiser.cjs builds its rules from.
const layers = createRequire(import.meta.url)('../../.dependency-cruiser.layers.cjs') as {
  ROOT: string;
  DOMAINS: string;
  CORE_FOLDERS: string;
  NOT_SERVICE_FILES: string;
};
const IN_DOMAIN = new RegExp(`${layers.ROOT}src/(${layers.DOMAINS})/(.+)$`);
const NOT_SERVICE_FILE = new RegExp(`^(?:${layers.NOT_SERVICE_FILES})`);
const IN_CORE = new RegExp(`^(?:${layers.CORE_FOLDERS})/`);

/** The domain whose service `file` is, or undefined when it is not a service. */
function serviceDomain(file: string): string | undefined {
  const match = IN_DOMAIN.exec(file);
  if (!match) return undefined;
  const [, domain, rest] = match as unknown as [string, string, string];
  return NOT_SERVICE_FILE.test(rest) || IN_CORE.test(`${domain}/${rest}`) ? undefined : domain;
}

/** domain -> domain it depends on -> the `importing file -> imported file` pairs behind the edge. */
type DomainGraph = Map<string, Map<string, string[]>>;

function domainGraph({ modules }: ICruiseResult): DomainGraph {
  const graph: DomainGraph = new Map();
  for (const m of modules) {
    const from = serviceDomain(m.source);
    if (!from) continue;
    for (const d of m.dependencies) {
      const to = d.couldNotResolve ? undefined : serviceDomain(d.resolved);
      if (!to || to === from) continue;
      const edges = graph.get(from) ?? graph.set(from, new Map()).get(from)!;
      const pairs = edges.get(to) ?? edges.set(to, []).get(to)!;
      const pair = `${m.source} -> ${d.resolved}`;
      if (!pairs.includes(pair)) pairs.push(pair);
    }
  }
  return graph;
}

/** `from -> to` for every edge, sorted. */
const domainEdges = (graph: DomainGraph): string[] =>
  [...graph].flatMap(([from, edges]) => [...edges.keys()].map((to) => `${from} -> ${to}`)).sort();

const CYCLE_LIMIT = 50;

/**
 * Every elementary cycle of the graph, each once, starting from its alphabetically first domain
 * (`['benefits', 'members', 'benefits']`): a depth-first walk from each domain through domains that
 * sort after it. Stops after `limit` cycles.
 */
function domainCycles(graph: DomainGraph, limit = CYCLE_LIMIT): string[][] {
  const cycles: string[][] = [];
  const next = (domain: string): string[] => [...(graph.get(domain)?.keys() ?? [])].sort();
  for (const start of [...graph.keys()].sort()) {
    const path = [start];
    const walk = (domain: string): void => {
      for (const to of next(domain)) {
        if (cycles.length >= limit) return;
        if (to === start) cycles.push([...path, start]);
        else if (to > start && !path.includes(to)) {
          path.push(to);
          walk(to);
          path.pop();
        }
      }
    };
    walk(start);
  }
  return cycles;
}

/** `a -> b -> a`, then each edge of the cycle with the imports that make it. */
function describeCycle(graph: DomainGraph, cycle: string[]): string {
  const edges = cycle.slice(1).map((to, i) => {
    const from = cycle[i]!;
    const pairs = graph.get(from)!.get(to)!.slice().sort();
    return [`  ${from} -> ${to}:`, ...pairs.map((p) => `    ${p}`)].join('\n');
  });
  return [cycle.join(' -> '), ...edges].join('\n');
}

describe('the dependency rule', () => {
  // One cruise for the tests that read the real tree.
  const tree = cruiseTree(['src', 'jobs']);

  it('resolves the imports (explicit .ts extensions, type-only imports included)', async () => {
    const { modules } = await tree;
    const server = modules.find((m) => m.source === 'src/gateway/server.ts');
    expect(server, 'src/gateway/server.ts was not cruised').toBeDefined();
    const local = server!.dependencies.filter((d) => !d.couldNotResolve && d.resolved.startsWith('src/'));
    expect(local.length).toBeGreaterThan(10);
    // Were resolution to fail, every rule would pass on an empty graph: an unresolved relative
    // import is a failure of its own.
    const unresolved = modules.flatMap((m) =>
      m.dependencies.filter((d) => d.couldNotResolve && d.module.startsWith('.')).map((d) => `${m.source}: ${d.module}`),
    );
    expect(unresolved, `imports that did not resolve:\n${unresolved.join('\n')}`).toEqual([]);
  });

  it('holds for src/ and jobs/', async () => {
    const { summary } = await tree;
    const lines = summary.violations.map(describeViolation).sort();
    expect(lines, `${lines.length} dependency rule violation(s); see docs/layers.md:\n${lines.join('\n')}\n`).toEqual([]);
  });

  it('bites: a core importing a store, src/ importing jobs/, two files importing each other, a store naming a gateway type', async () => {
    const { summary } = await cruiseTree([`${FIXTURES}/src`, `${FIXTURES}/jobs`]);
    expect(summary.violations.map(describeViolation).sort()).toEqual([
      `${FIXTURES}/src/benefits/rules/engine.ts -> ${FIXTURES}/src/benefits/store.ts (core-imports-kernel-and-own-core-only)`,
      `${FIXTURES}/src/members/service.ts -> ${FIXTURES}/jobs/x.ts (src-never-imports-jobs)`,
      `${FIXTURES}/src/payouts/plan.ts -> ${FIXTURES}/src/payouts/policies.ts (no-import-cycles) via ${FIXTURES}/src/payouts/plan.ts -> ${FIXTURES}/src/payouts/policies.ts -> ${FIXTURES}/src/payouts/plan.ts`,
      `${FIXTURES}/src/payouts/store.ts -> ${FIXTURES}/src/gateway/errors.ts (store-imports-kernel-platform-models-cores-only)`,
    ]);
  });

  it("no two domains call each other's services (the domain graph has no cycle)", async () => {
    const graph = domainGraph(await tree);
    const cycles = domainCycles(graph).map((cycle) => describeCycle(graph, cycle));
    const shown = cycles.length >= CYCLE_LIMIT ? ` (the first ${CYCLE_LIMIT})` : '';
    expect(
      cycles,
      `${cycles.length} cycle(s) between domains${shown}: the services of each domain import services of ` +
        'the next, by the imports listed under each edge (importing file -> imported file). Move the ' +
        'shared piece down into a model or the kernel, or pass a function in; see docs/layers.md:\n' +
        `${cycles.join('\n')}\n`,
    ).toEqual([]);
  });

  it('bites: two domains whose services call each other through different files', async () => {
    const graph = domainGraph(await cruiseTree([`${FIXTURES}/src`, `${FIXTURES}/jobs`]));
    // Another domain's model, store or core (payouts/schedule.ts) and an entry point (payouts/cli.ts)
    // make no edge; settings.ts and a type-only import do.
    expect(domainEdges(graph)).toEqual(['benefits -> members', 'members -> benefits', 'members -> payouts']);
    expect(domainCycles(graph).map((cycle) => describeCycle(graph, cycle))).toEqual([
      [
        'benefits -> members -> benefits',
        '  benefits -> members:',
        `    ${FIXTURES}/src/benefits/adjudicate.ts -> ${FIXTURES}/src/members/contributions.ts`,
        `    ${FIXTURES}/src/benefits/governing.ts -> ${FIXTURES}/src/members/settings.ts`,
        '  members -> benefits:',
        `    ${FIXTURES}/src/members/eligibility.ts -> ${FIXTURES}/src/benefits/governing.ts`,
      ].join('\n'),
    ]);
  });
});
