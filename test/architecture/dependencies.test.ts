// The dependency rule (docs/layers.md), checked on every `npm test`: the rules live in
// .dependency-cruiser.cjs; this file runs them in-process over src/ and jobs/.
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

  it('bites: a core importing a store, src/ importing jobs/, a store naming a gateway type', async () => {
    const { summary } = await cruiseTree([`${FIXTURES}/src`, `${FIXTURES}/jobs`]);
    expect(summary.violations.map(describeViolation).sort()).toEqual([
      `${FIXTURES}/src/benefits/rules/engine.ts -> ${FIXTURES}/src/benefits/store.ts (core-imports-kernel-and-own-core-only)`,
      `${FIXTURES}/src/members/service.ts -> ${FIXTURES}/jobs/x.ts (src-never-imports-jobs)`,
      `${FIXTURES}/src/payouts/store.ts -> ${FIXTURES}/src/gateway/errors.ts (store-imports-kernel-platform-models-cores-only)`,
    ]);
  });
});
